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
//! - `metrics.rs`: requests by mock and rule.
//!
//! A mock sees the whole request path (after the rule's filters), as
//! h1mock and WireMock do: provisions name full paths.

pub(crate) mod admin;
pub(crate) mod dir;
mod journal;
pub(crate) mod metrics;
mod store;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_mock::{Answer, Provision};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use self::dir::ProvisionsDir;
use self::journal::{Entry, Journal};
pub(crate) use self::metrics::MockMetrics;
pub(crate) use self::store::{Bound, MockStore};
use super::upstream::RequestBody;
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
            provision,
            journal,
        }
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
        let answer = served.provision.answer(&request);
        let matched = answer.matched.to_string();
        metrics.answered(&served.label, &matched);
        served
            .journal
            .record(Entry::new(&parts, &body, matched, answer.status.as_u16()));
        respond(answer, parts.method == Method::HEAD)
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

/// The engine's answer as a response; a HEAD gets the headers and the
/// length a GET's body would have.
fn respond(answer: Answer<'_>, head: bool) -> Response<Body> {
    let len = answer.body.len();
    let mut response = Response::new(if head {
        body::empty()
    } else {
        body::full(answer.body)
    });
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers.into_owned();
    if head && answer.status != StatusCode::NO_CONTENT && answer.status != StatusCode::NOT_MODIFIED
    {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}
