//! The proxy's shared state: the config being served (swapped atomically),
//! metrics, and whether the process is draining.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use gatehouse_api::ProxyConfig;

use crate::config::active::Active;
use crate::observe::metrics::Metrics;
use crate::support::blocking::BlockingPool;
use crate::support::locks::lock;

pub struct State {
    active: ArcSwapOption<Active>,
    pub metrics: Metrics,
    /// Where backends send work too slow for a worker thread.
    pub blocking: BlockingPool,
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
    pub fn new() -> Arc<State> {
        let metrics = Metrics::new();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let blocking = BlockingPool::new(cores);
        for collector in blocking.collectors() {
            metrics.register(collector);
        }
        Arc::new(State {
            active: ArcSwapOption::empty(),
            metrics,
            blocking,
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
        let active = match Active::build(config, *generation + 1, &self.metrics) {
            Ok(active) => active,
            Err(errors) => {
                self.metrics.config_applied(source, false);
                return Err(errors);
            }
        };
        *generation += 1;
        let applied = Applied {
            revision: active.config.revision.clone(),
            generation: *generation,
            unchanged: false,
        };
        let active = Arc::new(active);
        let previous = self.active.swap(Some(active.clone()));
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

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
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
