//! The time between the requests of an HTTP/1.1 connection hyper serves,
//! kept here because hyper has but one timer for it, started as soon as a
//! response is sent: given the header timeout, it would close a keep-alive
//! connection after 10 s of idling; given the keep-alive time, it would let
//! a slowloris client take 75 s over each head, and cut a head begun late
//! in the idle time. So hyper gets no timer, and this reader gives the
//! connection the keep-alive time to idle and then, from a head's first
//! byte, the header timeout to finish it, as the lane and nginx
//! (`keepalive_timeout`, `client_header_timeout`) do.
//!
//! With an access log, it also keeps each head's request line as it came
//! (`HeadSeen`), so that a head hyper refuses, or one that times out here,
//! is logged as the lane logs its own.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::activity::Activity;
use crate::support::locks::lock;

/// The longest request line kept for the log, as the lane's `first_line`.
const LINE_KEPT: usize = 2048;

pub(super) struct HeadTimeout<S> {
    inner: S,
    activity: Arc<Activity>,
    idle: Duration,
    head: Duration,
    /// Requests begun at the last look.
    begun: usize,
    waiting: Waiting,
    timer: Pin<Box<Sleep>>,
    /// Kept only when there is an access log to write it to.
    seen: Option<Arc<HeadSeen>>,
}

/// The request line of the head read last, and whether its time ran out.
///
/// hyper may hold the start of a head in its own buffer (read with the
/// body before it) and parse it without a read here, or a read here may
/// bring the rest of such a head: the line is cleared as each request
/// begins, and kept only when it starts as a request line does, so that
/// an earlier request's line or a header line is never logged as the
/// refused head's. When the line is unknown, `-` is logged.
#[derive(Default)]
pub(super) struct HeadSeen(Mutex<Seen>);

#[derive(Default)]
struct Seen {
    line: Vec<u8>,
    /// The line's end came: later bytes of the head are not kept.
    whole: bool,
    timed_out: bool,
}

/// What is logged of the head that ended a connection.
pub(super) struct LastHead {
    /// Its request line, or `-` when it is not known.
    pub line: Vec<u8>,
    /// Whether the header timeout cut it off (else hyper refused it).
    pub timed_out: bool,
}

impl HeadSeen {
    /// The head to log. `None` after a timeout on a head of empty lines
    /// only, which is no request (RFC 9112 §2.2).
    pub(super) fn last(&self) -> Option<LastHead> {
        let seen = lock(&self.0);
        if seen.timed_out && seen.line.is_empty() {
            return None;
        }
        let line = match is_request_line_start(&seen.line) {
            true => seen.line.clone(),
            false => b"-".to_vec(),
        };
        Some(LastHead {
            line,
            timed_out: seen.timed_out,
        })
    }

    /// A head begins, or a request does (its head was read whole): the
    /// line kept is no longer the one to log.
    pub(super) fn begin(&self) {
        let mut seen = lock(&self.0);
        seen.line.clear();
        seen.whole = false;
    }

    fn note(&self, bytes: &[u8]) {
        let mut seen = lock(&self.0);
        let mut bytes = bytes;
        if seen.line.is_empty() {
            let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n');
            bytes = &bytes[start.unwrap_or(bytes.len())..];
        }
        if seen.whole || bytes.is_empty() {
            return;
        }
        let end = bytes.iter().position(|&b| b == b'\r' || b == b'\n');
        seen.whole = end.is_some();
        let room = LINE_KEPT - seen.line.len();
        let taken = &bytes[..end.unwrap_or(bytes.len()).min(room)];
        seen.line.extend_from_slice(taken);
        seen.whole |= seen.line.len() == LINE_KEPT;
    }
}

/// Whether `line` opens as a request line, `METHOD SP`: a method of three
/// or more capitals, which a header line (`Name: value`) never is.
fn is_request_line_start(line: &[u8]) -> bool {
    let method = line.split(|&b| b == b' ').next().unwrap_or_default();
    method.len() >= 3 && method.len() < line.len() && method.iter().all(u8::is_ascii_uppercase)
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
    /// `idle`: the keep-alive time; `head`: the header timeout; `seen`:
    /// where to keep request lines, if they are to be logged.
    pub(super) fn new(
        inner: S,
        activity: Arc<Activity>,
        idle: Duration,
        head: Duration,
        seen: Option<Arc<HeadSeen>>,
    ) -> HeadTimeout<S> {
        HeadTimeout {
            inner,
            activity,
            idle,
            head,
            begun: 0,
            waiting: Waiting::Nothing,
            timer: Box::pin(tokio::time::sleep(head)),
            seen,
        }
    }

    pub(super) fn into_inner(self) -> S {
        self.inner
    }

    /// Moves to what the connection waits for after a read that brought
    /// `got` bytes; says where to when it moved.
    fn look(&mut self, got: bool) -> Option<Waiting> {
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
        let moved = next != self.waiting || (new_gap && next != Waiting::Nothing);
        if moved {
            match next {
                Waiting::Idle => self.timer.as_mut().reset(Instant::now() + self.idle),
                Waiting::Head => self.timer.as_mut().reset(Instant::now() + self.head),
                Waiting::Nothing => {}
            }
            self.waiting = next;
        }
        moved.then_some(next)
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
        let moved = this.look(buf.filled().len() > before);
        if let Some(seen) = &this.seen {
            if moved == Some(Waiting::Head) {
                seen.begin();
            }
            if this.waiting == Waiting::Head {
                seen.note(&buf.filled()[before..]);
            }
        }
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
            if let Some(seen) = &this.seen
                && this.waiting == Waiting::Head
            {
                lock(&seen.0).timed_out = true;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(reads: &[&[u8]]) -> Option<Vec<u8>> {
        let seen = HeadSeen::default();
        seen.begin();
        for read in reads {
            seen.note(read);
        }
        seen.last().map(|last| last.line)
    }

    #[test]
    fn the_request_line_is_kept_across_reads_and_without_leading_empty_lines() {
        let line = noted(&[
            b"\r\n\r\nGET /a",
            b"bc HTTP/1.1\r\nHost: x\r\n",
            b"X: y\r\n",
        ]);
        assert_eq!(line.as_deref(), Some(&b"GET /abc HTTP/1.1"[..]));
        let long = vec![b'a'; 3 * LINE_KEPT];
        let line = noted(&[b"GET /", &long, b" HTTP/1.1\r\n"]);
        assert_eq!(line.map(|l| l.len()), Some(LINE_KEPT));
    }

    #[test]
    fn what_is_not_a_request_line_is_logged_as_unknown() {
        // The rest of a head whose start hyper had read with a body.
        assert_eq!(
            noted(&[b"\r\nX Bad: y\r\n\r\n"]).as_deref(),
            Some(&b"-"[..])
        );
        assert_eq!(noted(&[b"Host: x\r\n"]).as_deref(), Some(&b"-"[..]));
        // Nothing read since a request began: hyper parsed it from its buffer.
        assert_eq!(noted(&[]).as_deref(), Some(&b"-"[..]));
        assert_eq!(
            noted(&[b"BLAH \"/x\r\n"]).as_deref(),
            Some(&b"BLAH \"/x"[..])
        );
    }

    #[test]
    fn a_timeout_on_empty_lines_alone_is_no_request() {
        let seen = HeadSeen::default();
        seen.note(b"\r\n\r\n");
        lock(&seen.0).timed_out = true;
        assert!(seen.last().is_none());
    }
}
