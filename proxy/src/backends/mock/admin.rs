//! The admin API's mock endpoints, behind the same token as `/config`:
//!
//! - h1mock's: `POST /app/v1/provision/<name>` (a `text/plain` body: the
//!   provision, written into `--provisions-dir` and activated; 201 only
//!   once it serves), `GET /app/v1/provision/<name>` (activate that file
//!   again). Answers in h1mock's shape, `{"result": "success: …"}` or
//!   `{"result": "failed: …"}`, with an `errors` list when a provision
//!   does not check (h1mock answers 201 and then dies).
//! - the journal's, as WireMock users verify: `GET /mocks` (each mock,
//!   its rules and requests), `GET /mocks/<mock>/requests[?method=&path=]`,
//!   `GET /mocks/<mock>/requests/count[?…]`, `DELETE /mocks/<mock>/requests`;
//!   and `POST /mocks/<mock>/reset` (WireMock's reset: scenarios back to
//!   `Started`, collections to their seed, the journal emptied).
//!   `<mock>` is a MockProvision's `namespace/name` or `provisions-dir`.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::Served;
use super::dir::{self, Refused};
use super::journal::Filter;
use crate::admin::method_not_allowed;
use crate::config::state::State;
use crate::support::blocking::BlockingKind;
use crate::support::body::{self, Body};

const PROVISION_PATH: &str = "/app/v1/provision/";

/// Whether `path` is one of these endpoints.
pub(crate) fn owns(path: &str) -> bool {
    path.starts_with(PROVISION_PATH) || path == "/mocks" || path.starts_with("/mocks/")
}

/// Answers one of these endpoints (`owns` said yes; the token was checked).
pub(crate) async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(name) = path.strip_prefix(PROVISION_PATH) {
        return provision(state, name.to_owned(), req).await;
    }
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    if path == "/mocks" {
        return match read {
            true => list(state),
            false => method_not_allowed("GET, HEAD"),
        };
    }
    let rest = path.trim_start_matches("/mocks/");
    if let Some(mock) = rest.strip_suffix("/reset") {
        return reset(state, mock, req.method());
    }
    let (mock, what) = match rest.rsplit_once("/requests") {
        Some((mock, what)) => (mock, what),
        None => {
            return body::plain(
                StatusCode::NOT_FOUND,
                "mock endpoints are /mocks, /mocks/<mock>/requests, /mocks/<mock>/requests/count and /mocks/<mock>/reset",
            );
        }
    };
    let Some(served) = find(state, mock) else {
        return not_served(mock);
    };
    let filter = filter(req.uri().query().unwrap_or(""));
    match (what, req.method()) {
        ("", _) if read => body::json(
            StatusCode::OK,
            &json!({"mock": &*served.label, "requests": served.journal.list(&filter)}),
        ),
        ("", &Method::DELETE) => {
            served.journal.clear();
            let mut response = Response::new(body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        ("", _) => method_not_allowed("GET, HEAD, DELETE"),
        ("/count", _) if read => body::json(
            StatusCode::OK,
            &json!({"mock": &*served.label, "count": served.journal.count(&filter)}),
        ),
        ("/count", _) => method_not_allowed("GET, HEAD"),
        _ => body::plain(
            StatusCode::NOT_FOUND,
            "mock endpoints are /mocks, /mocks/<mock>/requests, /mocks/<mock>/requests/count and /mocks/<mock>/reset",
        ),
    }
}

/// Back to the provision's first state, and an empty journal.
fn reset(state: &State, mock: &str, method: &Method) -> Response<Body> {
    if method != Method::POST {
        return method_not_allowed("POST");
    }
    let Some(served) = find(state, mock) else {
        return not_served(mock);
    };
    served.provision.reset_state();
    served.journal.clear();
    body::json(
        StatusCode::OK,
        &json!({"mock": &*served.label, "reset": true}),
    )
}

fn not_served(mock: &str) -> Response<Body> {
    body::json(
        StatusCode::NOT_FOUND,
        &json!({"error": format!("no mock `{mock}` is served: GET /mocks lists them")}),
    )
}

/// The mock `name` names: `provisions-dir` or a MockProvision's id.
fn find(state: &State, name: &str) -> Option<Arc<Served>> {
    match name {
        dir::LABEL => state.mocks.dir().map(|dir| dir.active()),
        id => state.mocks.get(id),
    }
}

fn list(state: &State) -> Response<Body> {
    let describe = |served: &Served| {
        let (total, kept) = served.journal.totals();
        json!({
            "rules": served.provision.rule_count(),
            "requests": total,
            "journalKept": kept,
        })
    };
    let mut mocks = serde_json::Map::new();
    for served in state.mocks.all() {
        mocks.insert(served.label.to_string(), describe(&served));
    }
    let dir = state.mocks.dir().map(|dir| {
        let mut about = describe(&dir.active());
        about["folder"] = json!(dir.folder());
        about["active"] = json!(dir.active_name());
        about
    });
    body::json(
        StatusCode::OK,
        &json!({"mocks": mocks, "provisionsDir": dir}),
    )
}

/// `?method=POST&path=/api/*`.
fn filter(query: &str) -> Filter {
    let mut filter = Filter::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = gatehouse_api::table::decode_component(value);
        match key {
            "method" => filter.method = Some(value),
            "path" => filter.path = Some(value),
            _ => {}
        }
    }
    filter
}

/// h1mock's `/app/v1/provision/<name>`.
async fn provision(state: &Arc<State>, name: String, req: Request<Incoming>) -> Response<Body> {
    let Some(dir) = state.mocks.dir().cloned() else {
        return result(
            StatusCode::SERVICE_UNAVAILABLE,
            "failed: this proxy has no provisions folder: start it with --provisions-dir DIR",
            None,
        );
    };
    if let Err(refused) = dir::check_name(&name) {
        return result(
            StatusCode::BAD_REQUEST,
            &format!("failed: {}", refused.describe()),
            None,
        );
    }
    let method = req.method().clone();
    let text = match method {
        Method::POST => {
            if !is_plain_text(req.headers().get(header::CONTENT_TYPE)) {
                return result(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "failed: content-type must be 'text/plain'",
                    None,
                );
            }
            match read_text(req).await {
                Ok(text) => Some(text),
                Err(refusal) => return refusal,
            }
        }
        Method::GET => None,
        _ => return method_not_allowed("GET, POST"),
    };
    let work = {
        let name = name.clone();
        move || match text {
            Some(text) => dir.load(&name, &text),
            None => dir.activate(&name),
        }
    };
    // Files are written with fsync and read whole: off this thread.
    let done = match state.blocking.run(BlockingKind::Fsync, work).await {
        Ok(done) => done,
        Err(busy) => {
            return result(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("failed: {busy}; try again"),
                None,
            );
        }
    };
    let status = match method {
        Method::POST => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    match done {
        Ok(()) => result(
            status,
            &format!("success: basename file '{name}' has been loaded"),
            None,
        ),
        Err(Refused::Missing(_)) => result(
            StatusCode::NOT_FOUND,
            &format!(
                "failed: there is no provision '{name}' in the provisions folder: POST it first"
            ),
            None,
        ),
        Err(Refused::Invalid(errors)) => result(
            StatusCode::BAD_REQUEST,
            &format!("failed: provision '{name}' is not valid; the previous one keeps serving"),
            Some(errors),
        ),
        Err(refused) => result(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("failed: {}", refused.describe()),
            None,
        ),
    }
}

/// No `Content-Type`, or `text/plain` with any parameters, as h1mock takes.
fn is_plain_text(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value else { return true };
    let Ok(value) = value.to_str() else {
        return false;
    };
    value
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"))
}

async fn read_text(req: Request<Incoming>) -> Result<String, Response<Body>> {
    let limit = dir::MAX_FILE as usize;
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => String::from_utf8(collected.to_bytes().to_vec()).map_err(|_| {
            result(
                StatusCode::BAD_REQUEST,
                "failed: the provision is not UTF-8 text",
                None,
            )
        }),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(result(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("failed: a provision is at most {} MiB", limit >> 20),
            None,
        )),
        Err(err) => Err(result(
            StatusCode::BAD_REQUEST,
            &format!("failed: the body could not be read: {err}"),
            None,
        )),
    }
}

/// h1mock's answer shape.
fn result(status: StatusCode, result: &str, errors: Option<Vec<String>>) -> Response<Body> {
    let mut value = json!({ "result": result });
    if let Some(errors) = errors {
        value["errors"] = json!(errors);
    }
    let mut response = Response::new(body::full(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
