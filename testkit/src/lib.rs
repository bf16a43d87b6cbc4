//! What Gatehouse's tests share, so each suite gets its fixtures from one
//! place (dev-only; never depends on the proxy or the operator):
//!
//! - [`Upstream`]: a real HTTP server on `127.0.0.1:0` that records what it
//!   was sent and answers with its name or a JSON report of the request.
//! - [`Scripted`]: an upstream that answers each request head with exact
//!   bytes, for what a real server would never send.
//! - [`RawConnection`] and [`read_response`]: HTTP/1.1 by hand over one
//!   `TcpStream`, to see exactly what happens to one connection.
//! - [`client`], [`h2c_client`], [`free_port`], [`TempDir`].
//! - [`tls`]: a CA, server and client certificates made by `openssl`, and
//!   a rustls client that trusts them.
//!
//! No test sleeps to synchronise: [`eventually`] and [`wait_for`] poll with
//! a deadline.

pub mod client;
pub mod raw;
pub mod scripted;
pub mod temp;
pub mod tls;
pub mod upstream;
pub mod wait;

pub use client::{client, free_port, h2c_client, port_is_free};
pub use raw::{RawConnection, RawResponse, exchange, read_head, read_response};
pub use scripted::{Reply, Scripted};
pub use temp::TempDir;
pub use upstream::{Recorded, Upstream};
pub use wait::{eventually, scaled, wait_for};
