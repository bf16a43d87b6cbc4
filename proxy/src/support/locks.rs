//! Locks held for a few instructions, around state a panic cannot leave
//! half-changed: a poisoned one is used as it is, not passed on as a panic.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
