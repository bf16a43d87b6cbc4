//! The proxy's shared state: the config being served (swapped atomically),
//! metrics, and whether the process is draining.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use gatehouse_api::ProxyConfig;

use crate::access::AccessStore;
use crate::backends::Bindings;
use crate::backends::depot::DepotStore;
use crate::backends::mock::MockStore;
use crate::backends::mock::dir::ProvisionsDir;
use crate::config::active::Active;
use crate::observe::metrics::Metrics;
use crate::server::tls::TlsStore;
use crate::support::blocking::BlockingPool;
use crate::support::locks::lock;

pub struct State {
    active: ArcSwapOption<Active>,
    pub metrics: Metrics,
    /// Where backends send work too slow for a worker thread.
    pub blocking: BlockingPool,
    /// The depot's repositories, kept across swaps, and its data dir.
    pub(crate) depots: DepotStore,
    /// Mock provisions, kept across swaps, and the provisions folder.
    pub(crate) mocks: MockStore,
    /// Access rules' users and failed logins (`access/`).
    pub(crate) access: AccessStore,
    /// TLS sessions and ticket keys, kept across swaps (`server/tls/`).
    pub(crate) tls: TlsStore,
    /// Local mode's Secrets whose users last read (`config/local.rs`): a
    /// saved file that breaks one keeps the users it held.
    pub(crate) secret_history: Mutex<gatehouse_api::compile::SecretHistory>,
    /// `--data-writer`: where a proxy without a data dir sends the
    /// requests of depot rules and of git rules without a root.
    data_writer: Option<http::uri::Authority>,
    /// Serialises applies so generations rise in the order configs land.
    apply_lock: Mutex<u64>,
    draining: AtomicBool,
}

/// The result of an accepted config.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub revision: String,
    pub generation: u64,
    /// True when the config equals the one already served (nothing swapped).
    pub unchanged: bool,
}

impl State {
    /// A state with no data dir: depot backends answer 503.
    pub fn new() -> Arc<State> {
        State::with_dirs(None, None)
    }

    /// A state whose DepotRepos live under `data_dir` (`--data-dir`).
    pub fn with_data_dir(data_dir: Option<PathBuf>) -> Arc<State> {
        State::with_dirs(data_dir, None)
    }

    /// A state whose DepotRepos live under `data_dir` (`--data-dir`) and
    /// whose `mock: {provisionsDir: true}` backends answer with
    /// `provisions` (`--provisions-dir`).
    pub fn with_dirs(
        data_dir: Option<PathBuf>,
        provisions: Option<Arc<ProvisionsDir>>,
    ) -> Arc<State> {
        State::with_data(data_dir, None, provisions)
    }

    /// As [`State::with_dirs`], and, for a proxy without a data dir, the
    /// proxy that keeps the data (`--data-writer`).
    pub fn with_data(
        data_dir: Option<PathBuf>,
        data_writer: Option<http::uri::Authority>,
        provisions: Option<Arc<ProvisionsDir>>,
    ) -> Arc<State> {
        // Whoever keeps the data serves it: a writer is for proxies without.
        let data_writer = data_writer.filter(|_| data_dir.is_none());
        let metrics = Metrics::new();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let blocking = BlockingPool::new(cores);
        for collector in blocking.collectors() {
            metrics.register(collector);
        }
        let depots = DepotStore::new(data_dir, &metrics);
        let mocks = MockStore::new(provisions, &metrics);
        let access = AccessStore::new(&metrics);
        let tls = TlsStore::new(&metrics);
        Arc::new(State {
            active: ArcSwapOption::empty(),
            metrics,
            blocking,
            depots,
            mocks,
            access,
            tls,
            secret_history: Mutex::default(),
            data_writer,
            apply_lock: Mutex::new(0),
            draining: AtomicBool::new(false),
        })
    }

    /// The config to serve one request with; `None` until one is loaded.
    pub fn current(&self) -> Option<Arc<Active>> {
        self.active.load_full()
    }

    /// Validates and swaps in `config`. On error nothing changes and every
    /// problem is returned. `source` labels the metric (`admin`, `manifests`, `file`).
    pub fn apply(&self, config: ProxyConfig, source: &str) -> Result<Applied, Vec<String>> {
        let started = Instant::now();
        let mut generation = lock(&self.apply_lock);
        if let Some(current) = self.current()
            && (config.revision.is_empty() || config.revision == current.config.revision)
            && config.same_content(&current.config)
        {
            self.metrics.config_applied(source, true);
            return Ok(Applied {
                revision: current.config.revision.clone(),
                generation: current.generation,
                unchanged: true,
            });
        }
        // Under the apply lock: a DepotRepo that stays keeps its `Repo`, a
        // MockProvision whose spec stays keeps its state; nothing is the
        // stores' until the config is accepted.
        let bound = Bindings {
            depots: self.depots.bind(&config.depots),
            mocks: self.mocks.bind(&config.mocks),
            access: &self.access,
            tls: &self.tls,
            data_dir: self.depots.data_dir(),
            data_writer: self.data_writer.as_ref(),
        };
        let active = match Active::build(config, *generation + 1, &self.metrics, &bound) {
            Ok(active) => active,
            Err(errors) => {
                self.metrics.config_applied(source, false);
                return Err(errors);
            }
        };
        bound.commit();
        *generation += 1;
        let applied = Applied {
            revision: active.config.revision.clone(),
            generation: *generation,
            unchanged: false,
        };
        let active = Arc::new(active);
        let previous = self.active.swap(Some(active.clone()));
        self.tls.metrics.served(&active.certificates);
        let metrics = &self.metrics;
        if let Some(previous) = previous {
            forget_removed(metrics, &previous.config, &active.config);
        }
        metrics.config_applied(source, true);
        metrics.config_generation.set(*generation as i64);
        metrics.serving_revision(&applied.revision);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        metrics.config_last_success.set(now.as_secs() as i64);
        metrics
            .config_apply_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(applied)
    }

    /// Where DepotRepos live; `None` when depot backends answer 503.
    pub fn data_dir(&self) -> Option<&Path> {
        self.depots.data_dir()
    }

    /// `--data-writer`, when this proxy forwards its data requests.
    pub fn data_writer(&self) -> Option<&http::uri::Authority> {
        self.data_writer.as_ref()
    }

    /// Which `Repo` serves the DepotRepo `namespace/name` now, as an
    /// address: equal across swaps while the very same `Repo` is kept.
    /// For tests, which cannot see the `Repo` itself.
    #[doc(hidden)]
    pub fn depot_repo_identity(&self, id: &str) -> Option<usize> {
        self.depots.identity(id)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the process is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Ready when a config is loaded and the process is not shutting down.
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst) && self.active.load().is_some()
    }
}

/// The routes, and (route, backend) pairs, a config's metrics carry; `""`
/// stands for a rule's own answers.
fn series(config: &ProxyConfig) -> (HashSet<&str>, HashSet<(&str, &str)>) {
    let mut routes = HashSet::new();
    let mut backends = HashSet::new();
    for route in &config.routes {
        routes.insert(route.id.as_str());
        backends.insert((route.id.as_str(), ""));
        for rule in &route.rules {
            for backend in &rule.backends {
                backends.insert((route.id.as_str(), backend.name.as_str()));
            }
        }
    }
    (routes, backends)
}

/// Drops the metric series of what `old` served and `new` does not.
fn forget_removed(metrics: &Metrics, old: &ProxyConfig, new: &ProxyConfig) {
    let (old_routes, old_backends) = series(old);
    let (new_routes, new_backends) = series(new);
    for route in old_routes.difference(&new_routes) {
        metrics.forget_route(route);
    }
    for (route, backend) in old_backends.difference(&new_backends) {
        metrics.forget_backend(route, backend);
    }
}
