//! Delays and faults: a response may wait before answering, or misbehave
//! on purpose (reset, close, a slow body). The engine only describes them,
//! in the [`Answer`](crate::Answer); the proxy carries them out.

use std::time::Duration;

/// The longest delay, and the longest pause between slow-body chunks.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// How a response misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reset the connection (HTTP/1: a TCP RST; HTTP/2: reset the stream)
    /// and send nothing.
    Reset,
    /// Close the connection without sending a response (HTTP/2: end the
    /// stream without a response).
    Close,
    /// Send the status and headers, then the body `chunk_bytes` at a time,
    /// waiting `every` before each chunk after the first.
    SlowBody { chunk_bytes: usize, every: Duration },
}

/// A response's delay, as written: fixed, or uniform between two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delay {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
}

impl Delay {
    /// This answer's delay.
    pub(crate) fn sample(self) -> Duration {
        match self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => {
                let (lo, hi) = (min.as_micros() as u64, max.as_micros() as u64);
                Duration::from_micros(fastrand::u64(lo..=hi))
            }
        }
    }
}

/// A Gateway API duration (GEP-2257): one to four `<number><unit>` parts,
/// units `h`, `m`, `s`, `ms` (`10s`, `1m30s`, `500ms`), as in Routes.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
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
            return None;
        };
        rest = &rest[len..];
        total += unit * number as u32;
        parts += 1;
    }
    (1..=4).contains(&parts).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gateway_api_durations() {
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "10",
            "1.5s",
            "10 s",
            "-1s",
            "1d",
            "123456s",
            "1h1m1s1ms1h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn uniform_delays_stay_within_bounds() {
        let d = Delay::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        for _ in 0..1000 {
            let got = d.sample();
            assert!(got >= Duration::from_millis(100) && got <= Duration::from_millis(300));
        }
        let fixed = Delay::Fixed(Duration::from_millis(5));
        assert_eq!(fixed.sample(), Duration::from_millis(5));
    }
}
