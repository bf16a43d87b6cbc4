//! Interim (1xx) responses from an upstream, on their way to the client
//! while the final response is still awaited: RFC 9110 §15.2 has a proxy
//! forward them, `103 Early Hints` above all, to HTTP/1.1 clients. The
//! client runs inside the request's own task, so the lane, polling that
//! task's answer on the same thread, says it takes them for the length of
//! a poll and collects what came in it; nothing is kept when no one takes
//! them (hyper's servers cannot send a 1xx, nor can HTTP/1.0 clients read one).

use std::cell::{Cell, RefCell};

thread_local! {
    /// Whether the request being polled takes interim responses.
    static TAKEN: Cell<bool> = const { Cell::new(false) };
    /// Interim heads, ready to send, that came during that poll.
    static CAME: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `poll` with interim responses taken: whatever the upstream sends
/// meanwhile is kept for `take`.
pub(crate) fn taken_during<R>(poll: impl FnOnce() -> R) -> R {
    struct Untake;
    impl Drop for Untake {
        fn drop(&mut self) {
            TAKEN.set(false);
        }
    }
    TAKEN.set(true);
    let _untake = Untake;
    poll()
}

/// Moves the interim heads that came to the end of `into`.
pub(crate) fn take(into: &mut Vec<u8>) {
    CAME.with_borrow_mut(|came| {
        if !came.is_empty() {
            into.append(came);
        }
    });
}

/// Keeps an interim head, written by `write`, if the request takes them.
pub(super) fn offer(write: impl FnOnce(&mut Vec<u8>)) {
    if TAKEN.get() {
        CAME.with_borrow_mut(write);
    }
}
