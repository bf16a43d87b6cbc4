//! Validators and ranges (RFC 9110 §8.8, §13, §14): strong ETags,
//! `Last-Modified`, `If-None-Match` / `If-Modified-Since` → 304, and a single
//! `Range` → 206 (416 when it cannot be satisfied, 200 when `If-Range` fails).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header;
use http::{HeaderMap, HeaderValue};

/// What identifies one version of one representation.
pub(super) struct Validators {
    pub etag: String,
    pub last_modified: SystemTime,
}

impl Validators {
    /// nginx's form, `"<mtime hex>-<length hex>"`, plus the encoding for a
    /// precompressed variant so each variant has its own tag.
    pub(super) fn new(modified: SystemTime, len: u64, encoding: Option<&str>) -> Validators {
        let since = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        // Built by hand: `format!` costs more than the rest of the answer's headers.
        let mut etag = String::with_capacity(48);
        etag.push('"');
        push_hex(&mut etag, since.as_secs());
        etag.push('-');
        push_hex(&mut etag, len);
        if let Some(enc) = encoding {
            etag.push('-');
            etag.push_str(enc);
        }
        etag.push('"');
        // HTTP dates have whole seconds; compare at that precision.
        let last_modified = UNIX_EPOCH + std::time::Duration::from_secs(since.as_secs());
        Validators {
            etag,
            last_modified,
        }
    }

    /// True when the client's copy is current and a 304 should be sent.
    pub(super) fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            // Weak comparison, as RFC 9110 §13.1.2 asks for If-None-Match.
            return tags
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag);
        }
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| self.last_modified <= since)
    }

    /// `If-Range` holds when it names this strong ETag or exactly this date.
    fn if_range_holds(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(value) if value.starts_with('"') => value == self.etag,
            Some(value) => httpdate::parse_http_date(value).is_ok_and(|d| d == self.last_modified),
        }
    }

    pub(super) fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.last_modified)
    }

    /// `Last-Modified` as a header value. Formatting an HTTP date is the
    /// dearest step of a small file's answer and the same file asks for the
    /// same date again and again, so each worker remembers the last one.
    pub(super) fn last_modified_value(&self) -> HeaderValue {
        thread_local! {
            static LAST: RefCell<Option<(SystemTime, HeaderValue)>> = const { RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| match last {
            Some((at, value)) if *at == self.last_modified => value.clone(),
            _ => {
                let value =
                    HeaderValue::from_str(&self.last_modified_header()).expect("dates are ASCII");
                *last = Some((self.last_modified, value.clone()));
                value
            }
        })
    }
}

/// `n` in lowercase hex without leading zeros, as `{:x}` writes it.
fn push_hex(out: &mut String, n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut rest = n;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| d as char));
}

/// What to send of a representation `len` bytes long.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RangeAnswer {
    /// All of it, 200.
    Full,
    /// Bytes `start..=end`, 206.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

pub(super) fn range(headers: &HeaderMap, validators: &Validators, len: u64) -> RangeAnswer {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeAnswer::Full;
    };
    if !validators.if_range_holds(headers) {
        return RangeAnswer::Full;
    }
    parse_range(value, len)
}

/// One `bytes=` range; several ranges, other units or nonsense are served in
/// full (a server may ignore Range), an out-of-bounds range is 416.
fn parse_range(value: &str, len: u64) -> RangeAnswer {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(suffix)) if suffix > 0 && len > 0 => RangeAnswer::Partial {
            start: len.saturating_sub(suffix),
            end: len - 1,
        },
        (true, _, _) => RangeAnswer::Unsatisfiable,
        (false, Some(start), _) if start >= len => RangeAnswer::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => RangeAnswer::Partial {
            start,
            end: len - 1,
        },
        (false, Some(start), Some(end)) if end >= start => RangeAnswer::Partial {
            start,
            end: end.min(len - 1),
        },
        _ => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            Partial { start: 0, end: 999 }
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 1000), Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
        assert_eq!(parse_range("items=0-1", 1000), Full);
        assert_eq!(parse_range("bytes=x-y", 1000), Full);
    }

    #[test]
    fn hex_as_format_writes_it() {
        for n in [0, 1, 0xf, 0x10, 0x400, 0x6553_f100, u64::MAX] {
            let mut out = String::new();
            push_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}"));
        }
    }

    #[test]
    fn validators() {
        let modified = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_500);
        let v = Validators::new(modified, 1024, None);
        assert_eq!(v.etag, "\"6553f100-400\"");
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            "\"other\", W/\"6553f100-400\"".parse().unwrap(),
        );
        assert!(v.not_modified(&h));
        h.insert(header::IF_NONE_MATCH, "\"other\"".parse().unwrap());
        h.insert(
            header::IF_MODIFIED_SINCE,
            v.last_modified_header().parse().unwrap(),
        );
        assert!(
            !v.not_modified(&h),
            "If-None-Match wins over If-Modified-Since"
        );
        h.remove(header::IF_NONE_MATCH);
        assert!(v.not_modified(&h));
        assert_eq!(v.last_modified_value(), v.last_modified_header().as_str());
        let older = Validators::new(UNIX_EPOCH, 1, None);
        assert_eq!(older.last_modified_value(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(v.last_modified_value(), v.last_modified_header().as_str());
        h.insert(
            header::IF_MODIFIED_SINCE,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert!(!v.not_modified(&h));
        let mut r = HeaderMap::new();
        r.insert(header::RANGE, "bytes=0-9".parse().unwrap());
        r.insert(header::IF_RANGE, "\"stale\"".parse().unwrap());
        assert_eq!(range(&r, &v, 1024), Full);
        r.insert(header::IF_RANGE, v.etag.parse().unwrap());
        assert_eq!(range(&r, &v, 1024), Partial { start: 0, end: 9 });
    }
}
