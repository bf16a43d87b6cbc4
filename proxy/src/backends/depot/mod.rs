//! The `depot` backend: the glue between a Route and the depot engine
//! (`gatehouse-depot`, HouseDepot's API with no sockets). The engine
//! decides what a request means (`Depot::plan`); this module carries the
//! plan out where it belongs:
//!
//! - reads (GET, HEAD, OPTIONS) on the worker, as static files are:
//!   metadata and page-cache reads cost less than a hand-off, and a
//!   revision streams in bounded chunks (`files/chunks.rs`) — `read.rs`;
//! - changes (PUT, POST, DELETE) off the worker, on the blocking pool's
//!   `fsync` lane, the PUT's body streamed to it over a bounded channel,
//!   never held whole — `write.rs`;
//! - the repositories themselves outlive config swaps in a registry
//!   (`repos.rs`), and what happened is counted (`metrics.rs`) and logged;
//! - a browser asking for the mount itself gets a page for people
//!   (`page.rs`, `page.html`) that works through this same API.
//!
//! The depot answers at the rule's `PathPrefix` (its mount): the client's
//! path below it goes to the engine still percent-encoded, as it wants.

mod metrics;
mod page;
mod read;
mod repos;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_depot::{Answer, Depot};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use self::metrics::DepotMetrics;
pub(crate) use self::repos::{Bound, DepotStore};
use super::Call;
use super::upstream::RequestBody;
use crate::support::body::{self, Body};

/// One `depot` backend, prepared at the swap.
pub enum Mount {
    /// The proxy has no data dir: every request is answered 503.
    NoDataDir,
    Serving(Arc<Serving>),
}

/// The repositories a backend names, ready to serve.
pub struct Serving {
    depot: Depot,
    /// A repository's name under the mount → its `namespace/name`, the
    /// metrics' `repo` label.
    labels: HashMap<String, Arc<str>>,
    metrics: Arc<DepotMetrics>,
}

impl Mount {
    fn serving(
        depot: Depot,
        labels: HashMap<String, Arc<str>>,
        metrics: Arc<DepotMetrics>,
    ) -> Mount {
        Mount::Serving(Arc::new(Serving {
            depot,
            labels,
            metrics,
        }))
    }

    pub(crate) async fn serve<B: RequestBody>(
        &self,
        req: Request<B>,
        call: Call<'_>,
    ) -> Response<Body> {
        let serving = match self {
            Mount::NoDataDir => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this proxy keeps no depot data: start the proxy with --data-dir DIR (or GATEHOUSE_DATA_DIR) to serve DepotRepos, or with --data-writer URL (GATEHOUSE_DATA_WRITER) to forward them to the proxy that keeps them",
                );
            }
            Mount::Serving(serving) => serving,
        };
        let Some(mount) = call.mount else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a depot backend serves a path prefix: match its rule with `type: PathPrefix`",
            );
        };
        let mount = mount.trim_end_matches('/');
        // Matched on segment boundaries, so what is left starts with `/`
        // (or is empty: the mount itself, the page or the engine's 404).
        let below = req
            .uri()
            .path()
            .strip_prefix(mount)
            .unwrap_or("")
            .to_owned();
        if page::wanted(req.method(), &below, req.headers()) {
            return page::serve(req.method() == Method::HEAD);
        }
        let at_mount = page::is_mount(&below);
        let request = Asked {
            mount: mount.to_owned(),
            below,
            query: req.uri().query().map(str::to_owned),
        };
        let mut response = match *req.method() {
            Method::PUT | Method::POST | Method::DELETE => {
                write::serve(serving.clone(), request, req, &call).await
            }
            _ => read::serve(serving, &request, &req, &call),
        };
        if at_mount {
            // The mount answers HTML to browsers: caches must keep both apart.
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static("Accept"));
        }
        response
    }
}

/// Where a request points, below the mount.
struct Asked {
    /// The mount without its trailing `/`: `/depot`, or `` at `/`.
    mount: String,
    /// The path below it, still percent-encoded: `/all`, `/r/f`.
    below: String,
    /// The query, without `?`.
    query: Option<String>,
}

impl Serving {
    /// The `repo` label for a path below the mount: the DepotRepo its
    /// first segment names, or `""`.
    fn label(&self, below: &str) -> &str {
        let first = below
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        self.labels.get(first).map_or("", |id| id)
    }
}

/// The engine's answer as it is.
fn answer(answer: Answer, head: bool) -> Response<Body> {
    let Answer {
        status,
        headers,
        body: bytes,
    } = answer;
    let len = bytes.len();
    let mut response = Response::new(if head {
        body::empty()
    } else {
        body::full(bytes)
    });
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if head && status != StatusCode::NOT_MODIFIED && status != StatusCode::NO_CONTENT {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}

/// An answer of the glue's own, in the engine's shape: `{"error": "…"}`.
fn error(status: StatusCode, why: &str) -> Response<Body> {
    let text = serde_json::json!({ "error": why }).to_string();
    let mut response = Response::new(body::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
