//! Watches the requests on an HTTP/1.1 connection hyper serves and stops
//! the connection at framing that hyper reads more leniently than it
//! should. hyper's chunked decoder takes a bare LF inside a trailer line as
//! part of the line and reads on to the next CRLF CRLF: `0\r\nX: 1\n\r\n`
//! followed by a pipelined request swallows that request as trailers, so
//! what the proxy saw and what a stricter backend would see differ
//! (request smuggling's usual shape). The lane's own decoder refuses it;
//! here the same decoder follows each body as hyper reads it. hyper gets
//! the bytes before the fault, and the read after them fails: hyper takes
//! that as a failed body (the request is answered 400) and closes the
//! connection. (A read that failed at once would end the connection with
//! no answer at all while hyper still reads the head.)
//!
//! The HTTP/2 preface, which hyper's HTTP/1.1 server meets only after a
//! request here (a connection that opens with it is served as h2), is cut
//! after its first line likewise, so hyper answers it 400 as the lane does.
//!
//! It reads no bytes of its own and copies none: it walks the bytes hyper
//! has just read. Heads are scanned for their framing (Content-Length,
//! Transfer-Encoding); a body of known length is skipped in one step.
//!
//! Made with `one_request`, the stream ends where the first request ends:
//! what came after it (a pipelined request) is withheld from hyper and
//! kept for the lane, which serves the connection again (`one_request.rs`).

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::proto::chunked::Chunked;

/// Longest head line followed; past it hyper refuses the head anyway (431),
/// and the guard stops watching rather than buffer more.
const MAX_LINE: usize = 64 * 1024;

pub(super) struct FramingGuard<S> {
    inner: S,
    at: Position,
    /// What is wrong with the bytes after those hyper was given.
    fault: Option<&'static str>,
    /// Whether the stream ends after its first request.
    one: bool,
    /// Bytes read after the end of that request, not given to hyper.
    withheld: BytesMut,
}

/// Where in the stream of requests the next byte falls.
enum Position {
    Head(HeadScan),
    Length(u64),
    Chunked(Chunked),
    /// After an upgrade or a CONNECT (the bytes are a tunnel's), or a head
    /// too large to follow: nothing more is watched.
    Off,
    /// The one request the stream carries is read whole: it ends here.
    Done,
}

/// What a head says about the body after it, line by line.
#[derive(Default)]
struct HeadScan {
    line: Vec<u8>,
    lines: usize,
    chunked: bool,
    length: u64,
    tunnel: bool,
}

impl<S> FramingGuard<S> {
    pub(super) fn new(inner: S) -> FramingGuard<S> {
        FramingGuard {
            inner,
            at: Position::Head(HeadScan::default()),
            fault: None,
            one: false,
            withheld: BytesMut::new(),
        }
    }

    /// A stream that ends after its first request (which must be one
    /// without an upgrade: a tunnel's bytes have no end to find).
    pub(super) fn one_request(inner: S) -> FramingGuard<S> {
        FramingGuard {
            one: true,
            ..FramingGuard::new(inner)
        }
    }

    /// Whether the one request was read whole: the stream has ended.
    pub(super) fn request_read(&self) -> bool {
        matches!(self.at, Position::Done)
    }

    /// The stream, and what was read from it after the request.
    pub(super) fn into_parts(self) -> (S, BytesMut) {
        (self.inner, self.withheld)
    }

    /// Bytes read after the request so far.
    pub(super) fn withheld(&self) -> usize {
        self.withheld.len()
    }

    /// After the request: reads what comes next into the bytes withheld;
    /// how many came, 0 when the client closed its side.
    pub(super) fn poll_withhold(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>>
    where
        S: AsyncRead + Unpin,
    {
        let mut room = [MaybeUninit::uninit(); 2048];
        let mut read = ReadBuf::uninit(&mut room);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
        self.withheld.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl Position {
    /// Follows `input`: how many of its bytes belong to the requests
    /// followed (all unless `one` and the first request ended in them);
    /// what is wrong with its framing, if anything, and how many of its
    /// bytes came before the fault.
    fn follow(&mut self, input: &[u8], one: bool) -> Result<usize, (usize, &'static str)> {
        let whole = input.len();
        let mut input = input;
        // Where the stream goes once a request has ended.
        let next = || match one {
            true => Position::Done,
            false => Position::Head(HeadScan::default()),
        };
        while !input.is_empty() {
            match self {
                Position::Off => return Ok(whole),
                Position::Done => return Ok(whole - input.len()),
                Position::Length(left) => {
                    let n = (*left).min(input.len() as u64);
                    input = &input[n as usize..];
                    *left -= n;
                    if *left == 0 {
                        *self = next();
                    }
                }
                Position::Chunked(decoder) => {
                    let (used, done) = decoder.skip(input).map_err(|_| {
                        (whole - input.len(), "the chunked request body is malformed")
                    })?;
                    input = &input[used..];
                    if done {
                        *self = next();
                    }
                }
                Position::Head(scan) => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else {
                        scan.line.extend_from_slice(input);
                        if scan.line.len() > MAX_LINE {
                            *self = Position::Off;
                        }
                        return Ok(whole);
                    };
                    scan.line.extend_from_slice(&input[..end]);
                    input = &input[end + 1..];
                    match scan.end_line() {
                        // A head without a body ends its request.
                        Ok(Some(Position::Head(_))) => *self = next(),
                        Ok(Some(body)) => *self = body,
                        Ok(None) => {}
                        Err(why) => return Err((whole - input.len(), why)),
                    }
                }
            }
        }
        Ok(whole)
    }
}

impl HeadScan {
    /// Takes in the line just ended; where the stream goes when it ended
    /// the head.
    fn end_line(&mut self) -> Result<Option<Position>, &'static str> {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            // Empty lines before a request line are no request (RFC 9112 §2.2).
            if self.lines == 0 {
                return Ok(None);
            }
            return Ok(Some(if self.tunnel {
                Position::Off
            } else if self.chunked {
                Position::Chunked(Chunked::default())
            } else if self.length > 0 {
                Position::Length(self.length)
            } else {
                Position::Head(HeadScan::default())
            }));
        }
        self.lines += 1;
        if self.lines == 1 {
            // hyper would end the connection without a word at the whole
            // preface; given only its first line, it answers 400.
            if line == b"PRI * HTTP/2.0" {
                return Err("the HTTP/2 preface is only valid as a connection's first bytes");
            }
            self.tunnel = line.starts_with(b"CONNECT ");
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // The final coding frames the body, as hyper reads it.
                let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                self.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"content-length") {
                // hyper refuses an invalid one before any body is read.
                self.length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            } else if name.eq_ignore_ascii_case(b"upgrade") {
                self.tunnel = true;
            }
        }
        self.line = line;
        self.line.clear();
        Ok(None)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FramingGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(why) = self.fault {
            tracing::debug!(
                why,
                "closing a connection whose request framing is ambiguous"
            );
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
        }
        if self.request_read() {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        match this.at.follow(&buf.filled()[before..], this.one) {
            Ok(used) => {
                let read = &buf.filled()[before + used..];
                if !read.is_empty() {
                    // The next request's bytes: the lane's, not hyper's.
                    this.withheld.extend_from_slice(read);
                    buf.set_filled(before + used);
                }
            }
            Err((good, why)) => {
                this.at = Position::Off;
                this.fault = Some(why);
                buf.set_filled(before + good);
                if good == 0 {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FramingGuard<S> {
    write_through!(inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow_in_pieces(input: &[u8], step: usize) -> Result<(), &'static str> {
        let mut at = Position::Head(HeadScan::default());
        for piece in input.chunks(step) {
            at.follow(piece, false).map_err(|(_, why)| why)?;
        }
        match at {
            Position::Head(scan) if scan.line.is_empty() && scan.lines == 0 => Ok(()),
            _ => Err("ended inside a message"),
        }
    }

    #[test]
    fn follows_pipelined_requests_of_every_framing() {
        let input = b"\r\nPOST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\ntransfer-encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET /c HTTP/1.1\nHost: x\n\n";
        for step in 1..=input.len() {
            assert_eq!(follow_in_pieces(input, step), Ok(()), "in pieces of {step}");
        }
    }

    #[test]
    fn one_request_ends_where_its_body_ends_in_any_pieces() {
        let next = b"GET /next HTTP/1.1\r\n\r\n";
        for first in [
            &b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
            b"POST /c HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
        ] {
            let input = [first, next].concat();
            for step in 1..=input.len() {
                let mut at = Position::Head(HeadScan::default());
                let mut taken = 0;
                for piece in input.chunks(step) {
                    taken += at.follow(piece, true).unwrap();
                }
                assert_eq!(taken, first.len(), "in pieces of {step}");
                assert!(matches!(at, Position::Done));
            }
        }
    }

    #[test]
    fn a_bare_lf_in_a_trailer_is_refused() {
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\r\nGET /next HTTP/1.1\r\n\r\n";
        for step in [1, 7, input.len()] {
            assert!(
                follow_in_pieces(input, step).is_err(),
                "in pieces of {step}"
            );
        }
    }

    #[test]
    fn the_fault_is_placed_after_the_bytes_before_the_body() {
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut input = head.to_vec();
        input.extend_from_slice(b"0\r\nX-T: 1\n\r\n");
        let mut at = Position::Head(HeadScan::default());
        let (good, _) = at.follow(&input, false).unwrap_err();
        assert_eq!(good, head.len());
    }

    #[test]
    fn stops_watching_a_tunnel() {
        let mut at = Position::Head(HeadScan::default());
        at.follow(
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(matches!(at, Position::Off));
        at.follow(b"\x81\x05hello 0\r\nX\n\r\n", false).unwrap();
    }
}
