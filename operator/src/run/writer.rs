//! API writes off the push path. The ConfigMap and the Routes' status are
//! written by a task of their own from the newest round's outcome, so a slow
//! API server never delays programming the proxies. Outcomes that arrive
//! while a write is in flight are coalesced: only the newest is written.
//! A poll of the proxies' depot usage (`depot_usage.rs`) writes the
//! DepotRepos' status again, from the newest outcome and fresh copies of
//! the DepotRepos (this task's own status writes moved their
//! resourceVersion since the outcome was read).

use std::sync::Arc;

use gatehouse_api::{Compiled, DepotRepo, MockProvision, Route};
use kube::Client;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::events::Recorder;
use tokio::sync::watch;

use super::depot_usage::Usage;
use super::expiry::{Expiring, Served};
use super::{configmap, depot_status, events, mock_status, status};

/// What one round compiled and how many proxies serve it.
pub(super) struct Outcome {
    /// Counts the times this replica became the leader: a new term writes
    /// the ConfigMap again, whatever it wrote before (another leader may
    /// have written since).
    pub term: u64,
    pub routes: Vec<Route>,
    pub depot_repos: Vec<DepotRepo>,
    pub mock_provisions: Vec<MockProvision>,
    /// Routes that could not be read.
    pub malformed: Vec<InvalidObject>,
    pub compiled: Compiled,
    /// The certificates the config serves, with their expiry.
    pub certificates: Vec<Served>,
    pub serving: usize,
    pub proxies: usize,
}

pub(super) struct Writer {
    latest: watch::Sender<Option<Arc<Outcome>>>,
    usage: watch::Sender<Option<Arc<Usage>>>,
}

/// The DepotRepos as the watch sees them now.
pub(super) type FreshRepos = Arc<dyn Fn() -> Vec<DepotRepo> + Send + Sync>;

/// Where the writer writes.
pub(super) struct Targets {
    pub class: String,
    pub namespace: String,
    pub config_map: String,
}

impl Writer {
    pub(super) fn spawn(
        client: Client,
        recorder: Recorder,
        targets: Targets,
        fresh: FreshRepos,
    ) -> Writer {
        let (latest, outcomes) = watch::channel(None);
        let (usage, usages) = watch::channel(None);
        tokio::spawn(write_outcomes(
            client, recorder, targets, fresh, outcomes, usages,
        ));
        Writer { latest, usage }
    }

    /// Hands over a round's outcome; returns at once.
    pub(super) fn publish(&self, outcome: Outcome) {
        self.latest.send_replace(Some(Arc::new(outcome)));
    }

    /// Hands over a poll of the proxies' depot usage; returns at once.
    pub(super) fn usage(&self, usage: Usage) {
        self.usage.send_if_modified(|held| {
            let changed = held.as_deref() != Some(&usage);
            if changed {
                *held = Some(Arc::new(usage));
            }
            changed
        });
    }
}

async fn write_outcomes(
    client: Client,
    recorder: Recorder,
    targets: Targets,
    fresh: FreshRepos,
    mut outcomes: watch::Receiver<Option<Arc<Outcome>>>,
    mut usages: watch::Receiver<Option<Arc<Usage>>>,
) {
    let mut malformed = events::Malformed::new();
    let mut expiring = Expiring::default();
    let mut written: Option<(u64, String)> = None;
    loop {
        let new_outcome = tokio::select! {
            changed = outcomes.changed() => match changed {
                Ok(()) => true,
                Err(_) => return,
            },
            changed = usages.changed() => match changed {
                Ok(()) => false,
                Err(_) => return,
            },
        };
        let Some(outcome) = outcomes.borrow_and_update().clone() else {
            continue;
        };
        let usage = usages.borrow_and_update().clone();
        // Fresh copies: an earlier status write (a poll's numbers) moved
        // their resourceVersion since the round read them.
        let repos = fresh_copies(&outcome.depot_repos, &fresh());
        let depot_status = || {
            depot_status::report(
                &client,
                &recorder,
                &repos,
                &targets.class,
                &outcome.compiled,
                outcome.serving,
                outcome.proxies,
                usage.as_deref(),
            )
        };
        if !new_outcome {
            // Only the usage changed: the DepotRepos' status alone.
            depot_status().await;
            continue;
        }
        let revision = &outcome.compiled.config.revision;
        if written.as_ref() != Some(&(outcome.term, revision.clone())) {
            let (namespace, name) = (&targets.namespace, &targets.config_map);
            match configmap::write(&client, namespace, name, &outcome.compiled.config).await {
                Ok(configmap::Written::Applied) => {
                    written = Some((outcome.term, revision.clone()));
                }
                Ok(configmap::Written::TooLarge(bytes)) => {
                    tracing::warn!(
                        bytes,
                        "the config is too large for its ConfigMap; pushes go on"
                    );
                    events::config_too_large(&recorder, namespace, name, bytes).await;
                    written = Some((outcome.term, revision.clone()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not write the config ConfigMap; retried next round")
                }
            }
        }
        malformed.announce(&recorder, &outcome.malformed).await;
        expiring
            .announce(
                &recorder,
                &outcome.routes,
                &outcome.certificates,
                super::unix_now(),
            )
            .await;
        status::report(
            &client,
            &recorder,
            &outcome.routes,
            &targets.class,
            &outcome.compiled,
            outcome.serving,
            outcome.proxies,
        )
        .await;
        depot_status().await;
        mock_status::report(
            &client,
            &recorder,
            &outcome.mock_provisions,
            &targets.class,
            &outcome.compiled,
            outcome.serving,
            outcome.proxies,
        )
        .await;
    }
}

/// Each DepotRepo of a round, as the watch holds it now when its
/// generation is the one compiled (so its resourceVersion and status are
/// current); else the round's copy, whose write a newer round will redo.
fn fresh_copies(compiled: &[DepotRepo], fresh: &[DepotRepo]) -> Vec<DepotRepo> {
    let by_uid: std::collections::HashMap<_, _> = fresh
        .iter()
        .filter_map(|new| Some((new.metadata.uid.as_deref()?, new)))
        .collect();
    compiled
        .iter()
        .map(|old| {
            old.metadata
                .uid
                .as_deref()
                .and_then(|uid| by_uid.get(uid))
                .filter(|new| new.metadata.generation == old.metadata.generation)
                .map_or(old, |new| *new)
                .clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gatehouse_api::{Resources, compile};
    use http::Method;

    use super::*;
    use crate::run::api_server::{self, stored_route};

    fn writer(client: &Client) -> Writer {
        let targets = Targets {
            class: gatehouse_api::route::DEFAULT_CLASS.into(),
            namespace: "gh-system".into(),
            config_map: "gh-config".into(),
        };
        Writer::spawn(
            client.clone(),
            api_server::recorder(client),
            targets,
            Arc::new(Vec::new),
        )
    }

    fn outcome(term: u64, serving: usize, proxies: usize) -> Outcome {
        let routes = vec![stored_route(
            "cart",
            "{type: PathPrefix, value: /cart}",
            None,
        )];
        let compiled = compile(Resources {
            routes: &routes,
            depot_repos: &[],
            mock_provisions: &[],
            services: None,
            secrets: &[],
            config_maps: &[],
            class: gatehouse_api::route::DEFAULT_CLASS,
        });
        Outcome {
            term,
            routes,
            depot_repos: Vec::new(),
            mock_provisions: Vec::new(),
            malformed: Vec::new(),
            compiled,
            certificates: Vec::new(),
            serving,
            proxies,
        }
    }

    const CONFIG_MAP: &str = "/api/v1/namespaces/gh-system/configmaps/gh-config";
    const STATUS: &str = "/apis/gatehouse.dev/v1alpha1/namespaces/shop/routes/cart/status";

    #[tokio::test]
    async fn a_slow_api_server_holds_up_no_round_and_only_the_newest_outcome_is_written() {
        let (client, mut server) = api_server::client();
        let writer = writer(&client);
        writer.publish(outcome(1, 0, 1));
        // The API server sits on the ConfigMap write; rounds go on meanwhile.
        let config_map = server.next().await;
        assert_eq!(config_map.received.path, CONFIG_MAP);
        writer.publish(outcome(1, 0, 2));
        writer.publish(outcome(1, 1, 1));
        config_map.echo();

        let first = server.echo().await;
        assert_eq!((first.method, first.path.as_str()), (Method::PATCH, STATUS));
        assert_eq!(first.body["status"]["proxies"], "0/1");
        // The round in between was overtaken before it was written.
        let newest = server.echo().await;
        assert_eq!(newest.path, STATUS);
        assert_eq!(newest.body["status"]["proxies"], "1/1");
        server.expect_none(Duration::from_millis(200)).await;
    }

    #[tokio::test]
    async fn the_config_map_is_written_once_per_revision_and_again_in_a_new_term() {
        let (client, mut server) = api_server::client();
        let writer = writer(&client);
        let mut paths = Vec::new();
        for term in [1, 1, 2] {
            writer.publish(outcome(term, 1, 1));
            let expected = if paths.is_empty() || term == 2 { 2 } else { 1 };
            for _ in 0..expected {
                paths.push(server.echo().await.path);
            }
            server.expect_none(Duration::from_millis(100)).await;
        }
        assert_eq!(paths, [CONFIG_MAP, STATUS, STATUS, CONFIG_MAP, STATUS]);
    }

    #[tokio::test]
    async fn a_failed_config_map_write_is_tried_again_next_round() {
        let (client, mut server) = api_server::client();
        let writer = writer(&client);
        writer.publish(outcome(1, 1, 1));
        let refused = server
            .answer(500, api_server::status_error(500, "InternalError"))
            .await;
        assert_eq!(refused.path, CONFIG_MAP);
        assert_eq!(
            server.echo().await.path,
            STATUS,
            "status is written all the same"
        );
        writer.publish(outcome(1, 1, 1));
        assert_eq!(server.echo().await.path, CONFIG_MAP);
    }
}
