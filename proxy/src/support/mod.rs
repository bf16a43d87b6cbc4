//! What every stage leans on: bodies, timers, locks, the allocator, the
//! pool for slow work.

#[macro_use]
mod pass_through;

pub(crate) mod abort;
pub(crate) mod allocator;
pub(crate) mod blocking;
pub(crate) mod body;
pub(crate) mod decimal;
pub(crate) mod in_place;
pub(crate) mod locks;
pub(crate) mod send_timeout;
pub(crate) mod timer;
