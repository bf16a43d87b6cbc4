//! Whether a request meets a rule's conditions. Cheap tests first (method,
//! path), the body last; the body is read as JSON at most once a request,
//! whatever the number of rules asking. No allocation unless a query
//! parameter is percent-encoded or a path template captures parameters.

use std::borrow::Cow;
use std::cell::OnceCell;

use http::HeaderMap;
use http::header::COOKIE;
use serde_json::Value as Json;

use crate::answer::Request;
use crate::provision::{BodyMatch, JsonTest, PathMatch, RequestMatch, Segment, ValueMatch};

/// A request with what is worked out from it on demand, once.
pub(crate) struct Incoming<'r> {
    pub(crate) req: &'r Request<'r>,
    json: OnceCell<Option<Json>>,
}

impl<'r> Incoming<'r> {
    pub(crate) fn new(req: &'r Request<'r>) -> Self {
        Self {
            req,
            json: OnceCell::new(),
        }
    }

    pub(crate) fn json(&self) -> Option<&Json> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.req.body).ok())
            .as_ref()
    }
}

/// Path parameters found while matching: names from the provision, values
/// from the request path.
pub(crate) type Params<'p> = Vec<(&'p str, String)>;

impl RequestMatch {
    /// Whether the request meets every condition. On `true`, `params` holds
    /// the path parameters; on `false`, it is left as it was.
    pub(crate) fn matches<'p>(&'p self, incoming: &Incoming<'_>, params: &mut Params<'p>) -> bool {
        let req = incoming.req;
        if !self.methods.is_empty() && !self.methods.contains(req.method) {
            return false;
        }
        let before = params.len();
        if let Some(path) = &self.path
            && !path.matches(req.path, params)
        {
            return false;
        }
        let rest = self.headers.iter().all(|(name, test)| match test {
            ValueMatch::Present(want) => req.headers.contains_key(name) == *want,
            _ => test.holds(
                req.headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(Cow::Borrowed),
            ),
        }) && self
            .query
            .iter()
            .all(|(name, test)| test.holds(query_values(req.query, name)))
            && self
                .cookies
                .iter()
                .all(|(name, test)| test.holds(cookie_values(req.headers, name)))
            && self.body.iter().all(|test| test.holds(incoming));
        if !rest {
            params.truncate(before);
        }
        rest
    }
}

impl PathMatch {
    fn matches<'p>(&'p self, path: &str, params: &mut Params<'p>) -> bool {
        match self {
            PathMatch::Exact(exact) => path == exact,
            PathMatch::Prefix(prefix) => {
                path.starts_with(prefix.as_str())
                    && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
            }
            PathMatch::Template(segments) => {
                let Some(rest) = path.strip_prefix('/') else {
                    return false;
                };
                let before = params.len();
                let mut parts = rest.split('/');
                for segment in segments {
                    let ok = match (segment, parts.next()) {
                        (Segment::Literal(literal), Some(part)) => part == literal,
                        (Segment::Param(name), Some(part)) if !part.is_empty() => {
                            params.push((name, part.to_owned()));
                            true
                        }
                        _ => false,
                    };
                    if !ok {
                        params.truncate(before);
                        return false;
                    }
                }
                if parts.next().is_some() {
                    params.truncate(before);
                    return false;
                }
                true
            }
            PathMatch::Regex {
                regex,
                named: false,
            } => regex.is_match(path),
            PathMatch::Regex { regex, named: true } => {
                let Some(captures) = regex.captures(path) else {
                    return false;
                };
                for name in regex.capture_names().flatten() {
                    if let Some(found) = captures.name(name) {
                        params.push((name, found.as_str().to_owned()));
                    }
                }
                true
            }
        }
    }
}

impl ValueMatch {
    /// Over every value a header, parameter or cookie has: `present` asks
    /// whether there is one, the others whether one passes.
    fn holds<'a>(&self, mut values: impl Iterator<Item = Cow<'a, str>>) -> bool {
        match self {
            ValueMatch::Present(want) => values.next().is_some() == *want,
            ValueMatch::Equals(text) => values.any(|v| v == text.as_str()),
            ValueMatch::Contains(text) => values.any(|v| v.contains(text.as_str())),
            ValueMatch::Regex(regex) => values.any(|v| regex.is_match(&v)),
        }
    }
}

impl BodyMatch {
    fn holds(&self, incoming: &Incoming<'_>) -> bool {
        match self {
            BodyMatch::Json(want) => incoming.json().is_some_and(|got| json_eq(got, want)),
            BodyMatch::Contains(regex) | BodyMatch::Regex(regex) => {
                regex.is_match(incoming.req.body)
            }
            BodyMatch::JsonPath { path, test } => {
                let node = incoming.json().and_then(|doc| path.select(doc));
                match (test, node) {
                    (JsonTest::Present(want), node) => node.is_some() == *want,
                    (_, None) => false,
                    (JsonTest::Equals(want), Some(node)) => json_eq(node, want),
                    (JsonTest::Contains(text), Some(node)) => {
                        node_text(node).contains(text.as_str())
                    }
                    (JsonTest::Regex(regex), Some(node)) => regex.is_match(&node_text(node)),
                }
            }
        }
    }
}

/// A string node's text; any other node's JSON.
fn node_text(node: &Json) -> Cow<'_, str> {
    match node {
        Json::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            x == y || (x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64()
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The values of query parameter `name`, decoded (`%20`, `+`).
fn query_values<'a>(query: &'a str, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> {
    query.split('&').filter_map(move |pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (!pair.is_empty() && decode(key) == name).then(|| decode(value))
    })
}

/// The values of cookie `name` across every `Cookie` header.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (key, value) = pair.trim().split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (key.trim() == name).then_some(Cow::Borrowed(value))
        })
}

/// `application/x-www-form-urlencoded` decoding; borrows when there is
/// nothing to decode.
pub(crate) fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                out.push(hex(bytes[i + 1]).unwrap_or(0) * 16 + hex(bytes[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(decode("a+b%20c%2Fd"), "a b c/d");
        assert_eq!(decode("plain"), "plain");
        assert!(matches!(decode("plain"), Cow::Borrowed(_)));
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%41"), "A");
    }

    #[test]
    fn finds_query_values() {
        let all: Vec<_> = query_values("a=1&b=2&a=x%20y&&c", "a").collect();
        assert_eq!(all, ["1", "x y"]);
        assert_eq!(
            query_values("a=1&b=2&a=x%20y&&c", "c").collect::<Vec<_>>(),
            [""]
        );
        assert_eq!(query_values("", "a").count(), 0);
        assert_eq!(query_values("a%5B%5D=1", "a[]").collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn finds_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; session=\"xyz\"".parse().unwrap());
        headers.append(COOKIE, "b=2;a=3".parse().unwrap());
        assert_eq!(cookie_values(&headers, "a").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(
            cookie_values(&headers, "session").collect::<Vec<_>>(),
            ["xyz"]
        );
        assert_eq!(cookie_values(&headers, "c").count(), 0);
    }

    #[test]
    fn compares_numbers_loosely() {
        use serde_json::json;
        assert!(json_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!("1"), &json!(1)));
    }
}
