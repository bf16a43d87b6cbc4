//! Gateway API's URLRewrite path and RequestRedirect, applied to one request.

use gatehouse_api::config::MatchConfig;
use gatehouse_api::route::{PathMatchType, PathModifier, PathModifierType, RequestRedirect};
use gatehouse_api::table::normalize_prefix;
use http::{HeaderValue, Response, StatusCode, header};

use crate::support::body::{self, Body};

/// The new path for `path` under a path modifier; the matched prefix is
/// replaced for `ReplacePrefixMatch` (on segment boundaries, as it matched).
pub(crate) fn rewrite_path(modifier: &PathModifier, matched: &MatchConfig, path: &str) -> String {
    match modifier.kind {
        PathModifierType::ReplaceFullPath => modifier
            .replace_full_path
            .clone()
            .unwrap_or_else(|| "/".into()),
        PathModifierType::ReplacePrefixMatch => {
            let replacement = modifier.replace_prefix_match.as_deref().unwrap_or("/");
            let prefix = match matched.path.kind {
                PathMatchType::PathPrefix => normalize_prefix(&matched.path.value),
                _ => "",
            };
            let rest = path.get(prefix.len()..).unwrap_or("");
            let mut out = replacement.trim_end_matches('/').to_owned();
            if rest.is_empty() && replacement.ends_with('/') {
                out.push('/');
            }
            out.push_str(rest);
            if out.is_empty() {
                out.push('/');
            }
            out
        }
    }
}

/// The redirect response for a request to `host` (as sent, maybe with a port) at `path?query`.
pub(crate) fn redirect(
    rule: &RequestRedirect,
    matched: &MatchConfig,
    host: &str,
    path: &str,
    query: Option<&str>,
) -> Response<Body> {
    let (request_host, request_port) = split_port(host);
    let scheme = rule.scheme.as_deref().unwrap_or("http");
    let hostname = rule.hostname.as_deref().unwrap_or(request_host);
    // Gateway API: an explicit port; else the scheme's own port when the
    // scheme changes; else the port the request came to. Well-known ports are left out.
    let port = rule.port.or(if rule.scheme.is_some() {
        None
    } else {
        request_port
    });
    let default_port = if scheme == "https" { 443 } else { 80 };
    let new_path = match &rule.path {
        Some(modifier) => rewrite_path(modifier, matched, path),
        None => path.to_owned(),
    };
    let mut location = String::new();
    if hostname.is_empty() {
        // An HTTP/1.0 request without Host: no host to name. A reference
        // without one (RFC 9110 §10.2.2) keeps the client on the host it
        // reached, which is right unless the rule moves it elsewhere.
        if rule.scheme.is_some() || rule.port.is_some() {
            return body::plain(
                StatusCode::BAD_REQUEST,
                "this request names no host (no Host header), and the redirect changes scheme or port: send a Host header",
            );
        }
    } else {
        location.push_str(&format!("{scheme}://{hostname}"));
        if let Some(port) = port.filter(|p| *p != default_port) {
            location.push_str(&format!(":{port}"));
        }
    }
    location.push_str(&new_path);
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    let status = StatusCode::from_u16(rule.status_code.unwrap_or(302)).unwrap_or(StatusCode::FOUND);
    let mut response = Response::new(body::empty());
    *response.status_mut() = status;
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => body::plain(
            StatusCode::BAD_REQUEST,
            "the redirect target is not a valid URL",
        ),
    }
}

pub(crate) fn split_port(host: &str) -> (&str, Option<u16>) {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => match port.parse() {
            Ok(p) if !port.contains(']') => (name, Some(p)),
            _ => (host, None),
        },
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_api::route::PathMatch;

    fn prefix(value: &str) -> MatchConfig {
        MatchConfig {
            path: PathMatch {
                kind: PathMatchType::PathPrefix,
                value: value.into(),
            },
            method: None,
            headers: vec![],
            query_params: vec![],
        }
    }

    fn replace_prefix(with: &str) -> PathModifier {
        PathModifier {
            kind: PathModifierType::ReplacePrefixMatch,
            replace_full_path: None,
            replace_prefix_match: Some(with.into()),
        }
    }

    #[test]
    fn replace_prefix_match_follows_gateway_api_examples() {
        let cases = [
            ("/foo", "/foo/bar", "/xyz", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo/bar", "/xyz/", "/xyz/bar"),
            ("/foo", "/foo/", "/xyz", "/xyz/"),
            ("/foo", "/foo/bar", "/", "/bar"),
            ("/foo", "/foo", "/", "/"),
            ("/", "/a/b", "/api", "/api/a/b"),
        ];
        for (matched, path, with, want) in cases {
            assert_eq!(
                rewrite_path(&replace_prefix(with), &prefix(matched), path),
                want,
                "{matched} {path} {with}"
            );
        }
    }

    #[test]
    fn redirect_builds_location_by_gateway_api_port_rules() {
        let m = prefix("/");
        let loc = |r: &RequestRedirect, host: &str| {
            redirect(r, &m, host, "/a", Some("x=1")).headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned()
        };
        let https = RequestRedirect {
            scheme: Some("https".into()),
            status_code: Some(301),
            ..Default::default()
        };
        assert_eq!(loc(&https, "example.com:8080"), "https://example.com/a?x=1");
        assert_eq!(redirect(&https, &m, "h", "/", None).status(), 301);
        let same = RequestRedirect {
            hostname: Some("other.example".into()),
            ..Default::default()
        };
        assert_eq!(
            loc(&same, "example.com:8080"),
            "http://other.example:8080/a?x=1"
        );
        let port = RequestRedirect {
            port: Some(8443),
            scheme: Some("https".into()),
            ..Default::default()
        };
        assert_eq!(loc(&port, "example.com"), "https://example.com:8443/a?x=1");
        assert_eq!(
            redirect(&RequestRedirect::default(), &m, "h", "/", None).status(),
            302
        );
    }

    /// HTTP/1.0 requests may come without Host.
    #[test]
    fn without_a_host_the_location_names_none_or_the_redirect_is_refused() {
        let m = prefix("/");
        let same_host = RequestRedirect::default();
        let answer = redirect(&same_host, &m, "", "/a", Some("x=1"));
        assert_eq!(answer.headers()[header::LOCATION], "/a?x=1");
        let https = RequestRedirect {
            scheme: Some("https".into()),
            ..Default::default()
        };
        assert_eq!(redirect(&https, &m, "", "/a", None).status(), 400);
        let elsewhere = RequestRedirect {
            hostname: Some("other.example".into()),
            ..Default::default()
        };
        let answer = redirect(&elsewhere, &m, "", "/a", None);
        assert_eq!(answer.headers()[header::LOCATION], "http://other.example/a");
    }
}
