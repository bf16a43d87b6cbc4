//! What answers a request once a rule is chosen: an upstream over HTTP,
//! or a folder of files.

pub mod files;
pub mod upstream;
