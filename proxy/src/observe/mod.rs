//! What an operator sees of the traffic: Prometheus metrics and the
//! access log.

pub(crate) mod access_log;
pub(crate) mod metrics;
