//! The access log's timestamps: nginx's `$time_local` (in UTC) and
//! RFC 3339, formatted once a second per worker, as the `Date` header is.

use std::time::{SystemTime, UNIX_EPOCH};

/// The last second formatted, both ways.
#[derive(Default)]
pub(super) struct Clock {
    second: Option<u64>,
    /// `02/Dec/2026:10:04:05 +0000`
    clf: String,
    /// `2026-12-02T10:04:05`, to which the milliseconds and `Z` are added.
    rfc3339: String,
}

impl Clock {
    /// `at` as nginx writes it.
    pub(super) fn clf(&mut self, at: SystemTime) -> &str {
        self.turn(at);
        &self.clf
    }

    /// `at` as RFC 3339 wants it, to the millisecond.
    pub(super) fn rfc3339(&mut self, at: SystemTime) -> String {
        self.turn(at);
        let millis = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_millis();
        format!("{}.{millis:03}Z", self.rfc3339)
    }

    fn turn(&mut self, at: SystemTime) {
        let second = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if self.second == Some(second) {
            return;
        }
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let t = Civil::of(second);
        self.second = Some(second);
        self.clf = format!(
            "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
            t.day,
            MONTHS[t.month as usize - 1],
            t.year,
            t.hour,
            t.minute,
            t.second
        );
        self.rfc3339 = format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        );
    }
}

/// `at` as RFC 3339 in UTC, to the millisecond (`2026-12-02T10:04:05.123Z`).
pub(crate) fn rfc3339_millis(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = rfc3339_seconds(since.as_secs() as i64);
    format!(
        "{}.{:03}Z",
        seconds.trim_end_matches('Z'),
        since.subsec_millis()
    )
}

/// Unix seconds as RFC 3339 in UTC, to the second (`2026-12-02T10:04:05Z`),
/// as Kubernetes writes a `date`; a time before the epoch reads as the epoch.
pub(crate) fn rfc3339_seconds(secs: i64) -> String {
    let t = Civil::of(secs.max(0) as u64);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A UTC date and time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`.
    fn of(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
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
            hour: secs % 86_400 / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_formatted_as_nginx_and_rfc_3339_do() {
        let mut clock = Clock::default();
        // 2026-12-02T10:04:05.678Z
        let at = UNIX_EPOCH + Duration::from_millis(1_796_205_845_678);
        assert_eq!(clock.clf(at), "02/Dec/2026:10:04:05 +0000");
        assert_eq!(clock.rfc3339(at), "2026-12-02T10:04:05.678Z");
        // The same second again, and the next one.
        let later = at + Duration::from_millis(300);
        assert_eq!(clock.rfc3339(later), "2026-12-02T10:04:05.978Z");
        assert_eq!(clock.clf(later), "02/Dec/2026:10:04:05 +0000");
        let next = at + Duration::from_millis(400);
        assert_eq!(clock.clf(next), "02/Dec/2026:10:04:06 +0000");
        // A leap day, and the epoch.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(clock.rfc3339(leap), "2024-02-29T00:00:00.000Z");
        assert_eq!(clock.clf(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(rfc3339_seconds(1_796_205_845), "2026-12-02T10:04:05Z");
        assert_eq!(rfc3339_seconds(-5), "1970-01-01T00:00:00Z");
    }
}
