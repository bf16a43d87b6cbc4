//! UTC dates for the `now` template value, with no date crate: RFC 3339 by
//! default, Unix times, or a small `strftime` subset.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What `format` accepts, for error messages.
pub(crate) const FORMATS: &str = "`unix`, `unix_ms`, `rfc3339`, `http`, or `%Y %m %d %H %M %S %3f %a %b %s %%` (such as `%Y-%m-%d`)";

/// A UTC time broken into its fields.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u32,
    weekday: usize,
}

fn civil(unix_ms: u64) -> Civil {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest % 3600 / 60,
        second: rest % 60,
        millis: (unix_ms % 1000) as u32,
        // 1970-01-01 was a Thursday.
        weekday: ((days + 4).rem_euclid(7)) as usize,
    }
}

pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2026-01-02T03:04:05Z`.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    format(unix_ms, "%Y-%m-%dT%H:%M:%SZ").unwrap_or_default()
}

/// The time in `how` (see [`FORMATS`]); `None` for an unknown form.
pub(crate) fn format(unix_ms: u64, how: &str) -> Option<String> {
    let pattern = match how {
        "unix" => return Some((unix_ms / 1000).to_string()),
        "unix_ms" => return Some(unix_ms.to_string()),
        "rfc3339" => "%Y-%m-%dT%H:%M:%SZ",
        "http" => "%a, %d %b %Y %H:%M:%S GMT",
        other => other,
    };
    let c = civil(unix_ms);
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        // Writing to a String cannot fail.
        let _ = match chars.next()? {
            'Y' => write!(out, "{:04}", c.year),
            'm' => write!(out, "{:02}", c.month),
            'd' => write!(out, "{:02}", c.day),
            'H' => write!(out, "{:02}", c.hour),
            'M' => write!(out, "{:02}", c.minute),
            'S' => write!(out, "{:02}", c.second),
            'a' => write!(out, "{}", DAYS[c.weekday]),
            'b' => write!(out, "{}", MONTHS[c.month as usize - 1]),
            's' => write!(out, "{}", unix_ms / 1000),
            '%' => write!(out, "%"),
            '3' if chars.next()? == 'f' => write!(out, "{:03}", c.millis),
            _ => return None,
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        // 2024-02-29T13:14:15.678Z, a Thursday.
        let t = 1_709_212_455_678;
        assert_eq!(rfc3339(t), "2024-02-29T13:14:15Z");
        assert_eq!(format(t, "http").unwrap(), "Thu, 29 Feb 2024 13:14:15 GMT");
        assert_eq!(format(t, "%Y%m%d %3f %%").unwrap(), "20240229 678 %");
        assert_eq!(format(t, "unix").unwrap(), "1709212455");
        assert_eq!(format(t, "unix_ms").unwrap(), "1709212455678");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format(t, "%Q"), None);
        assert_eq!(format(t, "%"), None);
        assert_eq!(format(t, "%3x"), None);
    }
}
