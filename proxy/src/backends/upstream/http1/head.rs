//! HTTP/1.1 message heads: a request written out, a response read in
//! (RFC 9112), with the response's body framing decided as §6.3 says.
//! Hop-by-hop headers are left out both ways as the head is written or
//! read, which costs less than removing them from a HeaderMap after.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};

use crate::proto::header_case::{self, Spellings};
use crate::proto::hop;
use crate::route::forwarded::ProxyHeaders;

use super::interim;

/// Most headers a response head may carry, as hyper allows.
pub(super) const MAX_HEADERS: usize = 100;

/// Writes `req`'s request line and headers, ready to send: origin form,
/// HTTP/1.1, the client's headers but the hop-by-hop ones and those
/// `proxy_headers` replaces, then `proxy_headers`.
pub(super) fn encode_request<B>(req: &Request<B>, proxy_headers: &ProxyHeaders, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut field = |name: &HeaderName, value: &HeaderValue| {
        // A HeaderValue never holds CR or LF, so nothing can end a line early.
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    // What `Connection` named is gone already, taken from the client's
    // headers before the filters ran (`client_headers`).
    for (name, value) in req.headers() {
        let dropped = hop::is_hop_by_hop(name) || ProxyHeaders::replaces(name);
        if !dropped {
            field(name, value);
        }
    }
    proxy_headers.each(&mut field);
    out.extend_from_slice(b"\r\n");
}

/// How the body after a response head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all: HEAD, 204, 304.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub(super) struct ResponseHead {
    pub status: StatusCode,
    /// As received, without hop-by-hop headers, and without
    /// `Content-Length` when it does not frame the body.
    pub headers: HeaderMap,
    /// How the upstream spelled the names, when not all in their usual case.
    pub spellings: Spellings,
    pub framing: Framing,
    /// Whether the connection may carry another request once the body is read.
    pub reusable: bool,
}

/// Why a response head is refused (the client gets a 502).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum HeadError {
    #[error("malformed response head: {0}")]
    Syntax(httparse::Error),
    #[error("invalid status code {0}")]
    Status(u16),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("101 Switching Protocols to a request that asked for no upgrade")]
    UnaskedUpgrade,
}

/// Reads one response head from the front of `buf`, consuming it.
/// `Ok(None)`: the head is not complete yet, read more. Interim 1xx
/// responses (100 Continue, 103 Early Hints) are consumed and offered to
/// the client (see `interim`); a 101 is refused, as nothing here asks
/// for an upgrade.
pub(super) fn parse_response(
    buf: &mut BytesMut,
    method: &Method,
    scratch: &mut Scratch,
) -> Result<Option<ResponseHead>, HeadError> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut slots,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(err) => return Err(HeadError::Syntax(err)),
        };
        let code = response.code.unwrap_or(0);
        let status = StatusCode::from_u16(code).map_err(|_| HeadError::Status(code))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(HeadError::UnaskedUpgrade);
        }
        if status.is_informational() {
            interim::offer(|out| write_interim(out, status, response.headers));
            let _ = buf.split_to(len);
            continue;
        }

        // Names are copied (a HeaderName owns its text); values keep their
        // offsets, to share the head's bytes once the parser lets go of it.
        let base = buf.as_ptr() as usize;
        let fields = &mut scratch.0;
        fields.clear();
        let mut scan = Scan::default();
        // Whether any name came in other than its usual case: then every
        // name's spelling is kept, to be written back as it came.
        let mut unusual = false;
        for field in response.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| HeadError::Syntax(httparse::Error::HeaderName))?;
            let start = field.value.as_ptr() as usize - base;
            let end = start + field.value.len();
            scan.note(&name, field.value, (start, end))?;
            unusual = unusual || !header_case::is_usual(field.name.as_bytes());
            let name_start = field.name.as_ptr() as usize - base;
            fields.push(Field {
                name,
                name_start,
                value: (start, end),
            });
        }
        let http11 = response.version == Some(1);
        let (framing, mut must_close) = scan.framing(method, status)?;
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means
        // its framing is faulty; don't trust the connection after it.
        must_close |= !http11 && scan.transfer_encoding.is_some();
        let drop_length = matches!(framing, Framing::Chunked | Framing::UntilClose);

        let head: Bytes = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(fields.len());
        let mut spellings = Spellings::default();
        for Field {
            name,
            name_start,
            value: (start, end),
        } in fields.drain(..)
        {
            let value = head.slice(start..end);
            let dropped = hop::is_hop_by_hop(&name)
                || (drop_length && name == header::CONTENT_LENGTH)
                || scan.connection_lists(&head, &name);
            if dropped {
                continue;
            }
            let value = HeaderValue::from_maybe_shared(value)
                .map_err(|_| HeadError::Syntax(httparse::Error::HeaderValue))?;
            if unusual {
                let spelled = head.slice(name_start..name_start + name.as_str().len());
                spellings.push(name.clone(), spelled);
            }
            headers.append(name, value);
        }
        let keep_alive = scan.connection.keeps_alive(http11);
        return Ok(Some(ResponseHead {
            status,
            headers,
            spellings,
            framing,
            reusable: keep_alive && !must_close && framing != Framing::UntilClose,
        }));
    }
}

/// An interim response as it goes on to the client: HTTP/1.1, the
/// upstream's fields as it spelled them, but the hop-by-hop ones and those
/// its `Connection` names.
fn write_interim(out: &mut Vec<u8>, status: StatusCode, fields: &[httparse::Header<'_>]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let connection = || {
        let values = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case("connection"));
        hop::tokens(values.map(|f| f.value))
    };
    for field in fields {
        let hop = HeaderName::from_bytes(field.name.as_bytes())
            .map_or(true, |name| hop::is_hop_by_hop(&name))
            || connection().any(|t| t.eq_ignore_ascii_case(field.name.as_bytes()));
        if !hop {
            out.extend_from_slice(field.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(field.value);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Room for one head's field names and value offsets, kept with the
/// connection so parsing a head allocates only the HeaderMap.
#[derive(Default)]
pub(super) struct Scratch(Vec<Field>);

/// A field of the head being read: its name, where the name starts, and
/// where its value lies.
struct Field {
    name: HeaderName,
    name_start: usize,
    value: (usize, usize),
}

/// What the framing and connection headers of a response say, noted as
/// the fields are read.
#[derive(Default)]
struct Scan {
    /// The last transfer coding named, if Transfer-Encoding is present.
    transfer_encoding: Option<bool>,
    content_length: Option<u64>,
    connection: hop::ConnectionOptions,
    /// Byte ranges, in the head, of the Connection values that name other
    /// headers (most say only `keep-alive` or `close`).
    naming_others: Vec<(usize, usize)>,
}

impl Scan {
    /// Notes one field; `span` is where its value lies in the head.
    fn note(
        &mut self,
        name: &HeaderName,
        value: &[u8],
        span: (usize, usize),
    ) -> Result<(), HeadError> {
        if name == header::TRANSFER_ENCODING {
            if let Some(last) = hop::tokens([value]).last() {
                self.transfer_encoding = Some(last.eq_ignore_ascii_case(b"chunked"));
            }
        } else if name == header::CONTENT_LENGTH {
            // Every value (and every element of a list) must be the same number.
            for element in value.split(|&b| b == b',') {
                let n = decimal(element.trim_ascii()).ok_or(HeadError::ContentLength)?;
                if self.content_length.is_some_and(|seen| seen != n) {
                    return Err(HeadError::ContentLength);
                }
                self.content_length = Some(n);
            }
        } else if name == header::CONNECTION && self.connection.note(value) {
            self.naming_others.push(span);
        }
        Ok(())
    }

    /// RFC 9112 §6.3: how the body is delimited, and whether the connection
    /// must close after it (a response with both Transfer-Encoding and
    /// Content-Length may be an attempt at request smuggling).
    fn framing(&self, method: &Method, status: StatusCode) -> Result<(Framing, bool), HeadError> {
        if method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok((Framing::Empty, false));
        }
        Ok(match (self.transfer_encoding, self.content_length) {
            (Some(true), length) => (Framing::Chunked, length.is_some()),
            (Some(false), _) => (Framing::UntilClose, true),
            (None, Some(length)) => (Framing::Length(length), false),
            (None, None) => (Framing::UntilClose, true),
        })
    }

    /// Whether a Connection value lists `name` as hop-by-hop.
    fn connection_lists(&self, head: &Bytes, name: &HeaderName) -> bool {
        if self.naming_others.is_empty() {
            return false;
        }
        let values = self
            .naming_others
            .iter()
            .map(|&(start, end)| &head[start..end]);
        hop::tokens(values).any(|t| t.eq_ignore_ascii_case(name.as_str().as_bytes()))
    }
}

/// A decimal number of at most 19 digits (so it fits a u64).
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8], method: Method) -> Result<Option<ResponseHead>, HeadError> {
        parse_response(&mut BytesMut::from(input), &method, &mut Scratch::default())
    }

    fn head(input: &str) -> ResponseHead {
        parse(input.as_bytes(), Method::GET)
            .unwrap()
            .expect("a whole head")
    }

    #[test]
    fn frames_the_body_as_rfc_9112_says() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
                Framing::Length(12),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n",
                Framing::Length(7),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            // Both: chunked wins, and the connection may be an attack; close it.
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Framing::UntilClose,
                false,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", Framing::UntilClose, false),
            (
                "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
                Framing::Empty,
                true,
            ),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                Framing::Empty,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
                Framing::Length(1),
                true,
            ),
        ];
        for (input, framing, reusable) in cases {
            let parsed = head(input);
            assert_eq!(
                (parsed.framing, parsed.reusable),
                (framing, reusable),
                "{input}"
            );
        }
        let to_head = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            Method::HEAD,
        );
        let to_head = to_head.unwrap().unwrap();
        assert_eq!(to_head.framing, Framing::Empty);
        assert_eq!(
            to_head.headers["content-length"], "5",
            "a HEAD answer keeps the GET's length"
        );
    }

    #[test]
    fn refuses_lengths_that_could_desynchronise_the_connection() {
        for input in [
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ] {
            assert_eq!(
                parse(input.as_bytes(), Method::GET).unwrap_err(),
                HeadError::ContentLength,
                "{input}"
            );
        }
    }

    #[test]
    fn drops_hop_by_hop_headers_and_those_connection_names() {
        let parsed = head(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\n\
             X-Private: 1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nX-Public: 2\r\n\r\n",
        );
        let names: Vec<&str> = parsed.headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-public"]);
    }

    #[test]
    fn skips_interim_responses_and_refuses_an_unasked_upgrade() {
        let parsed = head(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(parsed.status, StatusCode::CREATED);
        assert!(parsed.headers.get("link").is_none());
        assert_eq!(
            parse(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", Method::GET).unwrap_err(),
            HeadError::UnaskedUpgrade
        );
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-", Method::GET)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn writes_the_request_in_origin_form_with_the_proxy_headers() {
        use crate::route::forwarded::Origin;
        use crate::server::peer::Peer;
        let req = Request::builder()
            .method(Method::DELETE)
            .uri("http://shop.example/cart/1?all")
            .header("host", "shop.example")
            .header("connection", "keep-alive")
            .header("te", "trailers")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-proto", "https")
            .header("accept", "*/*")
            .body(())
            .unwrap();
        let client = Peer::new("192.0.2.7:1234".parse().unwrap());
        let host = HeaderValue::from_static("shop.example");
        let origin = Origin {
            client: &client,
            host: Some(&host),
            rewritten_host: None,
        };
        let authority = "10.1.1.1:8080".parse().unwrap();
        let proxy_headers = ProxyHeaders::new(&origin, &authority, req.headers());
        let mut out = Vec::new();
        encode_request(&req, &proxy_headers, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "DELETE /cart/1?all HTTP/1.1\r\naccept: */*\r\nhost: shop.example\r\n\
             x-forwarded-host: shop.example\r\nx-forwarded-for: 10.0.0.1, 192.0.2.7\r\n\
             x-forwarded-proto: http\r\n\r\n"
        );
    }
}
