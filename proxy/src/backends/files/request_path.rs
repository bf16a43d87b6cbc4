//! Turns a request path into segments below a site's root, refusing anything
//! that could step outside it: `..` (raw or percent-encoded), encoded
//! slashes and backslashes, and NUL bytes. `+` stays a `+` (it is a space
//! only in query strings).

use std::path::PathBuf;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct RequestPath {
    /// Decoded segments, none empty, `.` or `..`.
    pub segments: Vec<String>,
    /// The path ended in `/` (a directory was asked for).
    pub trailing_slash: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// `..` would climb above the root.
    Traversal,
    /// Encoded `/` or `\`, NUL, or bytes that are not UTF-8.
    BadSegment,
}

impl RequestPath {
    pub(super) fn parse(raw: &str) -> Result<RequestPath, Refused> {
        let mut segments: Vec<String> = Vec::new();
        let trailing_slash = raw.ends_with('/');
        for raw_segment in raw.split('/') {
            let bytes = percent_decode(raw_segment);
            if bytes.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
                return Err(Refused::BadSegment);
            }
            let segment = String::from_utf8(bytes).map_err(|_| Refused::BadSegment)?;
            match segment.as_str() {
                "" | "." => {}
                ".." => return Err(Refused::Traversal),
                _ => segments.push(segment),
            }
        }
        Ok(RequestPath {
            segments,
            trailing_slash,
        })
    }

    /// The path relative to the root.
    pub(super) fn relative(&self) -> PathBuf {
        self.segments.iter().collect()
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (Vec<&'static str>, bool) {
        let p = RequestPath::parse(raw).unwrap();
        let leaked: Vec<&'static str> = p.segments.into_iter().map(|s| &*s.leak()).collect();
        (leaked, p.trailing_slash)
    }

    #[test]
    fn decodes_segments() {
        assert_eq!(ok("/"), (vec![], true));
        assert_eq!(ok("/a/b.html"), (vec!["a", "b.html"], false));
        assert_eq!(ok("/dir/"), (vec!["dir"], true));
        assert_eq!(
            ok("/space%20in%20name.txt"),
            (vec!["space in name.txt"], false)
        );
        assert_eq!(ok("/a+b"), (vec!["a+b"], false));
        assert_eq!(ok("/text..txt"), (vec!["text..txt"], false));
        assert_eq!(ok("/./a//b"), (vec!["a", "b"], false));
        assert_eq!(ok("/%D0%BF"), (vec!["п"], false));
        assert_eq!(ok("/100%"), (vec!["100%"], false));
    }

    #[test]
    fn refuses_what_could_leave_the_root() {
        assert_eq!(
            RequestPath::parse("/../etc/passwd"),
            Err(Refused::Traversal)
        );
        assert_eq!(
            RequestPath::parse("/a/%2e%2e/%2e%2e/x"),
            Err(Refused::Traversal)
        );
        assert_eq!(RequestPath::parse("/a/%2E%2E"), Err(Refused::Traversal));
        assert_eq!(RequestPath::parse("/a%2f..%2fb"), Err(Refused::BadSegment));
        assert_eq!(RequestPath::parse("/a%5c..%5cb"), Err(Refused::BadSegment));
        assert_eq!(RequestPath::parse("/a%00.html"), Err(Refused::BadSegment));
        assert_eq!(RequestPath::parse("/%ff"), Err(Refused::BadSegment));
    }
}
