//! Gives hyper one request of an HTTP/1.1 connection (one with a body or
//! `Expect`, which the lane leaves to it) and takes the connection back
//! once that request is answered: an idle connection hyper serves holds
//! its 8 KiB read and 8 KiB write buffers, an idle one on the lane holds
//! none.
//!
//! Below it, `FramingGuard::one_request` ends the stream where the
//! request ends and keeps what follows (a pipelined request) for the lane.
//! hyper sees that end only once it has nothing left to do: the response
//! is sent whole (its body dropped, hyper's write buffer flushed). Before
//! then a read waits, so hyper, which reads on while it answers to notice
//! a client that leaves, never takes the end for one; it is told when the
//! client does close, and drops the request as it always did (unless a
//! pipelined request came first, which hyper would answer too). At the end, hyper,
//! idle, takes it as the client closing and shuts the stream down, which
//! here leaves the socket open: `into_parts` hands it back.
//!
//! When hyper ends the connection itself (`Connection: close`, a refused
//! head, the server stopping mid-request), it never sees the end, and its
//! shutdown goes through to the socket as it always did.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::activity::Activity;
use super::framing_guard::FramingGuard;
use crate::server::http1::request::MAX_HEADERS;

/// Whether the request at the front of `buf` can be served alone: a whole
/// head that asks for no upgrade (nor CONNECT), whose tunnel would keep
/// the connection. Others, and heads hyper will refuse, are hyper's for
/// the rest of the connection's life, as they always were.
pub(super) fn fits(buf: &[u8]) -> bool {
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let Ok(httparse::Status::Complete(_)) = parsed.parse_with_uninit_headers(buf, &mut slots)
    else {
        return false;
    };
    parsed.method.is_some_and(|method| method != "CONNECT")
        && !parsed.headers.iter().any(|field| {
            field.name.eq_ignore_ascii_case("upgrade")
                || (field.name.eq_ignore_ascii_case("connection")
                    && field
                        .value
                        .split(|&b| b == b',')
                        .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade")))
        })
}

pub(super) struct OneRequest<S> {
    inner: FramingGuard<S>,
    activity: Arc<Activity>,
    /// hyper's write buffer was empty at its last flush, and nothing was
    /// written since: it calls the stream's flush only once it is.
    flushed: bool,
    /// hyper's reader, waiting for the response to be sent whole.
    reader: Option<Waker>,
    /// hyper was given the end: the connection goes back to the lane.
    handed_back: bool,
    /// How much of what the client sends meanwhile is kept for the lane.
    keep: usize,
    /// The client closed its side after a pipelined request.
    closed: bool,
}

impl<S> OneRequest<S> {
    /// `keep`: how much of what the client sends while the request is
    /// answered is read and kept (a pipelined head's worth).
    pub(super) fn new(inner: S, activity: Arc<Activity>, keep: usize) -> OneRequest<S> {
        OneRequest {
            inner: FramingGuard::one_request(inner),
            activity,
            flushed: false,
            reader: None,
            handed_back: false,
            keep,
            closed: false,
        }
    }

    /// The stream and the bytes read past the request, if the connection
    /// is the lane's again; `None` if hyper ended it.
    pub(super) fn into_parts(self) -> Option<(S, BytesMut)> {
        self.handed_back.then(|| self.inner.into_parts())
    }

    /// Whether hyper has sent its whole answer and has nothing under way.
    fn answered(&self) -> bool {
        self.flushed && self.activity.between_requests()
    }

    /// After a flush: a reader that waited for the answer to be sent may
    /// now see the end.
    fn flushed(&mut self, flushed: bool) {
        self.flushed = flushed;
        if flushed
            && self.answered()
            && let Some(reader) = self.reader.take()
        {
            reader.wake();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for OneRequest<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.inner.request_read() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if !this.answered() {
            // Woken by the flush that sends the answer's last bytes; the
            // body's end may come after it, so its drop wakes too.
            this.reader = Some(cx.waker().clone());
            this.activity.wake_when_idle(cx.waker());
            while !this.closed && this.inner.withheld() < this.keep {
                match this.inner.poll_withhold(cx) {
                    Poll::Pending => break,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Ready(Ok(0)) if this.inner.withheld() == 0 => {
                        // The client has left: hyper drops its request.
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready(Ok(0)) => this.closed = true,
                    Poll::Ready(Ok(_)) => {}
                }
            }
            if !this.answered() {
                return Poll::Pending;
            }
        }
        this.handed_back = true;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for OneRequest<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.flushed = false;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.flushed = false;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        self.flushed(matches!(flushed, Poll::Ready(Ok(()))));
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.handed_back {
            // hyper is done with the connection; the lane is not.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
