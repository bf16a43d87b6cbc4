//! `gatehouse-operator`'s integration tests: one binary, one module per
//! subject, so the crate's tests link once.

mod apiserver;
mod check;
mod crds;
mod users;
