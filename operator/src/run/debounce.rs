//! When the operator compiles and pushes: on the leading edge. The first
//! change after a quiet window starts a round at once; changes that arrive
//! within the window of the last round are coalesced into one round at the
//! window's end. So a lone `kubectl apply` is served without waiting, and a
//! burst of changes still makes a round per window at most.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;

pub(super) struct Debounce {
    changed: Arc<Notify>,
    window: Duration,
    /// When the last round started; `None` before the first paced one.
    last_round: Option<Instant>,
}

impl Debounce {
    /// Paces rounds on `changed`, which the watches notify on every change.
    pub(super) fn new(changed: Arc<Notify>, window: Duration) -> Debounce {
        Debounce {
            changed,
            window,
            last_round: None,
        }
    }

    /// Waits until the next round may start: for a change (or for `retry`,
    /// when given), then, if the last round started less than a window
    /// ago, for that window's end. Counted from the round's start, not from
    /// the change, so a steady stream of changes cannot postpone rounds.
    pub(super) async fn next_round(&mut self, retry: Option<Duration>) {
        let change = self.changed.notified();
        match retry {
            Some(after) => {
                let _ = tokio::time::timeout(after, change).await;
            }
            None => change.await,
        }
        if let Some(last) = self.last_round {
            let end = last + self.window;
            if Instant::now() < end {
                tokio::time::sleep_until(end).await;
            }
        }
        // Whatever changed until now is in the stores this round reads: its
        // wake-up would only bring an empty round after this one.
        let _ = self.changed.notified().now_or_never();
        self.last_round = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Notifies `changed` `count` times, `every` apart, from now on.
    fn changes(changed: &Arc<Notify>, count: usize, every: Duration) {
        let changed = changed.clone();
        tokio::spawn(async move {
            for _ in 0..count {
                changed.notify_one();
                tokio::time::sleep(every).await;
            }
        });
    }

    /// The run loop's shape: waits for each round and records when it
    /// started (time since `start`), until no round comes for a second.
    async fn rounds(debounce: &mut Debounce, start: Instant) -> Vec<Duration> {
        let mut started = Vec::new();
        while tokio::time::timeout(Duration::from_secs(1), debounce.next_round(None))
            .await
            .is_ok()
        {
            started.push(start.elapsed());
        }
        started
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_change_is_acted_on_at_once() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed.clone(), WINDOW);
        let start = Instant::now();
        changes(&changed, 1, ms(1));
        assert_eq!(rounds(&mut debounce, start).await, [ms(0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_makes_one_round_at_once_and_one_at_the_windows_end() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed.clone(), WINDOW);
        let start = Instant::now();
        changes(&changed, 50, ms(1));
        assert_eq!(rounds(&mut debounce, start).await, [ms(0), ms(100)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_after_a_quiet_window_is_acted_on_at_once_again() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed.clone(), WINDOW);
        changes(&changed, 50, ms(1));
        rounds(&mut debounce, Instant::now()).await;

        let start = Instant::now();
        changes(&changed, 1, ms(1));
        assert_eq!(rounds(&mut debounce, start).await, [ms(0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_within_the_window_waits_for_its_end() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed.clone(), WINDOW);
        let start = Instant::now();
        changes(&changed, 1, ms(1));
        debounce.next_round(None).await;
        tokio::time::sleep(ms(30)).await;
        changes(&changed, 1, ms(1));
        assert_eq!(rounds(&mut debounce, start).await, [ms(100)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_stream_of_changes_gets_a_round_every_window() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed.clone(), WINDOW);
        let start = Instant::now();
        // 500 ms of a change every 10 ms.
        changes(&changed, 50, ms(10));
        let expected: Vec<Duration> = (0..=5).map(|i| ms(i * 100)).collect();
        assert_eq!(rounds(&mut debounce, start).await, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_starts_a_round_without_a_change() {
        let changed = Arc::new(Notify::new());
        let mut debounce = Debounce::new(changed, WINDOW);
        let start = Instant::now();
        debounce.next_round(Some(ms(250))).await;
        assert_eq!(start.elapsed(), ms(250));
    }
}
