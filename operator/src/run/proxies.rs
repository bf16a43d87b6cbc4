//! The proxy Pods and the pushes to them: `PUT /config` to each Pod's
//! admin port, concurrently, with a timeout; a Pod already serving the
//! revision is not pushed again; failed Pods are retried with backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use gatehouse_api::ProxyConfig;
use k8s_openapi::api::core::v1::Pod;

use super::admin_client::AdminClient;
use super::depot_usage::Usage;
use super::endpoints::Metrics;

/// One proxy Pod's admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// `namespace/name` and uid, so a re-created Pod is a new endpoint.
    pub name: String,
    /// `ip:port` of its admin API; the scheme is the client's (`AdminClient`).
    pub admin: String,
}

impl Endpoint {
    /// A running Pod with an IP and a container port named `admin`.
    pub(super) fn of(pod: &Pod) -> Option<Endpoint> {
        let status = pod.status.as_ref()?;
        if status.phase.as_deref() != Some("Running") || pod.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let ip = status.pod_ip.as_deref()?;
        let port = pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some("admin"))?
            .container_port;
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_owned()
        };
        Some(Endpoint {
            name: format!(
                "{}/{} ({})",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.uid.as_deref().unwrap_or_default()
            ),
            admin: format!("{host}:{port}"),
        })
    }
}

pub(super) struct Proxies {
    http: AdminClient,
    metrics: Arc<Metrics>,
    /// What each endpoint acknowledged serving, and its consecutive failures.
    acked: Mutex<HashMap<String, Ack>>,
}

#[derive(Clone, Debug, Default)]
struct Ack {
    revision: String,
    failures: u32,
}

impl Proxies {
    pub(super) fn new(http: AdminClient, metrics: Arc<Metrics>) -> Proxies {
        Proxies {
            http,
            metrics,
            acked: Mutex::new(HashMap::new()),
        }
    }

    /// Pushes `config` to every endpoint not serving it yet; true when all serve it.
    pub(super) async fn push(&self, config: &ProxyConfig, endpoints: &[Endpoint]) -> bool {
        let body = Bytes::from(serde_json::to_vec(config).expect("a config serialises"));
        let pending: Vec<&Endpoint> = {
            let mut acked = self.acked.lock().unwrap_or_else(|e| e.into_inner());
            acked.retain(|name, _| endpoints.iter().any(|e| &e.name == name));
            endpoints
                .iter()
                .filter(|e| {
                    acked
                        .get(&e.name)
                        .is_none_or(|a| a.revision != config.revision)
                })
                .collect()
        };
        let results = join_all(
            pending
                .iter()
                .map(|e| self.bring_up_to_date(e, &config.revision, &body)),
        )
        .await;
        let mut acked = self.acked.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = true;
        for (endpoint, result) in pending.iter().zip(results) {
            let entry = acked.entry(endpoint.name.clone()).or_default();
            match result {
                Ok(revision) => {
                    tracing::info!(proxy = %endpoint.name, %revision, "proxy serves the config");
                    *entry = Ack {
                        revision,
                        failures: 0,
                    };
                }
                Err(err) => {
                    entry.failures += 1;
                    self.metrics
                        .push_failures
                        .with_label_values(&[&endpoint.name])
                        .inc();
                    all = false;
                    tracing::warn!(proxy = %endpoint.name, error = %err, failures = entry.failures, "push failed; will retry");
                }
            }
        }
        all
    }

    /// Drops every acknowledgement, so the next round asks each proxy again.
    pub(super) fn forget(&self) {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many endpoints have acknowledged `revision`.
    pub(super) fn serving(&self, revision: &str, endpoints: &[Endpoint]) -> usize {
        let acked = self.acked.lock().unwrap_or_else(|e| e.into_inner());
        endpoints
            .iter()
            .filter(|e| acked.get(&e.name).is_some_and(|a| a.revision == revision))
            .count()
    }

    /// Exponential backoff from the most-failed endpoint: 200 ms doubling to 30 s.
    pub(super) fn next_retry(&self) -> Duration {
        let acked = self.acked.lock().unwrap_or_else(|e| e.into_inner());
        let failures = acked.values().map(|a| a.failures).max().unwrap_or(0);
        Duration::from_millis(200u64.saturating_mul(1 << failures.min(8)))
            .min(Duration::from_secs(30))
    }

    /// Every endpoint's `GET /depots`, concurrently, each within the push
    /// timeout; one that does not answer counts as not answered.
    pub(super) async fn depots(&self, endpoints: &[Endpoint]) -> Usage {
        let answers = join_all(endpoints.iter().map(|e| self.depots_of(e))).await;
        Usage::merge(&answers)
    }

    async fn depots_of(&self, endpoint: &Endpoint) -> Option<serde_json::Value> {
        let answered = match self.http.get(&endpoint.admin, "/depots", true).await {
            Ok(answer) if answer.status.is_success() => {
                serde_json::from_slice(&answer.body).map_err(|e| e.to_string())
            }
            Ok(answer) => {
                tracing::debug!(proxy = %endpoint.name, status = %answer.status, "no depot usage from this proxy");
                return None;
            }
            Err(err) => Err(err),
        };
        answered
            .map_err(|err| tracing::debug!(proxy = %endpoint.name, error = %err, "no depot usage from this proxy"))
            .ok()
    }

    /// A proxy seen for the first time (say, after this operator restarted)
    /// is asked what it serves before anything is pushed to it.
    async fn bring_up_to_date(
        &self,
        endpoint: &Endpoint,
        revision: &str,
        body: &Bytes,
    ) -> Result<String, String> {
        let known = self
            .acked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&endpoint.name);
        if !known && self.serves(endpoint).await.as_deref() == Some(revision) {
            return Ok(revision.to_owned());
        }
        self.push_one(endpoint, body).await
    }

    /// The revision a proxy says it serves (`Gatehouse-Revision` on `/readyz`).
    async fn serves(&self, endpoint: &Endpoint) -> Option<String> {
        let answer = self
            .http
            .get(&endpoint.admin, "/readyz", false)
            .await
            .ok()?;
        let revision = answer.headers.get("gatehouse-revision")?.to_str().ok()?;
        Some(revision.to_owned())
    }

    async fn push_one(&self, endpoint: &Endpoint, body: &Bytes) -> Result<String, String> {
        let _timer = self.metrics.push_duration.start_timer();
        let answer = self
            .http
            .put_json(&endpoint.admin, "/config", body.clone())
            .await?;
        let text = String::from_utf8_lossy(&answer.body);
        if !answer.status.is_success() {
            return Err(format!("{}: {}", answer.status, text.trim()));
        }
        let applied: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("unreadable answer: {e}"))?;
        applied["revision"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the answer has no revision".into())
    }
}
