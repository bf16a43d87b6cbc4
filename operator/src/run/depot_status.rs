//! Each DepotRepo's status: `Accepted` (its options are valid, with the
//! field at fault when not) and `Ready` (accepted, and every proxy serves
//! the config that holds it), with `observedGeneration`. Written only when
//! something changed, conditional on the resourceVersion read.

use gatehouse_api::depot_repo::DepotRepoStatus;
use gatehouse_api::route::DEFAULT_CLASS;
use gatehouse_api::{Compiled, DepotRepo, ResourceId};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::events::Recorder;
use kube::{Client, Resource};

pub(super) async fn report(
    client: &Client,
    recorder: &Recorder,
    repos: &[DepotRepo],
    class: &str,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
) {
    for repo in repos {
        if repo.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) != class {
            continue;
        }
        let id = ResourceId::depot_repo(repo);
        let wanted = status_for(repo, &id, compiled, serving, proxies);
        let current = repo.status.clone().unwrap_or_default();
        if super::status::same_conditions(&current.conditions, &wanted.conditions) {
            continue;
        }
        let accepted = compiled.accepted.contains(&id);
        if !accepted && super::status::newly_rejected(&current.conditions, &wanted.conditions) {
            super::events::rejected(recorder, &repo.object_ref(&()), &wanted.conditions).await;
        }
        let mut wanted = wanted;
        super::status::keep_transition_times(&current.conditions, &mut wanted.conditions);
        let api: Api<DepotRepo> = Api::namespaced(client.clone(), &id.namespace);
        let status = serde_json::json!({"conditions": wanted.conditions});
        super::status::write(&api, &id, repo.metadata.resource_version.as_ref(), status).await;
    }
}

fn status_for(
    repo: &DepotRepo,
    id: &ResourceId,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
) -> DepotRepoStatus {
    let accepted = compiled.accepted.contains(id);
    let problems: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.resource == *id && d.is_error())
        .map(|d| format!("{}: {}", d.field, d.message))
        .collect();
    let reason = compiled
        .diagnostics
        .iter()
        .find(|d| d.resource == *id && d.is_error())
        .map_or("Invalid", |d| d.reason);
    let condition = |type_: &str, ok: bool, reason: &str, message: String| Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: repo.metadata.generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
    };
    let ready = accepted && proxies > 0 && serving == proxies;
    DepotRepoStatus {
        conditions: vec![
            if accepted {
                condition(
                    "Accepted",
                    true,
                    "Accepted",
                    "the DepotRepo is valid".into(),
                )
            } else {
                condition("Accepted", false, reason, problems.join("; "))
            },
            condition(
                "Ready",
                ready,
                if ready {
                    "Ready"
                } else if !accepted {
                    "Invalid"
                } else if proxies == 0 {
                    "NoProxies"
                } else {
                    "Pending"
                },
                format!("{serving} of {proxies} proxies serve this revision"),
            ),
        ],
        ..DepotRepoStatus::default()
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
        let status = status_for(&repo, &id, &compiled, 2, 2);
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
        let pending = status_for(&repo, &id, &compiled, 1, 2);
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
        let status = status_for(&repo, &id, &compiled, 1, 1);
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
}
