//! Warning Events (events.k8s.io/v1) for what a user must act on:
//! `kubectl describe` on the object shows them. Each is published once per
//! new cause, never once per reconcile round.

use std::collections::HashSet;

use gatehouse_api::Route;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::events::{Event, EventType, Recorder};

/// Event notes are cut here: the API server refuses notes over 1 KiB.
const MAX_NOTE: usize = 1000;

/// Each condition of `types` that newly turned False between the status
/// written (`current`) and the one about to be (`wanted`), as a Warning
/// with the condition's reason and message: `Accepted` (the resource is
/// left out of the config), `ResolvedRefs` (a reference it names is
/// missing or unusable).
pub(super) async fn turned_false(
    recorder: &Recorder,
    reference: &ObjectReference,
    types: &[&str],
    current: &[Condition],
    wanted: &[Condition],
) {
    for type_ in types {
        let Some(condition) = super::status::newly_false(type_, current, wanted) else {
            continue;
        };
        let action = if *type_ == "Accepted" {
            "Compile"
        } else {
            "Resolve"
        };
        warn(
            recorder,
            reference,
            &condition.reason,
            action,
            &condition.message,
        )
        .await;
    }
}

/// The compiled config does not fit in the ConfigMap; proxies still get it by push.
pub(super) async fn config_too_large(
    recorder: &Recorder,
    namespace: &str,
    name: &str,
    bytes: usize,
) {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..ObjectReference::default()
    };
    let note = format!(
        "the compiled config is {bytes} bytes, more than a ConfigMap holds ({} bytes): \
         proxies are still programmed by push, but one that restarts while the operator \
         is down starts without it; serve fewer or smaller Routes per class",
        super::configmap::MAX_BYTES
    );
    warn(
        recorder,
        &reference,
        "ConfigTooLarge",
        "WriteConfigMap",
        &note,
    )
    .await;
}

/// Routes the API server holds but the operator cannot read (stored under an
/// older schema, say). They are left out; the others are served.
pub(super) struct Malformed {
    announced: HashSet<(String, Option<i64>)>,
}

impl Malformed {
    pub(super) fn new() -> Malformed {
        Malformed {
            announced: HashSet::new(),
        }
    }

    /// Announces each object once per generation; forgets the ones that went.
    pub(super) async fn announce(&mut self, recorder: &Recorder, objects: &[InvalidObject]) {
        let current: HashSet<_> = objects.iter().map(key).collect();
        self.announced.retain(|k| current.contains(k));
        for object in objects {
            if !self.announced.insert(key(object)) {
                continue;
            }
            let id = format!(
                "{}/{}",
                object.metadata.namespace.as_deref().unwrap_or_default(),
                object.metadata.name.as_deref().unwrap_or_default()
            );
            tracing::warn!(route = %id, error = %object.error, "cannot read this Route; it is not served");
            let reference = ObjectReference {
                api_version: Some(Route::api_version(&()).into_owned()),
                kind: Some(Route::kind(&()).into_owned()),
                namespace: object.metadata.namespace.clone(),
                name: object.metadata.name.clone(),
                uid: object.metadata.uid.clone(),
                resource_version: object.metadata.resource_version.clone(),
                ..ObjectReference::default()
            };
            let note = format!(
                "the Route cannot be read and is not served: {}; fix it to match the CRD \
                 (kubectl explain route.spec) and apply it again",
                object.error
            );
            warn(recorder, &reference, "Malformed", "Read", &note).await;
        }
    }
}

fn key(object: &InvalidObject) -> (String, Option<i64>) {
    (
        object.metadata.uid.clone().unwrap_or_default(),
        object.metadata.generation,
    )
}

pub(super) async fn warn(
    recorder: &Recorder,
    reference: &ObjectReference,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note.chars().take(MAX_NOTE).collect()),
        action: action.into(),
        secondary: None,
    };
    if let Err(err) = recorder.publish(&event, reference).await {
        tracing::warn!(error = %err, %reason, "could not publish an Event");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Method;
    use kube::api::ObjectMeta;

    use super::*;
    use crate::run::api_server;

    fn unreadable(generation: i64) -> InvalidObject {
        InvalidObject {
            error: "Invalid type string \"all\". Expected a sequence".into(),
            metadata: ObjectMeta {
                name: Some("legacy".into()),
                namespace: Some("shop".into()),
                uid: Some("uid-legacy".into()),
                generation: Some(generation),
                resource_version: Some(format!("10{generation}")),
                ..ObjectMeta::default()
            },
        }
    }

    #[tokio::test]
    async fn a_config_too_large_is_a_warning_on_the_config_map() {
        let (client, mut server) = api_server::client();
        let recorder = api_server::recorder(&client);
        let ((), seen) = tokio::join!(
            config_too_large(&recorder, "gh-system", "gh-config", 2_000_000),
            server.echo()
        );
        assert_eq!(seen.method, Method::POST);
        assert_eq!(
            seen.path,
            "/apis/events.k8s.io/v1/namespaces/gh-system/events"
        );
        let event = &seen.body;
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["reason"], "ConfigTooLarge");
        assert_eq!(event["reportingController"], "gatehouse-operator");
        assert_eq!(event["regarding"]["kind"], "ConfigMap");
        assert_eq!(event["regarding"]["name"], "gh-config");
        let note = event["note"].as_str().unwrap();
        assert!(note.contains("2000000 bytes"), "{note}");
        assert!(note.contains("still programmed by push"), "{note}");
    }

    #[tokio::test]
    async fn an_unreadable_route_is_announced_once_per_generation() {
        let (client, mut server) = api_server::client();
        let recorder = api_server::recorder(&client);
        let mut malformed = Malformed::new();
        let (second, third) = ([unreadable(2)], [unreadable(3)]);

        let ((), seen) = tokio::join!(malformed.announce(&recorder, &second), server.echo());
        assert_eq!(seen.path, "/apis/events.k8s.io/v1/namespaces/shop/events");
        assert_eq!(seen.body["reason"], "Malformed");
        assert_eq!(seen.body["regarding"]["kind"], "Route");
        assert_eq!(
            seen.body["regarding"]["apiVersion"],
            "gatehouse.dev/v1alpha1"
        );
        assert_eq!(seen.body["regarding"]["name"], "legacy");
        assert_eq!(seen.body["regarding"]["uid"], "uid-legacy");
        let note = seen.body["note"].as_str().unwrap();
        assert!(note.contains("Expected a sequence"), "{note}");
        assert!(note.contains("kubectl explain route.spec"), "{note}");

        // The next rounds see the same object: nothing more is said.
        let ((), ()) = tokio::join!(
            malformed.announce(&recorder, &second),
            server.expect_none(Duration::from_millis(200))
        );
        // An edit that is still unreadable is announced again.
        let ((), seen) = tokio::join!(malformed.announce(&recorder, &third), server.echo());
        assert_eq!(seen.body["reason"], "Malformed");
        // Fixed (or deleted), then broken again: announced again.
        malformed.announce(&recorder, &[]).await;
        let ((), seen) = tokio::join!(malformed.announce(&recorder, &third), server.echo());
        assert_eq!(seen.body["reason"], "Malformed");
    }
}
