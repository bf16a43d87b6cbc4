//! The credentials of `Authorization: Basic` (RFC 7617): `user:password`,
//! base64. The password is bytes (a client may send any); the user name
//! is text, since it is compared with the Secret's and sent on in
//! `X-Forwarded-User`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};

pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: Vec<u8>,
}

/// What the request's `Authorization` says.
pub(crate) enum Presented {
    /// No `Authorization`, or one of another scheme (`Bearer`…), which
    /// this check does not read.
    Nothing,
    /// `Basic` that cannot be read: not base64, no `:`, a user name that
    /// is not UTF-8 or is empty. Answered as wrong credentials are.
    Malformed,
    Basic(Credentials),
}

pub(crate) fn presented(headers: &HeaderMap) -> Presented {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Presented::Nothing;
    };
    let value = value.as_bytes();
    let Some(encoded) = value
        .get(..6)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"basic "))
        .map(|_| value[6..].trim_ascii())
    else {
        return Presented::Nothing;
    };
    let Ok(decoded) = STANDARD.decode(encoded) else {
        return Presented::Malformed;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Presented::Malformed;
    };
    match std::str::from_utf8(&decoded[..colon]) {
        Ok(user) if !user.is_empty() => Presented::Basic(Credentials {
            user: user.to_owned(),
            password: decoded[colon + 1..].to_vec(),
        }),
        _ => Presented::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &str) -> Presented {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        presented(&headers)
    }

    #[test]
    fn reads_basic_credentials_in_any_case_of_the_scheme() {
        // "alice:pa:ss" — a password may hold colons.
        for value in ["Basic YWxpY2U6cGE6c3M=", "basic YWxpY2U6cGE6c3M= "] {
            let Presented::Basic(c) = read(value) else {
                panic!("{value} not read")
            };
            assert_eq!(
                (c.user.as_str(), c.password.as_slice()),
                ("alice", &b"pa:ss"[..])
            );
        }
    }

    #[test]
    fn other_schemes_are_nothing_and_broken_basic_is_malformed() {
        assert!(matches!(read("Bearer abc"), Presented::Nothing));
        assert!(matches!(presented(&HeaderMap::new()), Presented::Nothing));
        // not base64; no colon ("alice"); empty user (":x")
        for value in ["Basic !!!", "Basic YWxpY2U=", "Basic Ong="] {
            assert!(matches!(read(value), Presented::Malformed), "{value}");
        }
    }
}
