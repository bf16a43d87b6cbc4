//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a
//! proxy drops them in both directions, with any the `Connection` header names.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == header::PROXY_AUTHORIZATION
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// The comma-separated tokens of header values, trimmed.
pub(crate) fn tokens<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> impl Iterator<Item = &'a [u8]> {
    values
        .into_iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Whether the `Connection` values list `name` (or say `token`, for `close`
/// and `upgrade`).
pub(crate) fn connection_lists<'a>(
    connection: impl IntoIterator<Item = &'a HeaderValue>,
    token: &str,
) -> bool {
    tokens(connection.into_iter().map(HeaderValue::as_bytes))
        .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// What a message's `Connection` values say, read one value at a time.
#[derive(Default)]
pub(crate) struct ConnectionOptions {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

impl ConnectionOptions {
    /// Notes one `Connection` value; true when it also names other
    /// headers, which are then hop-by-hop.
    pub(crate) fn note(&mut self, value: &[u8]) -> bool {
        let mut names_others = false;
        for token in tokens([value]) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if token.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            } else {
                names_others = true;
            }
        }
        names_others
    }

    /// RFC 9112 §9.3: HTTP/1.1 keeps the connection unless told `close`;
    /// HTTP/1.0 closes it unless told `keep-alive`.
    pub(crate) fn keeps_alive(&self, http11: bool) -> bool {
        if http11 { !self.close } else { self.keep_alive }
    }
}

/// Drops the hop-by-hop headers of a response's `headers`, with those its
/// `Connection` names. One pass over the names finds
/// those present, so a message without any (most requests) costs no hashed
/// removal, and one with only `Connection` costs one instead of eight.
pub(crate) fn strip(headers: &mut HeaderMap) {
    let mut present: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    if present.is_empty() {
        return;
    }
    present.extend(
        tokens(
            headers
                .get_all(header::CONNECTION)
                .iter()
                .map(HeaderValue::as_bytes),
        )
        .filter_map(|token| HeaderName::from_bytes(token).ok()),
    );
    for name in present {
        headers.remove(name);
    }
}

/// Drops the hop-by-hop headers of a request about to be forwarded. Those
/// its `Connection` named were taken from the client's headers before the
/// filters ran (`client_headers`); removing them now would remove what the
/// proxy itself set under those names.
pub(crate) fn strip_fixed(headers: &mut HeaderMap) {
    let present: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in present {
        headers.remove(name);
    }
}
