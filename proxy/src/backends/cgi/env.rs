//! The CGI environment (RFC 3875 §4.1) of one request. Only what is built
//! here reaches a program: the process starts with an empty environment
//! (`process.rs`), so the proxy's own (its admin token, a cloud's
//! credentials) never does.
//!
//! - `SCRIPT_NAME` is the rule's matched `PathPrefix`, `PATH_INFO` the
//!   path below it, percent-decoded as Apache decodes it;
//! - `REMOTE_USER` and `AUTH_TYPE=Basic` come from `X-Forwarded-User`,
//!   which only the proxy's access check sets (a client's own is always
//!   removed: `route/client_headers.rs`);
//! - request headers become `HTTP_*`, except `Authorization` and
//!   `Proxy-Authorization` (a password is no program's business),
//!   `Content-Type` and `Content-Length` (their own variables), and names
//!   with `_`, which would pass for a `-` (Apache drops them too);
//! - `GIT_PROTOCOL` from `Git-Protocol`, for git's protocol v2.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use http::{HeaderMap, Method, Uri, Version, header};

use crate::route::client_headers::X_FORWARDED_USER;

/// A safe `PATH` for programs: the proxy's own is not passed on.
pub(crate) const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What the environment is built from, besides the request's head.
pub(crate) struct Site<'a> {
    /// The rule's matched path prefix, when it matched one.
    pub(crate) mount: Option<&'a str>,
    /// The Host the client sent.
    pub(crate) host: Option<&'a str>,
    pub(crate) scheme: &'static str,
    pub(crate) remote_addr: String,
}

/// One environment: names and values, in the order set.
pub(crate) type Env = Vec<(OsString, OsString)>;

/// The request's CGI variables, or why it cannot be given to a program
/// (400: a path that decodes to NUL).
pub(crate) fn cgi_env(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    site: &Site<'_>,
) -> Result<Env, &'static str> {
    let mut env = Env::with_capacity(24 + headers.len());
    let mut set = |name: &str, value: Vec<u8>| env.push((name.into(), OsString::from_vec(value)));
    let (script_name, path_info) = split_path(uri.path(), site.mount);
    let path_info = percent_decode(path_info);
    if path_info.contains(&0) {
        return Err("the path decodes to a NUL byte, which no program can be given");
    }
    set("GATEWAY_INTERFACE", b"CGI/1.1".to_vec());
    set("SERVER_SOFTWARE", b"gatehouse".to_vec());
    set("SERVER_PROTOCOL", protocol(version).into());
    let (server_name, server_port) = server_name_and_port(site.host, site.scheme);
    set("SERVER_NAME", server_name.into());
    set("SERVER_PORT", server_port.into());
    set("REQUEST_METHOD", method.as_str().into());
    set("REQUEST_SCHEME", site.scheme.into());
    set("SCRIPT_NAME", script_name.into());
    set("PATH_INFO", path_info);
    set("QUERY_STRING", uri.query().unwrap_or("").into());
    let request_uri = uri.path_and_query().map_or("/", |pq| pq.as_str());
    set("REQUEST_URI", request_uri.into());
    set("REMOTE_ADDR", site.remote_addr.clone().into());
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        set("CONTENT_TYPE", value.as_bytes().to_vec());
    }
    if let Some(value) = headers.get(header::CONTENT_LENGTH) {
        set("CONTENT_LENGTH", value.as_bytes().to_vec());
    }
    if let Some(user) = headers.get(&X_FORWARDED_USER) {
        set("REMOTE_USER", user.as_bytes().to_vec());
        set("AUTH_TYPE", b"Basic".to_vec());
    }
    if let Some(value) = headers.get("git-protocol") {
        set("GIT_PROTOCOL", value.as_bytes().to_vec());
    }
    for name in headers.keys() {
        let skipped = name == header::AUTHORIZATION
            || name == header::PROXY_AUTHORIZATION
            || name == header::CONTENT_TYPE
            || name == header::CONTENT_LENGTH
            || name.as_str().contains('_');
        if skipped {
            continue;
        }
        let mut value = Vec::new();
        for (i, line) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                value.extend_from_slice(b", ");
            }
            value.extend_from_slice(line.as_bytes());
        }
        let var: String = name
            .as_str()
            .chars()
            .map(|c| match c {
                '-' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        set(&format!("HTTP_{var}"), value);
    }
    set("PATH", SAFE_PATH.into());
    Ok(env)
}

/// `SCRIPT_NAME` and the still-encoded `PATH_INFO`: the mount (without a
/// trailing `/`) and what is below it; without a mount, the whole path
/// is the script's.
fn split_path<'p>(path: &'p str, mount: Option<&str>) -> (&'p str, &'p str) {
    let Some(mount) = mount else {
        return (path, "");
    };
    let mount = mount.trim_end_matches('/');
    match path.strip_prefix(mount) {
        // Prefixes match on segment boundaries: the rest starts with `/`.
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (&path[..mount.len()], rest),
        _ => ("", path),
    }
}

/// `%XX` decoded; a `%` not followed by two hex digits is kept as it is.
pub(crate) fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let Some(hi) = bytes.get(i + 1).and_then(|&b| hex(b))
            && let Some(lo) = bytes.get(i + 2).and_then(|&b| hex(b))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// From the Host: its name, and its port or the scheme's.
fn server_name_and_port(host: Option<&str>, scheme: &str) -> (String, String) {
    let default_port = if scheme == "https" { "443" } else { "80" };
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return ("localhost".to_owned(), default_port.to_owned());
    };
    // `[::1]:8080`, `example.com:8080`, `example.com`.
    let (name, port) = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => (&host[..colon], &host[colon + 1..]),
        _ => (host, default_port),
    };
    (name.to_owned(), port.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(uri: &str, mount: Option<&str>, headers: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let site = Site {
            mount,
            host: Some("git.example:8080"),
            scheme: "http",
            remote_addr: "192.0.2.1".into(),
        };
        let uri: Uri = uri.parse().unwrap();
        cgi_env(&Method::POST, &uri, Version::HTTP_11, &map, &site)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    fn get<'e>(env: &'e [(String, String)], name: &str) -> Option<&'e str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_request_in_rfc_3875_variables() {
        let env = env_of(
            "/git/team%20a/repo.git/info/refs?service=git-upload-pack",
            Some("/git/"),
            &[
                ("content-type", "application/x-git-upload-pack-request"),
                ("content-length", "12"),
                ("x-forwarded-user", "alice"),
                ("git-protocol", "version=2"),
                ("authorization", "Basic c2VjcmV0"),
                ("accept", "a"),
                ("accept", "b"),
            ],
        );
        assert_eq!(get(&env, "GATEWAY_INTERFACE"), Some("CGI/1.1"));
        assert_eq!(get(&env, "SCRIPT_NAME"), Some("/git"));
        assert_eq!(get(&env, "PATH_INFO"), Some("/team a/repo.git/info/refs"));
        assert_eq!(get(&env, "QUERY_STRING"), Some("service=git-upload-pack"));
        assert_eq!(get(&env, "SERVER_NAME"), Some("git.example"));
        assert_eq!(get(&env, "SERVER_PORT"), Some("8080"));
        assert_eq!(get(&env, "SERVER_PROTOCOL"), Some("HTTP/1.1"));
        assert_eq!(get(&env, "REQUEST_METHOD"), Some("POST"));
        assert_eq!(get(&env, "REMOTE_USER"), Some("alice"));
        assert_eq!(get(&env, "AUTH_TYPE"), Some("Basic"));
        assert_eq!(get(&env, "CONTENT_LENGTH"), Some("12"));
        assert_eq!(get(&env, "GIT_PROTOCOL"), Some("version=2"));
        assert_eq!(get(&env, "HTTP_ACCEPT"), Some("a, b"));
        assert_eq!(get(&env, "HTTP_AUTHORIZATION"), None);
        assert_eq!(get(&env, "HTTP_CONTENT_LENGTH"), None);
        assert_eq!(get(&env, "PATH"), Some(SAFE_PATH));
    }

    #[test]
    fn without_a_user_or_a_mount() {
        let env = env_of("/cgi/run", None, &[]);
        assert_eq!(get(&env, "REMOTE_USER"), None);
        assert_eq!(get(&env, "AUTH_TYPE"), None);
        assert_eq!(get(&env, "SCRIPT_NAME"), Some("/cgi/run"));
        assert_eq!(get(&env, "PATH_INFO"), Some(""));
        let env = env_of("/cgi", Some("/cgi"), &[]);
        assert_eq!(get(&env, "SCRIPT_NAME"), Some("/cgi"));
        assert_eq!(get(&env, "PATH_INFO"), Some(""));
    }

    #[test]
    fn a_nul_in_the_path_is_refused() {
        let uri: Uri = "/a/%00b".parse().unwrap();
        let site = Site {
            mount: Some("/a"),
            host: None,
            scheme: "http",
            remote_addr: "::1".into(),
        };
        assert!(
            cgi_env(
                &Method::GET,
                &uri,
                Version::HTTP_11,
                &HeaderMap::new(),
                &site
            )
            .is_err()
        );
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            server_name_and_port(Some("[::1]:81"), "http"),
            ("[::1]".into(), "81".into())
        );
        assert_eq!(
            server_name_and_port(Some("[::1]"), "https"),
            ("[::1]".into(), "443".into())
        );
        assert_eq!(
            server_name_and_port(Some("a.b"), "http"),
            ("a.b".into(), "80".into())
        );
    }
}
