//! Reads: GET, HEAD and OPTIONS, planned and answered on the worker, as
//! the static backend serves files (a listing is a few directory reads,
//! a file an `open` and `readlink`s, all from the page cache). A revision's
//! bytes stream in bounded chunks; HEAD is planned as GET and sent without
//! its body.

use std::borrow::Cow;

use gatehouse_depot::{DepotRequest, Plan};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::{Asked, Serving, answer, error};
use crate::backends::Call;
use crate::backends::files::FileChunks;
use crate::support::body::{self, Body};

pub(super) fn serve<B>(
    serving: &Serving,
    asked: &Asked,
    req: &Request<B>,
    call: &Call<'_>,
) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let method = if head { &Method::GET } else { req.method() };
    let headers = with_host(req.headers(), call);
    let plan = serving.depot.plan(&DepotRequest {
        method,
        path: &asked.below,
        query: asked.query.as_deref(),
        headers: &headers,
        mount: &asked.mount,
        user: None,
    });
    let response = match plan {
        Plan::Answer(a) => answer(a, head),
        Plan::Read(read) => {
            let mut response = if head || read.len == 0 {
                Response::new(body::empty())
            } else {
                match FileChunks::new(read.file, 0, read.len) {
                    Ok(chunks) => Response::new(chunks.boxed_unsync()),
                    Err(err) => {
                        tracing::warn!(%err, path = %asked.below, "depot revision unreadable");
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "the revision could not be read",
                        );
                    }
                }
            };
            *response.headers_mut() = read.headers;
            response
        }
        // The engine uploads only on PUT, which never comes here.
        Plan::Upload(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an upload was planned for a read",
        ),
    };
    if response.status().as_u16() >= 400 {
        serving
            .metrics
            .refused(serving.label(&asked.below), response.status());
    }
    response
}

/// The request's headers, with `Host` from the request target when the
/// client sent none (HTTP/2 carries it as `:authority`): the engine tells
/// a foreign `Origin` by comparing the two.
pub(super) fn with_host<'h>(headers: &'h HeaderMap, call: &Call<'_>) -> Cow<'h, HeaderMap> {
    match call.origin.host {
        Some(host) if !headers.contains_key(header::HOST) => {
            let mut owned = headers.clone();
            owned.insert(header::HOST, host.clone());
            Cow::Owned(owned)
        }
        _ => Cow::Borrowed(headers),
    }
}
