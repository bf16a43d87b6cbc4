//! One program run for one request: started with only the environment
//! `env.rs` builds, the request body streamed into its stdin, its stdout
//! read up to the header block (`headers.rs`) and then streamed back as
//! the response body, its stderr sent to the proxy's log. Nothing is held
//! whole: a frame of the request and a 32 KiB read of the output are in
//! flight at a time, and the client's pace drives the program's through
//! the pipes.
//!
//! The program runs in a process group of its own, and the whole group
//! is killed (`SIGKILL`) when the response is dropped: the client left,
//! or the time limit passed. `git http-backend` runs `git upload-pack` as
//! a child, which a kill of the leader alone would leave running.
//!
//! **Where the spawn runs.** `tokio::process` starts the program on the
//! calling thread: Rust's std uses `posix_spawn` (glibc's is
//! `clone(CLONE_VFORK)`) for what is set here (no `pre_exec`, an
//! absolute program, a working folder through
//! `posix_spawn_file_actions_addchdir_np`), so the caller is suspended
//! until the child has called `exec`, which reads the program from disk,
//! and where posix_spawn cannot be used it falls back to `fork`, whose
//! page-table copy grows with the proxy's memory. Measured on the
//! development machine (2 busy cores), the `posix_spawn` call alone, with
//! a process group as here, blocked its caller 0.77 ms for `/bin/true` and
//! 0.99 ms for `git-http-backend` (Python's `os.posix_spawn`, the same
//! glibc call): a millisecond that a worker thread serving thousands of
//! connections must not spend, so the spawn goes to `State::blocking`'s
//! `process` lane, as `support/blocking.rs` says. Only the spawn: the
//! pipes are then read and written on the worker, and the lane's slot is
//! free again while the program runs (its own limit is `slots`).
//!
//! `kill(2)` of the group is the one `unsafe` call: tokio kills only the
//! child it started.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::env::Env;
use super::headers::{MAX_HEAD, find_end, parse};
use crate::backends::Call;
use crate::backends::upstream::RequestBody;
use crate::backends::upstream::request_body::{ClientBody, Fault};
use crate::observe::metrics::UpstreamError;
use crate::support::blocking::BlockingKind;
use crate::support::body::{self, Body, BoxError};
use crate::support::timer::TimedBody;

/// How much of the program's output one read takes.
const CHUNK: usize = 32 * 1024;
/// The longest stderr line logged; the rest of it is cut.
const MAX_LOG_LINE: usize = 1024;
/// Stderr lines logged for one request; further ones are read and dropped.
const MAX_LOG_LINES: usize = 200;

/// A program a backend runs, with its limits.
pub(crate) struct Program {
    pub(crate) path: PathBuf,
    pub(crate) args: Vec<OsString>,
    /// Where it runs.
    pub(crate) dir: PathBuf,
    /// The backend's own variables; the request's come after them.
    pub(crate) env: Env,
    /// One permit a running process: the backend's `maxProcesses`.
    slots: Arc<Semaphore>,
    /// The longest one request may take, output included.
    timeout: Duration,
}

/// A running process's place, held until it has exited.
pub(crate) struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl Program {
    pub(crate) fn new(
        path: PathBuf,
        args: Vec<OsString>,
        dir: PathBuf,
        env: Env,
        limits: &gatehouse_api::config::ProcessLimits,
    ) -> Program {
        Program {
            path,
            args,
            dir,
            env,
            slots: Arc::new(Semaphore::new(limits.max_processes.max(1) as usize)),
            timeout: Duration::from_millis(limits.timeout_ms),
        }
    }

    /// A place for one more process, if the backend's limit leaves one.
    pub(crate) fn slot(&self) -> Option<Slot> {
        self.slots.clone().try_acquire_owned().ok().map(Slot)
    }

    /// Runs the program for one request: `env` is the request's CGI
    /// variables, `body` goes to its stdin, and its output is the answer.
    pub(crate) async fn run<B: RequestBody>(
        &self,
        slot: Slot,
        env: Env,
        body: B,
        call: &Call<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        let who = Who {
            route: call.route.clone(),
            backend: call.backend.clone(),
        };
        let mut limit = self.timeout;
        if let Some(rule_limit) = call.request_timeout {
            limit = limit.min(rule_limit.saturating_sub(call.started.elapsed()));
        }
        let deadline = Instant::now() + limit;
        let has_body = !body.is_end_stream();
        let mut command = Command::new(&self.path);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(n, v)| (n, v)))
            .envs(env)
            .current_dir(&self.dir)
            .stdin(if has_body {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let spawned = call
            .blocking
            .run(BlockingKind::Process, move || command.spawn())
            .await;
        let child = match spawned {
            Err(busy) => return Ok(retry_later(&busy.to_string())),
            Ok(Err(err)) => {
                tracing::warn!(route = %who.route, backend = %who.backend, program = %self.path.display(), error = %err, "cgi: the program could not be started");
                return Ok(body::plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("backend {} could not start its program: {err}", who.backend),
                ));
            }
            Ok(Ok(child)) => child,
        };
        let mut running = Running::new(child);
        let stdout = running.child.stdout.take().expect("stdout is piped");
        if let Some(stderr) = running.child.stderr.take() {
            tokio::spawn(log_stderr(stderr, who.clone()));
        }
        let fault = Fault::default();
        if let Some(stdin) = running.child.stdin.take() {
            let idle = call.upstreams.client_body_timeout();
            let body = ClientBody::new(body.map_err(Into::into), idle, fault.clone());
            tokio::spawn(feed(body, stdin, running.pgid));
        }
        let mut output = Output {
            stdout,
            leftover: Bytes::new(),
            running: Some(running),
            slot: Some(slot),
            deadline,
            who: who.clone(),
        };
        let (head, rest) = match output.read_head().await {
            Ok(read) => read,
            Err(failure) => {
                let response = match fault.get() {
                    // The client's body broke: the program was stopped for it.
                    Some(kind) => return Err(kind),
                    None => failure.answer(&who),
                };
                return Ok(response);
            }
        };
        output.leftover = rest;
        let mut response =
            Response::new(TimedBody::new(output, None, Some(deadline)).boxed_unsync());
        *response.status_mut() = head.status;
        *response.headers_mut() = head.headers;
        Ok(response)
    }
}

/// Names for the log.
#[derive(Clone)]
struct Who {
    route: Arc<str>,
    backend: Arc<str>,
}

/// Why no response head came.
enum HeadFailure {
    TimedOut,
    Ended(String),
    Malformed(String),
}

impl HeadFailure {
    fn answer(self, who: &Who) -> Response<Body> {
        let (status, why) = match self {
            HeadFailure::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                "the program did not answer within its time limit and was stopped".to_owned(),
            ),
            HeadFailure::Ended(why) => (StatusCode::BAD_GATEWAY, why),
            HeadFailure::Malformed(why) => (
                StatusCode::BAD_GATEWAY,
                format!("the program's header block is malformed: {why}"),
            ),
        };
        tracing::warn!(route = %who.route, backend = %who.backend, status = status.as_u16(), reason = %why, "cgi: no response from the program");
        body::plain(status, &format!("backend {}: {why}", who.backend))
    }
}

/// The process, killed with its group when dropped.
struct Running {
    child: Child,
    pgid: Option<i32>,
}

impl Running {
    fn new(child: Child) -> Running {
        // `process_group(0)`: the child leads a group whose id is its pid.
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        Running { child, pgid }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The group's id stays reserved while any member lives, so this
        // reaches the program's children even once it has exited itself;
        // `kill_on_drop` then reaps the program.
        kill_group(self.pgid);
    }
}

fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid.filter(|&id| id > 1) {
        // SAFETY: kill(2) takes plain integers and touches no memory.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// The program's stdout: first its header block, then the body.
struct Output {
    stdout: ChildStdout,
    /// Body bytes read along with the header block.
    leftover: Bytes,
    /// `None` once handed to the reaper at the end of the output.
    running: Option<Running>,
    slot: Option<Slot>,
    deadline: Instant,
    who: Who,
}

impl Output {
    /// The header block, parsed, and the body bytes read after it.
    async fn read_head(&mut self) -> Result<(super::headers::CgiHead, Bytes), HeadFailure> {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        loop {
            if let Some((head_len, body_start)) = find_end(&buf) {
                if body_start > MAX_HEAD {
                    break;
                }
                let head = parse(&buf[..head_len]).map_err(HeadFailure::Malformed)?;
                let rest = buf.split_off(body_start).freeze();
                return Ok((head, rest));
            }
            if buf.len() > MAX_HEAD {
                break;
            }
            buf.reserve(8 * 1024);
            let read = tokio::time::timeout_at(self.deadline, self.stdout.read_buf(&mut buf)).await;
            match read {
                Err(_) => return Err(HeadFailure::TimedOut),
                Ok(Err(err)) => {
                    return Err(HeadFailure::Ended(format!(
                        "reading the program's output failed: {err}"
                    )));
                }
                Ok(Ok(0)) => {
                    let status = self.exit_status().await;
                    let what = if buf.is_empty() {
                        "the program wrote nothing"
                    } else {
                        "the program's output ended before its header block did (no blank line)"
                    };
                    return Err(HeadFailure::Ended(format!("{what}; it {status}")));
                }
                Ok(Ok(_)) => {}
            }
        }
        Err(HeadFailure::Malformed(format!(
            "it is longer than {} KiB",
            MAX_HEAD / 1024
        )))
    }

    /// How the program ended, waited for a moment.
    async fn exit_status(&mut self) -> String {
        let Some(running) = &mut self.running else {
            return "ended".to_owned();
        };
        match tokio::time::timeout(Duration::from_secs(1), running.child.wait()).await {
            Ok(Ok(status)) => format!("ended with {status}"),
            _ => "closed its output".to_owned(),
        }
    }

    /// The output ended: the process is waited for in the background
    /// (until the deadline), its slot freed when it has gone.
    fn finish(&mut self) {
        let (Some(mut running), slot) = (self.running.take(), self.slot.take()) else {
            return;
        };
        let (deadline, who) = (self.deadline, self.who.clone());
        tokio::spawn(async move {
            match tokio::time::timeout_at(deadline, running.child.wait()).await {
                Ok(Ok(status)) if !status.success() => {
                    tracing::warn!(route = %who.route, backend = %who.backend, %status, "cgi: the program failed");
                }
                Err(_) => {
                    tracing::warn!(route = %who.route, backend = %who.backend, "cgi: the program outlived its time limit after its output and was stopped");
                }
                _ => {}
            }
            drop((running, slot));
        });
    }
}

impl http_body::Body for Output {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if !this.leftover.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut this.leftover)))));
        }
        if this.running.is_none() {
            return Poll::Ready(None);
        }
        let mut chunk = BytesMut::zeroed(CHUNK);
        let mut read = ReadBuf::new(&mut chunk);
        let polled = Pin::new(&mut this.stdout).poll_read(cx, &mut read);
        if let Err(err) = ready!(polled) {
            this.finish();
            return Poll::Ready(Some(Err(err.into())));
        }
        let n = read.filled().len();
        if n == 0 {
            this.finish();
            return Poll::Ready(None);
        }
        chunk.truncate(n);
        Poll::Ready(Some(Ok(Frame::data(chunk.freeze()))))
    }
}

/// The request body into the program's stdin; closed at its end. A body
/// that breaks or stalls stops the program (the fault says why), so it
/// never takes a cut-off body for a whole one.
async fn feed<B>(mut body: ClientBody<B>, mut stdin: ChildStdin, pgid: Option<i32>)
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Unpin,
{
    while let Some(frame) = body.frame().await {
        match frame {
            Err(_) => {
                kill_group(pgid);
                return;
            }
            Ok(frame) => {
                if let Ok(data) = frame.into_data()
                    && stdin.write_all(&data).await.is_err()
                {
                    // The program stopped reading: its answer says why.
                    return;
                }
            }
        }
    }
}

/// The program's stderr, line by line, to the log: each line cut at
/// `MAX_LOG_LINE` bytes, at most `MAX_LOG_LINES` of them; the rest is
/// read and dropped, so a chatty program never blocks on a full pipe.
async fn log_stderr(mut stderr: ChildStderr, who: Who) {
    let mut chunk = [0u8; 4096];
    let mut line: Vec<u8> = Vec::new();
    let mut logged = 0;
    let emit = |line: &mut Vec<u8>, logged: &mut usize| {
        if *logged < MAX_LOG_LINES {
            let text = String::from_utf8_lossy(line);
            tracing::warn!(route = %who.route, backend = %who.backend, stderr = %text.trim_end(), "cgi: the program says");
        } else if *logged == MAX_LOG_LINES {
            tracing::warn!(route = %who.route, backend = %who.backend, "cgi: the program's further stderr lines are not logged");
        }
        *logged += 1;
        line.clear();
    };
    loop {
        let n = match stderr.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for piece in chunk[..n].split_inclusive(|&b| b == b'\n') {
            let (text, ends) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            let room = MAX_LOG_LINE.saturating_sub(line.len());
            line.extend_from_slice(&text[..text.len().min(room)]);
            if ends {
                emit(&mut line, &mut logged);
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line, &mut logged);
    }
}

/// The answer when `Program::slot` has none.
pub(crate) fn no_slot() -> Response<Body> {
    retry_later("this backend runs as many programs as it may at once; try again shortly")
}

/// 503 with `Retry-After: 1`.
pub(crate) fn retry_later(why: &str) -> Response<Body> {
    let mut response = body::plain(StatusCode::SERVICE_UNAVAILABLE, why);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
