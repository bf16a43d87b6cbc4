//! What of a client's request headers goes on past the proxy, decided once
//! before any rule or filter sees them.
//!
//! - The names a client lists in `Connection` are hop-by-hop (RFC 9110
//!   §7.6.1) and are removed from what *the client* sent, here, before the
//!   filters run. Removed later, as the request is written out, they would
//!   take with them what the proxy itself set under those names (a filter's
//!   header, `X-Forwarded-*`): Traefik's CVE-2024-45410, where a client
//!   stripped the headers a backend trusts the gateway to set. The framing
//!   and routing headers are never removed this way.
//! - Names with `_` are dropped, as nginx's `underscores_in_headers off`
//!   does: backends that read `-` and `_` as one (CGI, Rack, uWSGI) would
//!   take `X_Forwarded_For` or `Content_Length` for the real header.
//! - `X-Forwarded-User` is the proxy's to set (an access rule's user): a
//!   client's own is removed on every request, whatever the rule, so no
//!   backend can be told a user nobody checked.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::proto::hop;
use crate::route::https::X_CLIENT_SUBJECT;

/// The user an access rule let in, as the backend is told it.
pub(crate) static X_FORWARDED_USER: HeaderName = HeaderName::from_static("x-forwarded-user");

/// Whether header names with `_` are passed on (`--allow-underscores-in-headers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Underscores {
    #[default]
    Drop,
    Allow,
}

/// Removes from a client's `headers` those that must not reach a backend,
/// and makes several `Content-Length` lines of one value one (RFC 9112
/// §6.3 lets a recipient take them as one; a backend must not get two).
/// Different values frame no message: the 400's reason. One pass over the
/// names finds all three cases, so a request with none of them (nearly
/// every one) costs no hashed lookup here.
pub(crate) fn sanitize(
    headers: &mut HeaderMap,
    underscores: Underscores,
) -> Result<(), &'static str> {
    let (mut length, mut connection, mut underscore) = (false, false, false);
    // Who the proxy says the client is: a client's own claim goes.
    let mut identity = false;
    // Without branches: each name costs a few instructions.
    for name in headers.keys() {
        length |= *name == header::CONTENT_LENGTH;
        connection |= *name == header::CONNECTION;
        underscore |= has_underscore(name.as_str().as_bytes());
        identity |= *name == X_FORWARDED_USER || *name == X_CLIENT_SUBJECT;
    }
    underscore &= underscores == Underscores::Drop;
    if !(length || connection || underscore || identity) {
        return Ok(());
    }
    let mut dropped: Vec<HeaderName> = Vec::new();
    if identity {
        dropped.push(X_FORWARDED_USER.clone());
        dropped.push(X_CLIENT_SUBJECT.clone());
    }
    if underscore {
        for name in headers
            .keys()
            .filter(|n| has_underscore(n.as_str().as_bytes()))
        {
            tracing::debug!(
                header = name.as_str(),
                "dropped a request header whose name has `_`; --allow-underscores-in-headers passes them on"
            );
            dropped.push(name.clone());
        }
    }
    if length {
        one_content_length(headers)?;
    }
    if connection {
        listed_in_connection(headers, &mut dropped);
    }
    for name in dropped {
        headers.remove(name);
    }
    Ok(())
}

/// Whether `name` has a `_`, a word at a time: a byte of `word ^ "____…"`
/// is zero where one is, and the classic test finds a zero byte.
fn has_underscore(name: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const UNDERSCORES: u64 = ONES * b'_' as u64;
    let n = name.len();
    if n < 8 {
        return name.iter().fold(false, |found, &b| found | (b == b'_'));
    }
    let has = |at: usize| {
        let word = u64::from_le_bytes(name[at..at + 8].try_into().expect("8 bytes"));
        let x = word ^ UNDERSCORES;
        x.wrapping_sub(ONES) & !x & (ONES << 7) != 0
    };
    // The last 8 bytes, then whole words from the start.
    let mut found = has(n - 8);
    let mut at = 0;
    while at + 8 < n {
        found |= has(at);
        at += 8;
    }
    found
}

/// One `Content-Length` where equal ones came (HTTP/1.1's servers refuse
/// different ones; HTTP/2's frames would be checked against the first).
fn one_content_length(headers: &mut HeaderMap) -> Result<(), &'static str> {
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let (Some(first), Some(_)) = (lengths.next(), lengths.next()) else {
        return Ok(());
    };
    let first = first.clone();
    if headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .any(|length| length.as_bytes().trim_ascii() != first.as_bytes().trim_ascii())
    {
        return Err("the request has Content-Length fields with different values: send one");
    }
    headers.insert(header::CONTENT_LENGTH, first);
    Ok(())
}

/// The header names a client's `Connection` lines list, but those a
/// `Connection` may never remove and the connection options themselves.
fn listed_in_connection(headers: &HeaderMap, out: &mut Vec<HeaderName>) {
    let lines = headers.get_all(header::CONNECTION);
    let mut options = hop::ConnectionOptions::default();
    // Most requests say only `keep-alive` or `close`.
    let names_others = lines
        .iter()
        .fold(false, |any, line| options.note(line.as_bytes()) | any);
    if !names_others {
        return;
    }
    for token in hop::tokens(lines.iter().map(HeaderValue::as_bytes)) {
        let Ok(name) = HeaderName::from_bytes(token) else {
            continue;
        };
        if !is_protected(&name) && !hop::is_hop_by_hop(&name) && headers.contains_key(&name) {
            out.push(name);
        }
    }
}

/// Headers that frame or route the message: a client naming them in
/// `Connection` must not make the proxy drop them (RFC 9110 §7.6.1 lets a
/// proxy refuse to; removing them would desynchronise what was framed and
/// routed from what the backend reads).
fn is_protected(name: &HeaderName) -> bool {
    name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::AUTHORIZATION
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort();
        names
    }

    #[test]
    fn the_names_connection_lists_are_removed_but_framing_and_routing_ones() {
        let mut map = headers(&[
            ("connection", "keep-alive, X-Route"),
            ("connection", "host, content-length, authorization, x-other"),
            ("host", "a.test"),
            ("content-length", "0"),
            ("authorization", "Bearer t"),
            ("x-route", "client"),
            ("x-other", "client"),
            ("x-kept", "1"),
        ]);
        sanitize(&mut map, Underscores::Drop).unwrap();
        assert_eq!(
            names(&map),
            [
                "authorization",
                "connection",
                "content-length",
                "host",
                "x-kept"
            ]
        );
    }

    #[test]
    fn connection_options_alone_remove_nothing() {
        let mut map = headers(&[("connection", "Keep-Alive"), ("keep-alive", "timeout=5")]);
        sanitize(&mut map, Underscores::Drop).unwrap();
        assert_eq!(names(&map), ["connection", "keep-alive"]);
    }

    #[test]
    fn equal_lengths_are_one_and_different_ones_refused() {
        let mut equal = headers(&[("content-length", "0"), ("content-length", "0")]);
        sanitize(&mut equal, Underscores::Drop).unwrap();
        assert_eq!(equal.get_all("content-length").iter().count(), 1);
        let mut different = headers(&[("content-length", "0"), ("content-length", "5")]);
        assert!(sanitize(&mut different, Underscores::Drop).is_err());
    }

    #[test]
    fn finds_an_underscore_anywhere_in_a_name() {
        let name = b"abcdefghijklmnopqrstu";
        for len in 0..=name.len() {
            assert!(!has_underscore(&name[..len]), "{len}");
            for at in 0..len {
                let mut with = name[..len].to_vec();
                with[at] = b'_';
                assert!(has_underscore(&with), "{len} {at}");
            }
        }
        // Bytes next to `_` in value (`^`, `` ` ``) or that borrow in the
        // subtraction are not taken for one.
        assert!(!has_underscore(b"^`^`^`^`^`"));
        assert!(!has_underscore(b"\x01\x00\x80\xff~"));
    }

    #[test]
    fn names_with_underscores_are_dropped_unless_allowed() {
        let lines = [
            ("x_forwarded_for", "6.6.6.6"),
            ("content_length", "5"),
            ("x-fine", "1"),
        ];
        let mut dropped = headers(&lines);
        sanitize(&mut dropped, Underscores::Drop).unwrap();
        assert_eq!(names(&dropped), ["x-fine"]);
        let mut allowed = headers(&lines);
        sanitize(&mut allowed, Underscores::Allow).unwrap();
        assert_eq!(
            names(&allowed),
            ["content_length", "x-fine", "x_forwarded_for"]
        );
    }
}
