//! The home of slow work, off the worker threads. A worker thread serves
//! thousands of connections: nothing slower than a page-cache read may run
//! on it (no fsync, no process spawn, no password hash, no script). Such
//! work is handed here: it runs on the runtime's blocking threads, at most
//! `limit` of a kind at once across all workers, with a bounded queue
//! behind them, so a flood of one kind (a bcrypt storm, a CGI fork bomb)
//! neither blocks the workers nor starves the other kinds.
//!
//! `gatehouse_blocking_tasks{kind,state}` shows what runs and waits, and
//! `gatehouse_blocking_refused_total{kind}` what found the queue full.

use std::sync::Arc;

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts};
use tokio::sync::Semaphore;

/// What the work is: each kind has its own limit and metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockingKind {
    /// A write made durable (`fsync`): the depot.
    Fsync,
    /// A process started and waited on: CGI, `git http-backend`.
    Process,
    /// A password hash verified (bcrypt, APR1): access control.
    PasswordHash,
    /// A mock's script.
    Script,
    /// Folders read whole: a depot repository's summary for its status
    /// (`GET /depots` on the admin API).
    Scan,
}

impl BlockingKind {
    const ALL: [BlockingKind; 5] = [
        BlockingKind::Fsync,
        BlockingKind::Process,
        BlockingKind::PasswordHash,
        BlockingKind::Script,
        BlockingKind::Scan,
    ];

    pub fn label(self) -> &'static str {
        match self {
            BlockingKind::Fsync => "fsync",
            BlockingKind::Process => "process",
            BlockingKind::PasswordHash => "password_hash",
            BlockingKind::Script => "script",
            BlockingKind::Scan => "scan",
        }
    }

    /// How many may wait per running slot before more are refused.
    fn queue_per_slot(self) -> usize {
        match self {
            BlockingKind::Script => SCRIPT_QUEUE_PER_SLOT,
            _ => QUEUE_PER_SLOT,
        }
    }

    /// How many may run at once. CPU-bound kinds get a thread a core, so
    /// they cannot take the machine from the workers; disk and process
    /// work waits on other things and gets more.
    fn default_limit(self, cores: usize) -> usize {
        match self {
            BlockingKind::Fsync => 16,
            BlockingKind::Process => 4 * cores,
            BlockingKind::PasswordHash | BlockingKind::Script => cores,
            // Status, not service: one thread at most, whatever asks.
            BlockingKind::Scan => 1,
        }
    }
}

/// Waiting behind the running ones, per running slot; past this the work
/// is refused at once (the caller answers 503) rather than queued for
/// longer than any client would wait.
const QUEUE_PER_SLOT: usize = 32;
/// A mock's scripts take microseconds, and a load test sends one per
/// connection: their queue holds as many as a busy proxy has clients,
/// while a script that runs long is still cut at its own time limit.
const SCRIPT_QUEUE_PER_SLOT: usize = 1024;

/// Refused: `limit` of this kind run and the queue behind them is full.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy(pub BlockingKind);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too much {} work is under way; try again shortly",
            self.0.label()
        )
    }
}

struct Lane {
    running: Arc<Semaphore>,
    /// Permits to wait for a running slot; none left is `Busy`.
    queue: Arc<Semaphore>,
}

pub struct BlockingPool {
    lanes: [Lane; 5],
    tasks: IntGaugeVec,
    refused: IntCounterVec,
}

impl BlockingPool {
    /// The default limits for a machine of `cores` cores.
    pub fn new(cores: usize) -> BlockingPool {
        BlockingPool::with_limits(|kind| kind.default_limit(cores.max(1)))
    }

    pub fn with_limits(limit: impl Fn(BlockingKind) -> usize) -> BlockingPool {
        let lanes = BlockingKind::ALL.map(|kind| {
            let limit = limit(kind).max(1);
            Lane {
                running: Arc::new(Semaphore::new(limit)),
                queue: Arc::new(Semaphore::new(limit * kind.queue_per_slot())),
            }
        });
        let tasks = IntGaugeVec::new(
            Opts::new(
                "gatehouse_blocking_tasks",
                "Slow work off the worker threads, by kind and state (running, waiting)",
            ),
            &["kind", "state"],
        )
        .expect("valid metric");
        let refused = IntCounterVec::new(
            Opts::new(
                "gatehouse_blocking_refused_total",
                "Slow work refused because its kind's queue was full, by kind",
            ),
            &["kind"],
        )
        .expect("valid metric");
        for kind in BlockingKind::ALL {
            // Present from the start, so a dashboard shows 0, not nothing.
            for state in ["running", "waiting"] {
                tasks.with_label_values(&[kind.label(), state]).set(0);
            }
            refused.with_label_values(&[kind.label()]);
        }
        BlockingPool {
            lanes,
            tasks,
            refused,
        }
    }

    /// The collectors to register with the proxy's metrics.
    pub fn collectors(&self) -> [Box<dyn prometheus::core::Collector>; 2] {
        [Box::new(self.tasks.clone()), Box::new(self.refused.clone())]
    }

    /// Runs `work` off the worker thread once a slot of its kind is free.
    /// A panic in `work` is resumed here, in the caller's task, as if the
    /// work had run in place; its slot is freed either way.
    pub async fn run<T: Send + 'static>(
        &self,
        kind: BlockingKind,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let lane = &self.lanes[kind as usize];
        let Ok(place) = lane.queue.clone().try_acquire_owned() else {
            self.refused.with_label_values(&[kind.label()]).inc();
            return Err(Busy(kind));
        };
        let waiting = Counted::new(self.tasks.with_label_values(&[kind.label(), "waiting"]));
        let slot = lane.running.clone().acquire_owned().await;
        drop((waiting, place));
        let slot = slot.expect("the pool's semaphores are never closed");
        // Counted until the work ends, even if the caller stops waiting
        // for it (the client left): the work itself runs to its end.
        let running = Counted::new(self.tasks.with_label_values(&[kind.label(), "running"]));
        let joined = tokio::task::spawn_blocking(move || {
            let out = work();
            drop((slot, running));
            out
        })
        .await;
        match joined {
            Ok(out) => Ok(out),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
}

/// One in a gauge while it lives.
struct Counted(IntGauge);

impl Counted {
    fn new(gauge: IntGauge) -> Counted {
        gauge.inc();
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn gauge(pool: &BlockingPool, kind: BlockingKind, state: &str) -> i64 {
        pool.tasks.with_label_values(&[kind.label(), state]).get()
    }

    #[tokio::test]
    async fn work_runs_off_the_calling_thread() {
        let pool = BlockingPool::new(2);
        let caller = std::thread::current().id();
        let ran_on = pool
            .run(BlockingKind::Fsync, || std::thread::current().id())
            .await
            .unwrap();
        assert_ne!(ran_on, caller);
    }

    #[tokio::test]
    async fn a_kind_runs_at_most_its_limit_and_the_others_are_not_held_up() {
        let pool = Arc::new(BlockingPool::with_limits(|_| 1));
        let (release, held) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(BlockingKind::PasswordHash, move || held.recv().unwrap())
                    .await
            }
        });
        let second = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(BlockingKind::PasswordHash, || 2).await }
        });
        let hash = BlockingKind::PasswordHash;
        for _ in 0..200 {
            if gauge(&pool, hash, "running") == 1 && gauge(&pool, hash, "waiting") == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(gauge(&pool, hash, "running"), 1, "one runs");
        assert_eq!(gauge(&pool, hash, "waiting"), 1, "the other waits");
        // Another kind has its own slots.
        assert_eq!(pool.run(BlockingKind::Script, || 3).await, Ok(3));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(gauge(&pool, hash, "running"), 0);
        assert_eq!(gauge(&pool, hash, "waiting"), 0);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_counted() {
        let pool = Arc::new(BlockingPool::with_limits(|_| 1));
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let mut waiting = Vec::new();
        // One runs, QUEUE_PER_SLOT wait: all of them held by the channel.
        for _ in 0..=QUEUE_PER_SLOT {
            let (pool, held) = (pool.clone(), held.clone());
            waiting.push(tokio::spawn(async move {
                pool.run(BlockingKind::Process, move || {
                    held.lock().unwrap().recv().unwrap()
                })
                .await
            }));
        }
        for _ in 0..200 {
            if gauge(&pool, BlockingKind::Process, "waiting") == QUEUE_PER_SLOT as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = pool.run(BlockingKind::Process, || ()).await;
        assert_eq!(refused, Err(Busy(BlockingKind::Process)));
        assert_eq!(
            pool.refused.with_label_values(&["process"]).get(),
            1,
            "counted"
        );
        for _ in 0..=QUEUE_PER_SLOT {
            release.send(()).unwrap();
        }
        for task in waiting {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
    }

    #[tokio::test]
    async fn a_panic_in_the_work_frees_its_slot() {
        let pool = Arc::new(BlockingPool::with_limits(|_| 1));
        let panicked = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(BlockingKind::Script, || panic!("a script bug"))
                    .await
            }
        });
        assert!(panicked.await.unwrap_err().is_panic());
        assert_eq!(pool.run(BlockingKind::Script, || 1).await, Ok(1));
    }
}
