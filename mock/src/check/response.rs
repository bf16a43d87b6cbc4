//! A `response` (a rule's or the `default`): status, headers and body,
//! encoded once, with the content type a body form implies.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_yaml::Value;

use super::{Checker, HEADER_NAME_FIX, describe, join};
use crate::provision::Response;

impl Checker {
    pub(super) fn response(&mut self, at: &str, value: &Value) -> Option<Response> {
        let fields = self.map(at, value, Some(&["status", "headers", "body"]))?;
        let before = self.problems.len();
        let status = match fields.get("status") {
            None => Some(StatusCode::OK),
            Some(v) => {
                let status = v
                    .as_u64()
                    .filter(|s| (200..=599).contains(s))
                    .and_then(|s| StatusCode::from_u16(s as u16).ok());
                if status.is_none() {
                    self.problem(
                        &join(at, "status"),
                        format!("expected a status from 200 to 599, found {}", describe(v)),
                        "a mock answers with a final status, such as 200 or 404",
                    );
                }
                status
            }
        };
        let mut headers = HeaderMap::new();
        if let Some(v) = fields.get("headers") {
            let at = join(at, "headers");
            for (key, v) in self.map(&at, v, None).map(|f| f.0).unwrap_or_default() {
                let at = join(&at, key);
                let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
                    self.problem(
                        &at,
                        format!("`{key}` is not a valid header name"),
                        HEADER_NAME_FIX,
                    );
                    continue;
                };
                if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
                    self.problem(
                        &at,
                        format!("`{key}` is set by the proxy"),
                        "remove it; the proxy frames the body itself",
                    );
                    continue;
                }
                let Some(text) = self.text(&at, v) else {
                    continue;
                };
                match HeaderValue::from_str(&text) {
                    Ok(value) => {
                        headers.append(name, value);
                    }
                    Err(_) => self.problem(
                        &at,
                        "not a valid header value",
                        "use visible ASCII text, no line breaks",
                    ),
                }
            }
        }
        let (body, content_type) = match fields.get("body") {
            None => (Bytes::new(), None),
            Some(v) => self.body(&join(at, "body"), v)?,
        };
        if let (Some(status), false) = (status, body.is_empty())
            && (status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
        {
            self.problem(
                &join(at, "body"),
                format!("a {status} response has no body"),
                "remove `body`, or use another status",
            );
        }
        if let Some(content_type) = content_type
            && !headers.contains_key(CONTENT_TYPE)
        {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if self.problems.len() != before {
            return None;
        }
        Some(Response {
            status: status?,
            headers,
            body,
        })
    }

    /// The body's bytes and the content type it implies.
    pub(super) fn body(
        &mut self,
        at: &str,
        value: &Value,
    ) -> Option<(Bytes, Option<&'static str>)> {
        if let Value::String(text) = value {
            return Some((Bytes::from(text.clone()), Some("text/plain; charset=utf-8")));
        }
        let (how, v) = self.one_of(at, value, &["text", "json", "base64"])?;
        let at = join(at, how);
        match how {
            "text" => {
                let text = self.text(&at, v)?;
                Some((Bytes::from(text), Some("text/plain; charset=utf-8")))
            }
            "json" => {
                let json = self.json(&at, v)?;
                let bytes = serde_json::to_vec(&json).expect("a JSON value serialises");
                Some((Bytes::from(bytes), Some("application/json")))
            }
            _ => {
                let text = self.string(&at, v)?;
                let compact: String = text.split_whitespace().collect();
                match base64::engine::general_purpose::STANDARD.decode(compact) {
                    Ok(bytes) => Some((Bytes::from(bytes), Some("application/octet-stream"))),
                    Err(err) => {
                        self.problem(
                            &at,
                            format!("not valid base64: {err}"),
                            "use the standard alphabet with `=` padding (`base64 -w0 FILE`)",
                        );
                        None
                    }
                }
            }
        }
    }
}
