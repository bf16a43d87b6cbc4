//! Each Route's status, in Gateway API terms: `Accepted`, `ResolvedRefs`
//! and `Programmed`, with `observedGeneration`, and how many proxies serve
//! it. Written only when something changed.

use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::route::{DEFAULT_CLASS, RouteStatus};
use gatehouse_api::{Compiled, Diagnostic, Route};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource};

pub async fn report(
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
        let id = gatehouse_api::compile::route_id(route);
        let accepted = compiled.accepted.contains(&id);
        let findings: Vec<&Diagnostic> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.resource == format!("Route {id}"))
            .collect();
        let wanted = status_for(route, accepted, &findings, serving, proxies);
        let current = route.status.clone().unwrap_or_default();
        if same_status(&current, &wanted) {
            continue;
        }
        if !accepted && newly_rejected(&current, &wanted) {
            announce_rejection(recorder, route, &wanted).await;
        }
        let (namespace, name) = id.split_once('/').expect("ids are namespace/name");
        let api: Api<Route> = Api::namespaced(client.clone(), namespace);
        let patch = serde_json::json!({"status": merge_times(&current, wanted)});
        if let Err(err) = api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(route = %id, error = %err, "could not write the Route's status");
        }
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

/// The Route was not rejected for this reason and generation before.
fn newly_rejected(current: &RouteStatus, wanted: &RouteStatus) -> bool {
    let accepted = |s: &RouteStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Accepted")
            .map(|c| (c.status.clone(), c.reason.clone(), c.observed_generation))
    };
    accepted(current) != accepted(wanted)
}

/// A Warning Event on the Route (`kubectl describe route` shows it).
async fn announce_rejection(recorder: &Recorder, route: &Route, status: &RouteStatus) {
    let Some(accepted) = status.conditions.iter().find(|c| c.type_ == "Accepted") else {
        return;
    };
    let event = Event {
        type_: EventType::Warning,
        reason: accepted.reason.clone(),
        note: Some(accepted.message.chars().take(1000).collect()),
        action: "Compile".into(),
        secondary: None,
    };
    if let Err(err) = recorder.publish(&event, &route.object_ref(&())).await {
        tracing::warn!(error = %err, "could not publish an Event");
    }
}

/// Equal but for transition times.
fn same_status(a: &RouteStatus, b: &RouteStatus) -> bool {
    let key = |s: &RouteStatus| {
        let conditions: Vec<_> = s
            .conditions
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
            .collect();
        (conditions, s.proxies.clone())
    };
    key(a) == key(b)
}

/// Keeps a condition's `lastTransitionTime` while its status stays the same.
fn merge_times(current: &RouteStatus, mut wanted: RouteStatus) -> RouteStatus {
    for condition in &mut wanted.conditions {
        if let Some(old) = current
            .conditions
            .iter()
            .find(|c| c.type_ == condition.type_)
            && old.status == condition.status
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
    }
    wanted
}
