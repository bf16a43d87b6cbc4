//! nginx's `send_timeout` (and `proxy_send_timeout`, its twin for
//! backends): a client that takes nothing we send for the send timeout is
//! gone, and its connection is closed. Without it, a client
//! that stops reading (or vanished without a FIN) holds its connection, its
//! upstream connection and a `--max-connections` slot for as long as the
//! kernel keeps retrying.
//!
//! The time runs only while a write waits on the client (the socket's send
//! buffer is full): never while the response itself is awaited, which the
//! backend timeouts bound. A write that goes through at once, as nearly all
//! do, costs a branch; the timer is made the first time one has to wait.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::support::timer::WaitTimer;

/// `S`, whose writes fail with `TimedOut` once one has waited `limit`
/// without the client taking a byte.
pub(crate) struct SendTimeout<S> {
    inner: S,
    limit: Duration,
    /// Who takes what is written, and the flag that sets the limit.
    peer: Peer,
    wait: WaitTimer,
}

#[derive(Clone, Copy, Debug)]
enum Peer {
    Client,
    Backend,
}

impl<S> SendTimeout<S> {
    /// Writes to a client, under `--send-timeout`.
    pub(crate) fn to_client(inner: S, limit: Duration) -> SendTimeout<S> {
        SendTimeout::new(inner, limit, Peer::Client)
    }

    /// Writes to a backend, under `--backend-read-timeout` (nginx has
    /// `proxy_send_timeout` for this, of the same 60 s default).
    pub(crate) fn to_backend(inner: S, limit: Duration) -> SendTimeout<S> {
        SendTimeout::new(inner, limit, Peer::Backend)
    }

    pub(crate) fn into_inner(self) -> S {
        self.inner
    }

    fn new(inner: S, limit: Duration, peer: Peer) -> SendTimeout<S> {
        SendTimeout {
            inner,
            limit,
            peer,
            wait: WaitTimer::default(),
        }
    }

    /// After a write that did not go through: `Pending` while the wait is
    /// within the limit, the error once it is not.
    fn poll_wait<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        ready!(self.wait.poll_wait(cx, || Some(Instant::now() + limit)));
        let (peer, flag) = match self.peer {
            Peer::Client => ("the client", "--send-timeout"),
            Peer::Backend => ("the backend", "--backend-read-timeout"),
        };
        let message = format!("{peer} took nothing for {:?} ({flag})", self.limit);
        tracing::debug!("{message}; closing the connection");
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, message)))
    }

    /// After a write that went through (or failed): its wait is over.
    fn progressed<T>(&mut self, done: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        self.wait.done();
        done
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Pending => this.poll_wait(cx),
            done => this.progressed(done),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.poll_wait(cx),
            done => this.progressed(done),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.poll_wait(cx),
            done => this.progressed(done),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_taking_fails_the_write_after_the_limit() {
        // A pipe whose far end never reads: writes fill it, then wait.
        let (near, _far) = tokio::io::duplex(1024);
        let mut timed = SendTimeout::to_client(near, Duration::from_millis(200));
        let started = Instant::now();
        let err = timed.write_all(&[0; 64 * 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(err.to_string().contains("--send-timeout"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_taking_is_never_cut_off() {
        use tokio::io::AsyncReadExt;
        let (near, mut far) = tokio::io::duplex(1024);
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0; 512];
            loop {
                // Each read comes within the limit; all of them take longer.
                tokio::time::sleep(Duration::from_millis(20)).await;
                match far.read(&mut buf).await.unwrap() {
                    0 => return got,
                    n => got += n,
                }
            }
        });
        let mut timed = SendTimeout::to_client(near, Duration::from_millis(200));
        timed.write_all(&[0; 16 * 1024]).await.unwrap();
        drop(timed);
        assert_eq!(reader.await.unwrap(), 16 * 1024);
    }
}
