//! Timers the hot path can afford, and the time limits built on them.
//!
//! A deadline is moved lazily, as nginx's `NGX_TIMER_LAZY_DELAY` does: one
//! that would move later by less than a slack stays where it is, so a busy
//! connection moves its timer once in hundreds of reads, not on each, and
//! a timer that only ever moves later never has to wake tokio's driver.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::time::{Instant, Sleep};

use crate::support::body::BoxError;

/// A deadline that would move later by less than this (or an eighth of
/// the wait, if less) stays where it is.
const TIMER_SLACK: Duration = Duration::from_millis(300);

/// Sets `timer` to `wait` from now, or leaves it a little early.
pub(crate) fn arm(timer: Pin<&mut Sleep>, wait: Duration) {
    let deadline = Instant::now() + wait;
    let current = timer.deadline();
    if current > deadline || deadline - current >= TIMER_SLACK.min(wait / 8) {
        timer.reset(deadline);
    }
}

/// A limit on one wait at a time, for waits that are rare: its timer is
/// made the first time something has to wait, set when a wait starts, and
/// let be when the wait ends, so whatever never waits costs a branch.
#[derive(Default)]
pub(crate) struct WaitTimer {
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer is set for the wait under way.
    waiting: bool,
}

impl WaitTimer {
    /// Within a wait: `Ready` once it has lasted until `due`, which is
    /// asked for when the wait starts (`None`: this wait has no limit).
    pub(crate) fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        due: impl FnOnce() -> Option<Instant>,
    ) -> Poll<()> {
        if !self.waiting {
            let Some(due) = due() else {
                return Poll::Pending;
            };
            self.waiting = true;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(due),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(due))),
            }
        }
        self.timer.as_mut().expect("set above").as_mut().poll(cx)
    }

    /// The wait is over: the next one starts afresh.
    pub(crate) fn done(&mut self) {
        self.waiting = false;
    }
}

/// A response body held to time limits: at most `idle` between two frames
/// (nginx's `proxy_read_timeout`), and all of it by `deadline` if there is
/// one (a rule's request timeout, which Envoy also applies to the body).
/// Out of time, it ends with an error, so the client sees the response cut
/// off, never a clean end. The timer is made only when the body first has
/// to wait: a body that came whole with its head never makes one.
pub(crate) struct TimedBody<B> {
    inner: B,
    idle: Option<Duration>,
    deadline: Option<Instant>,
    wait: WaitTimer,
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, idle: Option<Duration>, deadline: Option<Instant>) -> TimedBody<B> {
        TimedBody {
            inner,
            idle,
            deadline,
            wait: WaitTimer::default(),
        }
    }
}

/// When a wait that starts now runs out: after `idle`, or at `deadline`.
fn due(idle: Option<Duration>, deadline: Option<Instant>) -> Option<Instant> {
    let idle = idle.map(|idle| Instant::now() + idle);
    match (idle, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the backend's response took too long: nothing came for the read timeout, or the rule's request timeout passed"
)]
pub(crate) struct BodyTimedOut;

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.wait.done();
            return Poll::Ready(frame);
        }
        let (idle, deadline) = (this.idle, this.deadline);
        ready!(this.wait.poll_wait(cx, || due(idle, deadline)));
        Poll::Ready(Some(Err(BodyTimedOut.into())))
    }

    body_hints_through!(inner);
}
