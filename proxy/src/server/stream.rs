//! A client connection's byte stream. The lane and the hand-off to hyper
//! are generic over it: TCP, TLS over TCP, and in tests an in-memory
//! pipe, so the lane can be driven by scripted bytes alone.

use std::io;
use std::pin::pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream};
use tokio::net::TcpStream;

use crate::support::abort::Resettable;

pub(crate) trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Reads what the client sent meanwhile into `buf` (a pipelined
    /// request, or its close as `Ok(0)`), while the lane awaits an answer.
    /// Pending until it sends something.
    fn poll_read_sent(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        pin!(self.read_buf(buf)).poll(cx)
    }

    /// The socket under the stream, to reset the connection with.
    fn resettable(&self) -> Resettable {
        Resettable(None)
    }

    /// Ends the connection from our side, when the lane is done with it.
    /// Dropping a TCP stream says it all; TLS first sends its close_notify.
    #[allow(
        clippy::manual_async_fn,
        reason = "the `Send` bound: connections are spawned"
    )]
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl ClientStream for TcpStream {
    fn resettable(&self) -> Resettable {
        Resettable(Some(std::os::fd::AsRawFd::as_raw_fd(self)))
    }

    /// Readiness first, without a read: only a client that sent something
    /// (or closed) costs a syscall.
    fn poll_read_sent(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_read_ready(cx))?;
            match self.try_read_buf(buf) {
                // The readiness was stale; polling again waits for news.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                read => return Poll::Ready(read),
            }
        }
    }
}

/// HTTPS: reads go through rustls, so what the client sent meanwhile is
/// read as a plain stream's would be, through the TLS layer.
impl ClientStream for tokio_rustls::server::TlsStream<TcpStream> {
    fn resettable(&self) -> Resettable {
        self.get_ref().0.resettable()
    }

    /// close_notify, then FIN; bounded, as a client that takes nothing
    /// must not hold the connection open.
    async fn close(&mut self) {
        let shutdown = tokio::io::AsyncWriteExt::shutdown(self);
        let _ = tokio::time::timeout(CLOSE_NOTIFY_WAIT, shutdown).await;
    }
}

/// How long a TLS close may wait for the client to take its alert.
const CLOSE_NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// In tests: the lane driven over an in-memory pipe.
impl ClientStream for DuplexStream {}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn what_the_client_sent_is_read_and_a_close_reads_as_zero() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let mut buf = BytesMut::new();
        let pending = std::future::poll_fn(|cx| {
            Poll::Ready(server.poll_read_sent(cx, &mut buf).is_pending())
        });
        assert!(pending.await, "nothing sent: pending");
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        drop(client);
        let mut buf = BytesMut::new();
        let n = std::future::poll_fn(|cx| server.poll_read_sent(cx, &mut buf)).await;
        assert_eq!(n.unwrap(), 16);
        let n = std::future::poll_fn(|cx| server.poll_read_sent(cx, &mut buf)).await;
        assert_eq!(n.unwrap(), 0, "a close reads as 0");
    }
}
