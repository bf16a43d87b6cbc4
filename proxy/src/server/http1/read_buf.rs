//! The lane's read buffers, lent by the worker. A connection takes one
//! when a head's first bytes come and gives it back once the answer is
//! written, so an idle connection holds none; kept by the worker rather
//! than freed, it serves the next request on any of the worker's
//! connections without an allocation (a large block, allocated and freed
//! each request, takes the allocator's slow path both ways).

use std::cell::Cell;

use bytes::BytesMut;

use super::READ_SIZE;

/// A buffer grown past this (for a large head) is freed, not kept.
const MAX_KEPT: usize = 4 * READ_SIZE;

thread_local! {
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// A buffer with room for a typical head: the worker's, if it has one.
pub(super) fn take() -> BytesMut {
    SPARE
        .take()
        .unwrap_or_else(|| BytesMut::with_capacity(READ_SIZE))
}

/// Gives back an empty buffer. Kept only when all its room can be had
/// again: the head that was read into it may still be held (a request
/// some future kept), and then its room is not the buffer's to reuse.
pub(super) fn give_back(mut buf: BytesMut) {
    debug_assert!(buf.is_empty());
    if buf.capacity() <= MAX_KEPT && buf.try_reclaim(READ_SIZE) {
        SPARE.set(Some(buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_kept_whole_for_the_next_head() {
        let mut buf = take();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let at = buf.as_ptr();
        drop(buf.split().freeze());
        give_back(buf);
        let kept = SPARE.take().expect("kept by the worker");
        assert_eq!(kept.as_ptr(), at, "the same room, from its start");
        assert!(kept.capacity() >= READ_SIZE, "all of it");
        SPARE.set(Some(kept));
        assert_eq!(take().as_ptr(), at, "lent to the next head");
    }

    #[test]
    fn a_buffer_whose_head_is_still_held_is_not_kept() {
        let mut buf = take();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let head = buf.split().freeze();
        give_back(buf);
        assert!(SPARE.take().is_none());
        drop(head);
    }
}
