//! The access log (`--access-log`): a line per request once its answer has
//! been sent, as nginx's `access_log` writes it (its `combined` format,
//! then the time taken, the Route and the backend), or a JSON object a line
//! with `--log-format json`. A request whose client left before the answer
//! is logged with nginx's 499.
//!
//! Workers hand finished lines to one writer thread over a channel; the
//! writer writes what has piled up in one go, so a busy proxy makes one
//! write for many lines and an idle one shows each line at once (nginx's
//! `buffer=` and `flush=` in one). A destination slower than the traffic
//! (a stalled pipe, a full disk) never holds up a request: past
//! `QUEUED_LINES` waiting, lines are dropped and counted in
//! `gatehouse_access_log_dropped_total`, and the writer says so on stderr.
//! Off by default, as Traefik's.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body::Frame;
use http_body_util::BodyExt;
use prometheus::IntCounter;

use crate::body::{Body, BoxError};
use crate::forwarded::ClientIp;

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
            path => Ok(Destination::File(PathBuf::from(path))),
        }
    }
}

/// Lines that may wait for the writer before more are dropped.
const QUEUED_LINES: usize = 64 * 1024;

/// The sending end of the log, shared by every worker.
pub struct AccessLog {
    lines: mpsc::SyncSender<String>,
    json: bool,
    reopen: Arc<AtomicBool>,
    dropped: IntCounter,
}

impl AccessLog {
    /// Opens `destination` (a file is created if missing) and starts the
    /// writer thread; `None` when the log is off.
    pub fn start(
        destination: Destination,
        json: bool,
        dropped: IntCounter,
    ) -> io::Result<Option<AccessLog>> {
        AccessLog::start_queueing(destination, json, dropped, QUEUED_LINES)
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
        let mut out = Output::open(&destination)?;
        let (lines, incoming) = mpsc::sync_channel::<String>(queue);
        let reopen = Arc::new(AtomicBool::new(false));
        let asked = reopen.clone();
        let counted = dropped.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(64 * 1024);
                let mut reported = 0;
                while let Ok(line) = incoming.recv() {
                    batch.extend_from_slice(line.as_bytes());
                    while batch.len() < 1 << 20
                        && let Ok(line) = incoming.try_recv()
                    {
                        batch.extend_from_slice(line.as_bytes());
                    }
                    if asked.swap(false, Ordering::Relaxed) {
                        out = out.reopened(&destination);
                    }
                    if let Err(err) = out.write(&batch) {
                        tracing::error!(%err, "cannot write the access log");
                    }
                    batch.clear();
                    let dropped = counted.get();
                    if dropped > reported {
                        tracing::warn!(
                            dropped = dropped - reported,
                            "access log lines dropped: the log's destination is slower than the traffic"
                        );
                        reported = dropped;
                    }
                }
            })?;
        Ok(Some(AccessLog {
            lines,
            json,
            reopen,
            dropped,
        }))
    }

    /// Asks the writer to open its file again before its next write.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// The entry for `req`, taken before anything changes it.
    pub fn begin<B>(self: &Arc<Self>, client: &ClientIp, req: &Request<B>) -> Entry {
        let header = |name| req.headers().get(name).cloned();
        Entry {
            log: self.clone(),
            started: Instant::now(),
            at: SystemTime::now(),
            client: client.as_header().clone(),
            method: req.method().clone(),
            target: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().to_string(), ToString::to_string),
            version: req.version(),
            host: header(header::HOST).or_else(|| {
                let authority = req.uri().authority()?;
                HeaderValue::from_str(authority.as_str()).ok()
            }),
            referer: header(header::REFERER),
            user_agent: header(header::USER_AGENT),
            served: Served::default(),
            status: 499,
            bytes: 0,
        }
    }
}

/// The Route and backend that served a request.
#[derive(Default)]
pub struct Served {
    pub route: Option<Arc<str>>,
    pub backend: Option<Arc<str>>,
}

/// One request's line, written when it is dropped: when its answer has
/// been sent, or when the request is given up.
pub struct Entry {
    log: Arc<AccessLog>,
    started: Instant,
    at: SystemTime,
    client: HeaderValue,
    method: Method,
    target: String,
    version: Version,
    host: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    pub served: Served,
    status: u16,
    bytes: u64,
}

impl Entry {
    /// `response`, whose body logs the entry once it is sent.
    pub fn respond(mut self, response: Response<Body>) -> Response<Body> {
        self.status = response.status().as_u16();
        response.map(|inner| Logged { inner, entry: self }.boxed_unsync())
    }

    fn line(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        if self.log.json {
            self.json_line(seconds)
        } else {
            self.text_line(seconds)
        }
    }

    /// nginx's `combined`, then `$request_time` and the Route and backend:
    /// `1.2.3.4 - - [02/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12
    /// "-" "curl/8.0" 0.001 route=default/app backend=blue`.
    fn text_line(&self, seconds: f64) -> String {
        let mut line = String::with_capacity(160 + self.target.len());
        push_escaped(&mut line, self.client.as_bytes());
        line.push_str(" - - [");
        line.push_str(&clf_time(self.at));
        line.push_str("] \"");
        line.push_str(self.method.as_str());
        line.push(' ');
        push_escaped(&mut line, self.target.as_bytes());
        line.push(' ');
        line.push_str(version_text(self.version));
        line.push_str("\" ");
        line.push_str(&format!("{} {} \"", self.status, self.bytes));
        push_header(&mut line, self.referer.as_ref());
        line.push_str("\" \"");
        push_header(&mut line, self.user_agent.as_ref());
        line.push_str(&format!("\" {seconds:.3} route="));
        line.push_str(self.served.route.as_deref().unwrap_or("-"));
        line.push_str(" backend=");
        line.push_str(self.served.backend.as_deref().unwrap_or("-"));
        line.push('\n');
        line
    }

    fn json_line(&self, seconds: f64) -> String {
        let text = |value: Option<&HeaderValue>| {
            value.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let mut line = serde_json::json!({
            "time": rfc3339_time(self.at),
            "client": text(Some(&self.client)),
            "method": self.method.as_str(),
            "target": self.target,
            "protocol": version_text(self.version),
            "host": text(self.host.as_ref()),
            "status": self.status,
            "bytes": self.bytes,
            "duration_seconds": (seconds * 1e6).round() / 1e6,
            "route": self.served.route.as_deref(),
            "backend": self.served.backend.as_deref(),
            "referer": text(self.referer.as_ref()),
            "user_agent": text(self.user_agent.as_ref()),
        })
        .to_string();
        line.push('\n');
        line
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        match self.log.lines.try_send(self.line()) {
            Err(mpsc::TrySendError::Full(_)) => self.log.dropped.inc(),
            // The writer is gone only when the process is ending.
            Ok(()) | Err(mpsc::TrySendError::Disconnected(_)) => {}
        }
    }
}

/// A response body that counts what it yields and logs its entry when it
/// is dropped: sent whole, or cut off.
struct Logged {
    inner: Body,
    entry: Entry,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.entry.bytes += data.len() as u64;
        }
        polled
    }

    body_hints_through!(inner);
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

fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn push_header(line: &mut String, value: Option<&HeaderValue>) {
    match value {
        Some(value) => push_escaped(line, value.as_bytes()),
        None => line.push('-'),
    }
}

/// Bytes as nginx escapes them in a log: `"`, `\`, controls and non-ASCII
/// as `\xHH`, so a client cannot forge a line or a field.
fn push_escaped(line: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            line.push_str(&format!("\\x{byte:02X}"));
        } else {
            line.push(byte as char);
        }
    }
}

/// `02/Dec/2026:10:00:00 +0000`, nginx's `$time_local` in UTC.
fn clf_time(at: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Civil::of(at);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day,
        MONTHS[t.month as usize - 1],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

/// `2026-12-02T10:00:00.123Z`.
fn rfc3339_time(at: SystemTime) -> String {
    let t = Civil::of(at);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
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
    millis: u32,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`.
    fn of(at: SystemTime) -> Civil {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
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
            millis: since.subsec_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_formatted_as_nginx_and_rfc_3339_do() {
        // 2026-12-02T10:04:05.678Z
        let at = UNIX_EPOCH + Duration::from_millis(1_796_205_845_678);
        assert_eq!(clf_time(at), "02/Dec/2026:10:04:05 +0000");
        assert_eq!(rfc3339_time(at), "2026-12-02T10:04:05.678Z");
        // A leap day, and the epoch.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(rfc3339_time(leap), "2024-02-29T00:00:00.000Z");
        assert_eq!(clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn quotes_and_controls_cannot_forge_a_field() {
        let mut line = String::new();
        push_escaped(&mut line, b"a\"b\\c\nd\x7f\xc3\xa9");
        assert_eq!(line, r"a\x22b\x5Cc\x0Ad\x7F\xC3\xA9");
    }

    #[test]
    fn a_stalled_destination_drops_and_counts_lines_instead_of_waiting() {
        let dropped = IntCounter::new("dropped", "test").unwrap();
        let log = AccessLog::start_queueing(Destination::Stdout, false, dropped.clone(), 4)
            .unwrap()
            .map(Arc::new)
            .unwrap();
        let client = ClientIp::new("127.0.0.1:1".parse().unwrap());
        let req = Request::get("/stalled").body(()).unwrap();
        {
            // Standard output held: the writer cannot write.
            let _stalled = io::stdout().lock();
            let started = Instant::now();
            for _ in 0..100 {
                drop(log.begin(&client, &req));
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
            // Four queued, and at most five more in the writer's batch.
            assert!(dropped.get() >= 91, "{} dropped", dropped.get());
        }
    }

    #[test]
    fn off_stdout_or_a_path() {
        assert_eq!(Destination::parse("off"), Ok(Destination::Off));
        assert_eq!(Destination::parse("stdout"), Ok(Destination::Stdout));
        assert_eq!(
            Destination::parse("/var/log/gh.log"),
            Ok(Destination::File("/var/log/gh.log".into()))
        );
        assert!(Destination::parse("").is_err());
    }
}
