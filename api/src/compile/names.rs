//! Checks for the names users write: hostnames, header names and values, paths.

/// A DNS name, optionally with one leading `*.` label when `wildcard` is allowed.
pub fn check_hostname(host: &str, wildcard: bool) -> Result<(), String> {
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

pub fn check_header_name(name: &str) -> Result<(), String> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| format!("`{name}` is not a valid header name: use letters, digits and `-`"))
}

pub fn check_header_value(value: &str) -> Result<(), String> {
    http::HeaderValue::from_str(value).map(drop).map_err(|_| {
        format!("`{value}` is not a valid header value: remove control characters and line breaks")
    })
}

/// An absolute path as Gateway API allows it in matches and rewrites.
pub fn check_path(path: &str) -> Result<(), String> {
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
    }

    #[test]
    fn headers() {
        assert!(check_header_name("x-env").is_ok());
        assert!(check_header_name("bad header").is_err());
        assert!(check_header_value("ok value").is_ok());
        assert!(check_header_value("line\nbreak").is_err());
    }
}
