//! Each Route's status, in Gateway API terms: `Accepted`, `ResolvedRefs`
//! and `Programmed`, with `observedGeneration`, and how many proxies serve
//! it. Written only when something changed.

use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::route::{DEFAULT_CLASS, RouteStatus};
use gatehouse_api::{Compiled, Diagnostic, ResourceId, Route};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::Recorder;
use kube::{Client, Resource};

/// A Route's conditions whose turning False is a Warning Event: it is left
/// out of the config, or a reference it names (a Service, a Secret, its
/// certificate) is missing or unusable.
const WARNED: &[&str] = &["Accepted", "ResolvedRefs"];

pub(super) async fn report(
    client: &Client,
    recorder: &Recorder,
    routes: &[Route],
    class: &str,
    compiled: &Compiled,
    serving: usize,
    proxies: usize,
) {
    for route in routes {
        if route.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) != class {
            continue;
        }
        let id = ResourceId::route(route);
        let accepted = compiled.accepted.contains(&id);
        let findings: Vec<&Diagnostic> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.resource == id)
            .collect();
        let wanted = status_for(route, accepted, &findings, serving, proxies);
        let current = route.status.clone().unwrap_or_default();
        if same_status(&current, &wanted) {
            continue;
        }
        super::events::turned_false(
            recorder,
            &route.object_ref(&()),
            WARNED,
            &current.conditions,
            &wanted.conditions,
        )
        .await;
        let api: Api<Route> = Api::namespaced(client.clone(), &id.namespace);
        let status =
            serde_json::to_value(merge_times(&current, wanted)).expect("a status serialises");
        write(&api, &id, route.metadata.resource_version.as_ref(), status).await;
    }
}

/// Writes `status` on the resource, conditional on the `resource_version`
/// it was computed from: a status computed from a stale copy (another
/// replica wrote from a newer generation) is refused with 409 instead of
/// lowering `observedGeneration`, and left for the next round.
pub(super) async fn write<K>(
    api: &Api<K>,
    id: &ResourceId,
    resource_version: Option<&String>,
    status: serde_json::Value,
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": resource_version},
        "status": status,
    });
    match api
        .patch_status(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::debug!(resource = %id, "status not written: the resource changed meanwhile");
        }
        Err(err) => tracing::warn!(resource = %id, error = %err, "could not write the status"),
    }
}

fn status_for(
    route: &Route,
    accepted: bool,
    findings: &[&Diagnostic],
    serving: usize,
    proxies: usize,
) -> RouteStatus {
    let generation = route.metadata.generation;
    let summary = |kind: ConditionKind| {
        let found: Vec<String> = findings
            .iter()
            .filter(|d| d.condition == kind)
            .map(|d| {
                if d.field.is_empty() {
                    d.message.clone()
                } else {
                    format!("{}: {}", d.field, d.message)
                }
            })
            .collect();
        let reason = findings
            .iter()
            .find(|d| d.condition == kind)
            .map(|d| d.reason);
        (found.join("; "), reason)
    };
    let (accepted_message, accepted_reason) = summary(ConditionKind::Accepted);
    let (refs_message, refs_reason) = summary(ConditionKind::ResolvedRefs);
    let condition = |type_: &str, ok: bool, reason: &str, message: String| Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
    };
    let programmed = accepted && proxies > 0 && serving == proxies;
    RouteStatus {
        conditions: vec![
            condition(
                "Accepted",
                accepted,
                if accepted {
                    "Accepted"
                } else {
                    accepted_reason.unwrap_or("Invalid")
                },
                if accepted_message.is_empty() {
                    "the Route is valid".into()
                } else {
                    accepted_message
                },
            ),
            condition(
                "ResolvedRefs",
                refs_reason.is_none(),
                refs_reason.unwrap_or("ResolvedRefs"),
                if refs_message.is_empty() {
                    "every backend resolves".into()
                } else {
                    refs_message
                },
            ),
            condition(
                "Programmed",
                programmed,
                if programmed {
                    "Programmed"
                } else if proxies == 0 {
                    "NoProxies"
                } else {
                    "Pending"
                },
                format!("{serving} of {proxies} proxies serve this revision"),
            ),
        ],
        proxies: Some(format!("{serving}/{proxies}")),
    }
}

/// The wanted condition of `type_` when it is False and was not False for
/// this reason and generation before: what deserves one Event, not one a
/// round.
pub(super) fn newly_false<'a>(
    type_: &str,
    current: &[Condition],
    wanted: &'a [Condition],
) -> Option<&'a Condition> {
    let of = |conditions: &[Condition]| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status.clone(), c.reason.clone(), c.observed_generation))
    };
    let condition = wanted.iter().find(|c| c.type_ == type_)?;
    (condition.status == "False" && of(current) != of(wanted)).then_some(condition)
}

/// Equal but for transition times.
fn same_status(a: &RouteStatus, b: &RouteStatus) -> bool {
    same_conditions(&a.conditions, &b.conditions) && a.proxies == b.proxies
}

/// Equal conditions but for transition times.
pub(super) fn same_conditions(a: &[Condition], b: &[Condition]) -> bool {
    let key = |conditions: &[Condition]| -> Vec<_> {
        conditions
            .iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    c.message.clone(),
                    c.observed_generation,
                )
            })
            .collect()
    };
    key(a) == key(b)
}

/// Keeps a condition's `lastTransitionTime` while its status stays the same.
fn merge_times(current: &RouteStatus, mut wanted: RouteStatus) -> RouteStatus {
    keep_transition_times(&current.conditions, &mut wanted.conditions);
    wanted
}

/// Each wanted condition keeps the time of the current one of its type
/// while its status stays the same.
pub(super) fn keep_transition_times(current: &[Condition], wanted: &mut [Condition]) {
    for condition in wanted {
        if let Some(old) = current.iter().find(|c| c.type_ == condition.type_)
            && old.status == condition.status
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
    }
}

/// Whether compile accepted a resource, with its first error's reason and
/// every error with its field when not: a DepotRepo's or MockProvision's
/// `Accepted` condition.
pub(super) struct Acceptance {
    pub(super) accepted: bool,
    reason: &'static str,
    problems: Vec<String>,
}

impl Acceptance {
    pub(super) fn of(compiled: &Compiled, id: &ResourceId) -> Acceptance {
        let errors: Vec<&Diagnostic> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.resource == *id && d.is_error())
            .collect();
        Acceptance {
            accepted: compiled.accepted.contains(id),
            reason: errors.first().map_or("Invalid", |d| d.reason),
            problems: errors
                .iter()
                .map(|d| format!("{}: {}", d.field, d.message))
                .collect(),
        }
    }

    /// `Accepted`: True saying `valid`, or False with every problem.
    pub(super) fn condition(&self, valid: &str, generation: Option<i64>) -> Condition {
        match self.accepted {
            true => condition("Accepted", true, "Accepted", valid.into(), generation),
            false => condition(
                "Accepted",
                false,
                self.reason,
                self.problems.join("; "),
                generation,
            ),
        }
    }
}

/// A condition observed at `generation`, changed now.
pub(super) fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gatehouse_api::{Resources, compile};
    use http::Method;
    use serde_json::Value;

    use super::*;
    use crate::run::api_server::{self, ApiServer, stored_route as route};

    /// Runs one `report` round over `routes` against `server`, as the
    /// operator does with 1 of 1 proxies serving.
    async fn report_round(client: &Client, routes: &[Route]) {
        let recorder = api_server::recorder(client);
        let compiled = compile(Resources {
            routes,
            depot_repos: &[],
            mock_provisions: &[],
            services: None,
            secrets: &[],
            config_maps: &[],
            class: DEFAULT_CLASS,
        });
        report(client, &recorder, routes, DEFAULT_CLASS, &compiled, 1, 1).await;
    }

    fn conditions(patch: &Value) -> Vec<(String, String, String, i64)> {
        patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["type"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                    c["reason"].as_str().unwrap().to_owned(),
                    c["observedGeneration"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    async fn expect_status_patch(server: &mut ApiServer, name: &str) -> Value {
        let seen = server.echo().await;
        assert_eq!(seen.method, Method::PATCH);
        assert_eq!(
            seen.path,
            format!("/apis/gatehouse.dev/v1alpha1/namespaces/shop/routes/{name}/status")
        );
        assert_eq!(seen.content_type, "application/merge-patch+json");
        assert_eq!(seen.body["metadata"]["resourceVersion"], "41");
        seen.body
    }

    /// A round over `route` as stored with the status `patch` wrote sends nothing.
    async fn expect_quiet_round(
        client: &Client,
        server: &mut ApiServer,
        route: &Route,
        patch: &Value,
    ) {
        let mut written = route.clone();
        written.status = Some(serde_json::from_value(patch["status"].clone()).unwrap());
        let routes = [written];
        tokio::join!(
            report_round(client, &routes),
            server.expect_none(Duration::from_millis(200))
        );
    }

    #[tokio::test]
    async fn an_accepted_route_gets_three_true_conditions_at_its_generation() {
        let (client, mut server) = api_server::client();
        let routes = [route("cart", "{type: PathPrefix, value: /cart}", None)];
        let (_, patch) = tokio::join!(
            report_round(&client, &routes),
            expect_status_patch(&mut server, "cart")
        );
        let want = |t: &str, r: &str| (t.to_owned(), "True".to_owned(), r.to_owned(), 3);
        assert_eq!(
            conditions(&patch),
            [
                want("Accepted", "Accepted"),
                want("ResolvedRefs", "ResolvedRefs"),
                want("Programmed", "Programmed"),
            ]
        );
        assert_eq!(patch["status"]["proxies"], "1/1");
        let programmed = &patch["status"]["conditions"][2]["message"];
        assert_eq!(programmed, "1 of 1 proxies serve this revision");

        // The same status again is not written again.
        expect_quiet_round(&client, &mut server, &routes[0], &patch).await;
    }

    #[tokio::test]
    async fn a_rejected_route_gets_a_warning_event_and_accepted_false_naming_the_field() {
        let (client, mut server) = api_server::client();
        let routes = [route(
            "bad",
            "{type: RegularExpression, value: '/(['}",
            None,
        )];
        let (_, (event, patch)) = tokio::join!(report_round(&client, &routes), async {
            // The Event first, then the status.
            let event = server.echo().await;
            (event, expect_status_patch(&mut server, "bad").await)
        });
        assert_eq!(event.method, Method::POST);
        assert_eq!(event.path, "/apis/events.k8s.io/v1/namespaces/shop/events");
        assert_eq!(event.body["type"], "Warning");
        assert_eq!(event.body["reason"], "InvalidRegex");
        assert_eq!(event.body["regarding"]["kind"], "Route");
        assert_eq!(event.body["regarding"]["name"], "bad");

        let found = conditions(&patch);
        assert_eq!(
            found[0],
            ("Accepted".into(), "False".into(), "InvalidRegex".into(), 3)
        );
        let message = patch["status"]["conditions"][0]["message"]
            .as_str()
            .unwrap();
        assert!(
            message.starts_with("spec.rules[0].matches[0].path.value: "),
            "{message}"
        );
        assert_eq!(event.body["note"], message);
        assert_eq!(found[2].1, "False", "a rejected Route is not Programmed");

        // Still rejected for the same reason next round: no second Event, no write.
        expect_quiet_round(&client, &mut server, &routes[0], &patch).await;
    }

    #[tokio::test]
    async fn a_certificate_secret_gone_missing_is_one_warning_event_with_the_reason() {
        let (client, mut server) = api_server::client();
        let mut shop = route("shop", "{type: PathPrefix, value: /}", None);
        shop.spec.hostnames = vec!["shop.example.com".into()];
        shop.spec.tls =
            Some(serde_json::from_value(serde_json::json!({"secretName": "shop-tls"})).unwrap());
        let routes = [shop];
        let (_, (event, patch)) = tokio::join!(report_round(&client, &routes), async {
            let event = server.echo().await;
            (event, expect_status_patch(&mut server, "shop").await)
        });
        assert_eq!(event.body["type"], "Warning");
        assert_eq!(event.body["reason"], "SecretNotFound");
        assert_eq!(event.body["action"], "Resolve");
        assert_eq!(event.body["regarding"]["name"], "shop");
        let found = conditions(&patch);
        assert_eq!(found[0].1, "True", "accepted all the same");
        assert_eq!(
            found[1],
            (
                "ResolvedRefs".into(),
                "False".into(),
                "SecretNotFound".into(),
                3
            )
        );
        let message = patch["status"]["conditions"][1]["message"]
            .as_str()
            .unwrap();
        assert!(
            message.starts_with("spec.tls.secretName: Secret shop/shop-tls does not exist"),
            "{message}"
        );
        assert_eq!(event.body["note"], message);

        // Still missing next round: no second Event.
        expect_quiet_round(&client, &mut server, &routes[0], &patch).await;
    }

    #[test]
    fn a_condition_is_newly_false_once_per_reason_and_generation() {
        let c = |status: &str, reason: &str, generation: i64| {
            condition(
                "ResolvedRefs",
                status == "True",
                reason,
                String::new(),
                Some(generation),
            )
        };
        let newly = |current: Condition, wanted: Condition| {
            newly_false("ResolvedRefs", &[current], &[wanted]).is_some()
        };
        assert!(newly(
            c("True", "ResolvedRefs", 1),
            c("False", "SecretNotFound", 1)
        ));
        assert!(!newly(
            c("False", "SecretNotFound", 1),
            c("False", "SecretNotFound", 1)
        ));
        assert!(newly(
            c("False", "SecretNotFound", 1),
            c("False", "CertificateExpired", 1)
        ));
        assert!(newly(
            c("False", "SecretNotFound", 1),
            c("False", "SecretNotFound", 2)
        ));
        assert!(!newly(
            c("False", "SecretNotFound", 1),
            c("True", "ResolvedRefs", 1)
        ));
        assert!(newly_false("ResolvedRefs", &[], &[c("False", "SecretNotFound", 1)]).is_some());
    }

    #[tokio::test]
    async fn routes_of_another_class_are_left_alone() {
        let (client, mut server) = api_server::client();
        let routes = [route(
            "theirs",
            "{type: PathPrefix, value: /}",
            Some("staging"),
        )];
        tokio::join!(
            report_round(&client, &routes),
            server.expect_none(Duration::from_millis(200))
        );
    }

    #[tokio::test]
    async fn a_conflict_means_the_route_changed_and_is_not_retried_with_stale_data() {
        let (client, mut server) = api_server::client();
        let routes = [route("cart", "{type: PathPrefix, value: /cart}", None)];
        let (_, seen) = tokio::join!(
            report_round(&client, &routes),
            server.answer(409, api_server::status_error(409, "Conflict"))
        );
        assert_eq!(seen.body["metadata"]["resourceVersion"], "41");
        server.expect_none(Duration::from_millis(200)).await;
    }
}
