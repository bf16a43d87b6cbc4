//! One request's way through the proxy: find the rule, apply its filters,
//! pick a backend by weight, forward, and count what happened.

pub(crate) mod client_headers;
pub(crate) mod filters;
pub(crate) mod forwarded;
pub(crate) mod https;
pub(crate) mod target;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use gatehouse_api::route::PathMatchType;
use gatehouse_api::table::{RequestView, pick_backend};
use http::{HeaderValue, Request, Response, StatusCode};

use self::client_headers::{Underscores, X_FORWARDED_USER};
use crate::access::Access;
use crate::backends::upstream::{RequestBody, Upstreams};
use crate::backends::{Backend, Call};
use crate::config::active::RuleRuntime;
use crate::config::state::State;
use crate::observe::access_log::{Served, WorkerLog};
use crate::observe::metrics::UpstreamError;
use crate::route::forwarded::Origin;
use crate::route::forwarded::TrustedProxies;
use crate::route::target::EscapedSlashes;
use crate::server::peer::Peer;
use crate::support::body::{self, Body};

/// Everything a connection's requests share.
pub(crate) struct Shared {
    pub state: Arc<State>,
    pub upstreams: Upstreams,
    /// This worker's part of the access log, when there is one.
    pub access_log: Option<Arc<WorkerLog>>,
    /// What `%2F` in a request path becomes.
    pub escaped_slashes: EscapedSlashes,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Whether header names with `_` reach backends.
    pub underscores: Underscores,
    /// Where plain-HTTP requests for a Route's TLS hosts are redirected
    /// (`--https-port`, else `--listen-tls`'s); none without a TLS listener.
    pub https_port: Option<u16>,
    /// `--local-app`: the app beside a sidecar proxy, for requests no
    /// Route matches.
    pub local_app: Option<http::uri::Authority>,
}

pub(crate) async fn handle<B: RequestBody>(
    shared: Arc<Shared>,
    client: Peer,
    req: Request<B>,
) -> Result<Response<Body>, Infallible> {
    let Some(log) = &shared.access_log else {
        return Ok(route(&shared, &client, req, None).await);
    };
    // Dropped unanswered (the client left), the entry logs a 499.
    let mut entry = log.begin(&client, &req);
    let response = route(&shared, &client, req, Some(&mut entry.served)).await;
    Ok(entry.respond(response))
}

/// Answers `req`; what served it goes to `served`, for the access log.
async fn route<B: RequestBody>(
    shared: &Shared,
    client: &Peer,
    mut req: Request<B>,
    served: Option<&mut Served>,
) -> Response<Body> {
    let started = Instant::now();
    // Only a body has a transfer coding: the lane's requests skip the lookup.
    if !req.body().is_end_stream()
        && let Some(coding) = undecoded_coding(req.headers())
    {
        shared
            .state
            .metrics
            .unmatched
            .record(StatusCode::NOT_IMPLEMENTED);
        let why = format!(
            "the body's transfer coding `{coding}` is not one this proxy decodes: send it `chunked` alone (compressed data says so in Content-Encoding)"
        );
        return body::plain(StatusCode::NOT_IMPLEMENTED, &why);
    }
    if let Err(why) = client_headers::sanitize(req.headers_mut(), shared.underscores) {
        shared
            .state
            .metrics
            .unmatched
            .record(StatusCode::BAD_REQUEST);
        return body::plain(StatusCode::BAD_REQUEST, why);
    }
    let host = match target::check(&mut req, shared.escaped_slashes) {
        Ok(host) => host,
        Err(bad) => {
            shared.state.metrics.unmatched.record(bad.status());
            return body::plain(bad.status(), bad.explain());
        }
    };
    let Some(active) = shared.state.current() else {
        // Not even a sidecar's app is reached before a first config: its
        // Routes may put `access` in front of the app, so passing requests
        // on now would open it (fail closed; readiness keeps Services away).
        return body::plain(StatusCode::SERVICE_UNAVAILABLE, "no config is loaded yet");
    };
    let found = active.table.find(&RequestView {
        host: host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or(""),
        path: req.uri().path(),
        query: req.uri().query(),
        method: req.method(),
        headers: req.headers(),
    });
    let Some(found) = found else {
        if let Some(app) = &shared.local_app {
            return to_local_app(shared, app, client, host.as_ref(), req, served).await;
        }
        shared.state.metrics.unmatched.record(StatusCode::NOT_FOUND);
        return body::plain(StatusCode::NOT_FOUND, "no route matches this host and path");
    };
    let rule = &active.rules[found.route][found.rule];
    let served = served.map(|served| {
        served.route = Some(rule.route.clone());
        &mut served.backend
    });
    let host_text = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("");
    if let Some(https) = &rule.https {
        let answer = https.check(client, &rule.route, host_text, shared.https_port, &mut req);
        if let Some(answer) = answer {
            rule.own_answers.record(answer.status());
            return answer;
        }
    }
    let hsts = rule
        .https
        .as_ref()
        .and_then(|https| https.hsts_for(client, host_text).cloned());
    let asker = Asker {
        client,
        host,
        started,
    };
    let mut response = serve_rule(shared, rule, found.matched, asker, req, served).await;
    // On every answer the rule gives, its own included (redirects, 5xx), as
    // Envoy applies a route's response headers: HSTS on an http-to-https
    // redirect, CORS on an error.
    if let Some(edits) = &rule.response_headers {
        edits.apply(response.headers_mut());
    }
    // HSTS unless the backend sent its own.
    if let Some(hsts) = hsts {
        response
            .headers_mut()
            .entry(http::header::STRICT_TRANSPORT_SECURITY)
            .or_insert(hsts);
    }
    rule.duration.observe(started.elapsed().as_secs_f64());
    response
}

/// A transfer coding of the request other than `chunked`, the one hyper
/// decodes (RFC 9112 §6.1: a server SHOULD answer 501 to a coding it does
/// not understand, as nginx does). Passed on, `gzip, chunked` would reach
/// the backend as a chunked body with nothing saying it is gzip.
fn undecoded_coding(headers: &http::HeaderMap) -> Option<String> {
    let mut codings = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    codings.find_map(|value| {
        let text = String::from_utf8_lossy(value.as_bytes());
        text.split(',')
            .map(str::trim)
            .find(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("chunked"))
            .map(str::to_owned)
    })
}

/// Who asked, and when.
struct Asker<'a> {
    client: &'a Peer,
    host: Option<HeaderValue>,
    started: Instant,
}

/// Answers `req` by `rule`; the backend it picks goes to `backend_served`.
async fn serve_rule<B: RequestBody>(
    shared: &Shared,
    rule: &RuleRuntime,
    matched: usize,
    asker: Asker<'_>,
    mut req: Request<B>,
    backend_served: Option<&mut Option<Arc<str>>>,
) -> Response<Body> {
    let Asker {
        client,
        host,
        started,
    } = asker;
    let matched = &rule.config.matches[matched];
    if let Some(access) = &rule.access {
        let state = &shared.state;
        let checked = access
            .check(
                crate::access::is_write(
                    req.method(),
                    req.uri().path(),
                    req.uri().query(),
                    rule.git,
                ),
                req.headers(),
                client_address(client, req.headers()),
                &state.access,
                &state.blocking,
                &rule.route,
            )
            .await;
        match checked {
            // The writer checks the request again, so it keeps its
            // `Authorization`; refused ones stop here, counted against
            // the client's own address.
            Ok(_) if rule.writer.is_some() => {}
            Ok(user) => admit(access, user, req.headers_mut()),
            Err(refused) => {
                rule.own_answers.record(refused.status());
                return refused;
            }
        }
    }
    if let Some(redirect) = &rule.redirect {
        let host_text = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("");
        let response = filters::redirect(
            redirect,
            matched,
            host_text,
            req.uri().path(),
            req.uri().query(),
        );
        rule.own_answers.record(response.status());
        return response;
    }
    if let Some(writer) = &rule.writer {
        let origin = Origin {
            client,
            host: host.as_ref(),
            rewritten_host: None,
        };
        return to_writer(shared, rule, writer, origin, started, req, backend_served).await;
    }
    if let Some(edits) = &rule.request_headers {
        edits.apply(req.headers_mut());
    }
    if let Some(modifier) = &rule.rewrite_path {
        let path = filters::rewrite_path(modifier, matched, req.uri().path());
        target::set_path(&mut req, &path);
    }
    let Some(index) = pick_backend(&rule.config, fastrand::u64(..)) else {
        let response = body::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this route has no backend to send the request to",
        );
        rule.own_answers.record(response.status());
        return response;
    };
    let backend = &rule.backends[index];
    if let Some(served) = backend_served {
        *served = Some(backend.name.clone());
    }
    let mount =
        (matched.path.kind == PathMatchType::PathPrefix).then_some(matched.path.value.as_str());
    let call = Call {
        upstreams: &shared.upstreams,
        blocking: &shared.state.blocking,
        mount,
        origin: Origin {
            client,
            host: host.as_ref(),
            rewritten_host: rule.rewrite_host.as_ref(),
        },
        backend_timeout: rule.backend_timeout,
        request_timeout: rule.request_timeout,
        started,
        mock_metrics: &shared.state.mocks.metrics,
        route: &rule.route,
        backend: &backend.name,
    };
    let result = backend.target.serve(req, call).await;
    if let Backend::Unresolved(reason) = &backend.target {
        tracing::debug!(route = %rule.route, backend = %backend.name, %reason, "unresolved backend");
    }
    // The reason is the Route's status message (names of resources, no
    // secret): the client sees what an operator would.
    let unresolved = match &backend.target {
        Backend::Unresolved(reason) => Some(reason.as_str()),
        _ => None,
    };
    let response = match result {
        Ok(response) => response,
        Err(kind) if !kind.is_backend_fault() => error_response(kind, &backend.name, unresolved),
        Err(kind) => {
            shared
                .state
                .metrics
                .upstream_error(&rule.route, &backend.name, kind);
            let response = error_response(kind, &backend.name, unresolved);
            // As nginx's error log has each upstream failure: the answer
            // alone would leave an operator guessing which backend failed.
            tracing::warn!(
                route = %rule.route,
                backend = %backend.name,
                kind = kind.label(),
                status = response.status().as_u16(),
                "backend failed"
            );
            response
        }
    };
    backend.counters.record(response.status());
    response
}

/// Sidecar mode: a request no Route matches goes to the app beside the
/// proxy (`--local-app`), as to an upstream with the default timeouts;
/// counted and logged under the backend `local-app` with no route.
async fn to_local_app<B: RequestBody>(
    shared: &Shared,
    app: &http::uri::Authority,
    client: &Peer,
    host: Option<&HeaderValue>,
    req: Request<B>,
    served: Option<&mut Served>,
) -> Response<Body> {
    static LOCAL_APP: std::sync::LazyLock<Arc<str>> =
        std::sync::LazyLock::new(|| "local-app".into());
    if let Some(served) = served {
        served.backend = Some(LOCAL_APP.clone());
    }
    let origin = Origin {
        client,
        host,
        rewritten_host: None,
    };
    let metrics = &shared.state.metrics;
    let response = match shared.upstreams.forward_boxed(req, app, origin, None).await {
        Ok(response) => response,
        Err(kind) if !kind.is_backend_fault() => error_response(kind, "local-app", None),
        Err(kind) => {
            metrics.upstream_error("", "local-app", kind);
            let (status, what) = peer_failure(kind);
            tracing::warn!(local_app = %app, kind = kind.label(), status = status.as_u16(), "local app failed");
            body::plain(
                status,
                &format!(
                    "no route matches this host and path, and the local app at {app} (--local-app) {what}: is the app running and listening there?"
                ),
            )
        }
    };
    metrics.local_app.record(response.status());
    response
}

/// How a fixed peer (`--local-app`, `--data-writer`) failed, as a status
/// and the words that finish "… which …" in its answer.
fn peer_failure(kind: UpstreamError) -> (StatusCode, &'static str) {
    match kind {
        UpstreamError::Timeout | UpstreamError::ConnectTimeout => {
            (StatusCode::GATEWAY_TIMEOUT, "did not answer in time")
        }
        UpstreamError::Connect => (StatusCode::BAD_GATEWAY, "refused the connection"),
        UpstreamError::NoEndpoint => (
            StatusCode::SERVICE_UNAVAILABLE,
            "has no reachable endpoint (its name resolves to nothing, or its Service has no ready Pod)",
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "closed or sent an invalid response",
        ),
    }
}

/// A rule whose data another proxy keeps (`--data-writer`): the request
/// goes there as it came, path, Host and `Authorization` included, as to
/// an upstream (timeouts, `X-Forwarded-*`, streamed bodies), and the
/// writer's copy of the rule filters and serves it. Counted and logged
/// under the backend a pick gives here.
async fn to_writer<B: RequestBody>(
    shared: &Shared,
    rule: &RuleRuntime,
    writer: &http::uri::Authority,
    origin: Origin<'_>,
    started: Instant,
    req: Request<B>,
    backend_served: Option<&mut Option<Arc<str>>>,
) -> Response<Body> {
    let index = pick_backend(&rule.config, fastrand::u64(..)).unwrap_or(0);
    let Some(backend) = rule.backends.get(index) else {
        return body::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this route has no backend to send the request to",
        );
    };
    if let Some(served) = backend_served {
        *served = Some(backend.name.clone());
    }
    let forward = shared
        .upstreams
        .forward_boxed(req, writer, origin, rule.backend_timeout);
    let response = match crate::backends::upstream::within(rule.request_timeout, forward).await {
        Ok(response) => {
            match rule.request_timeout {
                Some(limit) => {
                    let deadline = tokio::time::Instant::from_std(started) + limit;
                    response.map(|body| {
                        http_body_util::BodyExt::boxed_unsync(
                            crate::support::timer::TimedBody::new(body, None, Some(deadline)),
                        )
                    })
                }
                None => response,
            }
        }
        Err(kind) if !kind.is_backend_fault() => error_response(kind, &backend.name, None),
        Err(kind) => {
            shared
                .state
                .metrics
                .upstream_error(&rule.route, &backend.name, kind);
            let (status, what) = peer_failure(kind);
            tracing::warn!(
                route = %rule.route,
                backend = %backend.name,
                data_writer = %writer,
                kind = kind.label(),
                status = status.as_u16(),
                "data writer failed"
            );
            body::plain(
                status,
                &format!(
                    "backend {}: this proxy keeps no data and forwards it to the data writer {writer} (--data-writer), which {what}: check that the proxy started with --data-dir runs there",
                    backend.name
                ),
            )
        }
    };
    backend.counters.record(response.status());
    response
}

/// What the backend learns of an admitted request: who (`X-Forwarded-User`,
/// its UTF-8 bytes as sent: user names hold no control characters), and,
/// unless the rule says so, not the password.
fn admit(access: &Access, user: Option<String>, headers: &mut http::HeaderMap) {
    if !access.forward_authorization {
        headers.remove(http::header::AUTHORIZATION);
    }
    if let Some(value) = user.and_then(|u| HeaderValue::from_bytes(u.as_bytes()).ok()) {
        headers.insert(X_FORWARDED_USER.clone(), value);
    }
}

/// Whose failed logins count: the connection's address, or behind a
/// trusted proxy the address it says it forwards for (the last entry of
/// `X-Forwarded-For`), so one load balancer's clients are not all
/// blocked for one guesser.
fn client_address(client: &Peer, headers: &http::HeaderMap) -> std::net::IpAddr {
    if client.trust() != crate::server::peer::Trust::Trusted {
        return client.ip();
    }
    headers
        .get_all(http::header::HeaderName::from_static("x-forwarded-for"))
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| client.ip())
}

/// The answer to a failure; `unresolved` is why the backend is not
/// resolved, when it is not.
fn error_response(kind: UpstreamError, backend: &str, unresolved: Option<&str>) -> Response<Body> {
    let (status, text) = match kind {
        UpstreamError::Connect => (
            StatusCode::BAD_GATEWAY,
            format!("could not connect to backend {backend}"),
        ),
        UpstreamError::Protocol => (
            StatusCode::BAD_GATEWAY,
            format!("backend {backend} closed or sent an invalid response"),
        ),
        UpstreamError::ConnectTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("backend {backend} did not accept a connection within the connect timeout"),
        ),
        UpstreamError::NoEndpoint => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("backend {backend} has no reachable endpoint"),
        ),
        UpstreamError::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("backend {backend} did not answer in time"),
        ),
        UpstreamError::ClientBodyBroken => (
            StatusCode::BAD_REQUEST,
            "the request body is malformed or was cut off".to_owned(),
        ),
        UpstreamError::ClientBodyTimeout => (
            StatusCode::REQUEST_TIMEOUT,
            "the request body stopped arriving: send it without pauses".to_owned(),
        ),
        UpstreamError::Unresolved => (
            StatusCode::INTERNAL_SERVER_ERROR,
            match unresolved {
                Some(reason) => {
                    format!("backend {backend} is not resolved: {reason}; see the Route's status")
                }
                None => format!("backend {backend} is not resolved; see the Route's status"),
            },
        ),
    };
    body::plain(status, &text)
}
