//! Gatehouse component tests: the built `gatehouse-proxy` and
//! `gatehouse-operator` binaries started as separate processes and driven
//! over real sockets, as a user would.
//!
//! - [`ProxyProcess`] finds (or builds) the binary, starts it on free
//!   loopback ports, waits for its admin `/healthz`, captures its stderr and
//!   kills it on drop.
//! - [`cluster`]: the test API server, the operator as a process, proxies
//!   standing in for Pods.
//! - [`Metrics`] reads the Prometheus text format.
//! - [`Browser`]: a headless Chromium driven over WebDriver, for pages
//!   people use (the tests named `browser_*`, run by `ct/test-all.sh`).
//!
//! Upstreams, raw connections, clients and waiting with a deadline come from
//! `gatehouse-testkit`, which the in-process proxy tests share.

pub mod cluster;
pub mod fixtures;
pub mod metrics;
pub mod process;
pub mod webdriver;

pub use fixtures::{config_json, depot_yaml, route_json, route_yaml};
pub use metrics::Metrics;
pub use process::{ProxyBuilder, ProxyProcess, Reply, error_chain, proxy_binary};
pub use webdriver::Browser;
