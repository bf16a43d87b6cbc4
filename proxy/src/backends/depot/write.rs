//! Changes: PUT, POST and DELETE. What fsyncs runs off the worker, on the
//! blocking pool's `fsync` lane: the plan (which, for POST and DELETE, is
//! the change itself) and a PUT's commit.
//!
//! A PUT's body streams between the two, on the worker, into the upload's
//! temp file: page-cache writes, as nginx writes a client body to its temp
//! file, so a client that sends slowly holds no slot of the lane while its
//! bytes trickle in. The plan comes first, so a refusal — a bad name, a
//! stale `If-Match`, a `Content-Length` over the repository's
//! `maxFileSize` — is answered before a byte of the body is read (and a
//! client that sent `Expect: 100-continue` is told to go on only then).
//! The first chunk past the limit ends it at once with 413. Nothing is
//! stored unless the whole body came: a client that leaves or stalls
//! (`--client-body-timeout`) drops the upload, and the engine removes its
//! temp file.
//!
//! A small body the client sent whole (`Content-Length` up to
//! `SMALL_BODY`, no `Expect: 100-continue`) is read first, then plan and
//! commit run as one task on the lane: one hand-off each way instead of
//! two, as nginx keeps a body under `client_body_buffer_size` in memory.
//! Each hand-off is two thread switches, a third of a small check-in's
//! CPU; a refusal then comes after a body of at most `SMALL_BODY` bytes.
//!
//! A full blocking lane is answered 503 with `Retry-After`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_depot::{Answer, DepotRequest, Plan, UploadPlan};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::read::with_host;
use super::{Asked, Serving, answer, error};
use crate::backends::Call;
use crate::backends::upstream::RequestBody;
use crate::support::blocking::{BlockingKind, Busy};
use crate::support::body::Body;

/// The largest body read whole before its check-in is planned (see the
/// module's documentation).
const SMALL_BODY: u64 = 64 * 1024;

/// What a change came to.
enum Done {
    Answer(Answer),
    CheckedIn {
        answer: Answer,
        bytes: u64,
        /// Whether a revision was made (not when the bytes equal latest's).
        created: bool,
    },
}

pub(super) async fn serve<B: RequestBody>(
    serving: Arc<Serving>,
    asked: Asked,
    req: Request<B>,
    call: &Call<'_>,
) -> Response<Body> {
    let started = Instant::now();
    let headers = with_host(req.headers(), call).into_owned();
    let (parts, mut body) = req.into_parts();
    let method = parts.method;
    let label = serving.label(&asked.below).to_owned();
    let request = {
        let (serving, method, path) = (serving.clone(), method.clone(), asked.below.clone());
        let (mount, query) = (asked.mount.clone(), asked.query.clone());
        move || {
            serving.depot.plan(&DepotRequest {
                method: &method,
                path: &path,
                query: query.as_deref(),
                headers: &headers,
                mount: &mount,
                user: None,
            })
        }
    };
    if method == Method::PUT && small_and_whole(&parts.headers) {
        let idle = call.upstreams.client_body_timeout();
        let bytes = match collect_small(&mut body, idle).await {
            Ok(bytes) => bytes,
            Err(refused) => {
                serving.metrics.refused(&label, refused.status());
                return refused;
            }
        };
        let done = call
            .blocking
            .run(BlockingKind::Fsync, move || match request() {
                Plan::Upload(mut upload) => match upload.write(&bytes) {
                    Ok(()) => check_in(upload, bytes.len() as u64),
                    Err(refused) => Done::Answer(*refused),
                },
                Plan::Answer(answer) => Done::Answer(answer),
                Plan::Read(_) => Done::Answer(not_a_change()),
            })
            .await;
        return finish(&serving, &label, &method, &asked, done, started);
    }
    let plan = call.blocking.run(BlockingKind::Fsync, request).await;
    let done = match plan {
        Err(busy) => Err(busy),
        Ok(Plan::Answer(answer)) => Ok(Done::Answer(answer)),
        Ok(Plan::Read(_)) => Ok(Done::Answer(not_a_change())),
        Ok(Plan::Upload(mut upload)) => {
            let idle = call.upstreams.client_body_timeout();
            let bytes = match take_body(&mut body, &mut upload, idle).await {
                Ok(bytes) => bytes,
                Err(Refusal::Engine(answer)) => {
                    return finish(
                        &serving,
                        &label,
                        &method,
                        &asked,
                        Ok(Done::Answer(answer)),
                        started,
                    );
                }
                Err(Refusal::Client(refused)) => {
                    serving.metrics.refused(&label, refused.status());
                    return refused;
                }
            };
            call.blocking
                .run(BlockingKind::Fsync, move || check_in(upload, bytes))
                .await
        }
    };
    finish(&serving, &label, &method, &asked, done, started)
}

/// Commit a body taken whole (on the lane: it fsyncs).
fn check_in(upload: UploadPlan, bytes: u64) -> Done {
    let (answer, committed) = upload.finish_committed();
    Done::CheckedIn {
        answer,
        bytes,
        created: committed.is_some_and(|c| c.created),
    }
}

/// The engine reads only on GET, which never comes here.
fn not_a_change() -> Answer {
    Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers: HeaderMap::new(),
        body: Vec::new(),
    }
}

/// Whether the body is small, of known length, and on its way without
/// waiting for a `100 Continue`.
fn small_and_whole(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|n| n <= SMALL_BODY) && !headers.contains_key(header::EXPECT)
}

/// A small body, whole. The server holds it to its `Content-Length`;
/// past `SMALL_BODY` regardless, it is refused rather than held.
async fn collect_small<B: RequestBody>(
    body: &mut B,
    idle: Duration,
) -> Result<Vec<u8>, Response<Body>> {
    let mut bytes = Vec::new();
    while let Some(data) = next_data(body, idle).await? {
        if (bytes.len() + data.len()) as u64 > SMALL_BODY {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "the request body is longer than its Content-Length; nothing was stored",
            ));
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// The next chunk of the body, `None` at its end; a stalled or broken
/// body is the answer to send.
async fn next_data<B: RequestBody>(
    body: &mut B,
    idle: Duration,
) -> Result<Option<bytes::Bytes>, Response<Body>> {
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body stopped arriving: send it without pauses; nothing was stored",
                ));
            }
            Ok(None) => return Ok(None),
            Ok(Some(Err(_))) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "the request body is malformed or was cut off; nothing was stored",
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
        {
            return Ok(Some(data));
        }
    }
}

/// Why a body was not taken whole.
enum Refusal {
    /// The engine's answer: 413 past the limit, 507 on a full disk.
    Engine(Answer),
    /// The client's body failed or stalled.
    Client(Response<Body>),
}

/// The body, chunk by chunk, into the upload's temp file; how many bytes.
async fn take_body<B: RequestBody>(
    body: &mut B,
    upload: &mut UploadPlan,
    idle: Duration,
) -> Result<u64, Refusal> {
    let mut bytes = 0;
    while let Some(data) = next_data(body, idle).await.map_err(Refusal::Client)? {
        upload
            .write(&data)
            .map_err(|refused| Refusal::Engine(*refused))?;
        bytes += data.len() as u64;
    }
    Ok(bytes)
}

/// The answer, counted and logged.
fn finish(
    serving: &Serving,
    label: &str,
    method: &Method,
    asked: &Asked,
    done: Result<Done, Busy>,
    started: Instant,
) -> Response<Body> {
    let done = match done {
        Ok(done) => done,
        Err(busy) => {
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, &busy.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            serving.metrics.refused(label, response.status());
            return response;
        }
    };
    serving.metrics.write_took(started.elapsed().as_secs_f64());
    let (answered, bytes) = match done {
        Done::Answer(a) => (a, None),
        Done::CheckedIn {
            answer,
            bytes,
            created: true,
        } => (answer, Some(bytes)),
        Done::CheckedIn {
            answer,
            created: false,
            ..
        } => (answer, None),
    };
    let status = answered.status;
    if status.as_u16() >= 400 {
        serving.metrics.refused(label, status);
    } else if let Some(bytes) = bytes {
        serving.metrics.checked_in(label, bytes);
        let revision = answered
            .headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_matches('"');
        tracing::info!(repo = label, path = %asked.below, revision, bytes, "depot check-in");
    } else if status.is_success() {
        tracing::info!(repo = label, %method, path = %asked.below, query = asked.query.as_deref().unwrap_or(""), "depot change");
    }
    answer(answered, false)
}
