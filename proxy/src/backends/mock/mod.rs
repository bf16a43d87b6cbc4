//! The `mock` backend: the glue between a Route and the mock engine
//! (`gatehouse-mock`: provisions checked and answered with no sockets).
//! The engine decides the answer; this module reads the request's body
//! (bounded), asks, records the exchange in the mock's journal, counts it
//! and writes the answer.
//!
//! - `store.rs`: MockProvisions kept across swaps (state survives swaps
//!   of other resources, is made afresh when its own spec changes);
//! - `dir.rs`: the `--provisions-dir` folder, h1mock's way (`initial`,
//!   then the file last written or touched, or loaded by the admin API);
//! - `journal.rs`: the last requests each mock answered;
//! - `admin.rs`: the admin API's mock endpoints (h1mock's and the journal's);
//! - `metrics.rs`: requests by mock and rule;
//! - `slow_body.rs`: a body sent in slow pieces (`fault: {slowBody}`).
//!
//! What the engine only describes is carried out here: a script runs on
//! the blocking pool's `script` lane (never a worker), a `delay` is a
//! timer, `fault: close`/`reset` end the connection unanswered (an
//! `Abort` in the response, which the server looks for).
//!
//! A mock sees the whole request path (after the rule's filters), as
//! h1mock and WireMock do: provisions name full paths.

pub(crate) mod admin;
pub(crate) mod dir;
mod journal;
pub(crate) mod metrics;
mod slow_body;
mod store;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_mock::{Answer, Fault, Matched, Provision, ScriptResponse};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use self::dir::ProvisionsDir;
use self::journal::{Entry, Journal};
pub(crate) use self::metrics::MockMetrics;
use self::slow_body::SlowBody;
pub(crate) use self::store::{Bound, MockStore};
use super::upstream::RequestBody;
use crate::support::abort::Abort;
use crate::support::blocking::{BlockingKind, BlockingPool, Busy};
use crate::support::body::{self, Body};

/// The largest request body a mock reads (to match on and to journal).
pub(crate) const MAX_REQUEST_BODY: usize = 4 << 20;
/// How long a mock waits for a request body to arrive whole.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// One provision, checked and serving, with its journal.
pub struct Served {
    /// The MockProvision's `namespace/name`, or `provisions-dir`: the
    /// metrics' `mock` label and the admin API's name for it.
    pub(crate) label: Arc<str>,
    /// What it was built from: a spec kept unchanged keeps this `Served`.
    source: serde_json::Value,
    pub(crate) provision: Provision,
    pub(crate) journal: Arc<Journal>,
    answerers: Answerers,
}

impl Served {
    fn new(
        label: Arc<str>,
        source: serde_json::Value,
        provision: Provision,
        journal: Arc<Journal>,
    ) -> Served {
        Served {
            label,
            source,
            answerers: Answerers::new(&provision),
            provision,
            journal,
        }
    }
}

/// The names of what can answer (`rules[2]`, a rule's name, `default`…),
/// made once per provision: the journal and the metrics take one per
/// request, and formatting it each time showed in profiles.
struct Answerers {
    /// By the rule's position in the file.
    rules: Vec<Arc<str>>,
    collections: Vec<(String, Arc<str>)>,
    default: Arc<str>,
    builtin: Arc<str>,
}

impl Answerers {
    fn new(provision: &Provision) -> Answerers {
        let mut answerers = Answerers {
            rules: vec![Arc::from(""); provision.rule_count()],
            collections: Vec::new(),
            default: Matched::Default.to_string().into(),
            builtin: Matched::Builtin.to_string().into(),
        };
        for answerer in provision.answerers() {
            let name: Arc<str> = answerer.to_string().into();
            match answerer {
                Matched::Rule { index, .. } => answerers.rules[index] = name,
                Matched::Collection { name: collection } => {
                    answerers.collections.push((collection.to_owned(), name))
                }
                Matched::Default | Matched::Builtin => {}
            }
        }
        answerers
    }

    fn name(&self, matched: Matched<'_>) -> Arc<str> {
        let known = match matched {
            Matched::Rule { index, .. } => self.rules.get(index),
            Matched::Collection { name } => self
                .collections
                .iter()
                .find(|(collection, _)| collection == name)
                .map(|(_, label)| label),
            Matched::Default => Some(&self.default),
            Matched::Builtin => Some(&self.builtin),
        };
        known.cloned().unwrap_or_else(|| matched.to_string().into())
    }
}

/// One `mock` backend, prepared at the swap.
pub enum Mock {
    /// A MockProvision.
    Provision(Arc<Served>),
    /// The provision active in `--provisions-dir`, looked up per request.
    Dir(Arc<ProvisionsDir>),
    /// `provisionsDir: true` on a proxy started without the flag.
    NoDir,
}

impl Mock {
    pub(crate) async fn serve<B: RequestBody>(
        &self,
        req: Request<B>,
        metrics: &MockMetrics,
        blocking: &BlockingPool,
    ) -> Response<Body> {
        let served = match self {
            Mock::Provision(served) => served.clone(),
            Mock::Dir(dir) => dir.active(),
            Mock::NoDir => {
                return body::plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this proxy has no provisions folder: start it with --provisions-dir DIR (or GATEHOUSE_PROVISIONS_DIR) to serve `mock: {provisionsDir: true}`",
                );
            }
        };
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(refusal) => return refusal,
        };
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
        let request = gatehouse_mock::Request::new(&parts.method, target, &parts.headers, &body);
        let mut answer = served.provision.answer(&request);
        let matched = served.answerers.name(answer.matched);
        metrics.answered(&served.label, &matched);
        let (delay, fault) = (answer.delay.take(), answer.fault.take());
        let reply = match answer.script.take() {
            // Scripts never run on a worker: their lane is bounded, and a
            // full one is 503, as for the depot's fsyncs.
            Some(script) => match blocking
                .run(BlockingKind::Script, move || script.run())
                .await
            {
                Ok(outcome) => Reply::from(outcome.into_response()),
                Err(busy) => Reply::refused(busy),
            },
            None => Reply::from(answer),
        };
        served
            .journal
            .record(Entry::new(&parts, &body, matched, reply.status.as_u16()));
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        reply.respond(parts.method == Method::HEAD, fault)
    }
}

/// What a mock sends: the engine's answer, or a script's.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl From<Answer<'_>> for Reply {
    fn from(answer: Answer<'_>) -> Reply {
        Reply {
            status: answer.status,
            headers: answer.headers.into_owned(),
            body: answer.body,
        }
    }
}

impl From<ScriptResponse> for Reply {
    fn from(response: ScriptResponse) -> Reply {
        Reply {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}

impl Reply {
    fn refused(busy: Busy) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        Reply {
            status: StatusCode::SERVICE_UNAVAILABLE,
            headers,
            body: Bytes::from(format!("gatehouse mock: {busy}; try again\n")),
        }
    }

    /// The response; a HEAD gets the headers and the length a GET's body
    /// would have. A fault changes how (or whether) it is sent.
    fn respond(self, head: bool, fault: Option<Fault>) -> Response<Body> {
        let len = self.body.len();
        let slow = matches!(fault, Some(Fault::SlowBody { .. }));
        let body = match fault {
            _ if head => body::empty(),
            Some(Fault::SlowBody { chunk_bytes, every }) => {
                SlowBody::new(self.body, chunk_bytes, every).boxed_unsync()
            }
            _ => body::full(self.body),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        let bodiless =
            self.status == StatusCode::NO_CONTENT || self.status == StatusCode::NOT_MODIFIED;
        if (head || slow) && !bodiless {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        match fault {
            Some(Fault::Close) => {
                response.extensions_mut().insert(Abort::Close);
            }
            Some(Fault::Reset) => {
                response.extensions_mut().insert(Abort::Reset);
            }
            _ => {}
        }
        response
    }
}

/// The request body, whole, up to `MAX_REQUEST_BODY`; or the refusal.
async fn read_body<B: RequestBody>(body: B) -> Result<Bytes, Response<Body>> {
    let collect = Limited::new(body, MAX_REQUEST_BODY).collect();
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(body::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "a mock reads request bodies up to {} MiB",
                MAX_REQUEST_BODY >> 20
            ),
        )),
        Ok(Err(err)) => Err(body::plain(
            StatusCode::BAD_REQUEST,
            &format!("the request body could not be read: {err}"),
        )),
        Err(_) => Err(body::plain(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}
