//! Polling with a deadline, so tests wait exactly as long as they must.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] probes.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// `duration` stretched by `GATEHOUSE_CT_TIME_SCALE` (a float, default 1),
/// for machines much slower than a developer's.
pub fn scaled(duration: Duration) -> Duration {
    let scale = std::env::var("GATEHOUSE_CT_TIME_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    duration.mul_f64(scale)
}

/// Probes until `probe` answers `Ok`, or `within` (scaled) has passed.
///
/// Returns the value and how long it took; on timeout the error says what
/// did not happen and what the last probe saw.
pub async fn eventually<T, F, Fut>(
    what: &str,
    within: Duration,
    mut probe: F,
) -> Result<(T, Duration), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let within = scaled(within);
    let started = Instant::now();
    let deadline = started + within;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok((value, started.elapsed())),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "{what}: not seen within {within:?}; the last try saw: {last}"
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
