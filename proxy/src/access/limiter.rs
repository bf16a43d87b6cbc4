//! Failed logins counted per client address: after `MAX_FAILURES` in
//! `WINDOW`, the address gets 429 with `Retry-After` until the window
//! ends, before any hash is verified, so guessing costs the guesser time
//! and the proxy no CPU. Shared by every rule and kept across swaps (a
//! push must not reset an attacker's count). Bounded: when full, expired
//! windows go first, then the address is not tracked (and not blocked)
//! rather than the table growing without end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::locks::lock;

pub(crate) const MAX_FAILURES: u32 = 10;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
const MAX_ADDRESSES: usize = 65_536;

#[derive(Default)]
pub(crate) struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLimiter {
    /// How long `client` must wait, when it has failed too often.
    pub(crate) fn blocked(&self, client: IpAddr) -> Option<Duration> {
        let windows = lock(&self.windows);
        let window = windows.get(&client)?;
        let left = WINDOW.checked_sub(window.started.elapsed())?;
        (window.failures >= MAX_FAILURES).then_some(left)
    }

    pub(crate) fn failed(&self, client: IpAddr) {
        let mut windows = lock(&self.windows);
        if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&client) {
            windows.retain(|_, w| w.started.elapsed() < WINDOW);
            if windows.len() >= MAX_ADDRESSES {
                return;
            }
        }
        let window = windows.entry(client).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if window.started.elapsed() >= WINDOW {
            *window = Window {
                started: Instant::now(),
                failures: 0,
            };
        }
        window.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_an_address_after_its_failures_and_only_it() {
        let limiter = FailureLimiter::default();
        let guesser: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.failed(guesser);
        }
        assert_eq!(limiter.blocked(guesser), None, "not yet");
        limiter.failed(guesser);
        let wait = limiter.blocked(guesser).expect("blocked");
        assert!(
            wait <= WINDOW && wait > WINDOW - Duration::from_secs(5),
            "{wait:?}"
        );
        assert_eq!(limiter.blocked(other), None);
    }
}
