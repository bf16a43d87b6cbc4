//! What a request asks for, checked before any rule sees it: its host (RFC
//! 9112 §3.2) and its path, normalized as RFC 3986 §6.2.2 says. Rules then
//! match the resource the upstream will serve, however the client spelled
//! it: `/static/../admin`, `//admin` and `/%61dmin` are all `/admin`, as
//! with nginx's URI normalization and Envoy's `normalize_path` plus
//! `merge_slashes`. The normalized path is also what is forwarded, so the
//! backend serves the path the rule matched (Traefik's `sanitizePath`).
//!
//! An encoded slash, `%2F`, is no `/` by RFC 3986 §2.2, and APIs rely on
//! that (GitLab's `projects/group%2Fproject`, RabbitMQ's vhost `%2F`): by
//! default it is kept, and is part of its segment, never a separator
//! (Envoy's default, `KEEP_UNCHANGED`). `--escaped-slashes` can decode it
//! instead (for backends that would read it as `/` anyway), or refuse it.

use std::borrow::Cow;

use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, StatusCode, Uri, Version, header};

/// What `%2F` in a path becomes (Envoy's `path_with_escaped_slashes_action`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// Kept as `%2F`: part of its segment, matched and forwarded so.
    #[default]
    Keep,
    /// Read as `/`, then normalized with the rest of the path.
    Decode,
    /// Answered 400.
    Reject,
}

/// Why a request was refused with 400, in words for the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadTarget {
    MissingHost,
    ManyHosts,
    /// HTTP/2: `Host` names another host than `:authority`.
    TwoHosts,
    /// Not `host[:port]`: spaces, a path, user info.
    BadHost,
    NotAPath,
    Percent,
    EscapedSlash,
    Connect,
}

impl BadTarget {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            BadTarget::Connect => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn explain(&self) -> &'static str {
        match self {
            BadTarget::MissingHost => "an HTTP/1.1 request needs a Host header",
            BadTarget::ManyHosts => "the request has more than one Host header",
            BadTarget::TwoHosts => "the Host header names another host than :authority",
            BadTarget::BadHost => "the host is not `host[:port]`",
            BadTarget::Connect => "CONNECT tunnels are not served here",
            BadTarget::NotAPath => {
                "the request target must be a path starting with `/` (or an absolute URL)"
            }
            BadTarget::Percent => {
                "the path has a `%` not followed by two hexadecimal digits: encode `%` as `%25`"
            }
            BadTarget::EscapedSlash => {
                "the path has an encoded slash (`%2F`), which this proxy refuses"
            }
        }
    }
}

/// Checks `req`'s host and target and normalizes its path in place.
/// Returns the host the request is for: the target's authority when it has
/// one (absolute form, HTTP/2's `:authority`), else the Host header.
pub(crate) fn check<B>(
    req: &mut Request<B>,
    slashes: EscapedSlashes,
) -> Result<Option<HeaderValue>, BadTarget> {
    if req.method() == Method::CONNECT {
        return Err(BadTarget::Connect);
    }
    let host = host(req)?;
    let path = req.uri().path();
    if path == "*" && req.method() == Method::OPTIONS {
        return Ok(host);
    }
    if !path.starts_with('/') {
        return Err(BadTarget::NotAPath);
    }
    if let Cow::Owned(normal) = normalize(path, slashes)? {
        set_path(req, &normal);
    } else if !req
        .uri()
        .path_and_query()
        .is_none_or(|target| target.as_str().starts_with('/'))
    {
        // An absolute target with an empty path (`http://b.test?x=1`):
        // its path is `/` (RFC 9112 §3.2.1), and forwarded in origin form
        // it must say so, or the request line would read `GET ?x=1`.
        set_path(req, "/");
    }
    Ok(host)
}

fn host<B>(req: &Request<B>) -> Result<Option<HeaderValue>, BadTarget> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(BadTarget::ManyHosts);
    }
    // RFC 9112 §3.2.2 (and RFC 9113 §8.3.1): the target's authority wins;
    // in HTTP/2 a Host that disagrees with it makes the request malformed.
    if let Some(authority) = req.uri().authority() {
        if authority.as_str().contains('@') {
            return Err(BadTarget::BadHost);
        }
        if req.version() == Version::HTTP_2
            && header.is_some_and(|h| {
                !h.as_bytes()
                    .eq_ignore_ascii_case(authority.as_str().as_bytes())
            })
        {
            return Err(BadTarget::TwoHosts);
        }
        return Ok(HeaderValue::from_str(authority.as_str()).ok());
    }
    if header.is_none() && req.version() == Version::HTTP_11 {
        return Err(BadTarget::MissingHost);
    }
    // A Host is `host[:port]`, nothing more (RFC 9110 §7.2).
    if let Some(host) = header
        && !is_authority(host.as_bytes())
    {
        return Err(BadTarget::BadHost);
    }
    Ok(header.cloned())
}

fn is_authority(host: &[u8]) -> bool {
    !host.is_empty()
        && !host.contains(&b'@')
        && http::uri::Authority::try_from(host).is_ok_and(|a| a.as_str().len() == host.len())
}

/// The path with unreserved characters decoded (other escapes keep their
/// meaning, upper-cased; raw bytes beyond ASCII are encoded), `%2F` as
/// `slashes` says, runs of `/` merged, and `.` and `..` segments resolved
/// (never above `/`). A kept `%2F` is part of its segment: `..%2Fadmin` is
/// a segment of that name, not a way up.
/// Borrowed when the path is already normal, as nearly every one is.
pub(crate) fn normalize(path: &str, slashes: EscapedSlashes) -> Result<Cow<'_, str>, BadTarget> {
    if is_normal(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path.as_bytes(), slashes)?;
    let mut segments: Vec<&str> = Vec::new();
    let mut ends_open = false;
    for segment in decoded.split('/').skip(1) {
        ends_open = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut normal = String::with_capacity(decoded.len());
    for segment in &segments {
        normal.push('/');
        normal.push_str(segment);
    }
    if ends_open || segments.is_empty() {
        normal.push('/');
    }
    Ok(Cow::Owned(normal))
}

/// No `%`, no `//`, no `.` or `..` segment: one pass, as it runs on
/// every request.
fn is_normal(path: &[u8]) -> bool {
    let ends_segment = |at: usize| matches!(path.get(at), None | Some(b'/'));
    for (at, &byte) in path.iter().enumerate() {
        match byte {
            b'%' | 0x80.. => return false,
            b'/' => match path.get(at + 1) {
                Some(b'/') => return false,
                Some(b'.') if ends_segment(at + 2) => return false,
                Some(b'.') if path.get(at + 2) == Some(&b'.') && ends_segment(at + 3) => {
                    return false;
                }
                _ => {}
            },
            _ => {}
        }
    }
    true
}

fn decode_unreserved(path: &[u8], slashes: EscapedSlashes) -> Result<String, BadTarget> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte >= 0x80 {
            out.extend_from_slice(format!("%{byte:02X}").as_bytes());
            continue;
        }
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        let (Some(high), Some(low)) = (
            rest.first().and_then(|&b| hex(b)),
            rest.get(1).and_then(|&b| hex(b)),
        ) else {
            return Err(BadTarget::Percent);
        };
        rest = &rest[2..];
        let value = high << 4 | low;
        let decoded = match value {
            b'/' if slashes == EscapedSlashes::Reject => return Err(BadTarget::EscapedSlash),
            b'/' => slashes == EscapedSlashes::Decode,
            _ => value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~'),
        };
        if decoded {
            out.push(value);
        } else {
            out.push(b'%');
            out.extend_from_slice(format!("{value:02X}").as_bytes());
        }
    }
    // Only ASCII went in: the URI's own bytes and decoded ASCII letters.
    Ok(String::from_utf8(out).expect("a path is ASCII"))
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Replaces the path of `req`'s target, keeping its query (and, for an
/// absolute target, its scheme and authority).
pub(crate) fn set_path<B>(req: &mut Request<B>, path: &str) {
    let with_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = PathAndQuery::try_from(with_query) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(path: &str) -> String {
        normalize(path, EscapedSlashes::Keep).unwrap().into_owned()
    }

    fn decoded(path: &str) -> String {
        normalize(path, EscapedSlashes::Decode)
            .unwrap()
            .into_owned()
    }

    #[test]
    fn an_absolute_target_with_an_empty_path_gets_slash() {
        for (target, forwarded) in [
            ("http://b.test?x=1", "/?x=1"),
            ("http://b.test", "/"),
            ("http://b.test/a?x", "/a?x"),
        ] {
            let mut req = Request::builder()
                .uri(target)
                .version(Version::HTTP_11)
                .body(())
                .unwrap();
            check(&mut req, EscapedSlashes::Keep).unwrap();
            let sent = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            assert_eq!(sent, forwarded, "{target}");
        }
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for path in ["/", "/a", "/a/b/", "/a.b/c..d/.e", "/..a", "/a/b.."] {
            let normal = normalize(path, EscapedSlashes::Keep);
            assert!(matches!(normal, Ok(Cow::Borrowed(_))), "{path}");
        }
    }

    #[test]
    fn dot_segments_resolve_as_rfc_3986_says() {
        assert_eq!(normal("/static/../admin/users"), "/admin/users");
        assert_eq!(normal("/a/./b"), "/a/b");
        assert_eq!(normal("/a/b/.."), "/a/");
        assert_eq!(normal("/a/b/."), "/a/b/");
        assert_eq!(normal("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(normal("/.."), "/");
        assert_eq!(normal("/."), "/");
    }

    #[test]
    fn slashes_merge() {
        assert_eq!(normal("//admin/users"), "/admin/users");
        assert_eq!(normal("/a///b//"), "/a/b/");
        assert_eq!(normal("//"), "/");
    }

    #[test]
    fn unreserved_escapes_decode_and_others_are_upper_cased() {
        assert_eq!(normal("/%61dmin/users"), "/admin/users");
        assert_eq!(normal("/static/%2e%2e/admin"), "/admin");
        assert_eq!(normal("/a%5Cb"), "/a%5Cb");
        assert_eq!(normal("/a%20b%7e"), "/a%20b~");
        assert_eq!(normal("/caf%C3%A9"), "/caf%C3%A9");
    }

    #[test]
    fn an_encoded_slash_is_kept_in_its_segment_decoded_or_refused_as_asked() {
        // Kept: one segment, whatever dots it holds.
        assert_eq!(normal("/api/vhosts/%2F/queues"), "/api/vhosts/%2F/queues");
        assert_eq!(
            normal("/projects/group%2fproject"),
            "/projects/group%2Fproject"
        );
        assert_eq!(normal("/public/..%2Fadmin/x"), "/public/..%2Fadmin/x");
        assert_eq!(normal("/public/%2e%2e%2fadmin"), "/public/..%2Fadmin");
        // Decoded: a `/` like any other.
        assert_eq!(decoded("/a%2fb"), "/a/b");
        assert_eq!(decoded("/public/..%2Fadmin/x"), "/admin/x");
        assert_eq!(decoded("/public/%2e%2e%2fadmin"), "/admin");
        assert_eq!(
            normalize("/a%2Fb", EscapedSlashes::Reject),
            Err(BadTarget::EscapedSlash)
        );
        assert_eq!(
            normalize("/a%5Cb", EscapedSlashes::Reject).unwrap(),
            "/a%5Cb"
        );
    }

    #[test]
    fn broken_escapes_are_refused() {
        for path in ["/a%", "/a%2", "/a%zz", "/%g0"] {
            let normal = normalize(path, EscapedSlashes::Keep);
            assert_eq!(normal, Err(BadTarget::Percent), "{path}");
        }
    }

    fn request(target: &str, version: Version, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::builder().uri(target).version(version);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn hosts_follow_rfc_9112() {
        let mut one = request("/x", Version::HTTP_11, &["shop.test"]);
        assert_eq!(
            check(&mut one, EscapedSlashes::Keep).unwrap().unwrap(),
            "shop.test"
        );
        let mut none = request("/x", Version::HTTP_11, &[]);
        assert_eq!(
            check(&mut none, EscapedSlashes::Keep),
            Err(BadTarget::MissingHost)
        );
        let mut old = request("/x", Version::HTTP_10, &[]);
        assert_eq!(check(&mut old, EscapedSlashes::Keep), Ok(None));
        let mut two = request("/x", Version::HTTP_11, &["shop.test", "evil.test"]);
        assert_eq!(
            check(&mut two, EscapedSlashes::Keep),
            Err(BadTarget::ManyHosts)
        );
        let mut absolute = request("http://admin.test/x", Version::HTTP_11, &["public.test"]);
        assert_eq!(
            check(&mut absolute, EscapedSlashes::Keep).unwrap().unwrap(),
            "admin.test"
        );
        let mut h2 = request("http://admin.test/x", Version::HTTP_2, &["Admin.Test"]);
        assert_eq!(
            check(&mut h2, EscapedSlashes::Keep).unwrap().unwrap(),
            "admin.test"
        );
        let mut h2 = request("http://admin.test/x", Version::HTTP_2, &["public.test"]);
        assert_eq!(
            check(&mut h2, EscapedSlashes::Keep),
            Err(BadTarget::TwoHosts)
        );
        let mut user = request("http://user@admin.test/x", Version::HTTP_11, &[]);
        assert_eq!(
            check(&mut user, EscapedSlashes::Keep),
            Err(BadTarget::BadHost)
        );
        let mut spaced = request("/x", Version::HTTP_11, &["a b/c"]);
        assert_eq!(
            check(&mut spaced, EscapedSlashes::Keep),
            Err(BadTarget::BadHost)
        );
        let mut ported = request("/x", Version::HTTP_11, &["shop.test:8080"]);
        assert!(check(&mut ported, EscapedSlashes::Keep).is_ok());
    }

    #[test]
    fn targets_must_be_paths() {
        let mut bare = request("x", Version::HTTP_11, &["shop.test"]);
        assert_eq!(
            check(&mut bare, EscapedSlashes::Keep),
            Err(BadTarget::NotAPath)
        );
        let mut star = request("*", Version::HTTP_11, &["shop.test"]);
        *star.method_mut() = Method::OPTIONS;
        assert!(check(&mut star, EscapedSlashes::Keep).is_ok());
        let mut tunnel = request("shop.test:443", Version::HTTP_11, &["shop.test:443"]);
        *tunnel.method_mut() = Method::CONNECT;
        assert_eq!(
            check(&mut tunnel, EscapedSlashes::Keep),
            Err(BadTarget::Connect)
        );
        assert_eq!(BadTarget::Connect.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_normal_path_replaces_the_target_and_keeps_the_query() {
        let mut req = request("/static/../admin?x=1&y=%2e", Version::HTTP_11, &["a"]);
        check(&mut req, EscapedSlashes::Keep).unwrap();
        assert_eq!(req.uri(), "/admin?x=1&y=%2e");
    }
}
