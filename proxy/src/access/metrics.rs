//! What access rules did, for Prometheus: password hashes verified (the
//! CPU a login costs: remembered credentials verify nothing) by result,
//! and logins refused by status. No user names: they are not bounded.

use prometheus::{IntCounterVec, Opts};

use crate::observe::metrics::Metrics;

pub(crate) struct AccessMetrics {
    verified: IntCounterVec,
    refused: IntCounterVec,
}

impl AccessMetrics {
    pub(crate) fn new(metrics: &Metrics) -> AccessMetrics {
        let verified = IntCounterVec::new(
            Opts::new(
                "gatehouse_access_hash_verifications_total",
                "Password hashes verified by access rules, by result (ok, wrong); credentials remembered from an earlier verification are not counted",
            ),
            &["result"],
        )
        .expect("valid metric");
        let refused = IntCounterVec::new(
            Opts::new(
                "gatehouse_access_refusals_total",
                "Requests an access rule answered itself, by status: 401 (no or wrong credentials), 403 (not allowed), 429 (too many failures), 500 (no readable users), 503 (hash lane full)",
            ),
            &["status"],
        )
        .expect("valid metric");
        metrics.register(Box::new(verified.clone()));
        metrics.register(Box::new(refused.clone()));
        AccessMetrics { verified, refused }
    }

    pub(crate) fn verified(&self, ok: bool) {
        let result = if ok { "ok" } else { "wrong" };
        self.verified.with_label_values(&[result]).inc();
    }

    pub(crate) fn refused(&self, status: http::StatusCode) {
        self.refused.with_label_values(&[status.as_str()]).inc();
    }
}
