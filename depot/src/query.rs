//! Small request pieces HouseDepot's clients send: percent-encoded paths
//! and query strings, and the content type a file's extension implies.
//! Hand-written, as each is a few lines and a crate would be more.

/// Decode `%XX` escapes (and `+` as a space when `plus_is_space`, as in a
/// query). `None` when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The query's parameters, decoded, in order. `None` when one does not decode.
pub(crate) fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((percent_decode(k, true)?, percent_decode(v, true)?));
    }
    Some(out)
}

/// The first value of parameter `name`.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The reference's content types by extension; anything else is bytes.
pub(crate) fn content_type(file_name: &str) -> &'static str {
    let ext = match file_name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match ext.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "json" | "jsn" => "application/json",
        "js" => "application/javascript",
        "xml" => "text/xml",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b%2Fc", false).unwrap(), "a b/c");
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("%2e%2E", false).unwrap(), "..");
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%ff", false), None);
    }

    #[test]
    fn queries() {
        let q = parse_query("revision=2&tag=pr%6Fd&&flag").unwrap();
        assert_eq!(param(&q, "revision"), Some("2"));
        assert_eq!(param(&q, "tag"), Some("prod"));
        assert_eq!(param(&q, "flag"), Some(""));
        assert_eq!(param(&q, "time"), None);
        assert!(parse_query("a=%g0").is_none());
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a.json"), "application/json");
        assert_eq!(content_type("a.HTML"), "text/html");
        assert_eq!(content_type("a.css"), "text/css");
        assert_eq!(content_type("a.csv"), "text/csv");
        assert_eq!(content_type("a.js"), "application/javascript");
        assert_eq!(content_type("a.xml"), "text/xml");
        assert_eq!(content_type("a.txt"), "text/plain");
        assert_eq!(content_type("a.bin"), "application/octet-stream");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
    }
}
