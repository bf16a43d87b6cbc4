//! The proxy's in-process tests: one binary, one module per subject, so
//! they link once. Each test starts its own proxy and upstreams on
//! `127.0.0.1:0`, so the modules share nothing.
//!
//! `tests/idle_memory.rs` stays a binary of its own: it counts allocations
//! with its own `#[global_allocator]`, and other tests in its process would
//! add theirs to the count.

mod support;

mod access;
mod access_log;
mod admin;
mod admin_tls;
mod cgi;
mod data_writer;
mod depot;
mod depot_status;
mod filters;
mod forwarding;
mod git;
mod hand_back;
mod hardening;
mod lane;
mod limits;
mod local_app;
mod mock;
mod request_target;
mod response_heads;
mod startup;
mod static_files;
mod stop_idle;
mod swap;
mod tls;
mod upstream_h1;
mod weights;
