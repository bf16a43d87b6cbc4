//! Changes: PUT, POST and DELETE, carried out off the worker on the
//! blocking pool's `fsync` lane (each one fsyncs files and folders).
//!
//! A PUT's body streams: the blocking task plans the request first (so a
//! refusal — a bad name, a stale `If-Match`, a `Content-Length` over the
//! repository's `maxFileSize` — is answered before a byte of the body is
//! read, and a client that sent `Expect: 100-continue` is told to go on
//! only then), then takes the body chunk by chunk from a bounded channel
//! the worker fills as the client sends. The first chunk past the limit
//! ends it at once with 413. Nothing is buffered beyond the channel's few
//! chunks, and nothing is stored unless the whole body came: a client that
//! leaves or stalls (`--client-body-timeout`) drops the channel, and the
//! engine removes the upload's temp file.
//!
//! A full blocking lane is answered 503 with `Retry-After`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_depot::{Answer, DepotRequest, Plan};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use super::read::with_host;
use super::{Asked, Serving, answer, error};
use crate::backends::Call;
use crate::backends::upstream::RequestBody;
use crate::support::blocking::{BlockingKind, Busy};
use crate::support::body::Body;

/// Body chunks on their way to the blocking task: a few, so a fast client
/// waits for the disk rather than filling memory.
const CHANNEL: usize = 4;

enum Piece {
    Chunk(Bytes),
    /// The whole body came.
    End,
}

/// What the blocking task did.
enum Done {
    Answer(Answer),
    CheckedIn {
        answer: Answer,
        bytes: u64,
        /// Whether a revision was made (not when the bytes equal latest's).
        created: bool,
    },
    /// The body never came whole (the client left, or its body failed):
    /// nothing was stored.
    Abandoned,
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
    let (pieces_tx, pieces) = mpsc::channel::<Piece>(CHANNEL);
    let (ready_tx, ready) = oneshot::channel::<()>();
    let work = {
        let (serving, method, path) = (serving.clone(), method.clone(), asked.below.clone());
        let (mount, query) = (asked.mount.clone(), asked.query.clone());
        move || {
            let plan = serving.depot.plan(&DepotRequest {
                method: &method,
                path: &path,
                query: query.as_deref(),
                headers: &headers,
                mount: &mount,
                user: None,
            });
            carry_out(plan, ready_tx, pieces)
        }
    };
    let task = call.blocking.run(BlockingKind::Fsync, work);
    tokio::pin!(task);
    let ready = tokio::select! {
        done = &mut task => return finish(&serving, &label, &method, &asked, done, started),
        ready = ready => ready.is_ok(),
    };
    if ready {
        let idle = call.upstreams.client_body_timeout();
        tokio::select! {
            // 413 past the limit, 507 on a full disk: answered at once.
            done = &mut task => return finish(&serving, &label, &method, &asked, done, started),
            pumped = pump(&mut body, pieces_tx, idle) => {
                if let Err(refused) = pumped {
                    serving.metrics.refused(&label, refused.status());
                    return refused;
                }
            }
        }
    }
    let done = task.await;
    finish(&serving, &label, &method, &asked, done, started)
}

/// On the blocking pool: the plan carried out, a PUT's body taken from
/// `pieces` once the worker is told (`ready`) to send it.
fn carry_out(plan: Plan, ready: oneshot::Sender<()>, mut pieces: mpsc::Receiver<Piece>) -> Done {
    match plan {
        Plan::Answer(answer) => Done::Answer(answer),
        Plan::Read(_) => Done::Answer(Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: HeaderMap::new(),
            body: Vec::new(),
        }),
        Plan::Upload(mut upload) => {
            let _ = ready.send(());
            let mut bytes = 0;
            loop {
                match pieces.blocking_recv() {
                    Some(Piece::Chunk(chunk)) => {
                        if let Err(refused) = upload.write(&chunk) {
                            return Done::Answer(*refused);
                        }
                        bytes += chunk.len() as u64;
                    }
                    Some(Piece::End) => break,
                    None => return Done::Abandoned,
                }
            }
            let (answer, committed) = upload.finish_committed();
            Done::CheckedIn {
                answer,
                bytes,
                created: committed.is_some_and(|c| c.created),
            }
        }
    }
}

/// Sends the body's chunks to the blocking task. `Ok` once it all went
/// (or the task stopped taking it: its answer says why); `Err` is the
/// answer to a body that failed or stalled.
async fn pump<B: RequestBody>(
    body: &mut B,
    pieces: mpsc::Sender<Piece>,
    idle: Duration,
) -> Result<(), Response<Body>> {
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body stopped arriving: send it without pauses; nothing was stored",
                ));
            }
            Ok(None) => break,
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
            && pieces.send(Piece::Chunk(data)).await.is_err()
        {
            return Ok(());
        }
    }
    let _ = pieces.send(Piece::End).await;
    Ok(())
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
        Done::Abandoned => {
            return error(
                StatusCode::BAD_REQUEST,
                "the request body ended early; nothing was stored",
            );
        }
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
