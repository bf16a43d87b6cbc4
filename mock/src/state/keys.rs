//! Item keys. A key is a string or a number in the item; it is compared as
//! text: a string by its characters, a number by its JSON form, so `7` and
//! `"7"` are the same key (and `7.0` is another). In a URL a key is one
//! path segment, percent-encoded.

use serde_json::Value as Json;

/// Why an item's key is not usable.
pub(crate) enum KeyProblem {
    Missing,
    /// A boolean, null, list or object; or an empty string.
    NotScalar(&'static str),
}

/// The key of an item (`item[field]`) as text.
pub(crate) fn key_of(item: &Json, field: &str) -> Result<String, KeyProblem> {
    match item.get(field) {
        None => Err(KeyProblem::Missing),
        Some(Json::String(s)) if s.is_empty() => Err(KeyProblem::NotScalar("an empty string")),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(Json::Number(n)) => Ok(n.to_string()),
        Some(Json::Null) => Err(KeyProblem::NotScalar("null")),
        Some(Json::Bool(_)) => Err(KeyProblem::NotScalar("a boolean")),
        Some(Json::Array(_)) => Err(KeyProblem::NotScalar("a list")),
        Some(Json::Object(_)) => Err(KeyProblem::NotScalar("an object")),
    }
}

/// The JSON value a key taken from a URL gets in an item that lacks it: a
/// whole number when written as one (`7`, not `07` or `+7`), else a string.
pub(crate) fn key_value(key: &str) -> Json {
    match key.parse::<i64>() {
        Ok(n) if n.to_string() == key => Json::from(n),
        _ => Json::from(key),
    }
}

/// A path segment, percent-decoded (`%2F` is `/`; `+` stays `+`); `None`
/// when the result is not UTF-8.
pub(crate) fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A key as one path segment: everything but RFC 3986's unreserved
/// characters percent-encoded.
pub(crate) fn encode_segment(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_text() {
        let item = json!({"id": 7, "s": "x", "e": "", "b": true});
        assert!(matches!(key_of(&item, "id"), Ok(k) if k == "7"));
        assert!(matches!(key_of(&item, "s"), Ok(k) if k == "x"));
        assert!(matches!(key_of(&item, "e"), Err(KeyProblem::NotScalar(_))));
        assert!(matches!(key_of(&item, "b"), Err(KeyProblem::NotScalar(_))));
        assert!(matches!(key_of(&item, "no"), Err(KeyProblem::Missing)));
        assert_eq!(key_value("7"), json!(7));
        assert_eq!(key_value("07"), json!("07"));
        assert_eq!(key_value("a b"), json!("a b"));
    }

    #[test]
    fn segments_round_trip() {
        assert_eq!(decode_segment("a%20b%2Fc+d").as_deref(), Some("a b/c+d"));
        assert_eq!(decode_segment("100%").as_deref(), Some("100%"));
        assert_eq!(decode_segment("%zz").as_deref(), Some("%zz"));
        assert_eq!(decode_segment("%FF"), None);
        assert_eq!(encode_segment("a b/ü"), "a%20b%2F%C3%BC");
        for key in ["a b/c", "ü?#%", "plain-1.2_~"] {
            assert_eq!(decode_segment(&encode_segment(key)).as_deref(), Some(key));
        }
    }
}
