//! What the DepotRepos hold, as the proxies report it: each proxy's
//! `GET /depots` (admin API), polled concurrently with the push timeout,
//! every `--depot-status-interval` and soon after a push that changed the
//! DepotRepos, by the leader only. The merged answer goes to the writer,
//! which copies files, bytes and last change into each DepotRepo's status
//! and says on `Ready` when no proxy keeps depot data (`--data-dir`).
//!
//! The poll is cheap for the proxies: each keeps a repository's summary
//! until the repository changes, and scans one at a time off its workers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::leader::Leadership;
use super::proxies::{Endpoint, Proxies};
use super::writer::Writer;

/// One DepotRepo's numbers, as a proxy that keeps its data reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct RepoUsage {
    pub files: u64,
    pub bytes: u64,
    /// RFC 3339; `None` for a repository nothing ever changed.
    pub last_change: Option<String>,
}

/// One poll of every proxy, merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Usage {
    /// Proxies asked.
    pub polled: usize,
    /// Proxies that answered.
    pub answered: usize,
    /// Of those, the ones that keep depot data.
    pub with_data: usize,
    /// By `namespace/name`, from the proxies that keep data.
    pub repos: HashMap<String, RepoUsage>,
}

impl Usage {
    /// Every proxy answered and none keeps depot data: depot requests
    /// answer 503 everywhere. (A proxy that did not answer may be the one
    /// that keeps it, so nothing is said then.)
    pub(super) fn no_data_dir(&self) -> bool {
        self.polled > 0 && self.answered == self.polled && self.with_data == 0
    }

    /// Merges the proxies' `/depots` answers (`None`: no answer). Were two
    /// proxies to keep data for one repository (the design has one writer),
    /// the one with the newer last change is taken.
    pub(super) fn merge(answers: &[Option<Value>]) -> Usage {
        let mut usage = Usage {
            polled: answers.len(),
            ..Usage::default()
        };
        for answer in answers.iter().flatten() {
            usage.answered += 1;
            if answer["dataDir"] != Value::Bool(true) {
                continue;
            }
            usage.with_data += 1;
            let Some(depots) = answer["depots"].as_object() else {
                continue;
            };
            for (id, reported) in depots {
                // Pending (first scan under way) or unreadable: no numbers.
                let (Some(files), Some(bytes)) =
                    (reported["files"].as_u64(), reported["bytes"].as_u64())
                else {
                    continue;
                };
                let found = RepoUsage {
                    files,
                    bytes,
                    last_change: reported["lastChange"].as_str().map(str::to_owned),
                };
                match usage.repos.get(id) {
                    // RFC 3339 in UTC to the second sorts as text.
                    Some(kept) if kept.last_change >= found.last_change => {}
                    _ => {
                        usage.repos.insert(id.clone(), found);
                    }
                }
            }
        }
        usage
    }
}

/// The poll task's inputs from the run loop.
pub(super) struct Poll {
    /// The proxies to ask, as the last round saw them.
    endpoints: watch::Sender<Vec<Endpoint>>,
    /// Rung to poll now rather than at the next interval.
    soon: Arc<Notify>,
}

impl Poll {
    /// Starts polling every `interval` while this replica leads.
    pub(super) fn spawn(
        proxies: Arc<Proxies>,
        leadership: Arc<Leadership>,
        writer: Arc<Writer>,
        interval: Duration,
    ) -> Poll {
        let (endpoints, watched) = watch::channel(Vec::new());
        let soon = Arc::new(Notify::new());
        let rung = soon.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = rung.notified() => {}
                }
                if !leadership.is_leader() {
                    continue;
                }
                let endpoints = watched.borrow().clone();
                if endpoints.is_empty() {
                    continue;
                }
                let usage = proxies.depots(&endpoints).await;
                tracing::debug!(
                    answered = usage.answered,
                    polled = usage.polled,
                    with_data = usage.with_data,
                    repos = usage.repos.len(),
                    "depot usage polled"
                );
                writer.usage(usage);
            }
        });
        Poll { endpoints, soon }
    }

    /// The proxies the next poll asks.
    pub(super) fn endpoints(&self, endpoints: &[Endpoint]) {
        self.endpoints.send_if_modified(|held| {
            let changed = held.as_slice() != endpoints;
            if changed {
                *held = endpoints.to_vec();
            }
            changed
        });
    }

    /// Poll now (a push changed the DepotRepos, or leadership was taken).
    pub(super) fn soon(&self) {
        self.soon.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_proxies_with_data_give_the_numbers() {
        let usage = Usage::merge(&[
            Some(json!({"dataDir": false, "depots": {"ops/configs": {}}})),
            Some(json!({"dataDir": true, "depots": {
                "ops/configs": {"files": 2, "bytes": 30, "lastChange": "2026-01-02T03:04:05Z"},
                "ops/empty": {"files": 0, "bytes": 0},
                "ops/big": {"pending": true},
                "ops/broken": {"error": "its folder could not be read"},
            }})),
            None,
        ]);
        assert_eq!((usage.polled, usage.answered, usage.with_data), (3, 2, 1));
        assert_eq!(
            usage.repos["ops/configs"],
            RepoUsage {
                files: 2,
                bytes: 30,
                last_change: Some("2026-01-02T03:04:05Z".into())
            }
        );
        assert_eq!(usage.repos["ops/empty"].last_change, None);
        assert!(!usage.repos.contains_key("ops/big"));
        assert!(!usage.repos.contains_key("ops/broken"));
        assert!(!usage.no_data_dir());
    }

    #[test]
    fn no_data_dir_only_when_every_proxy_answered_without_one() {
        let without = || Some(json!({"dataDir": false, "depots": {}}));
        assert!(Usage::merge(&[without(), without()]).no_data_dir());
        assert!(
            !Usage::merge(&[without(), None]).no_data_dir(),
            "the silent one may keep the data"
        );
        assert!(!Usage::merge(&[]).no_data_dir(), "no proxy: nothing known");
    }

    #[test]
    fn two_proxies_with_data_the_newer_change_wins() {
        let reporting = |files: u64, at: &str| {
            Some(
                json!({"dataDir": true, "depots": {"ops/r": {"files": files, "bytes": 1, "lastChange": at}}}),
            )
        };
        let usage = Usage::merge(&[
            reporting(1, "2026-01-01T00:00:00Z"),
            reporting(5, "2026-03-01T00:00:00Z"),
            reporting(3, "2026-02-01T00:00:00Z"),
        ]);
        assert_eq!(usage.repos["ops/r"].files, 5);
    }
}
