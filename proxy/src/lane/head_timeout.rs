//! The header timeout for the later requests of an HTTP/1.1 connection
//! hyper serves. hyper has one timer between requests, which it starts as
//! soon as a response is sent: given the header timeout, it would close a
//! keep-alive connection after 10 s of idling, given the keep-alive time,
//! it would let a slowloris client take 75 s over each head. So hyper gets
//! the keep-alive time, and this reader gives a head begun between
//! requests only the header timeout from its first byte, as the lane and
//! nginx (`client_header_timeout`) do.

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
    limit: Duration,
    /// Requests begun when the head being timed started.
    begun: usize,
    /// Set from a head's first byte until a request begins.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> HeadTimeout<S> {
    pub fn new(inner: S, activity: Arc<Activity>, limit: Duration) -> HeadTimeout<S> {
        HeadTimeout {
            inner,
            activity,
            limit,
            begun: 0,
            timer: None,
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
        let begun = this.activity.begun();
        if begun != this.begun {
            // The head timed was read whole: its request has begun.
            this.begun = begun;
            this.timer = None;
        }
        if buf.filled().len() > before && this.timer.is_none() && this.activity.between_requests() {
            let due = Instant::now() + this.limit;
            this.timer = Some(Box::pin(tokio::time::sleep_until(due)));
        }
        if polled.is_pending()
            && let Some(timer) = &mut this.timer
            && timer.as_mut().poll(cx).is_ready()
        {
            tracing::debug!("no whole request head in time; closing the connection");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no whole request head within --header-read-timeout",
            )));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<S> {
    write_through!(inner);
}
