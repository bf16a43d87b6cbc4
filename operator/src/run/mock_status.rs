//! Each MockProvision's status: `Accepted` (the mock engine took its
//! provision, or every error with its field under `spec`), `Programmed`
//! (accepted, and every proxy serves the config that holds it), `rules`
//! and `proxies` (`2/2`), with `observedGeneration`. Written only when
//! something changed, conditional on the resourceVersion read.

use gatehouse_api::mock_provision::MockProvisionStatus;
use gatehouse_api::route::DEFAULT_CLASS;
use gatehouse_api::{Compiled, MockProvision, ResourceId};
use kube::api::Api;
use kube::runtime::events::Recorder;
use kube::{Client, Resource};

use super::status::{Acceptance, condition};

pub(super) async fn report(
    client: &Client,
    recorder: &Recorder,
    mocks: &[MockProvision],
    class: &str,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
) {
    for mock in mocks {
        if mock.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) != class {
            continue;
        }
        let id = ResourceId::mock_provision(mock);
        let current = mock.status.clone().unwrap_or_default();
        let mut wanted = status_for(mock, &id, compiled, serving, proxies);
        if super::status::same_conditions(&current.conditions, &wanted.conditions)
            && (current.rules, &current.proxies) == (wanted.rules, &wanted.proxies)
        {
            continue;
        }
        super::events::turned_false(
            recorder,
            &mock.object_ref(&()),
            &["Accepted"],
            &current.conditions,
            &wanted.conditions,
        )
        .await;
        super::status::keep_transition_times(&current.conditions, &mut wanted.conditions);
        let api: Api<MockProvision> = Api::namespaced(client.clone(), &id.namespace);
        let status = serde_json::json!({
            "conditions": wanted.conditions,
            "rules": wanted.rules,
            "proxies": wanted.proxies,
        });
        super::status::write(&api, &id, mock.metadata.resource_version.as_ref(), status).await;
    }
}

fn status_for(
    mock: &MockProvision,
    id: &ResourceId,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
) -> MockProvisionStatus {
    let generation = mock.metadata.generation;
    let acceptance = Acceptance::of(compiled, id);
    let programmed = acceptance.accepted && proxies > 0 && serving == proxies;
    let rules = compiled
        .config
        .mocks
        .iter()
        .find(|m| m.id == id.key())
        .and_then(|m| m.provision.get("rules")?.as_array().map(Vec::len))
        .map(|n| n as u32);
    MockProvisionStatus {
        conditions: vec![
            acceptance.condition("the provision is valid", generation),
            condition(
                "Programmed",
                programmed,
                if programmed {
                    "Programmed"
                } else if !acceptance.accepted {
                    "Invalid"
                } else if proxies == 0 {
                    "NoProxies"
                } else {
                    "Pending"
                },
                format!("{serving} of {proxies} proxies serve this revision"),
                generation,
            ),
        ],
        rules: if acceptance.accepted {
            rules.or(Some(0))
        } else {
            None
        },
        proxies: Some(format!("{serving}/{proxies}")),
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_api::manifest::Manifests;

    use super::*;

    fn compiled(spec: &str) -> (MockProvision, Compiled) {
        let mut manifests = Manifests::default();
        manifests.read(
            "m.yaml",
            &format!(
                "apiVersion: gatehouse.dev/v1alpha1\nkind: MockProvision\nmetadata: {{name: fake, namespace: qa, generation: 2}}\nspec:\n{spec}\n"
            ),
        );
        let mock = manifests.mock_provisions().next().unwrap().value.clone();
        (mock, manifests.compile())
    }

    fn view(status: &MockProvisionStatus) -> Vec<(&str, &str, &str, Option<i64>)> {
        status
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
            .collect()
    }

    #[test]
    fn a_valid_provision_is_accepted_and_programmed_once_every_proxy_serves_it() {
        let (mock, compiled) =
            compiled("  rules:\n    - response: {body: hi}\n    - response: {body: ho}");
        let id = ResourceId::mock_provision(&mock);
        let status = status_for(&mock, &id, &compiled, 2, 2);
        assert_eq!(
            view(&status),
            [
                ("Accepted", "True", "Accepted", Some(2)),
                ("Programmed", "True", "Programmed", Some(2))
            ]
        );
        assert_eq!(
            (status.rules, status.proxies.as_deref()),
            (Some(2), Some("2/2"))
        );
        let pending = status_for(&mock, &id, &compiled, 1, 2);
        assert_eq!(pending.conditions[1].reason, "Pending");
        assert_eq!(pending.proxies.as_deref(), Some("1/2"));
    }

    #[test]
    fn a_bad_provision_is_not_accepted_and_names_every_field() {
        let (mock, compiled) =
            compiled("  rules:\n    - request: {path: {regex: '('}}\n      response: {status: 99}");
        let id = ResourceId::mock_provision(&mock);
        let status = status_for(&mock, &id, &compiled, 1, 1);
        let accepted = &status.conditions[0];
        assert_eq!(
            (accepted.status.as_str(), accepted.reason.as_str()),
            ("False", "InvalidProvision")
        );
        assert!(
            accepted
                .message
                .starts_with("spec.rules[0].request.path.regex: ")
                && accepted
                    .message
                    .contains("; spec.rules[0].response.status: "),
            "{}",
            accepted.message
        );
        assert_eq!(status.conditions[1].reason, "Invalid");
        assert_eq!(status.rules, None);
    }
}
