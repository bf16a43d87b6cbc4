//! Polling with a deadline, so tests wait exactly as long as they must.

use std::time::{Duration, Instant};

/// How often a probe is repeated.
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

/// Whether `check` comes true within `within` (scaled): a yes/no
/// [`wait_for`], for tests that say themselves what they waited for.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let probe = async || {
        if check().await {
            Ok(())
        } else {
            Err(String::new())
        }
    };
    wait_for("", within, probe).await.is_ok()
}

/// Probes until `probe` answers `Ok`, or `within` (scaled) has passed.
///
/// Returns the value and how long it took; on timeout the error says what
/// did not happen and what the last probe saw.
pub async fn wait_for<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> Result<(T, Duration), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_probe_that_never_passes_fails_saying_what_and_what_it_last_saw() {
        let mut tries = 0;
        let result: Result<((), Duration), String> =
            wait_for("the thing", Duration::from_millis(60), async || {
                tries += 1;
                Err(format!("try {tries}"))
            })
            .await;
        let error = result.unwrap_err();
        assert!(error.starts_with("the thing: not seen within"), "{error}");
        assert!(
            error.ends_with(&format!("the last try saw: try {tries}")),
            "{error}"
        );
        assert!(!eventually(Duration::from_millis(30), async || false).await);
    }

    #[tokio::test]
    async fn a_probe_that_passes_returns_at_once() {
        let mut tries = 0;
        let passed = eventually(Duration::from_secs(5), async || {
            tries += 1;
            tries == 3
        })
        .await;
        assert!(passed);
        assert_eq!(tries, 3);
    }
}
