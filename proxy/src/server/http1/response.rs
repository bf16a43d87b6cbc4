//! Writing a response for the lane as hyper's server would: the status
//! line, the headers with `Date`, framing and `Connection` added where
//! missing, then the body by its length or chunked. Names go out as
//! nginx writes them: the proxy's own in their usual case, an upstream's
//! as it spelled them (see `header_case`). A body that is ready
//! with the head (a whole upstream response, a cached file) goes out in
//! the same `writev`.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Response, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::proto::header_case::{self, Spellings};
use crate::support::body::Body;
use crate::support::decimal::itoa;

/// What the response's request said about it.
#[derive(Clone, Copy)]
pub(super) struct Asked {
    pub head: bool,
    pub http10: bool,
    /// Whether client and server both mean to keep the connection.
    pub keep_alive: bool,
}

/// How the body is delimited on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// An HTTP/1.0 client, a body of unknown length: it ends with the connection.
    Close,
}

/// Writes `response`; `Ok(true)` when the connection may serve another request.
pub(super) async fn write(
    stream: &mut (impl AsyncWrite + Unpin),
    out: &mut Vec<u8>,
    response: Response<Body>,
    asked: Asked,
) -> io::Result<bool> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let mut headers = parts.headers;
    let mut keep_alive = asked.keep_alive;
    let framing = framing(status, &mut headers, &body, asked);
    if framing == Framing::Close {
        keep_alive = false;
    }

    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let spellings = parts.extensions.get::<Spellings>();
    let mut spelled = 0;
    // Where the lane says for itself whether the connection stays open, a
    // `Connection` the answer carries (a static file's, for hyper's
    // server) is not said twice, nor contradicted.
    let says_connection = !keep_alive || asked.http10;
    for (name, value) in &headers {
        if says_connection && name == header::CONNECTION {
            continue;
        }
        match spellings {
            Some(spellings) => spellings.write(out, name, &mut spelled),
            None => header_case::write_usual(out, name),
        }
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Framing::Length(n) = framing
        && !headers.contains_key(header::CONTENT_LENGTH)
    {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa(n, &mut [0; 20]));
        out.extend_from_slice(b"\r\n");
    }
    if framing == Framing::Chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if !headers.contains_key(header::DATE) {
        out.extend_from_slice(b"Date: ");
        with_date(|date| out.extend_from_slice(date));
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if says_connection {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");

    let send_body = !asked.head && framing != Framing::None;
    if !send_body {
        stream.write_all(out).await?;
        return Ok(keep_alive);
    }

    // The first frame, if the body has it now, goes out with the head.
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
    let mut sent: u64 = 0;
    let mut head_written = false;
    let mut pending = match first {
        Poll::Ready(frame) => Some(frame),
        Poll::Pending => None,
    };
    loop {
        let frame = match pending.take() {
            Some(frame) => frame,
            None => {
                if !head_written {
                    stream.write_all(out).await?;
                    head_written = true;
                }
                body.frame().await
            }
        };
        let head: &[u8] = if head_written { &[] } else { out };
        match frame {
            None => {
                let trailer: &[u8] = if framing == Framing::Chunked {
                    b"0\r\n\r\n"
                } else {
                    b""
                };
                write_all(stream, &mut [IoSlice::new(head), IoSlice::new(trailer)]).await?;
                return Ok(match framing {
                    Framing::Length(n) => keep_alive && sent == n,
                    _ => keep_alive,
                });
            }
            Some(Err(err)) => {
                // Like hyper: the client sees the response cut short.
                tracing::debug!(error = %err, "response body failed; closing the connection");
                return Err(io::Error::other(err));
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers: not sent over HTTP/1.1
                };
                if let Framing::Length(n) = framing
                    && sent + data.len() as u64 > n
                {
                    // A body longer than its Content-Length (a CGI or a
                    // script that set one and wrote more): the bytes past
                    // it would read as the next response, so they are not
                    // sent and the connection ends, as hyper does.
                    let fits = data.slice(..(n - sent) as usize);
                    write_data(stream, head, &fits, framing).await?;
                    tracing::warn!(
                        content_length = n,
                        "the response body is longer than its Content-Length: cut there, connection closed"
                    );
                    return Ok(false);
                }
                sent += data.len() as u64;
                write_data(stream, head, &data, framing).await?;
                head_written = true;
                if body.is_end_stream() {
                    pending = Some(None);
                }
            }
        }
    }
}

/// Most of a head the worker keeps room for between responses.
const KEPT_OUT: usize = 16 * 1024;

thread_local! {
    /// Room for a response head, one a worker: an idle connection holds
    /// none, and a request costs no allocation for it.
    static OUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The worker's room for a response head (an empty one when another
/// response, waiting on its client, holds it).
pub(super) fn take_out() -> Vec<u8> {
    OUT.take()
}

/// Gives the room `take_out` lent back, for the next response.
pub(super) fn give_back_out(out: Vec<u8>) {
    if out.capacity() <= KEPT_OUT {
        OUT.set(out);
    }
}

/// Interim (1xx) responses the upstream sent while the final answer is
/// awaited, sent on to the client as they come (see `h1::interim`).
#[derive(Default)]
pub(super) struct Interim {
    bytes: Vec<u8>,
    sent: usize,
}

impl Interim {
    /// Takes the interim responses that came during the last poll of the
    /// answer and sends what the socket takes now; `Ready(Ok)` once all
    /// that came is sent.
    pub(super) fn poll_send(
        &mut self,
        stream: &mut (impl AsyncWrite + Unpin),
        cx: &mut std::task::Context<'_>,
    ) -> Poll<io::Result<()>> {
        let before = self.bytes.len();
        crate::backends::upstream::http1::interim::take(&mut self.bytes);
        // A client that reads none of them does not make the proxy hold
        // an upstream's every one: past a head's worth, more are dropped.
        if self.bytes.len() - self.sent > crate::backends::upstream::http1::MAX_RESPONSE_HEAD {
            self.bytes.truncate(before);
        }
        while self.sent < self.bytes.len() {
            match Pin::new(&mut *stream).poll_write(cx, &self.bytes[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.bytes.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

/// RFC 9112 §6: which framing the response gets, adding nothing to
/// `headers` (the caller writes the length or coding it picks).
fn framing(status: StatusCode, headers: &mut HeaderMap, body: &Body, asked: Asked) -> Framing {
    if status.is_informational() || status == StatusCode::NO_CONTENT {
        // RFC 9110 §8.6: never a length on these.
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::TRANSFER_ENCODING);
        return Framing::None;
    }
    if status == StatusCode::NOT_MODIFIED {
        // Its Content-Length, if any, is the representation's: kept.
        headers.remove(header::TRANSFER_ENCODING);
        return Framing::None;
    }
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
    {
        return Framing::Length(length);
    }
    headers.remove(header::CONTENT_LENGTH);
    match body.size_hint().exact() {
        // A HEAD answer says nothing of a length it does not know: an
        // empty body there is no body, not an empty representation.
        Some(0) if asked.head => Framing::None,
        Some(length) => Framing::Length(length),
        None if asked.head => Framing::None,
        None if asked.http10 => Framing::Close,
        None => Framing::Chunked,
    }
}

async fn write_data(
    stream: &mut (impl AsyncWrite + Unpin),
    head: &[u8],
    data: &Bytes,
    framing: Framing,
) -> io::Result<()> {
    if framing == Framing::Chunked {
        if data.is_empty() {
            return write_all(stream, &mut [IoSlice::new(head)]).await;
        }
        let mut size = [0u8; 18];
        let size_line = chunk_size_line(data.len(), &mut size);
        write_all(
            stream,
            &mut [
                IoSlice::new(head),
                IoSlice::new(size_line),
                IoSlice::new(data),
                IoSlice::new(b"\r\n"),
            ],
        )
        .await
    } else {
        write_all(stream, &mut [IoSlice::new(head), IoSlice::new(data)]).await
    }
}

/// Writes every byte of `bufs`, in as few `writev` calls as the socket allows.
async fn write_all(
    stream: &mut (impl AsyncWrite + Unpin),
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let n = stream.write_vectored(bufs).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// `len` in hex, then CRLF.
fn chunk_size_line(len: usize, buf: &mut [u8; 18]) -> &[u8] {
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, digit) in buf[..digits].iter_mut().enumerate() {
        let nibble = (len >> (4 * (digits - 1 - i))) & 0xf;
        *digit = b"0123456789abcdef"[nibble];
    }
    buf[digits] = b'\r';
    buf[digits + 1] = b'\n';
    &buf[..digits + 2]
}

/// The `Date` value, formatted once a second per worker, as hyper does.
fn with_date(f: impl FnOnce(&[u8])) {
    thread_local! {
        static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != second {
            *date = (second, httpdate::fmt_http_date(now).into_bytes());
        }
        f(&date.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes() {
        for (n, hex) in [
            (0, "0"),
            (1, "1"),
            (15, "f"),
            (16, "10"),
            (8192, "2000"),
            (0x1abcdef, "1abcdef"),
        ] {
            assert_eq!(
                chunk_size_line(n, &mut [0; 18]),
                format!("{hex}\r\n").as_bytes()
            );
        }
    }
}
