//! Boxing a future where it is built. `Box::pin(f())` builds `f()`'s
//! future on the stack, then allocates (a call that may unwind, so the
//! future must already exist whole), then copies all of it into the box:
//! kilobytes for the handler's futures, of which only the few arguments
//! are set yet. Allocating first lets the compiler write those straight
//! into the box. Called from a small function of its own (`#[inline(never)]`),
//! where the compiler sees the future's stack copy is never needed.

use std::pin::Pin;

/// `make()`'s value, boxed and pinned, written in place.
#[inline(always)]
pub(crate) fn boxed<F>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}
