//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a
//! proxy drops them in both directions, with any the `Connection` header names.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub fn is_hop_by_hop(name: &HeaderName) -> bool {
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
pub fn tokens<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> impl Iterator<Item = &'a [u8]> {
    values
        .into_iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Whether the `Connection` values list `name` (or say `token`, for `close`
/// and `upgrade`).
pub fn connection_lists<'a>(
    connection: impl IntoIterator<Item = &'a HeaderValue>,
    token: &str,
) -> bool {
    tokens(connection.into_iter().map(HeaderValue::as_bytes))
        .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// Drops the hop-by-hop headers of `headers`. One pass over the names finds
/// those present, so a message without any (most requests) costs no hashed
/// removal, and one with only `Connection` costs one instead of eight.
pub fn strip(headers: &mut HeaderMap) {
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
