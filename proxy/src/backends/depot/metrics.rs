//! What the depot did, for Prometheus: revisions checked in, bytes taken,
//! refusals and write latency. The `repo` label is a DepotRepo's
//! `namespace/name`, bounded by the config (and forgotten when the config
//! drops it); `status` is an HTTP status code, a short fixed set. Never a
//! file name: those are as many as clients make up.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts};

use crate::observe::metrics::Metrics;

pub(crate) struct DepotMetrics {
    revisions: IntCounterVec,
    written: IntCounterVec,
    refusals: IntCounterVec,
    write_duration: Histogram,
}

impl DepotMetrics {
    /// Made once per proxy and registered with its `/metrics`.
    pub(crate) fn new(metrics: &Metrics) -> DepotMetrics {
        let revisions = IntCounterVec::new(
            Opts::new(
                "gatehouse_depot_revisions_total",
                "Check-ins acknowledged (PUT answered 200), by DepotRepo",
            ),
            &["repo"],
        )
        .expect("valid metric");
        let written = IntCounterVec::new(
            Opts::new(
                "gatehouse_depot_written_bytes_total",
                "Body bytes of acknowledged check-ins, by DepotRepo",
            ),
            &["repo"],
        )
        .expect("valid metric");
        let refusals = IntCounterVec::new(
            Opts::new(
                "gatehouse_depot_refusals_total",
                "Depot requests answered 4xx or 5xx, by DepotRepo (empty: none named) and status code",
            ),
            &["repo", "status"],
        )
        .expect("valid metric");
        let write_duration = Histogram::with_opts(
            HistogramOpts::new(
                "gatehouse_depot_write_duration_seconds",
                "Time to plan and carry out a depot change (PUT, POST, DELETE) off the workers, body included",
            )
            .buckets(crate::observe::metrics::LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        for collector in [
            Box::new(revisions.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(written.clone()),
            Box::new(refusals.clone()),
            Box::new(write_duration.clone()),
        ] {
            metrics.register(collector);
        }
        DepotMetrics {
            revisions,
            written,
            refusals,
            write_duration,
        }
    }

    pub(crate) fn checked_in(&self, repo: &str, bytes: u64) {
        self.revisions.with_label_values(&[repo]).inc();
        self.written.with_label_values(&[repo]).inc_by(bytes);
    }

    pub(crate) fn refused(&self, repo: &str, status: http::StatusCode) {
        self.refusals
            .with_label_values(&[repo, status.as_str()])
            .inc();
    }

    pub(crate) fn write_took(&self, seconds: f64) {
        self.write_duration.observe(seconds);
    }

    /// Drops the series of a DepotRepo the config no longer has.
    pub(crate) fn forget(&self, repo: &str) {
        let _ = self.revisions.remove_label_values(&[repo]);
        let _ = self.written.remove_label_values(&[repo]);
        // The status codes it was refused with are not known here.
        crate::observe::metrics::forget_series(&self.refusals, "repo", repo);
    }
}
