//! Reading a request head for the lane, and deciding whether the lane can
//! serve the request or must leave the connection to hyper.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use http_body_util::Empty;

use crate::hop;

/// Most headers a request head may carry before it goes to hyper (which
/// answers 431), as hyper allows.
const MAX_HEADERS: usize = 100;

/// The HTTP/2 connection preface, which h2c clients open with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// What the front of the read buffer holds.
pub enum Head {
    /// Not a whole head yet: read more.
    Partial,
    /// A request the lane serves; its head is consumed from the buffer.
    Lane(Box<LaneRequest>),
    /// Something only hyper handles (a body, an upgrade, `Expect`, h2c, a
    /// malformed head): the connection, with everything still buffered,
    /// goes to hyper for the rest of its life.
    Hyper,
}

pub struct LaneRequest {
    pub request: Request<Empty<Bytes>>,
    /// Whether the client lets the connection carry another request.
    pub keep_alive: bool,
}

/// Looks at the front of `buf`; consumes a head only when it is the lane's.
pub fn parse(buf: &mut BytesMut) -> Head {
    if buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(buf) {
        // Empty, or what may still turn into the preface.
        return Head::Partial;
    }
    if buf.starts_with(H2_PREFACE) {
        return Head::Hyper;
    }
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut []);
    let len = match parsed.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(_) => return Head::Hyper,
    };
    let (Some(method), Some(target), Some(minor)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Head::Hyper;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Head::Hyper;
    };
    if method == Method::CONNECT {
        return Head::Hyper;
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
    let mut connection = Connection::default();
    for field in parsed.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(field.name.as_bytes()) else {
            return Head::Hyper;
        };
        if needs_hyper(&name, field.value) {
            return Head::Hyper;
        }
        if name == header::CONNECTION {
            connection.note(field.value);
        }
        let start = field.value.as_ptr() as usize - base;
        fields.push((name, start, start + field.value.len()));
    }
    if connection.upgrade {
        return Head::Hyper;
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
    let keep_alive = match version {
        Version::HTTP_11 => !connection.close,
        _ => connection.keep_alive,
    };
    let mut request = Request::new(Empty::new());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Head::Lane(Box::new(LaneRequest {
        request,
        keep_alive,
    }))
}

/// Puts a consumed head back in front of `buf`, for hyper to read.
fn give_back(buf: &mut BytesMut, head: &[u8]) -> Head {
    let mut whole = BytesMut::with_capacity(head.len() + buf.len());
    whole.extend_from_slice(head);
    whole.extend_from_slice(buf);
    *buf = whole;
    Head::Hyper
}

/// A request header that means a body, or a hand-shake the lane leaves to
/// hyper. A `Content-Length: 0` is no body.
fn needs_hyper(name: &HeaderName, value: &[u8]) -> bool {
    (name == header::CONTENT_LENGTH && value.trim_ascii() != b"0")
        || name == header::TRANSFER_ENCODING
        || name == header::EXPECT
        || name == header::UPGRADE
}

/// What the request's `Connection` headers say.
#[derive(Default)]
struct Connection {
    close: bool,
    keep_alive: bool,
    upgrade: bool,
}

impl Connection {
    fn note(&mut self, value: &[u8]) {
        for token in hop::tokens([value]) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if token.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            }
        }
    }
}
