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

pub struct Leadership {
    leading: AtomicBool,
    /// Rung when leadership is won or lost.
    pub changed: Notify,
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
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

pub fn spawn(
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
