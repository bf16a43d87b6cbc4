//! Each DepotRepo's status: `Accepted` (its options are valid, with the
//! field at fault when not) and `Ready` (accepted, every proxy serves the
//! config that holds it, and one keeps depot data: else `NoDataDir`, naming
//! `--data-dir`), with `observedGeneration`; and `files`, `bytes` and
//! `lastChange` as the proxy that keeps its data last reported them
//! (`depot_usage.rs`; kept as they were while no report comes). Written
//! only when something changed, conditional on the resourceVersion read.

use gatehouse_api::depot_repo::DepotRepoStatus;
use gatehouse_api::route::DEFAULT_CLASS;
use gatehouse_api::{Compiled, DepotRepo, ResourceId};
use kube::api::Api;
use kube::runtime::events::Recorder;
use kube::{Client, Resource};

use super::depot_usage::Usage;
use super::status::{Acceptance, condition};

#[allow(clippy::too_many_arguments)]
pub(super) async fn report(
    client: &Client,
    recorder: &Recorder,
    repos: &[DepotRepo],
    class: &str,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
    usage: Option<&Usage>,
) {
    for repo in repos {
        if repo.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) != class {
            continue;
        }
        let id = ResourceId::depot_repo(repo);
        let current = repo.status.clone().unwrap_or_default();
        let wanted = status_for(repo, &id, compiled, serving, proxies, usage, &current);
        if same_status(&current, &wanted) {
            continue;
        }
        super::events::turned_false(
            recorder,
            &repo.object_ref(&()),
            &["Accepted"],
            &current.conditions,
            &wanted.conditions,
        )
        .await;
        let mut wanted = wanted;
        super::status::keep_transition_times(&current.conditions, &mut wanted.conditions);
        let api: Api<DepotRepo> = Api::namespaced(client.clone(), &id.namespace);
        let status = serde_json::json!({
            "conditions": wanted.conditions,
            "files": wanted.files,
            "bytes": wanted.bytes,
            "lastChange": wanted.last_change,
        });
        super::status::write(&api, &id, repo.metadata.resource_version.as_ref(), status).await;
    }
}

/// Equal conditions (but for transition times) and numbers.
fn same_status(a: &DepotRepoStatus, b: &DepotRepoStatus) -> bool {
    super::status::same_conditions(&a.conditions, &b.conditions)
        && (a.files, a.bytes, &a.last_change) == (b.files, b.bytes, &b.last_change)
}

fn status_for(
    repo: &DepotRepo,
    id: &ResourceId,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
    usage: Option<&Usage>,
    current: &DepotRepoStatus,
) -> DepotRepoStatus {
    let generation = repo.metadata.generation;
    let acceptance = Acceptance::of(compiled, id);
    let accepted = acceptance.accepted;
    let condition = |type_: &str, ok: bool, reason: &str, message: String| {
        condition(type_, ok, reason, message, generation)
    };
    let no_data_dir = usage.is_some_and(Usage::no_data_dir);
    let ready = accepted && proxies > 0 && serving == proxies && !no_data_dir;
    let reported = usage.and_then(|u| u.repos.get(&id.key()));
    DepotRepoStatus {
        conditions: vec![
            acceptance.condition("the DepotRepo is valid", generation),
            condition(
                "Ready",
                ready,
                if ready {
                    "Ready"
                } else if !accepted {
                    "Invalid"
                } else if proxies == 0 {
                    "NoProxies"
                } else if no_data_dir {
                    "NoDataDir"
                } else {
                    "Pending"
                },
                if no_data_dir && accepted {
                    format!(
                        "no proxy keeps depot data, so its requests answer 503: start the proxy that serves DepotRepos with --data-dir DIR (or GATEHOUSE_DATA_DIR), and the others with --data-writer URL naming it (it must carry the proxy label too, so it gets the config and is asked for its numbers); {serving} of {proxies} proxies serve this revision"
                    )
                } else {
                    format!("{serving} of {proxies} proxies serve this revision")
                },
            ),
        ],
        // Kept as they were until a proxy with the data reports them.
        files: reported.map(|r| r.files).or(current.files),
        bytes: reported.map(|r| r.bytes).or(current.bytes),
        last_change: match reported {
            Some(r) => r.last_change.clone(),
            None => current.last_change.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_api::manifest::Manifests;

    use super::*;

    fn compiled(spec: &str) -> (DepotRepo, Compiled) {
        let mut manifests = Manifests::default();
        manifests.read(
            "r.yaml",
            &format!(
                "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: configs, namespace: ops, generation: 3}}\nspec: {spec}\n"
            ),
        );
        let repo = manifests.depot_repos().next().unwrap().value.clone();
        (repo, manifests.compile())
    }

    #[test]
    fn a_valid_repo_is_accepted_and_ready_once_every_proxy_serves_it() {
        let (repo, compiled) = compiled("{depth: 3}");
        let id = ResourceId::depot_repo(&repo);
        let status = status_for(&repo, &id, &compiled, 2, 2, None, &Default::default());
        let view: Vec<(&str, &str, &str, Option<i64>)> = status
            .conditions
            .iter()
            .map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_str(),
                    c.observed_generation,
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("Accepted", "True", "Accepted", Some(3)),
                ("Ready", "True", "Ready", Some(3))
            ]
        );
        let pending = status_for(&repo, &id, &compiled, 1, 2, None, &Default::default());
        assert_eq!(pending.conditions[1].reason, "Pending");
        assert_eq!(
            pending.conditions[1].message,
            "1 of 2 proxies serve this revision"
        );
    }

    #[test]
    fn a_bad_repo_is_not_accepted_and_its_condition_names_the_field() {
        let (repo, compiled) = compiled("{depth: 0}");
        let id = ResourceId::depot_repo(&repo);
        let status = status_for(&repo, &id, &compiled, 1, 1, None, &Default::default());
        let accepted = &status.conditions[0];
        assert_eq!(
            (accepted.status.as_str(), accepted.reason.as_str()),
            ("False", "InvalidDepth")
        );
        assert!(
            accepted.message.starts_with("spec.depth: "),
            "{}",
            accepted.message
        );
        assert_eq!(status.conditions[1].reason, "Invalid");
    }

    #[test]
    fn the_numbers_come_from_the_proxy_with_the_data_and_stay_until_the_next_report() {
        let (repo, compiled) = compiled("{}");
        let id = ResourceId::depot_repo(&repo);
        let usage = Usage::merge(&[Some(serde_json::json!({"dataDir": true, "depots": {
            "ops/configs": {"files": 3, "bytes": 120, "lastChange": "2026-01-02T03:04:05Z"}
        }}))]);
        let status = status_for(
            &repo,
            &id,
            &compiled,
            1,
            1,
            Some(&usage),
            &Default::default(),
        );
        assert_eq!(
            (status.files, status.bytes, status.last_change.as_deref()),
            (Some(3), Some(120), Some("2026-01-02T03:04:05Z"))
        );
        assert_eq!(status.conditions[1].reason, "Ready");
        // A poll with no numbers for it (no answer, a scan pending) keeps them.
        let silent = Usage::merge(&[None]);
        let kept = status_for(&repo, &id, &compiled, 1, 1, Some(&silent), &status);
        assert_eq!((kept.files, kept.bytes), (Some(3), Some(120)));
        assert_eq!(kept.conditions[1].reason, "Ready");
        assert!(same_status(&kept, &status), "nothing to write");
        let changed = Usage::merge(&[Some(serde_json::json!({"dataDir": true, "depots": {
            "ops/configs": {"files": 4, "bytes": 130, "lastChange": "2026-01-02T03:05:00Z"}
        }}))]);
        let newer = status_for(&repo, &id, &compiled, 1, 1, Some(&changed), &status);
        assert!(!same_status(&newer, &status), "written");
    }

    #[test]
    fn without_a_proxy_keeping_data_ready_is_false_naming_the_flag() {
        let (repo, compiled) = compiled("{}");
        let id = ResourceId::depot_repo(&repo);
        let usage = Usage::merge(&[Some(
            serde_json::json!({"dataDir": false, "depots": {"ops/configs": {}}}),
        )]);
        let status = status_for(
            &repo,
            &id,
            &compiled,
            1,
            1,
            Some(&usage),
            &Default::default(),
        );
        let ready = &status.conditions[1];
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "NoDataDir")
        );
        assert!(ready.message.contains("--data-dir"), "{}", ready.message);
        assert_eq!(status.conditions[0].status, "True", "still accepted");
        assert_eq!(status.files, None);
    }
}
