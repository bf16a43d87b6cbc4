//! Reading a request head for the lane, and deciding whether the lane can
//! serve the request or must leave the connection to hyper.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use http_body_util::Empty;

use crate::proto::hop;

/// Most fields a request head may carry, as hyper allows (and Envoy's
/// default); more are answered 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// The HTTP/2 connection preface, which h2c clients open with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// A whole head at the front of the read buffer.
pub(crate) enum Head {
    /// A request the lane serves; its head is consumed from the buffer.
    Lane(Box<LaneRequest>),
    /// Something only hyper handles (a body, an upgrade, `Expect`, h2c, a
    /// malformed head): the connection, with everything still buffered,
    /// goes to hyper for the rest of its life.
    Hyper,
    /// A head over `--max-header-bytes`: answered 431, and the connection closed.
    TooLarge,
    /// A head with more fields than `MAX_HEADERS`: answered 431 likewise.
    TooManyFields,
    /// A head that is not HTTP: answered 400, as hyper would, and the
    /// connection closed; what is wrong with it.
    Malformed(&'static str),
}

pub(crate) struct LaneRequest {
    pub request: Request<Empty<Bytes>>,
    /// Whether the client lets the connection carry another request.
    pub keep_alive: bool,
}

/// Whether `buf` opens with the HTTP/2 connection preface.
pub(crate) fn is_h2_preface(buf: &[u8]) -> bool {
    buf.starts_with(H2_PREFACE)
}

/// Looks at the front of `buf`; consumes a head only when it is the lane's.
/// `None`: not a whole head yet, read more. A head larger than `max_head`
/// goes to hyper, which answers 431. `first`: nothing came on the
/// connection before, so the HTTP/2 preface may open it.
pub(crate) fn parse(buf: &mut BytesMut, max_head: usize, first: bool) -> Option<Head> {
    if buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(buf) {
        // Empty, or what may still turn into the preface.
        return None;
    }
    if is_h2_preface(buf) {
        // Only a connection's first bytes may switch it to HTTP/2 (RFC
        // 9113 §3.4); after a request, the preface is a malformed one.
        return Some(match first {
            true => Head::Hyper,
            false => Head::Malformed(
                "the HTTP/2 preface is only valid as a connection's first bytes: open a new connection for HTTP/2",
            ),
        });
    }
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) if len <= max_head => len,
        Ok(httparse::Status::Partial) if buf.len() <= max_head => return None,
        // Answered here: hyper's own limit lets a head through that
        // arrives whole, whatever its size.
        Ok(_) => return Some(Head::TooLarge),
        Err(httparse::Error::TooManyHeaders) => return Some(Head::TooManyFields),
        Err(err) => return Some(Head::Malformed(malformed(err))),
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Some(Head::Hyper);
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Some(Head::Malformed("the method is not a token"));
    };
    if method == Method::CONNECT {
        return Some(Head::Hyper);
    }
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };

    // Offsets into the head, so the URI and values can share its bytes.
    let base = buf.as_ptr() as usize;
    let target_span = (target.as_ptr() as usize - base, target.len());
    let mut fields = Vec::with_capacity(parsed.headers.len());
    let mut connection = hop::ConnectionOptions::default();
    for field in parsed.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(field.name.as_bytes()) else {
            return Some(Head::Hyper);
        };
        if needs_hyper(&name, field.value) {
            return Some(Head::Hyper);
        }
        if name == header::CONNECTION {
            connection.note(field.value);
        }
        let start = field.value.as_ptr() as usize - base;
        fields.push((name, start, start + field.value.len()));
    }
    if connection.upgrade {
        return Some(Head::Hyper);
    }

    let head: Bytes = buf.split_to(len).freeze();
    let uri_bytes = head.slice(target_span.0..target_span.0 + target_span.1);
    let Ok(uri) = Uri::from_maybe_shared(uri_bytes) else {
        // hyper answers 400 for a target it cannot parse.
        return give_back(buf, &head);
    };
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, start, end) in fields {
        let Ok(value) = HeaderValue::from_maybe_shared(head.slice(start..end)) else {
            return give_back(buf, &head);
        };
        headers.append(name, value);
    }
    let keep_alive = connection.keeps_alive(version == Version::HTTP_11);
    let mut request = Request::new(Empty::new());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Some(Head::Lane(Box::new(LaneRequest {
        request,
        keep_alive,
    })))
}

/// What a client would need to hear about a head httparse refused.
fn malformed(err: httparse::Error) -> &'static str {
    match err {
        httparse::Error::HeaderName => {
            "a header name has a character names may not have (no space before the colon, no line folded onto the next)"
        }
        httparse::Error::HeaderValue => "a header value has a control character",
        httparse::Error::NewLine => "a line does not end in CRLF",
        httparse::Error::Token => "the request line is not METHOD SP target SP HTTP/1.x",
        httparse::Error::Version => {
            "the request line does not end in HTTP/1.0 or HTTP/1.1 (a space in the target is sent as %20)"
        }
        _ => "the request head is not HTTP/1.1",
    }
}

/// The request line of `buf` (or as much as a log line takes of it).
pub(crate) fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .position(|&byte| byte == b'\r' || byte == b'\n')
        .unwrap_or(buf.len());
    &buf[..end.min(2048)]
}

/// Puts a consumed head back in front of `buf`, for hyper to read.
fn give_back(buf: &mut BytesMut, head: &[u8]) -> Option<Head> {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(head);
    whole.extend_from_slice(buf);
    *buf = whole;
    Some(Head::Hyper)
}

/// A request header that means a body, or a hand-shake the lane leaves to
/// hyper. A `Content-Length: 0` is no body.
fn needs_hyper(name: &HeaderName, value: &[u8]) -> bool {
    (name == header::CONTENT_LENGTH && value.trim_ascii() != b"0")
        || name == header::TRANSFER_ENCODING
        || name == header::EXPECT
        || name == header::UPGRADE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(head: Option<Head>) -> LaneRequest {
        match head {
            Some(Head::Lane(lane)) => *lane,
            None => panic!("partial"),
            Some(Head::Hyper) => panic!("left to hyper"),
            Some(Head::TooLarge) => panic!("too large"),
            Some(Head::TooManyFields) => panic!("too many fields"),
            Some(Head::Malformed(why)) => panic!("malformed: {why}"),
        }
    }

    #[test]
    fn a_head_with_over_100_fields_has_too_many() {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            head.push_str(&format!("X-{i}: {i}\r\n"));
        }
        head.push_str("\r\n");
        let mut buf = BytesMut::from(head.as_bytes());
        assert!(matches!(
            parse(&mut buf, 64 * 1024, true),
            Some(Head::TooManyFields)
        ));
    }

    #[test]
    fn a_head_over_the_limit_is_too_large_whole_or_not() {
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
        let mut whole = BytesMut::from(big.as_bytes());
        assert!(matches!(
            parse(&mut whole, 8192, true),
            Some(Head::TooLarge)
        ));
        let mut partial = BytesMut::from(&big.as_bytes()[..8500]);
        assert!(matches!(
            parse(&mut partial, 8192, true),
            Some(Head::TooLarge)
        ));
        let mut fits = BytesMut::from(&big.as_bytes()[..8000]);
        assert!(
            parse(&mut fits, 8192, true).is_none(),
            "still under the limit: read on"
        );
    }

    #[test]
    fn reads_a_request_and_leaves_the_next_one() {
        let mut buf = BytesMut::from(
            &b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nGET /next HTTP/1.1\r\n"[..],
        );
        let first = lane(parse(&mut buf, 64 * 1024, true));
        assert_eq!(first.request.method(), Method::GET);
        assert_eq!(first.request.uri(), "/a?b=1");
        assert_eq!(first.request.version(), Version::HTTP_11);
        assert_eq!(first.request.headers()["host"], "x");
        assert_eq!(first.request.headers()["accept"], "*/*");
        assert!(first.keep_alive);
        assert_eq!(&buf[..], b"GET /next HTTP/1.1\r\n");
        assert!(parse(&mut buf, 64 * 1024, true).is_none());
        assert_eq!(
            &buf[..],
            b"GET /next HTTP/1.1\r\n",
            "a partial head is kept"
        );
    }

    #[test]
    fn leaves_bodies_upgrades_and_h2c_to_hyper_untouched() {
        for input in [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
            b"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(input);
            assert!(
                matches!(parse(&mut buf, 64 * 1024, true), Some(Head::Hyper)),
                "{}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(&buf[..], input, "hyper gets every byte");
        }
    }

    #[test]
    fn a_head_that_is_not_http_is_malformed_and_says_why() {
        for (input, why) in [
            (&b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"[..], "header name"),
            (
                b"GET / HTTP/3.0\r\n\r\n",
                "does not end in HTTP/1.0 or HTTP/1.1",
            ),
            (
                b"GET /a b HTTP/1.1\r\n\r\n",
                "a space in the target is sent as %20",
            ),
            (
                b"GET / HTTP/1.1\r\nX : y\r\n\r\n",
                "no space before the colon",
            ),
            (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", "header value"),
            (b"G\"T / HTTP/1.1\r\n\r\n", "request line"),
            (b"BLAH\r\n\r\n", "request line"),
        ] {
            let mut buf = BytesMut::from(input);
            match parse(&mut buf, 64 * 1024, true) {
                Some(Head::Malformed(said)) => assert!(said.contains(why), "{said}"),
                _ => panic!("not malformed: {}", String::from_utf8_lossy(input)),
            }
        }
    }

    #[test]
    fn the_h2_preface_after_a_request_is_malformed() {
        let mut buf = BytesMut::from(&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..]);
        match parse(&mut buf, 64 * 1024, false) {
            Some(Head::Malformed(why)) => assert!(why.contains("first bytes"), "{why}"),
            _ => panic!("the preface was taken after a request"),
        }
    }

    #[test]
    fn waits_on_what_may_still_become_the_h2_preface() {
        for input in [&b""[..], b"P", b"PRI * HTTP/2"] {
            let mut buf = BytesMut::from(input);
            assert!(parse(&mut buf, 64 * 1024, true).is_none());
        }
    }

    #[test]
    fn an_empty_length_is_no_body() {
        let mut buf = BytesMut::from(&b"POST /logout HTTP/1.1\r\nContent-Length: 0\r\n\r\n"[..]);
        let request = lane(parse(&mut buf, 64 * 1024, true)).request;
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.headers()["content-length"], "0");
        assert!(buf.is_empty());
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        for (input, keep_alive) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ] {
            let mut buf = BytesMut::from(input);
            assert_eq!(
                lane(parse(&mut buf, 64 * 1024, true)).keep_alive,
                keep_alive,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
