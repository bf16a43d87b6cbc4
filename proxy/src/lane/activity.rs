//! Whether a connection hyper serves is in use. An HTTP/2 one that is not
//! can be closed: hyper keeps an idle h2 connection (or one that sent only
//! the preface) open for ever, and each holds a `--max-connections` slot;
//! nginx closes idle h2 connections after `keepalive_timeout` as well. An
//! HTTP/1.1 one is timed differently between requests (`head_timeout`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::time::Instant;

use crate::body::BoxError;

/// Requests (with their response bodies) under way on one connection, and
/// how many have begun: the connection is idle while the first is zero and
/// the second stands still.
#[derive(Default)]
pub struct Activity {
    open: AtomicUsize,
    begun: AtomicUsize,
    /// The connection became a tunnel: no more requests come on it.
    upgraded: AtomicBool,
}

impl Activity {
    /// A request has begun; it ends when the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InUse {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.begun.fetch_add(1, Ordering::Relaxed);
        InUse(self.clone())
    }

    pub fn begun(&self) -> usize {
        self.begun.load(Ordering::Relaxed)
    }

    /// No request is under way, and the connection may carry another.
    pub fn between_requests(&self) -> bool {
        self.open.load(Ordering::Relaxed) == 0 && !self.upgraded.load(Ordering::Relaxed)
    }

    pub fn upgrade(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
    }
}

pub struct InUse(Arc<Activity>);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Watches an `Activity` from the connection's task: the connection may
/// wait `first` for its first request and `later` after each.
pub struct IdleWatch {
    activity: Arc<Activity>,
    first: Duration,
    later: Duration,
    seen_begun: usize,
    idle_since: Instant,
}

impl IdleWatch {
    pub fn new(activity: Arc<Activity>, first: Duration, later: Duration) -> IdleWatch {
        IdleWatch {
            activity,
            first,
            later,
            seen_begun: 0,
            idle_since: Instant::now(),
        }
    }

    /// When the connection idles out, as far as is known now; `None` while
    /// a request is under way or has begun since the last look.
    pub fn due(&mut self) -> Option<Instant> {
        let begun = self.activity.begun.load(Ordering::Relaxed);
        if begun != self.seen_begun || self.activity.open.load(Ordering::Relaxed) > 0 {
            self.seen_begun = begun;
            self.idle_since = Instant::now();
            return None;
        }
        let limit = if begun == 0 { self.first } else { self.later };
        Some(self.idle_since + limit)
    }
}

/// A response body that keeps its request counted as under way until it is
/// sent or dropped.
pub struct Counted<B> {
    pub body: B,
    pub _in_use: InUse,
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
        Pin::new(&mut self.body).poll_frame(cx)
    }

    body_hints_through!(body);
}
