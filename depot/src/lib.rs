//! Gatehouse's depot engine: a versioned file depot that keeps HouseDepot's
//! on-disk layout and reproduces its web API (see `docs/depot-api.md` in the
//! shared notes), so an existing HouseDepot folder is served as it is and
//! people can move back.
//!
//! The crate is synchronous and blocking (`std::fs`): the proxy calls it from
//! its bounded blocking pool, never from an async worker. It opens no socket.
//! Layers, one job each:
//!
//! - [`layout`](crate::layout) — the on-disk format (`F~N`, `F~current`, …).
//! - [`store`](crate::store) and [`upload`](crate::upload) — operations on one
//!   repository folder: durable, atomic, safe under concurrent writers.
//! - [`names`](crate::names) — what a file, group or tag may be called.
//! - [`wal`](crate::wal) — the write-ahead log: a small check-in durable
//!   after one flush of the disk, replayed after a crash.
//! - [`journal`](crate::journal) — the `updated` stamp and the audit events.
//! - [`summary`](crate::summary) — files, bytes and last change of a
//!   repository, for its status.
//! - [`rest`](crate::rest) — HouseDepot's request semantics on `http` types:
//!   a request becomes a [`Plan`] the caller carries out.

mod error;
mod journal;
mod layout;
mod names;
mod query;
mod rest;
mod store;
mod summary;
mod upload;
mod wal;

pub use error::DepotError;
pub use journal::{Action, Event, Journal};
pub use names::FileName;
pub use rest::{Answer, Depot, DepotRequest, Plan, ReadPlan, UploadPlan};
pub use store::{
    Change, DEFAULT_MAX_FILE_SIZE, DeleteTarget, History, Listed, Opened, Repo, RepoOptions,
    Selector, Visibility,
};
pub use summary::Summary;
pub use upload::{CommitOptions, Committed, Upload};
pub use wal::{LOG_BYTES, LOG_NAME, MAX_LOGGED_BODY, Replayed, Wal, lock_data_dir};
