//! The depot engine driven as a client drives it: method, path, query and
//! body in; status, headers, body and the folder on disk out. Real temp
//! folders, real fsync.

mod api;
mod concurrency;
mod cors;
mod disk;
mod log;
mod refusals;
mod staging;
mod summary;
mod support;
