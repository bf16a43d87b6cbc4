//! A `response` (a rule's or the `default`): status, headers and body,
//! encoded once, with the content type a body form implies.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_yaml::Value;

use super::{Checker, HEADER_NAME_FIX, describe, join};
use crate::provision::Response;
use crate::template::{BodyTemplate, ResponseTemplate, is_template, json_leaves};

/// A body as read: its bytes, the content type it implies, and what a
/// template would render from.
pub(super) struct Body {
    bytes: Bytes,
    content_type: Option<&'static str>,
    source: Source,
}

enum Source {
    Text(String),
    Json(serde_json::Value),
    Binary,
}

impl Checker {
    pub(super) fn response(&mut self, at: &str, value: &Value) -> Option<Response> {
        let fields = self.map(
            at,
            value,
            Some(&[
                "status", "headers", "body", "template", "delay", "fault", "script",
            ]),
        )?;
        let before = self.problems.len();
        let template = match fields.get("template") {
            Some(v) => self.boolean(&join(at, "template"), v).unwrap_or(false),
            None => false,
        };
        let mut templated = ResponseTemplate::default();
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
                if template && is_template(&text) {
                    if self.compile(&at, &text) {
                        templated.headers.push((name, at));
                    }
                    continue;
                }
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
        let Body {
            bytes: body,
            content_type,
            source,
        } = match fields.get("body") {
            None => Body {
                bytes: Bytes::new(),
                content_type: None,
                source: Source::Binary,
            },
            Some(v) => self.body(&join(at, "body"), v)?,
        };
        if template {
            templated.body = self.body_template(&join(at, "body"), value, source);
        }
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
        let delay = fields
            .get("delay")
            .and_then(|v| self.delay(&join(at, "delay"), v));
        let fault = fields
            .get("fault")
            .and_then(|v| self.fault(&join(at, "fault"), v));
        let script = fields
            .get("script")
            .and_then(|v| self.script(&join(at, "script"), v));
        if fields.get("script").is_some() {
            for key in ["status", "headers", "body", "template"] {
                if fields.get(key).is_some() {
                    self.problem(
                        &join(at, key),
                        format!("a response with a `script` cannot have `{key}`"),
                        "the script makes the whole response: return it from the script",
                    );
                }
            }
        }
        if self.problems.len() != before {
            return None;
        }
        let template =
            (!templated.headers.is_empty() || templated.body.is_some()).then_some(templated);
        Some(Response {
            status: status?,
            headers,
            body,
            template,
            delay,
            fault,
            script,
        })
    }

    /// Compiles one template; false (and a problem) on a syntax error.
    fn compile(&mut self, at: &str, source: &str) -> bool {
        match self.templates.add(at, source) {
            Ok(()) => {
                self.templated = true;
                true
            }
            Err(message) => {
                self.problem(at, format!("not a valid template: {message}"), TEMPLATE_FIX);
                false
            }
        }
    }

    /// The templates of a body: the whole text, or a JSON body's string
    /// leaves; `at` is the body's field path.
    fn body_template(
        &mut self,
        at: &str,
        response: &Value,
        source: Source,
    ) -> Option<BodyTemplate> {
        // A bare string is the body; `{text: …}` or `{json: …}` is a field deeper.
        let short = matches!(response.get("body"), Some(Value::String(_)));
        match source {
            Source::Text(text) if is_template(&text) => {
                let at = if short {
                    at.to_owned()
                } else {
                    join(at, "text")
                };
                self.compile(&at, &text).then_some(BodyTemplate::Text(at))
            }
            Source::Json(json) => {
                let mut found = Vec::new();
                json_leaves(&join(at, "json"), &json, &mut found);
                let mut leaves = Vec::with_capacity(found.len());
                for (pointer, at, text) in found {
                    if self.compile(&at, &text) {
                        leaves.push((pointer, at));
                    }
                }
                (!leaves.is_empty()).then_some(BodyTemplate::Json {
                    skeleton: json,
                    leaves,
                })
            }
            _ => None,
        }
    }

    /// The body's bytes and the content type it implies.
    pub(super) fn body(&mut self, at: &str, value: &Value) -> Option<Body> {
        if let Value::String(text) = value {
            return Some(Body {
                bytes: Bytes::from(text.clone()),
                content_type: Some(TEXT),
                source: Source::Text(text.clone()),
            });
        }
        let (how, v) = self.one_of(at, value, &["text", "json", "base64"])?;
        let at = join(at, how);
        match how {
            "text" => {
                let text = self.text(&at, v)?;
                Some(Body {
                    bytes: Bytes::from(text.clone()),
                    content_type: Some(TEXT),
                    source: Source::Text(text),
                })
            }
            "json" => {
                let json = self.json(&at, v)?;
                let bytes = serde_json::to_vec(&json).expect("a JSON value serialises");
                Some(Body {
                    bytes: Bytes::from(bytes),
                    content_type: Some("application/json"),
                    source: Source::Json(json),
                })
            }
            _ => {
                let text = self.string(&at, v)?;
                let compact: String = text.split_whitespace().collect();
                match base64::engine::general_purpose::STANDARD.decode(compact) {
                    Ok(bytes) => Some(Body {
                        bytes: Bytes::from(bytes),
                        content_type: Some("application/octet-stream"),
                        source: Source::Binary,
                    }),
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

const TEXT: &str = "text/plain; charset=utf-8";

const TEMPLATE_FIX: &str = "templates use Jinja syntax: `{{ request.params.id }}`, `{% if request.query.page %}…{% endif %}` (see docs/mock.md, Templates)";
