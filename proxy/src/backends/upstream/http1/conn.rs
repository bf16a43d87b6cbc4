//! One upstream connection as the client uses it: the socket, the bytes
//! read but not yet consumed, and a buffer for request heads.

// Allowed here: one `set_len` over bytes the kernel just wrote (SAFETY below).
#![allow(unsafe_code)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::head::Scratch;
use crate::support::timer::arm;

/// Room kept free before each read: a typical head and small body in one.
const READ_SIZE: usize = 8 * 1024;

pub(super) struct Conn {
    stream: TcpStream,
    /// Read from the socket, not yet consumed by a head or a body.
    pub buf: BytesMut,
    /// The request head being sent; kept to reuse its allocation.
    pub out: Vec<u8>,
    pub scratch: Scratch,
    /// Bounds each wait for the upstream; one per connection, moved lazily.
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` is set for the wait under way.
    waiting: bool,
}

impl Conn {
    pub(super) fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
            out: Vec::with_capacity(512),
            scratch: Scratch::default(),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            waiting: false,
        }
    }

    /// Sends `out` whole.
    pub(super) async fn send_out(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.out).await
    }

    /// Reads what the socket has into `buf`; `Ok(0)` is the end of the stream.
    ///
    /// Through `AsyncRead`, not `try_read_buf`: tokio then takes a short
    /// read to mean the socket is drained and waits for epoll before the
    /// next one, where `try_read_buf` would try again and get `EAGAIN`, a
    /// wasted syscall on every request.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let mut read = ReadBuf::uninit(self.buf.spare_capacity_mut());
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        Poll::Ready(Ok(n))
    }

    /// `poll_fill`, given up with `TimedOut` when the upstream sends
    /// nothing for `idle` (nginx's `proxy_read_timeout`).
    pub(super) fn poll_fill_within(
        &mut self,
        cx: &mut Context<'_>,
        idle: Duration,
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(read) = self.poll_fill(cx) {
            self.waiting = false;
            return Poll::Ready(read);
        }
        if !self.waiting {
            self.waiting = true;
            arm(self.timer.as_mut(), idle);
        }
        ready!(self.timer.as_mut().poll(cx));
        self.waiting = false;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the upstream sent nothing for {idle:?}"),
        )))
    }

    pub(super) async fn fill_within(&mut self, idle: Duration) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill_within(cx, idle)).await
    }

    /// Whether an idle connection can still take a request: the upstream
    /// has neither closed it nor sent anything unasked. Costs no syscall
    /// unless the socket was reported readable since it was last read.
    pub(super) fn is_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => matches!(
                self.stream.try_read_buf(&mut self.buf),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock
            ),
        }
    }
}
