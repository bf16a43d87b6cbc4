//! Gatehouse component tests: the built `gatehouse-proxy` binary started as
//! a separate process and driven over real sockets, as a user would.
//!
//! - [`ProxyProcess`] finds (or builds) the binary, starts it on free
//!   loopback ports, waits for its admin `/healthz`, captures its stderr and
//!   kills it on drop.
//! - [`Upstream`] is a real HTTP server on `127.0.0.1:0` that answers with
//!   its own name and records what it was sent.
//! - [`RawConnection`] speaks HTTP/1.1 over one `TcpStream`, to show what
//!   happens to one kept-alive connection.
//! - [`Metrics`] reads the Prometheus text format.
//!
//! No test sleeps to synchronise: [`eventually`] polls with a deadline.

pub mod cluster;
pub mod fixtures;
pub mod metrics;
pub mod process;
pub mod raw;
pub mod upstream;
pub mod wait;

pub use fixtures::{TempDir, config_json, route_json, route_yaml};
pub use metrics::Metrics;
pub use process::{
    ProxyBuilder, ProxyProcess, Reply, error_chain, free_port, http_client, port_is_free,
    proxy_binary,
};
pub use raw::{RawConnection, RawResponse};
pub use upstream::{Recorded, Upstream};
pub use wait::{eventually, scaled};
