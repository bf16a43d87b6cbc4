//! The header block a CGI program writes before its body (RFC 3875 §6):
//! `Status`, `Content-Type`, `Location` and other fields, one a line, up
//! to a blank line. Read whole before the response starts, so it is
//! bounded (`MAX_HEAD`), and parsed strictly: a program that writes
//! something else has failed, and the client gets 502 with the reason,
//! not a response made of half a header.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

/// The most a header block may take, blank line included.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A parsed header block.
#[derive(Debug)]
pub(crate) struct CgiHead {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
}

/// Where the header block in `buf` ends: the length of the block without
/// its blank line, and where the body starts. Lines end in `\n` or
/// `\r\n` (RFC 3875 allows either).
pub(crate) fn find_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    while let Some(at) = buf[start..].iter().position(|&b| b == b'\n') {
        let end = start + at;
        let line = &buf[start..end];
        if line.is_empty() || line == b"\r" {
            return Some((start, end + 1));
        }
        start = end + 1;
    }
    None
}

/// Parses a header block (without its blank line) into a status and
/// headers, or says why it is not one.
pub(crate) fn parse(head: &[u8]) -> Result<CgiHead, String> {
    let mut status = None;
    let mut headers = HeaderMap::new();
    let mut location = false;
    for (n, line) in head.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(format!(
                "header line {} is folded onto the one before: write each header on one line",
                n + 1
            ));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(format!("header line {} has no `:`: {}", n + 1, shown(line)));
        };
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| {
            format!(
                "header line {}: `{}` is not a header name",
                n + 1,
                shown(&line[..colon])
            )
        })?;
        let value = line[colon + 1..].trim_ascii();
        if name.as_str() == "status" {
            if status.is_some() {
                return Err("`Status` is given twice".to_owned());
            }
            status = Some(parse_status(value)?);
            continue;
        }
        let value = HeaderValue::from_bytes(value).map_err(|_| {
            format!(
                "header line {}: the value of `{name}` holds control characters",
                n + 1
            )
        })?;
        if crate::proto::hop::is_hop_by_hop(&name) {
            // The connection to the client is the proxy's to frame.
            continue;
        }
        if name == header::LOCATION {
            location = true;
        }
        headers.append(name, value);
    }
    if status.is_none() && !location && !headers.contains_key(header::CONTENT_TYPE) {
        return Err(
            "the header block has none of `Content-Type`, `Location` or `Status` (RFC 3875 §6.2)"
                .to_owned(),
        );
    }
    // A `Location` without a `Status` is a redirect (RFC 3875 §6.2.3).
    let status = status.unwrap_or(if location {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    Ok(CgiHead { status, headers })
}

/// `200 OK` or `404`: three digits, then an optional reason, which the
/// proxy does not pass on (HTTP/2 has none, and HTTP/1.1's is ours).
fn parse_status(value: &[u8]) -> Result<StatusCode, String> {
    let code = value.split(|&b| b == b' ').next().unwrap_or(b"");
    match StatusCode::from_bytes(code) {
        Ok(status) if code.len() == 3 && status.as_u16() >= 200 => Ok(status),
        _ => Err(format!(
            "`Status: {}` is not a status: write three digits from 200 to 999, then a reason",
            shown(value)
        )),
    }
}

/// Bytes for a message: lossy, at most 80 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]);
    text.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<CgiHead, String> {
        let (head, _) = find_end(text.as_bytes()).expect("a blank line");
        parse(&text.as_bytes()[..head])
    }

    #[test]
    fn a_document_with_a_status_and_other_headers() {
        let head = parsed(
            "Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-Extra: a b \r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(head.status, StatusCode::NOT_FOUND);
        assert_eq!(head.headers["content-type"], "text/plain");
        assert_eq!(head.headers["x-extra"], "a b");
        assert!(!head.headers.contains_key("status"));
    }

    #[test]
    fn bare_newlines_and_defaults() {
        let text = "Content-Type: text/html\n\nhello";
        let (head, body) = find_end(text.as_bytes()).unwrap();
        assert_eq!(&text[body..], "hello");
        let head = parse(&text.as_bytes()[..head]).unwrap();
        assert_eq!(head.status, StatusCode::OK);
    }

    #[test]
    fn a_location_without_a_status_is_a_302() {
        let head = parsed("Location: https://example.com/\n\n").unwrap();
        assert_eq!(head.status, StatusCode::FOUND);
        assert_eq!(head.headers["location"], "https://example.com/");
        let head = parsed("Status: 301\nLocation: /x\n\n").unwrap();
        assert_eq!(head.status, StatusCode::MOVED_PERMANENTLY);
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_repeated_ones_kept() {
        let head =
            parsed("Content-Type: a/b\nConnection: close\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n")
                .unwrap();
        assert!(!head.headers.contains_key("connection"));
        assert_eq!(head.headers.get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn malformed_blocks_say_why() {
        for (text, says) in [
            ("hello world\n\n", "has no `:`"),
            ("Bad Name: x\n\n", "is not a header name"),
            ("Content-Type: a/b\n folded\n\n", "folded"),
            ("Status: abc\n\n", "is not a status"),
            ("Status: 99 Low\n\n", "is not a status"),
            ("Status: 1234\n\n", "is not a status"),
            ("Status: 200\nStatus: 201\n\n", "twice"),
            ("X-Only: 1\n\n", "none of `Content-Type`"),
            ("Content-Type: a\x01b\n\n", "control characters"),
        ] {
            let err = parsed(text).expect_err(text);
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn no_blank_line_is_no_end() {
        assert_eq!(find_end(b"Content-Type: a/b\r\n"), None);
        assert_eq!(find_end(b""), None);
        assert_eq!(find_end(b"\r\nbody"), Some((0, 2)));
    }
}
