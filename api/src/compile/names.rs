//! Checks for the names users write: hostnames, header names and values, paths.

/// A DNS name, optionally with one leading `*.` label when `wildcard` is allowed.
pub(super) fn check_hostname(host: &str, wildcard: bool) -> Result<(), String> {
    let name = match host.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        Some(_) => {
            return Err(format!(
                "`{host}`: a wildcard is not allowed here; give one host name"
            ));
        }
        None => host,
    };
    if name.is_empty() || name.len() > 253 {
        return Err(format!(
            "`{host}` is not a host name: give a DNS name such as `app.example.com`"
        ));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "`{host}` is an IP address: hostnames are DNS names (Gateway API allows no IPs); leave `hostnames` out to serve every host, IPs included"
        ));
    }
    if name.contains(':') {
        return Err(format!(
            "`{host}` has a port: hostnames match the Host header without its port, so drop `:{}`",
            name.rsplit(':').next().unwrap_or("")
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "`{host}` has capitals: write hostnames in lower case (`{}`)",
            host.to_ascii_lowercase()
        ));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{host}` is not a host name: labels are a-z, 0-9 and inner `-`, separated by single dots{}",
                if wildcard {
                    "; a wildcard is only a leading `*.`"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

pub(super) fn check_header_name(name: &str) -> Result<(), String> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| format!("`{name}` is not a valid header name: use letters, digits and `-`"))
}

pub(super) fn check_header_value(value: &str) -> Result<(), String> {
    http::HeaderValue::from_str(value).map(drop).map_err(|_| {
        format!("`{value}` is not a valid header value: remove control characters and line breaks")
    })
}

/// An absolute path as Gateway API allows it in matches and rewrites.
pub(super) fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("`{path}` must start with `/`"));
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F", "#", "?"] {
        if path.contains(bad) {
            return Err(format!(
                "`{path}` must not contain `{bad}`: write a plain absolute path"
            ));
        }
    }
    if path.ends_with("/..") || path.ends_with("/.") {
        return Err(format!("`{path}` must not end in a dot segment"));
    }
    check_path_characters(path)
}

/// Request paths are matched normalized (see the proxy's `target`): as a
/// path must be written so that a request can ever match it.
fn check_path_characters(path: &str) -> Result<(), String> {
    let bytes = path.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'%' {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                return Err(format!(
                    "`{path}` has a `%` not followed by two hexadecimal digits: write `%25` for a `%`"
                ));
            };
            if value.is_ascii_alphanumeric() || b"-._~".contains(&value) {
                return Err(format!(
                    "`{path}` encodes `{}` as `%{}`: write it plainly, as requests are matched decoded",
                    value as char,
                    hex.unwrap_or_default()
                ));
            }
            if hex.is_some_and(|h| h.bytes().any(|b| b.is_ascii_lowercase())) {
                return Err(format!(
                    "`{path}`: write `%{}` in capitals, as requests are matched",
                    hex.unwrap_or_default().to_ascii_uppercase()
                ));
            }
            at += 3;
            continue;
        }
        let allowed = byte.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&byte);
        if !allowed {
            let shown = path[at..].chars().next().unwrap_or('?');
            return Err(format!(
                "`{path}` has `{shown}`, which a request path carries only percent-encoded: write `{}`",
                shown
                    .to_string()
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect::<String>()
            ));
        }
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert!(check_hostname("app.example.com", true).is_ok());
        assert!(check_hostname("*.example.com", true).is_ok());
        assert!(check_hostname("localhost", true).is_ok());
        assert!(
            check_hostname("*.example.com", false)
                .unwrap_err()
                .contains("wildcard is not allowed")
        );
        assert!(
            check_hostname("App.example.com", true)
                .unwrap_err()
                .contains("`app.example.com`")
        );
        assert!(
            check_hostname("app.example.com:8080", true)
                .unwrap_err()
                .contains("drop `:8080`")
        );
        assert!(
            check_hostname("a..b", true)
                .unwrap_err()
                .contains("single dots")
        );
        assert!(check_hostname("foo.*.com", true).is_err());
        assert!(check_hostname("", true).is_err());
        assert!(
            check_hostname("10.0.0.1", true)
                .unwrap_err()
                .contains("IP address")
        );
        assert!(
            check_hostname("::1", true)
                .unwrap_err()
                .contains("IP address")
        );
    }

    #[test]
    fn paths() {
        assert!(check_path("/api/v1").is_ok());
        assert!(check_path("/").is_ok());
        assert!(check_path("api").unwrap_err().contains("start with `/`"));
        assert!(check_path("/a//b").is_err());
        assert!(check_path("/a/../b").is_err());
        assert!(check_path("/a%2Fb").is_err());
        assert!(check_path("/a?x=1").is_err());
        assert!(check_path("/with space").unwrap_err().contains("`%20`"));
        assert!(check_path("/caf%C3%A9").is_ok());
        assert!(check_path("/caf%c3%a9").unwrap_err().contains("`%C3`"));
        assert!(
            check_path("/%61dmin")
                .unwrap_err()
                .contains("write it plainly")
        );
        assert!(check_path("/100%").unwrap_err().contains("`%25`"));
        assert!(check_path("/a:b@c;d=e,f+g*h'i(j)k!l$m&n~o").is_ok());
    }

    #[test]
    fn headers() {
        assert!(check_header_name("x-env").is_ok());
        assert!(check_header_name("bad header").is_err());
        assert!(check_header_value("ok value").is_ok());
        assert!(check_header_value("line\nbreak").is_err());
    }
}
