//! Clients and ports, as the tests' side of a real connection.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// One HTTP exchange, at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client that follows no redirects (a test sees the 3xx itself) and
/// ignores `*_PROXY` variables (loopback is never proxied).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// A client that speaks HTTP/2 without TLS from its first bytes (h2c
/// with prior knowledge), as gRPC clients inside a cluster do.
pub fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("an h2c client")
}

/// A free port on 127.0.0.1, as the OS picks it for `127.0.0.1:0`.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
}

/// True when nothing listens on `addr` (and we may bind it).
pub fn port_is_free(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_ok()
}
