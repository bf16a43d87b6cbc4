//! The tunnel a WebSocket upgrade opens: bytes copied both ways, each side's
//! end passed on to the other, until both have ended or nothing has moved
//! either way for the idle limit. Envoy closes an upgraded stream after
//! its idle timeout the same way, and nginx closes one whose backend says
//! nothing for `proxy_read_timeout`; here talk in either direction keeps
//! the tunnel open. Without a limit, a peer that vanished without a FIN,
//! or a tunnel half-closed by one side while the other stays silent, holds
//! a connection slot for ever.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Bytes a tunnel has carried each way so far: readable while it runs,
/// and after it was cut short (at shutdown, its task is dropped).
#[derive(Debug, Default)]
pub(crate) struct Carried {
    up: AtomicU64,
    down: AtomicU64,
}

impl Carried {
    /// Bytes from the client to the backend.
    pub(crate) fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes from the backend to the client.
    pub(crate) fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// How a tunnel ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Both sides closed.
    Closed,
    /// Nothing moved either way for the idle limit.
    Idle(Duration),
    Failed(io::Error),
}

impl Ended {
    /// Logs the tunnel's end with what it carried each way.
    pub(crate) fn log(&self, up: u64, down: u64) {
        match self {
            Ended::Closed => tracing::debug!(up, down, "WebSocket tunnel closed"),
            Ended::Idle(limit) => {
                tracing::debug!(
                    ?limit,
                    up,
                    down,
                    "WebSocket tunnel closed: nothing moved for the idle limit"
                )
            }
            Ended::Failed(err) => {
                tracing::debug!(%err, up, down, "WebSocket tunnel closed on an error")
            }
        }
    }
}

/// Relays between `client` and `backend` until the tunnel ends, counting
/// what it carries in `carried`.
pub(crate) async fn relay<C, B>(
    client: C,
    backend: B,
    idle: Duration,
    carried: Arc<Carried>,
) -> Ended
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let clock = Clock {
        start: Instant::now(),
        last: Arc::new(AtomicU64::new(0)),
    };
    let mut client = Watched {
        inner: client,
        clock: clock.clone(),
        carried: carried.clone(),
        from_client: true,
    };
    let mut backend = Watched {
        inner: backend,
        clock: clock.clone(),
        carried,
        from_client: false,
    };
    let copy = tokio::io::copy_bidirectional(&mut client, &mut backend);
    tokio::pin!(copy);
    // One timer, looked at when it fires, not moved on each read: a
    // busy tunnel costs a clock read per read and nothing more.
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            copied = &mut copy => break match copied {
                Ok(_) => Ended::Closed,
                Err(err) => Ended::Failed(err),
            },
            _ = &mut timer => {
                let due = clock.last_moved() + idle;
                if due <= Instant::now() {
                    break Ended::Idle(idle);
                }
                timer.as_mut().reset(due);
            }
        }
    }
}

/// When bytes last moved through the tunnel, in nanoseconds from its start
/// (shared by both sides' readers, which run in the same task).
#[derive(Clone)]
struct Clock {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Clock {
    fn moved(&self) {
        let since = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(since, Ordering::Relaxed);
    }

    fn last_moved(&self) -> Instant {
        self.start + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }
}

/// One side of the tunnel, noting each read that brings bytes.
struct Watched<S> {
    inner: S,
    clock: Clock,
    /// Where the bytes read from this side (to be written to the other)
    /// are counted.
    carried: Arc<Carried>,
    from_client: bool,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = buf.filled().len() - before;
        if got > 0 {
            self.clock.moved();
            let count = match self.from_client {
                true => &self.carried.up,
                false => &self.carried.down,
            };
            count.fetch_add(got as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    write_through!(inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Paused time: the runtime jumps to the next timer when every task
    // waits, so a loaded machine cannot stretch a sleep past the limit.
    #[tokio::test(start_paused = true)]
    async fn a_silent_tunnel_ends_after_the_idle_limit() {
        let (client, _client_far) = tokio::io::duplex(1024);
        let (backend, _backend_far) = tokio::io::duplex(1024);
        let started = Instant::now();
        let ended = relay(client, backend, Duration::from_millis(200), Arc::default()).await;
        assert!(matches!(ended, Ended::Idle(_)), "{ended:?}");
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn talk_in_either_direction_keeps_it_open() {
        let (client, mut client_far) = tokio::io::duplex(1024);
        let (backend, mut backend_far) = tokio::io::duplex(1024);
        let carried = Arc::new(Carried::default());
        let idle = Duration::from_millis(200);
        let tunnel = tokio::spawn(relay(client, backend, idle, carried.clone()));
        // Ten messages 100 ms apart, one way only: a second in all, five
        // idle limits, and never one limit without a byte.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client_far.write_all(b"ping").await.unwrap();
            let mut got = [0; 4];
            backend_far.read_exact(&mut got).await.unwrap();
        }
        assert!(!tunnel.is_finished(), "the tunnel closed while in use");
        drop(client_far);
        drop(backend_far);
        let ended = tunnel.await.unwrap();
        assert!(matches!(ended, Ended::Closed), "{ended:?}");
        assert_eq!((carried.up(), carried.down()), (40, 0));
    }
}
