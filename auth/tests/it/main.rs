//! `gatehouse-auth`'s integration tests: one binary, one module per subject.

mod apache_fixtures;
mod real_htpasswd;
