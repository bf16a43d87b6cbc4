//! Gateway API durations: one to four `<number><unit>` parts, units `h`, `m`,
//! `s`, `ms` (`10s`, `1m30s`, `500ms`), as in GEP-2257.

use std::time::Duration;

/// Parses a Gateway API duration; the error says what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "`{text}` is not a duration: write one to four parts like `10s`, `1m30s` or `500ms` (units h, m, s, ms)"
        )
    };
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return Err(expected());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| expected())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(expected());
        };
        rest = &rest[len..];
        total += unit * number as u32;
        parts += 1;
    }
    if parts == 0 || parts > 4 {
        return Err(expected());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_gateway_api_forms() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_duration("1h0m0s1ms"),
            Ok(Duration::from_millis(3_600_001))
        );
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_other_forms_with_an_example() {
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "10 s",
            "-1s",
            "1d",
            "123456s",
            "1h1m1s1ms1h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("1m30s"), "{bad}: {err}");
        }
    }
}
