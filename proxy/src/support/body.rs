//! The response body type and the short plain-text answers the proxy gives itself.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full, combinators::UnsyncBoxBody};

/// Any error a body can end with (upstream, file read).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Streams upstream bodies and files through, or carries a small body of our own.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// `status` with a one-line `text/plain` body, as nginx and Envoy answer errors.
pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut body = String::with_capacity(text.len() + 24);
    body.push_str(status.as_str());
    body.push(' ');
    body.push_str(status.canonical_reason().unwrap_or(""));
    if !text.is_empty() {
        body.push_str(": ");
        body.push_str(text);
    }
    body.push('\n');
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let mut text = serde_json::to_vec_pretty(value).expect("serialisable");
    text.push(b'\n');
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
