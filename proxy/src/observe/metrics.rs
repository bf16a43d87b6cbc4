//! Prometheus metrics. Labels are bounded: route, backend, status class,
//! error kind, config source — never a raw path or host.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for request and write durations: half a millisecond to 30 s.
pub(crate) const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Where a config comes from (`gatehouse_config_applies_total{source}`).
pub(crate) const CONFIG_SOURCES: [&str; 5] =
    ["admin", "file", "manifests", "embedded", "static-root"];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    upstream_errors: IntCounterVec,
    pub open_connections: IntGauge,
    config_applies: IntCounterVec,
    pub config_last_success: IntGauge,
    pub config_apply_duration: Histogram,
    pub config_generation: IntGauge,
    config_revision: IntGaugeVec,
    /// Requests no route matched (`route=""`).
    pub unmatched: RequestCounters,
    /// Requests no Route matched, answered by `--local-app`.
    pub local_app: RequestCounters,
    pub access_log_dropped: IntCounter,
}

/// Counters for one (route, backend): one per status class, 1xx to 5xx.
#[derive(Clone)]
pub struct RequestCounters {
    by_class: [IntCounter; 5],
}

impl RequestCounters {
    pub fn record(&self, status: http::StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].inc();
    }
}

/// Upstream failure kinds, the `kind` label of `gatehouse_upstream_errors_total`.
#[derive(Clone, Copy, Debug)]
pub enum UpstreamError {
    Connect,
    /// No connection within the connect timeout (504, as nginx and Envoy).
    ConnectTimeout,
    NoEndpoint,
    Timeout,
    Protocol,
    Unresolved,
    /// Not the backend's fault: the client's body was malformed or cut off.
    ClientBodyBroken,
    /// Not the backend's fault: the client's body stalled.
    ClientBodyTimeout,
}

impl UpstreamError {
    /// Whether the backend is to blame (counted and logged as its failure).
    pub fn is_backend_fault(self) -> bool {
        !matches!(
            self,
            UpstreamError::ClientBodyBroken | UpstreamError::ClientBodyTimeout
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::ConnectTimeout => "connect_timeout",
            UpstreamError::NoEndpoint => "no_endpoint",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Protocol => "protocol",
            UpstreamError::Unresolved => "unresolved",
            UpstreamError::ClientBodyBroken => "client_body",
            UpstreamError::ClientBodyTimeout => "client_body_timeout",
        }
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gatehouse_requests_total",
                "Requests answered, by route, backend and status class",
            ),
            &["route", "backend", "code"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_request_duration_seconds",
                "Time from a request's arrival to its response headers, by route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "gatehouse_upstream_errors_total",
                "Failed backend requests, by route, backend and kind",
            ),
            &["route", "backend", "kind"],
        )
        .expect("valid metric");
        let open_connections =
            IntGauge::new("gatehouse_open_connections", "Client connections open now")
                .expect("valid metric");
        let config_applies = IntCounterVec::new(
            Opts::new(
                "gatehouse_config_applies_total",
                "Config loads, by source and result",
            ),
            &["source", "result"],
        )
        .expect("valid metric");
        let config_last_success = IntGauge::new(
            "gatehouse_config_last_success_timestamp_seconds",
            "Unix time of the last config applied",
        )
        .expect("valid metric");
        let config_apply_duration = Histogram::with_opts(
            HistogramOpts::new(
                "gatehouse_config_apply_duration_seconds",
                "Time to validate and swap in a config",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("valid metric");
        let config_generation = IntGauge::new(
            "gatehouse_config_generation",
            "How many configs this process has applied; rises by one on each swap",
        )
        .expect("valid metric");
        let config_revision = IntGaugeVec::new(
            Opts::new(
                "gatehouse_config_info",
                "The config being served: 1 for its revision",
            ),
            &["revision"],
        )
        .expect("valid metric");
        let access_log_dropped = IntCounter::new(
            "gatehouse_access_log_dropped_total",
            "Access log lines lost: the destination could not keep up, or a write to it failed",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(access_log_dropped.clone()),
            Box::new(duration.clone()),
            Box::new(upstream_errors.clone()),
            Box::new(open_connections.clone()),
            Box::new(config_applies.clone()),
            Box::new(config_last_success.clone()),
            Box::new(config_apply_duration.clone()),
            Box::new(config_generation.clone()),
            Box::new(config_revision.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        // Every source and result exists from the start at 0: a counter
        // whose series is born at 1 is not seen by `increase()`, so a
        // first rejected config would never show on a dashboard.
        for source in CONFIG_SOURCES {
            for result in ["success", "rejected"] {
                config_applies.with_label_values(&[source, result]);
            }
        }
        let unmatched = counters_for(&requests, "", "");
        let local_app = counters_for(&requests, "", "local-app");
        Metrics {
            unmatched,
            local_app,
            access_log_dropped,
            registry,
            requests,
            duration,
            upstream_errors,
            open_connections,
            config_applies,
            config_last_success,
            config_apply_duration,
            config_generation,
            config_revision,
        }
    }

    /// Adds metrics kept elsewhere (the blocking pool's) to `/metrics`.
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry
            .register(collector)
            .expect("metric registered once");
    }

    pub fn request_counters(&self, route: &str, backend: &str) -> RequestCounters {
        counters_for(&self.requests, route, backend)
    }

    pub fn duration(&self, route: &str) -> Histogram {
        self.duration.with_label_values(&[route])
    }

    pub fn upstream_error(&self, route: &str, backend: &str, kind: UpstreamError) {
        self.upstream_errors
            .with_label_values(&[route, backend, kind.label()])
            .inc();
    }

    /// `source` is one of [`CONFIG_SOURCES`] (others are counted too, from
    /// their first apply on).
    pub fn config_applied(&self, source: &str, ok: bool) {
        let result = if ok { "success" } else { "rejected" };
        self.config_applies
            .with_label_values(&[source, result])
            .inc();
    }

    pub fn serving_revision(&self, revision: &str) {
        self.config_revision.reset();
        self.config_revision.with_label_values(&[revision]).set(1);
    }

    /// Drops the series of a backend (`""`: the rule's own answers) the
    /// served config no longer has, so `/metrics` does not grow with every
    /// Route ever renamed; Traefik drops them too.
    pub fn forget_backend(&self, route: &str, backend: &str) {
        for class in CLASSES {
            let _ = self.requests.remove_label_values(&[route, backend, class]);
        }
        for kind in KINDS {
            let _ = self
                .upstream_errors
                .remove_label_values(&[route, backend, kind.label()]);
        }
    }

    /// Drops the duration series of a Route the served config no longer has.
    pub fn forget_route(&self, route: &str) {
        let _ = self.duration.remove_label_values(&[route]);
    }

    /// The text exposition format Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("exposition is UTF-8")
    }
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

const KINDS: [UpstreamError; 6] = [
    UpstreamError::Connect,
    UpstreamError::ConnectTimeout,
    UpstreamError::NoEndpoint,
    UpstreamError::Timeout,
    UpstreamError::Protocol,
    UpstreamError::Unresolved,
];

fn counters_for(requests: &IntCounterVec, route: &str, backend: &str) -> RequestCounters {
    RequestCounters {
        by_class: CLASSES.map(|class| requests.with_label_values(&[route, backend, class])),
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Drops every series of `family` whose `label` is `value` (a resource no
/// longer served), whatever its other labels are.
pub(crate) fn forget_series(family: &IntCounterVec, label: &str, value: &str) {
    for metrics in prometheus::core::Collector::collect(family) {
        for metric in metrics.get_metric() {
            let labels: std::collections::HashMap<&str, &str> = metric
                .get_label()
                .iter()
                .map(|l| (l.name(), l.value()))
                .collect();
            if labels.get(label) == Some(&value) {
                let _ = family.remove(&labels);
            }
        }
    }
}
