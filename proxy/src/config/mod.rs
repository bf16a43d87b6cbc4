//! What is served: the config being served and its swap (`state`), a
//! config made ready to serve (`active`), state that outlives a swap
//! (`registry`), and where configs come from besides a push: a folder of
//! manifests (`local`) and the examples built in (`embedded`).

pub(crate) mod active;
pub(crate) mod embedded;
pub(crate) mod local;
pub(crate) mod registry;
pub(crate) mod state;
