//! The access log (`--access-log`): a line per request once its answer has
//! been sent, as nginx's `access_log` writes it (its `combined` format,
//! then the time taken, the Route and the backend), or a JSON object a line
//! with `--log-format json`. A request whose client left before the answer
//! is logged with nginx's 499. Off by default, as Traefik's.
//!
//! As nginx's `buffer=64k flush=…`: each worker gathers its lines in a
//! buffer of its own and hands it to the one writer thread when it is full,
//! or every `FLUSH_EVERY`, so a busy proxy makes one write for hundreds of
//! lines and no request waits on another thread. A destination slower than
//! the traffic (a stalled pipe, a full disk) never holds up a request:
//! past `QUEUED_CHUNKS` buffers waiting, lines are dropped and counted in
//! `gatehouse_access_log_dropped_total`, and the writer says so on stderr;
//! lines a write fails to write are counted there too.

mod entry;
mod time;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use prometheus::IntCounter;

use crate::support::locks::lock;

pub(crate) use self::entry::{Entry, Served, TunnelLog};
pub(crate) use self::time::{rfc3339_millis, rfc3339_seconds};

/// A worker hands its lines over once it has this many bytes of them.
const CHUNK_BYTES: usize = 64 * 1024;

/// Buffers that may wait for the writer before lines are dropped (4 MiB).
const QUEUED_CHUNKS: usize = 64;

/// How long a line may wait in a quiet worker's buffer.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Where access log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Off,
    Stdout,
    /// Appended to; opened again on SIGUSR1, as nginx does for log rotation.
    File(PathBuf),
}

impl Destination {
    /// `off`, `stdout`, or a file's path.
    pub fn parse(text: &str) -> Result<Destination, String> {
        match text {
            "" => Err("give `off`, `stdout` or a file's path".into()),
            "off" => Ok(Destination::Off),
            "stdout" | "-" => Ok(Destination::Stdout),
            // A file named `stderr` in the working folder is never what
            // was meant.
            "stderr" => Err(
                "`stderr` is not a destination: give `stdout` (the proxy's own log goes to stderr), `off` or a file's path".into(),
            ),
            path => Ok(Destination::File(PathBuf::from(path))),
        }
    }
}

/// The log, shared by every worker: the way to its writer thread.
pub(crate) struct AccessLog {
    /// The one sender; taken at exit, which ends the writer.
    chunks: Mutex<Option<mpsc::SyncSender<Vec<u8>>>>,
    json: bool,
    reopen: Arc<AtomicBool>,
    dropped: IntCounter,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl AccessLog {
    /// Opens `destination` (a file is created if missing) and starts the
    /// writer thread; `None` when the log is off.
    pub(crate) fn start(
        destination: Destination,
        json: bool,
        dropped: IntCounter,
    ) -> io::Result<Option<AccessLog>> {
        AccessLog::start_queueing(destination, json, dropped, QUEUED_CHUNKS)
    }

    fn start_queueing(
        destination: Destination,
        json: bool,
        dropped: IntCounter,
        queue: usize,
    ) -> io::Result<Option<AccessLog>> {
        if destination == Destination::Off {
            return Ok(None);
        }
        let out = Output::open(&destination)?;
        let (chunks, incoming) = mpsc::sync_channel(queue);
        let reopen = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            out,
            destination,
            reopen: reopen.clone(),
            dropped: dropped.clone(),
            reported: 0,
        };
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer.run(incoming))?;
        Ok(Some(AccessLog {
            chunks: Mutex::new(Some(chunks)),
            json,
            reopen,
            dropped,
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// At exit, once the workers are gone: waits up to `within` for the
    /// writer to write every line it was given (a stalled destination is
    /// not waited on for ever).
    pub(crate) fn finish(&self, within: Duration) {
        // The writer ends once it has written what it was given; what is
        // handed over from now on is counted as lost.
        drop(lock(&self.chunks).take());
        let Some(writer) = lock(&self.writer).take() else {
            return;
        };
        let deadline = std::time::Instant::now() + within;
        while !writer.is_finished() {
            if std::time::Instant::now() >= deadline {
                tracing::warn!("the access log could not be written out in time at exit");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks the writer to open its file again before its next write.
    pub(crate) fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// A worker's own buffer of lines.
    pub(crate) fn for_worker(self: &Arc<Self>) -> Arc<WorkerLog> {
        Arc::new(WorkerLog {
            log: self.clone(),
            pending: Mutex::new(Pending::default()),
        })
    }
}

/// One worker's lines not yet handed to the writer. Its lock is taken
/// only by that worker's own thread (and its flush tick), so never waited on.
pub(crate) struct WorkerLog {
    log: Arc<AccessLog>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    lines: u64,
    clock: time::Clock,
}

impl WorkerLog {
    fn write(&self, entry: &Entry) {
        let mut pending = lock(&self.pending);
        let Pending { buf, lines, clock } = &mut *pending;
        if self.log.json {
            entry.write_json(buf, clock);
        } else {
            entry.write_text(buf, clock);
        }
        *lines += 1;
        if buf.len() >= CHUNK_BYTES {
            self.hand_over(&mut pending);
        }
    }

    /// Hands what the worker has to the writer (every `FLUSH_EVERY`).
    pub(crate) fn flush(&self) {
        let mut pending = lock(&self.pending);
        if !pending.buf.is_empty() {
            self.hand_over(&mut pending);
        }
    }

    fn hand_over(&self, pending: &mut Pending) {
        let chunk = std::mem::replace(&mut pending.buf, Vec::with_capacity(CHUNK_BYTES + 1024));
        let lines = std::mem::take(&mut pending.lines);
        let sent = match lock(&self.log.chunks).as_ref() {
            Some(chunks) => chunks.try_send(chunk).is_ok(),
            None => false,
        };
        if !sent {
            self.log.dropped.inc_by(lines);
        }
    }
}

impl Drop for WorkerLog {
    /// The worker has stopped, and its last requests with it.
    fn drop(&mut self) {
        self.flush();
    }
}

/// The writer thread's side.
struct Writer {
    out: Output,
    destination: Destination,
    reopen: Arc<AtomicBool>,
    dropped: IntCounter,
    /// Drops already said on stderr.
    reported: u64,
}

impl Writer {
    fn run(mut self, incoming: mpsc::Receiver<Vec<u8>>) {
        while let Ok(chunk) = incoming.recv() {
            if self.reopen.swap(false, Ordering::Relaxed) {
                self.out = self.out.reopened(&self.destination);
            }
            if let Err(err) = self.out.write(&chunk) {
                tracing::error!(%err, "cannot write the access log");
                let lines = chunk.iter().filter(|&&byte| byte == b'\n').count();
                self.dropped.inc_by(lines as u64);
                // Said just now, with its cause.
                self.reported = self.dropped.get();
            }
            let dropped = self.dropped.get();
            if dropped > self.reported {
                tracing::warn!(
                    dropped = dropped - self.reported,
                    "access log lines dropped: the log's destination is slower than the traffic"
                );
                self.reported = dropped;
            }
        }
    }
}

/// Standard output, or a file appended to.
enum Output {
    Stdout,
    File(File),
}

impl Output {
    fn open(destination: &Destination) -> io::Result<Output> {
        match destination {
            Destination::Off | Destination::Stdout => Ok(Output::Stdout),
            Destination::File(path) => Ok(Output::File(open_append(path)?)),
        }
    }

    /// The file opened again (a rotated log's new file); the old one if
    /// that fails, so no line is lost.
    fn reopened(self, destination: &Destination) -> Output {
        match Output::open(destination) {
            Ok(out) => {
                tracing::info!("access log opened again");
                out
            }
            Err(err) => {
                tracing::error!(%err, "cannot open the access log again; writing on to the old file");
                self
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Output::File(file) => file.write_all(bytes),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::peer::Peer;
    use http::Request;
    use std::time::Instant;

    #[test]
    fn a_stalled_destination_drops_and_counts_lines_instead_of_waiting() {
        let dropped = IntCounter::new("dropped", "test").unwrap();
        let log = AccessLog::start_queueing(Destination::Stdout, false, dropped.clone(), 1)
            .unwrap()
            .map(Arc::new)
            .unwrap();
        let worker = log.for_worker();
        let client = Peer::new("127.0.0.1:1".parse().unwrap());
        let req = Request::get("/stalled").body(()).unwrap();
        {
            // Standard output held: the writer cannot write.
            let _stalled = io::stdout().lock();
            let started = Instant::now();
            // About 100 bytes a line: 15 buffers' worth.
            for _ in 0..10_000 {
                drop(worker.begin(&client, &req));
            }
            worker.flush();
            assert!(started.elapsed() < Duration::from_secs(2));
            // One buffer queued, one in the writer's hands: the rest dropped.
            let kept_at_most = 2 * (CHUNK_BYTES as u64 / 90 + 1);
            assert!(
                dropped.get() >= 10_000 - kept_at_most,
                "{} dropped",
                dropped.get()
            );
        }
    }

    #[test]
    fn off_stdout_or_a_path() {
        assert_eq!(Destination::parse("off"), Ok(Destination::Off));
        assert_eq!(Destination::parse("stdout"), Ok(Destination::Stdout));
        assert!(
            Destination::parse("stderr")
                .unwrap_err()
                .contains("give `stdout`")
        );
        assert_eq!(
            Destination::parse("/var/log/gh.log"),
            Ok(Destination::File("/var/log/gh.log".into()))
        );
        assert!(Destination::parse("").is_err());
    }
}
