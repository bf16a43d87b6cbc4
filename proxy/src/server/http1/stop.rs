//! The server's stop, as a lane connection waits for it between requests.
//! The connection's `stopped` future is made once and its waiter stays
//! registered, waking the task on a stop; polling it again each request
//! would take the waiter list's lock (some 170 instructions a request),
//! where looking for news on the channel is an atomic load.

use std::pin::Pin;
use std::task::Context;

use tokio::sync::watch;

/// The connection's `stopped` future, and what tells whether to poll it.
pub(super) struct Stop<'a, S> {
    pub stopped: Pin<&'a mut S>,
    /// Whether `stopped` was polled, so its waiter is registered.
    pub listening: &'a mut bool,
    /// The stop channel, to tell whether it has news.
    pub news: &'a watch::Receiver<bool>,
}

impl<S: Future<Output = ()>> Stop<'_, S> {
    /// Whether the server is stopping; until it is, `cx`'s task is woken
    /// when it starts to.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        if *self.listening && !self.news.has_changed().unwrap_or(true) {
            return false;
        }
        *self.listening = true;
        self.stopped.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::*;
    use crate::server::stopping;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn stopped(mut stop: watch::Receiver<bool>) {
        stopping(&mut stop).await
    }

    #[test]
    fn a_stop_wakes_the_waiting_connection_and_is_seen() {
        let (tx, rx) = watch::channel(false);
        let mut fut = pin!(stopped(rx.clone()));
        let mut listening = false;
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        // Several waits between requests, none stopped.
        for _ in 0..3 {
            let mut stop = Stop {
                stopped: fut.as_mut(),
                listening: &mut listening,
                news: &rx,
            };
            assert!(!stop.poll(&mut cx));
        }
        assert!(listening, "the waiter is registered");
        tx.send(true).unwrap();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1, "the stop wakes the task");
        let mut stop = Stop {
            stopped: fut.as_mut(),
            listening: &mut listening,
            news: &rx,
        };
        assert!(stop.poll(&mut cx), "and is seen");
    }

    #[test]
    fn a_stop_before_the_first_wait_is_seen() {
        let (tx, rx) = watch::channel(false);
        let mut fut = pin!(stopped(rx.clone()));
        tx.send(true).unwrap();
        let mut listening = false;
        let mut stop = Stop {
            stopped: fut.as_mut(),
            listening: &mut listening,
            news: &rx,
        };
        assert!(stop.poll(&mut Context::from_waker(Waker::noop())));
    }
}
