//! The time between the requests of an HTTP/1.1 connection hyper serves,
//! kept here because hyper has but one timer for it, started as soon as a
//! response is sent: given the header timeout, it would close a keep-alive
//! connection after 10 s of idling; given the keep-alive time, it would let
//! a slowloris client take 75 s over each head, and cut a head begun late
//! in the idle time. So hyper gets no timer, and this reader gives the
//! connection the keep-alive time to idle and then, from a head's first
//! byte, the header timeout to finish it, as the lane and nginx
//! (`keepalive_timeout`, `client_header_timeout`) do.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::activity::Activity;

pub struct HeadTimeout<S> {
    inner: S,
    activity: Arc<Activity>,
    idle: Duration,
    head: Duration,
    /// Requests begun at the last look.
    begun: usize,
    waiting: Waiting,
    timer: Pin<Box<Sleep>>,
}

/// What the connection is waiting for, as far as its reads show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// A request is under way (or the connection became a tunnel).
    Nothing,
    /// Between requests, no byte of the next one yet.
    Idle,
    /// The rest of a head whose first bytes came.
    Head,
}

impl<S> HeadTimeout<S> {
    /// `idle`: the keep-alive time; `head`: the header timeout.
    pub fn new(
        inner: S,
        activity: Arc<Activity>,
        idle: Duration,
        head: Duration,
    ) -> HeadTimeout<S> {
        HeadTimeout {
            inner,
            activity,
            idle,
            head,
            begun: 0,
            waiting: Waiting::Nothing,
            timer: Box::pin(tokio::time::sleep(head)),
        }
    }

    /// Moves to what the connection waits for after a read that brought
    /// `got` bytes.
    fn look(&mut self, got: bool) {
        let begun = self.activity.begun();
        // A request began (and perhaps ended) since the last look.
        let new_gap = begun != self.begun;
        self.begun = begun;
        let next = match (self.activity.between_requests(), self.waiting, got) {
            (false, _, _) => Waiting::Nothing,
            (true, _, true) if new_gap => Waiting::Head,
            (true, _, false) if new_gap => Waiting::Idle,
            (true, Waiting::Nothing, false) => Waiting::Idle,
            (true, Waiting::Nothing | Waiting::Idle, true) => Waiting::Head,
            (true, same, _) => same,
        };
        if next != self.waiting || (new_gap && next != Waiting::Nothing) {
            match next {
                Waiting::Idle => self.timer.as_mut().reset(Instant::now() + self.idle),
                Waiting::Head => self.timer.as_mut().reset(Instant::now() + self.head),
                Waiting::Nothing => {}
            }
            self.waiting = next;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.look(buf.filled().len() > before);
        if polled.is_pending() && this.waiting == Waiting::Nothing {
            // Looked at again when the request ends: the idle time starts then.
            this.activity.wake_when_idle(cx.waker());
        }
        if polled.is_pending()
            && this.waiting != Waiting::Nothing
            && this.timer.as_mut().poll(cx).is_ready()
        {
            let (limit, flag) = match this.waiting {
                Waiting::Idle => ("no request within", "--keep-alive-timeout"),
                _ => ("no whole request head within", "--header-read-timeout"),
            };
            tracing::debug!("{limit} {flag}; closing the connection");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{limit} {flag}"),
            )));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<S> {
    write_through!(inner);
}
