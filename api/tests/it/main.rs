//! `gatehouse-api`'s integration tests: one binary, one module per subject,
//! so the crate's tests link once.

mod access;
mod compile;
mod depot_repos;
mod mock_provisions;
mod process_backends;
mod support;
mod table;
mod tls;
