//! A request's query, headers and cookies as name → first value maps, as
//! templates and scripts see them (matching looks at every value instead).

use std::collections::BTreeMap;

use http::HeaderMap;
use http::header::COOKIE;

use crate::matcher::decode;

/// Query parameters, decoded (`%20`, `+`); the first value of each name.
pub(crate) fn query(query: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(decode(key).into_owned())
            .or_insert_with(|| decode(value).into_owned());
    }
    out
}

/// Headers by lower-case name; the first value of each (invalid UTF-8
/// replaced).
pub(crate) fn headers(headers: &HeaderMap) -> BTreeMap<&str, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        out.entry(name.as_str())
            .or_insert_with(|| String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out
}

/// Cookies from every `Cookie` header; the first value of each name.
pub(crate) fn cookies(headers: &HeaderMap) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for pair in headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
    {
        if let Some((name, value)) = pair.trim().split_once('=') {
            out.entry(name.trim())
                .or_insert_with(|| value.trim().trim_matches('"'));
        }
    }
    out
}
