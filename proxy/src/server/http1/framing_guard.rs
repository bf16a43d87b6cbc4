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

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::h1::chunked::Chunked;

/// Longest head line followed; past it hyper refuses the head anyway (431),
/// and the guard stops watching rather than buffer more.
const MAX_LINE: usize = 64 * 1024;

pub struct FramingGuard<S> {
    inner: S,
    at: Position,
    /// What is wrong with the bytes after those hyper was given.
    fault: Option<&'static str>,
}

/// Where in the stream of requests the next byte falls.
enum Position {
    Head(HeadScan),
    Length(u64),
    Chunked(Chunked),
    /// After an upgrade or a CONNECT (the bytes are a tunnel's), or a head
    /// too large to follow: nothing more is watched.
    Off,
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
    pub fn new(inner: S) -> FramingGuard<S> {
        FramingGuard {
            inner,
            at: Position::Head(HeadScan::default()),
            fault: None,
        }
    }
}

impl Position {
    /// Follows `input`; what is wrong with its framing, if anything, and
    /// how many of its bytes came before the fault.
    fn follow(&mut self, input: &[u8]) -> Result<(), (usize, &'static str)> {
        let whole = input.len();
        let mut input = input;
        while !input.is_empty() {
            match self {
                Position::Off => return Ok(()),
                Position::Length(left) => {
                    let n = (*left).min(input.len() as u64);
                    input = &input[n as usize..];
                    *left -= n;
                    if *left == 0 {
                        *self = Position::Head(HeadScan::default());
                    }
                }
                Position::Chunked(decoder) => {
                    let (used, done) = decoder.skip(input).map_err(|_| {
                        (whole - input.len(), "the chunked request body is malformed")
                    })?;
                    input = &input[used..];
                    if done {
                        *self = Position::Head(HeadScan::default());
                    }
                }
                Position::Head(scan) => {
                    let Some(end) = input.iter().position(|&b| b == b'\n') else {
                        scan.line.extend_from_slice(input);
                        if scan.line.len() > MAX_LINE {
                            *self = Position::Off;
                        }
                        return Ok(());
                    };
                    scan.line.extend_from_slice(&input[..end]);
                    input = &input[end + 1..];
                    match scan.end_line() {
                        Ok(Some(next)) => *self = next,
                        Ok(None) => {}
                        Err(why) => return Err((whole - input.len(), why)),
                    }
                }
            }
        }
        Ok(())
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
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        if let Err((good, why)) = this.at.follow(&buf.filled()[before..]) {
            this.at = Position::Off;
            this.fault = Some(why);
            buf.set_filled(before + good);
            if good == 0 {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
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
            at.follow(piece).map_err(|(_, why)| why)?;
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
        let (good, _) = at.follow(&input).unwrap_err();
        assert_eq!(good, head.len());
    }

    #[test]
    fn stops_watching_a_tunnel() {
        let mut at = Position::Head(HeadScan::default());
        at.follow(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
            .unwrap();
        assert!(matches!(at, Position::Off));
        at.follow(b"\x81\x05hello 0\r\nX\n\r\n").unwrap();
    }
}
