//! The proxy's repositories: one `gatehouse_depot::Repo` per DepotRepo,
//! kept in a `Registry` across config swaps, and one `Journal` for them
//! all (what `<mount>/check` and `<mount>/log/events` report).
//!
//! Why a registry: a `Repo` holds the per-file locks that serialise
//! writers of one file. Were each swap to open the repositories afresh, a
//! PUT under way on the old config and one on the new would hold two
//! different locks for the same file. So a DepotRepo that stays keeps its
//! very `Repo`, and one that goes is let go when the swap commits (requests
//! under way keep theirs through the old `Active`).
//!
//! A DepotRepo whose options changed gets a new `Repo` (its options are
//! fixed when opened). That is safe even while writes run on the old one:
//! the engine puts a revision in place with `link(2)`, which never
//! overwrites, so two `Repo`s on one folder never clobber each other's
//! revision, and links are replaced atomically. The new `Repo` removes
//! only temp files whose writer is gone, so an upload under way on the old
//! one completes.
//!
//! Where: `<data dir>/<namespace>/<name>`, made on demand. Without a data
//! dir nothing is opened, and every depot backend answers 503 naming the
//! `--data-dir` flag.
//!
//! What each repository holds (files, bytes, last change: the admin API's
//! `GET /depots`, which the operator copies into the DepotRepo's status)
//! costs a read of its folders, a `statx` an entry. So a summary is kept
//! (`Summaries`) and taken again only when the `Repo` recorded a change
//! since, when the `Repo` itself is new, or once it is [`SUMMARY_MAX_AGE`]
//! old (what another process or a person changed in the folder); and one
//! scan at most runs at a time, on the blocking pool's `scan` lane (one
//! thread), over every stale repository in turn: however many callers and
//! repositories, the scans take one thread, never a worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use gatehouse_api::config::{DepotConfig, GroupFilter};
use gatehouse_api::{Kind, ResourceId};
use gatehouse_depot::{Depot, Journal, Repo, RepoOptions, Summary, Visibility, Wal};
use tokio::sync::watch;

use super::Mount;
use super::metrics::DepotMetrics;
use crate::config::registry::{Binding, Registry};
use crate::observe::metrics::Metrics;
use crate::support::locks::lock;

/// The depot state of one proxy; lives in `State`.
pub(crate) struct DepotStore {
    data_dir: Option<PathBuf>,
    /// The data dir's write-ahead log, opened (and replayed) before the
    /// first repository: `Ok(None)` when its file system has no room for
    /// one (check-ins then fsync where they lie), `Err` why it could not be.
    wal: std::sync::OnceLock<Result<Option<Arc<Wal>>, String>>,
    /// Without a log, the data dir's lock is held here (with one, the log
    /// holds it): one process a data dir either way.
    data_dir_lock: Mutex<Option<std::fs::File>>,
    journal: Arc<Journal>,
    registry: Registry<Repo>,
    /// The `host` of the depot's JSON answers: this machine's name.
    host: String,
    metrics: Arc<DepotMetrics>,
    /// The ids of the repositories the served config has, for metrics.
    served: Mutex<Vec<String>>,
    /// Each repository's summary, as last taken.
    summaries: Arc<Summaries>,
}

impl DepotStore {
    pub(crate) fn new(data_dir: Option<PathBuf>, metrics: &Metrics) -> DepotStore {
        DepotStore {
            data_dir,
            wal: std::sync::OnceLock::new(),
            data_dir_lock: Mutex::new(None),
            journal: Arc::new(Journal::new()),
            registry: Registry::default(),
            host: hostname(),
            metrics: Arc::new(DepotMetrics::new(metrics)),
            served: Mutex::new(Vec::new()),
            summaries: Arc::default(),
        }
    }

    pub(crate) fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// The data dir's log: opened, and what the last run left in it
    /// replayed, on the first call (the proxy's start, before any
    /// repository is served). `None` without a data dir.
    pub(crate) fn log(&self) -> Option<Result<Option<Arc<Wal>>, String>> {
        let data_dir = self.data_dir.as_deref()?;
        Some(self.wal.get_or_init(|| self.open_log(data_dir)).clone())
    }

    fn open_log(&self, data_dir: &Path) -> Result<Option<Arc<Wal>>, String> {
        match Wal::open(data_dir) {
            Ok((wal, replayed)) => {
                if replayed.records > 0 {
                    tracing::warn!(
                        data_dir = %data_dir.display(),
                        records = replayed.records,
                        rewritten = replayed.rewritten,
                        links_moved = replayed.links_moved,
                        skipped = replayed.skipped,
                        "depot log replayed: the last run stopped without a checkpoint"
                    );
                }
                Ok(Some(wal))
            }
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                tracing::warn!(
                    data_dir = %data_dir.display(),
                    "no room for the depot's write-ahead log ({} MiB): check-ins fsync their file and folder instead, two flushes each; free some space and restart to get it",
                    gatehouse_depot::LOG_BYTES >> 20
                );
                let held = gatehouse_depot::lock_data_dir(data_dir)
                    .map_err(|e| format!("{}: {e}", data_dir.display()))?;
                *lock(&self.data_dir_lock) = Some(held);
                Ok(None)
            }
            Err(e) => Err(format!(
                "the depot log in {} cannot be opened: {e}",
                data_dir.display()
            )),
        }
    }

    /// Makes every logged check-in durable where it lies and empties the
    /// log (a clean stop leaves a folder HouseDepot can serve as it is).
    pub(crate) fn checkpoint(&self) {
        if let Some(Ok(Some(wal))) = self.wal.get()
            && let Err(e) = wal.checkpoint()
        {
            tracing::error!(data_dir = %wal.data_dir().display(), "depot log checkpoint failed, the next start replays it: {e}");
        }
    }

    /// The repositories of `ids` (`namespace/name`) whose summary is
    /// missing or stale, to be taken again: the scan to run (`Some` when
    /// this call started it, to be run on the blocking pool's `scan` lane)
    /// and a signal that ends when the scan under way ends. `None` when
    /// every summary holds. Summaries of ids not asked for are forgotten.
    pub(crate) fn refresh(&self, ids: &[String]) -> Option<(Option<Scan>, watch::Receiver<()>)> {
        let summaries = &self.summaries;
        let mut running = lock(&summaries.running);
        if let Some(done) = running.as_ref() {
            return Some((None, done.clone()));
        }
        let stale: Vec<(String, Arc<Repo>)> = {
            let mut taken = lock(&summaries.taken);
            taken.retain(|id, _| ids.contains(id));
            ids.iter()
                .filter_map(|id| {
                    let repo = self
                        .registry
                        .held(&ResourceId::from_key(Kind::DepotRepo, id))?;
                    let fresh = taken.get(id).is_some_and(|t| t.holds_for(&repo));
                    (!fresh).then(|| (id.clone(), repo))
                })
                .collect()
        };
        if stale.is_empty() {
            return None;
        }
        let (finished, done) = watch::channel(());
        *running = Some(done.clone());
        let scan = Scan {
            repos: stale,
            summaries: summaries.clone(),
            _finished: finished,
        };
        Some((Some(scan), done))
    }

    /// What is known of each of `ids`: its summary as last taken (`None`
    /// before the first scan ended), or why it has none.
    pub(crate) fn summaries(
        &self,
        ids: &[String],
    ) -> Vec<(String, Option<Result<Summary, String>>)> {
        let taken = lock(&self.summaries.taken);
        ids.iter()
            .map(|id| {
                let known = match taken.get(id) {
                    Some(t) => Some(t.summary.clone()),
                    None if self
                        .registry
                        .held(&ResourceId::from_key(Kind::DepotRepo, id))
                        .is_none() =>
                    {
                        Some(Err("its folder under the data dir could not be opened (the proxy's log says why)".to_owned()))
                    }
                    None => None,
                };
                (id.clone(), known)
            })
            .collect()
    }

    /// The address of the `Repo` the registry holds for `id` (tests).
    pub(crate) fn identity(&self, id: &str) -> Option<usize> {
        self.registry
            .held(&ResourceId::from_key(Kind::DepotRepo, id))
            .map(|repo| Arc::as_ptr(&repo) as usize)
    }

    /// The repositories of `depots`, opened or kept; call under the apply
    /// lock, then `commit` once the config is accepted (or drop it).
    pub(crate) fn bind(&self, depots: &[DepotConfig]) -> Bound<'_> {
        let (Some(data_dir), Some(wal)) = (&self.data_dir, self.log()) else {
            return Bound {
                store: self,
                binding: None,
                failed: HashMap::new(),
            };
        };
        let wanted: HashMap<ResourceId, RepoOptions> = depots
            .iter()
            .map(|d| (ResourceId::from_key(Kind::DepotRepo, &d.id), options(d)))
            .collect();
        let (binding, failed) = self.registry.bind_checked(
            depots
                .iter()
                .map(|d| ResourceId::from_key(Kind::DepotRepo, &d.id)),
            |id, held| wanted.get(id) == Some(held.options()),
            |id| {
                let folder = folder(data_dir, id)?;
                let (options, journal) = (wanted[id].clone(), self.journal.clone());
                let opened = match wal.clone()? {
                    Some(wal) => Repo::open_logged(&id.name, &folder, options, journal, wal),
                    None => Repo::open(&id.name, &folder, options, journal),
                }
                .map_err(|e| format!("cannot open its folder {}: {e}", folder.display()))?;
                tracing::info!(repo = %id.key(), folder = %folder.display(), "depot repository opened");
                Ok(opened)
            },
        );
        let failed = failed
            .into_iter()
            .map(|(id, why): (ResourceId, String)| {
                tracing::error!(repo = %id.key(), "DepotRepo not served: {why}");
                (id.key(), format!("DepotRepo {}: {why}", id.key()))
            })
            .collect();
        Bound {
            store: self,
            binding: Some(binding),
            failed,
        }
    }
}

/// How long a summary holds when its `Repo` recorded no change: what
/// another process (or a person) did to the folder shows within this.
pub(crate) const SUMMARY_MAX_AGE: Duration = Duration::from_secs(60);

/// The summaries taken, and the scan under way.
#[derive(Default)]
pub(crate) struct Summaries {
    taken: Mutex<HashMap<String, Taken>>,
    /// Ends (its sender dropped) when the scan under way ends.
    running: Mutex<Option<watch::Receiver<()>>>,
}

/// One repository's summary, and what it was taken from.
struct Taken {
    /// The `Repo` scanned: a new one (its options changed) is scanned again.
    repo: Weak<Repo>,
    /// Its change count before the scan began.
    changes: u64,
    at: Instant,
    summary: Result<Summary, String>,
}

impl Taken {
    fn holds_for(&self, repo: &Arc<Repo>) -> bool {
        std::ptr::eq(self.repo.as_ptr(), Arc::as_ptr(repo))
            && self.changes == repo.changes()
            && self.at.elapsed() < SUMMARY_MAX_AGE
    }
}

/// A scan of stale repositories, in turn; blocking (`statx` an entry).
/// Dropped unrun (the lane was full), it ends as if it had run, so the
/// next caller starts another.
pub(crate) struct Scan {
    repos: Vec<(String, Arc<Repo>)>,
    summaries: Arc<Summaries>,
    _finished: watch::Sender<()>,
}

impl Scan {
    pub(crate) fn run(mut self) {
        for (id, repo) in std::mem::take(&mut self.repos) {
            // Read first: a change during the scan leaves it stale.
            let changes = repo.changes();
            let summary = repo.summary().map_err(|e| {
                tracing::warn!(repo = %id, error = %e, "could not read the depot repository's folder for its summary");
                format!("its folder could not be read: {e}")
            });
            lock(&self.summaries.taken).insert(
                id,
                Taken {
                    repo: Arc::downgrade(&repo),
                    changes,
                    at: Instant::now(),
                    summary,
                },
            );
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        *lock(&self.summaries.running) = None;
    }
}

/// One config's repositories, not yet the registry's.
pub(crate) struct Bound<'s> {
    store: &'s DepotStore,
    /// `None` without a data dir.
    binding: Option<Binding<'s, Repo>>,
    /// Repositories that could not be opened, by id, with why.
    failed: HashMap<String, String>,
}

impl Bound<'_> {
    /// What a `depot` backend naming `repos` (`namespace/name` ids) serves;
    /// `Err` is why it cannot (answered 500, as an unresolved reference).
    pub(crate) fn mount(&self, repos: &[String]) -> Result<Mount, String> {
        let Some(binding) = &self.binding else {
            return Ok(Mount::NoDataDir);
        };
        let mut depot = Depot::new(self.store.host.clone(), self.store.journal.clone());
        let mut labels = HashMap::new();
        for id in repos {
            if let Some(why) = self.failed.get(id) {
                return Err(why.clone());
            }
            let repo = binding
                .get(&ResourceId::from_key(Kind::DepotRepo, id))
                .ok_or_else(|| format!("DepotRepo {id} is not among the config's depots"))?;
            labels.insert(repo.name().to_owned(), Arc::<str>::from(id.as_str()));
            depot
                .insert(repo.clone())
                .map_err(|e| format!("DepotRepo {id}: {e}"))?;
        }
        Ok(Mount::serving(depot, labels, self.store.metrics.clone()))
    }

    /// The config was accepted: its repositories become the registry's,
    /// the others are let go (and their metric series dropped).
    pub(crate) fn commit(self) {
        let Some(binding) = self.binding else { return };
        let kept = binding.commit();
        let mut served = lock(&self.store.served);
        for repo in served.iter() {
            if !kept.contains_key(&ResourceId::from_key(Kind::DepotRepo, repo)) {
                tracing::info!(%repo, "depot repository no longer served");
                self.store.metrics.forget(repo);
            }
        }
        *served = kept.keys().map(ResourceId::key).collect();
    }
}

/// A DepotRepo's options as the engine takes them.
fn options(config: &DepotConfig) -> RepoOptions {
    RepoOptions {
        depth: config.depth,
        visibility: match &config.groups {
            None => Visibility::All,
            Some(GroupFilter::Allow(names)) => Visibility::Allow(names.clone()),
            Some(GroupFilter::Deny(names)) => Visibility::Deny(names.clone()),
        },
        max_file_size: config.max_file_size,
        cors_write_origins: config.cors_write_origins.clone(),
    }
}

/// `<data dir>/<namespace>/<name>`. A hand-made push is checked as
/// `compile` checks names, but its ids are checked here too: no part may
/// be a way out of the data dir.
fn folder(data_dir: &Path, id: &ResourceId) -> Result<PathBuf, String> {
    for part in [&id.namespace, &id.name] {
        let safe = !part.is_empty()
            && !part.starts_with('.')
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !safe {
            return Err(format!(
                "`{part}` is not a Kubernetes name (letters, digits, `-`, `.`), so it names no folder"
            ));
        }
    }
    Ok(data_dir.join(&id.namespace).join(&id.name))
}

/// This machine's name, as HouseDepot puts it in its answers.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
