//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas are
//! safe: only the holder pushes and writes status. Every replica keeps
//! watching, so a follower that takes over starts with warm caches.
//!
//! The holder renews every third of the lease; another replica takes the
//! Lease once it has gone unrenewed for the whole duration. Writes carry the
//! Lease's resourceVersion, so two replicas can never both win a round. A
//! holder that cannot renew for a whole duration steps down by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::Notify;

pub(super) struct Leadership {
    leading: AtomicBool,
    /// Rung when leadership is won or lost.
    pub changed: Notify,
}

impl Leadership {
    pub(super) fn is_leader(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    fn set(&self, leading: bool, identity: &str, lease: &str) {
        if self.leading.swap(leading, Ordering::SeqCst) != leading {
            if leading {
                tracing::info!(%identity, %lease, "became the leader: pushing and writing status");
            } else {
                tracing::warn!(%identity, %lease, "not the leader: watching only");
            }
            self.changed.notify_waiters();
        }
    }
}

pub(super) fn spawn(
    client: Client,
    namespace: &str,
    lease: String,
    identity: String,
    duration: Duration,
) -> Arc<Leadership> {
    let leadership = Arc::new(Leadership {
        leading: AtomicBool::new(false),
        changed: Notify::new(),
    });
    let api: Api<Lease> = Api::namespaced(client, namespace);
    let shared = leadership.clone();
    tokio::spawn(async move {
        let mut last_renewed: Option<Instant> = None;
        loop {
            match try_lead(&api, &lease, &identity, duration).await {
                Ok(true) => last_renewed = Some(Instant::now()),
                Ok(false) => last_renewed = None,
                Err(err) => tracing::warn!(error = %err, %lease, "lease round failed"),
            }
            let leading = last_renewed.is_some_and(|at| at.elapsed() < duration);
            shared.set(leading, &identity, &lease);
            let pause = if leading { duration / 3 } else { duration / 5 };
            tokio::time::sleep(pause.max(Duration::from_millis(200))).await;
        }
    });
    leadership
}

/// One round: take, keep or leave the Lease; true when we hold it after.
async fn try_lead(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    duration: Duration,
) -> Result<bool, kube::Error> {
    let now = MicroTime(Timestamp::now());
    let seconds = i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(identity.to_owned()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let ours = spec.holder_identity.as_deref() == Some(identity);
    if !ours {
        let held_for = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(seconds)).unwrap_or(0),
        );
        let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
            let age = Timestamp::now().duration_since(renewed.0);
            age.as_secs_f64() > held_for.as_secs_f64()
        });
        if !expired {
            return Ok(false);
        }
        spec.holder_identity = Some(identity.to_owned());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now);
    spec.lease_duration_seconds = Some(seconds);
    // replace() sends our resourceVersion: a concurrent writer makes this a 409.
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Method;
    use k8s_openapi::jiff::SignedDuration;
    use serde_json::Value;

    use super::*;
    use crate::run::api_server::{self, ApiServer};

    const LEASE: &str = "gatehouse-operator-gatehouse";
    const PATH: &str =
        "/apis/coordination.k8s.io/v1/namespaces/gh-system/leases/gatehouse-operator-gatehouse";

    fn api(client: Client) -> Api<Lease> {
        Api::namespaced(client, "gh-system")
    }

    /// A stored Lease held by `holder`, last renewed `age` ago.
    fn stored(holder: &str, age: Duration, transitions: i32) -> Value {
        let renewed = Timestamp::now() - SignedDuration::try_from(age).unwrap();
        serde_json::to_value(Lease {
            metadata: ObjectMeta {
                name: Some(LEASE.into()),
                namespace: Some("gh-system".into()),
                resource_version: Some("41".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(15),
                acquire_time: Some(MicroTime(renewed)),
                renew_time: Some(MicroTime(renewed)),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        })
        .unwrap()
    }

    async fn round(client: &Client) -> Result<bool, kube::Error> {
        try_lead(
            &api(client.clone()),
            LEASE,
            "operator-1",
            Duration::from_secs(15),
        )
        .await
    }

    async fn expect_get(server: &mut ApiServer, status: u16, reply: Value) {
        let seen = server.answer(status, reply).await;
        assert_eq!((seen.method, seen.path.as_str()), (Method::GET, PATH));
    }

    #[tokio::test]
    async fn with_no_lease_the_first_replica_creates_it_and_leads() {
        let (client, mut server) = api_server::client();
        let (led, created) = tokio::join!(round(&client), async {
            expect_get(&mut server, 404, api_server::status_error(404, "NotFound")).await;
            server.echo().await
        });
        assert!(led.unwrap());
        assert_eq!(created.method, Method::POST);
        assert_eq!(
            created.path,
            "/apis/coordination.k8s.io/v1/namespaces/gh-system/leases"
        );
        let spec = &created.body["spec"];
        assert_eq!(spec["holderIdentity"], "operator-1");
        assert_eq!(spec["leaseDurationSeconds"], 15);
        assert_eq!(spec["leaseTransitions"], 0);
        assert_eq!(created.body["metadata"]["name"], LEASE);
    }

    #[tokio::test]
    async fn losing_the_create_race_means_following() {
        let (client, mut server) = api_server::client();
        let (led, _) = tokio::join!(round(&client), async {
            expect_get(&mut server, 404, api_server::status_error(404, "NotFound")).await;
            server
                .answer(409, api_server::status_error(409, "AlreadyExists"))
                .await
        });
        assert!(!led.unwrap());
    }

    #[tokio::test]
    async fn a_lease_another_replica_renewed_is_left_alone() {
        let (client, mut server) = api_server::client();
        let (led, ()) = tokio::join!(round(&client), async {
            expect_get(
                &mut server,
                200,
                stored("operator-2", Duration::from_secs(2), 0),
            )
            .await;
            server.expect_none(Duration::from_millis(200)).await
        });
        assert!(!led.unwrap());
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_conditionally_on_its_resource_version() {
        let (client, mut server) = api_server::client();
        let (led, replaced) = tokio::join!(round(&client), async {
            expect_get(
                &mut server,
                200,
                stored("operator-2", Duration::from_secs(20), 3),
            )
            .await;
            server.echo().await
        });
        assert!(led.unwrap());
        assert_eq!(
            (replaced.method, replaced.path.as_str()),
            (Method::PUT, PATH)
        );
        assert_eq!(replaced.body["metadata"]["resourceVersion"], "41");
        let spec = &replaced.body["spec"];
        assert_eq!(spec["holderIdentity"], "operator-1");
        assert_eq!(spec["leaseTransitions"], 4);
        assert_eq!(spec["acquireTime"], spec["renewTime"]);
    }

    #[tokio::test]
    async fn the_holder_renews_without_a_transition_and_a_conflict_loses_the_round() {
        let (client, mut server) = api_server::client();
        let (led, renewed) = tokio::join!(round(&client), async {
            expect_get(
                &mut server,
                200,
                stored("operator-1", Duration::from_secs(5), 2),
            )
            .await;
            server.echo().await
        });
        assert!(led.unwrap());
        let spec = &renewed.body["spec"];
        assert_eq!(spec["leaseTransitions"], 2);
        assert_ne!(
            spec["acquireTime"], spec["renewTime"],
            "only the renew time moves"
        );

        let (led, _) = tokio::join!(round(&client), async {
            expect_get(
                &mut server,
                200,
                stored("operator-1", Duration::from_secs(5), 2),
            )
            .await;
            server
                .answer(409, api_server::status_error(409, "Conflict"))
                .await
        });
        assert!(!led.unwrap());
    }
}
