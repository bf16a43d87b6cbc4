//! What every stage leans on: bodies, timers, locks, the allocator, the
//! pool for slow work.

#[macro_use]
mod pass_through;

pub mod allocator;
pub mod blocking;
pub mod body;
pub mod decimal;
pub mod in_place;
pub(crate) mod locks;
pub mod send_timeout;
pub mod timer;
