//! Whether a connection hyper serves is in use. An HTTP/2 one that is not
//! can be closed: hyper keeps an idle h2 connection (or one that sent only
//! the preface) open for ever, and each holds a `--max-connections` slot;
//! nginx closes idle h2 connections after `keepalive_timeout` as well. An
//! HTTP/1.1 one is timed differently between requests (`head_timeout`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::time::Instant;

use crate::support::body::BoxError;
use crate::support::locks::lock;

/// Requests (with their response bodies) under way on one connection, and
/// how many have begun: the connection is idle while the first is zero and
/// the second stands still.
#[derive(Default)]
pub(super) struct Activity {
    open: AtomicUsize,
    begun: AtomicUsize,
    /// The connection became a tunnel: no more requests come on it.
    upgraded: AtomicBool,
    /// Responses whose latest bytes hyper holds, waiting for the client to
    /// take them, by request, with since when (HTTP/2 only).
    waiting_on_client: Mutex<HashMap<usize, Instant>>,
    /// The connection's reader, parked between requests: woken when the
    /// last request ends, so the idle time starts then (hyper reads again
    /// only when the socket has news).
    reader: Mutex<Option<Waker>>,
}

impl Activity {
    /// A request has begun; it ends when the guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InUse {
        self.open.fetch_add(1, Ordering::Relaxed);
        let id = self.begun.fetch_add(1, Ordering::Relaxed);
        InUse {
            activity: self.clone(),
            id,
        }
    }

    /// How many responses have waited on the client for `limit` or more.
    fn waited_on_client(&self, limit: Duration) -> usize {
        let waiting = lock(&self.waiting_on_client);
        waiting
            .values()
            .filter(|since| since.elapsed() >= limit)
            .count()
    }

    /// Lets go of the room the last responses' waits took: an idle
    /// connection holds none. (Kept while requests come and go, so a
    /// busy connection does not allocate it anew for each.)
    fn release_idle(&self) {
        let mut waiting = lock(&self.waiting_on_client);
        if waiting.is_empty() && waiting.capacity() > 0 {
            *waiting = HashMap::new();
        }
    }

    pub(super) fn begun(&self) -> usize {
        self.begun.load(Ordering::Relaxed)
    }

    /// No request is under way, and the connection may carry another.
    pub(super) fn between_requests(&self) -> bool {
        self.open.load(Ordering::Relaxed) == 0 && !self.upgraded.load(Ordering::Relaxed)
    }

    pub(super) fn upgrade(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
    }

    /// Wakes `waker` when the last request under way ends.
    pub(super) fn wake_when_idle(&self, waker: &Waker) {
        let mut reader = lock(&self.reader);
        if !reader
            .as_ref()
            .is_some_and(|parked| parked.will_wake(waker))
        {
            *reader = Some(waker.clone());
        }
    }
}

pub(super) struct InUse {
    activity: Arc<Activity>,
    id: usize,
}

impl InUse {
    fn waiting_on_client(&self, waiting: bool) {
        let mut all = lock(&self.activity.waiting_on_client);
        if waiting {
            all.insert(self.id, Instant::now());
        } else {
            all.remove(&self.id);
        }
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        if self.activity.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            let reader = lock(&self.activity.reader);
            if let Some(reader) = reader.as_ref() {
                reader.wake_by_ref();
            }
        }
    }
}

/// Watches an `Activity` from the connection's task: the connection may
/// wait `first` for its first request and `later` after each.
pub(super) struct IdleWatch {
    activity: Arc<Activity>,
    first: Duration,
    later: Duration,
    /// How long a response may wait for the client to take its bytes.
    send_timeout: Duration,
    seen_begun: usize,
    idle_since: Instant,
}

impl IdleWatch {
    pub(super) fn new(
        activity: Arc<Activity>,
        first: Duration,
        later: Duration,
        send_timeout: Duration,
    ) -> IdleWatch {
        IdleWatch {
            activity,
            first,
            later,
            send_timeout,
            seen_begun: 0,
            idle_since: Instant::now(),
        }
    }

    /// When the connection idles out, as far as is known now; `None` while
    /// a request is under way or has begun since the last look.
    pub(super) fn due(&mut self) -> Option<Instant> {
        let begun = self.activity.begun.load(Ordering::Relaxed);
        if begun != self.seen_begun || self.activity.open.load(Ordering::Relaxed) > 0 {
            self.seen_begun = begun;
            self.idle_since = Instant::now();
            return None;
        }
        let limit = if begun == 0 { self.first } else { self.later };
        self.activity.release_idle();
        Some(self.idle_since + limit)
    }

    /// Whether every request under way is one whose response has waited
    /// on the client past the send timeout.
    pub(super) fn only_stalled_left(&self) -> bool {
        let open = self.activity.open.load(Ordering::Relaxed);
        self.activity.waited_on_client(self.send_timeout) >= open
    }

    /// Whether a response has waited on the client past the send timeout.
    pub(super) fn stalled(&self) -> bool {
        self.activity.waited_on_client(self.send_timeout) > 0
    }
}

/// A response body that keeps its request counted as under way until it is
/// sent or dropped, and notes when hyper holds its latest bytes: hyper
/// polls a body again only once it has sent what it took, so a body not
/// polled since it gave bytes is waiting on the client. An HTTP/2 client
/// can stall a response so without stalling the connection, by granting
/// no flow-control window; nginx's `send_timeout` covers that wait too.
pub(super) struct Counted<B> {
    body: B,
    in_use: InUse,
    /// Whether to note waits on the client (HTTP/2, where they are looked at).
    watch_waits: bool,
    handed_over: bool,
}

impl<B> Counted<B> {
    pub(super) fn new(body: B, in_use: InUse, watch_waits: bool) -> Counted<B> {
        Counted {
            body,
            in_use,
            watch_waits,
            handed_over: false,
        }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        if self.handed_over {
            self.in_use.waiting_on_client(false);
        }
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.handed_over {
            self.handed_over = false;
            self.in_use.waiting_on_client(false);
        }
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if self.watch_waits
            && let Poll::Ready(Some(Ok(frame))) = &polled
            && frame.is_data()
        {
            self.handed_over = true;
            self.in_use.waiting_on_client(true);
        }
        polled
    }

    body_hints_through!(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_connection_keeps_no_room_for_waits() {
        let activity = Arc::new(Activity::default());
        let mut watch = IdleWatch::new(
            activity.clone(),
            Duration::from_secs(10),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
        let in_use = activity.begin();
        in_use.waiting_on_client(true);
        in_use.waiting_on_client(false);
        assert!(watch.due().is_none(), "a request is under way");
        assert!(lock(&activity.waiting_on_client).capacity() > 0);
        drop(in_use);
        assert!(watch.due().is_some(), "idle");
        assert_eq!(lock(&activity.waiting_on_client).capacity(), 0);
    }
}
