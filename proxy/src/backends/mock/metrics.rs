//! What mocks answered, for Prometheus: requests by mock and by what
//! answered (a rule's name or `rules[i]`, `default`, `none`). Both labels
//! are bounded by the provisions served, never by what clients send.

use prometheus::{IntCounterVec, Opts};

use crate::observe::metrics::Metrics;

pub(crate) struct MockMetrics {
    requests: IntCounterVec,
}

impl MockMetrics {
    /// Made once per proxy and registered with its `/metrics`.
    pub(crate) fn new(metrics: &Metrics) -> MockMetrics {
        let requests = IntCounterVec::new(
            Opts::new(
                "gatehouse_mock_requests_total",
                "Requests a mock answered, by mock (a MockProvision's namespace/name, or provisions-dir) and by what answered (a rule, default, none)",
            ),
            &["mock", "rule"],
        )
        .expect("valid metric");
        metrics.register(Box::new(requests.clone()));
        MockMetrics { requests }
    }

    pub(crate) fn answered(&self, mock: &str, rule: &str) {
        self.requests.with_label_values(&[mock, rule]).inc();
    }

    /// Drops every series of a mock no longer served.
    pub(crate) fn forget(&self, mock: &str) {
        crate::observe::metrics::forget_series(&self.requests, "mock", mock);
    }
}
