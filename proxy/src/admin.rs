//! The admin API, on its own port: config pushes, health, readiness, metrics.
//!
//! `PUT /config`  ProxyConfig JSON → 200 {revision, generation} | 400 {errors} | 401
//! `GET /config`  the config being served
//! `GET /healthz` the process is up · `GET /readyz` a config is loaded (its
//! revision in the `Gatehouse-Revision` header)
//! `GET /metrics` Prometheus text format

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_api::ProxyConfig;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::state::State;
use crate::support::body::{self, Body};

/// The header `/readyz` names the served revision in.
const REVISION_HEADER: &str = "gatehouse-revision";

/// Appended to the revision `/readyz` reports while secret values are
/// missing.
const MISSING_SECRETS: &str = "missing-secrets";

/// Largest config a push may carry.
const MAX_CONFIG_BYTES: usize = 64 * 1024 * 1024;

pub(crate) struct Admin {
    pub state: Arc<State>,
    /// Required as `Authorization: Bearer <token>` on /config when set.
    pub token: Option<String>,
}

pub(crate) async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::server::stopping(&mut stop) => break,
        };
        let admin = admin.clone();
        let service = service_fn(move |req| {
            let admin = admin.clone();
            async move { Ok::<_, Infallible>(admin.route(req).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

impl Admin {
    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        // HEAD reads as GET does (hyper leaves the body out), as probes and
        // `curl -I` expect.
        let read = req.method() == Method::GET || req.method() == Method::HEAD;
        match (path.as_str(), req.method()) {
            ("/healthz", _) if read => body::plain(StatusCode::OK, "alive"),
            ("/readyz", _) if read && self.state.is_ready() => self.ready(),
            ("/readyz", _) if read => body::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "no config is loaded yet, or shutting down",
            ),
            ("/metrics", _) if read => {
                let mut response = Response::new(body::full(self.state.metrics.render()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            ("/config", method) if read || method == Method::PUT => {
                if let Some(denied) = self.check_token(&req) {
                    return denied;
                }
                if read {
                    self.get_config()
                } else {
                    self.put_config(req).await
                }
            }
            ("/healthz" | "/readyz" | "/metrics", _) => method_not_allowed("GET, HEAD"),
            ("/config", _) => method_not_allowed("GET, HEAD, PUT"),
            _ => body::plain(
                StatusCode::NOT_FOUND,
                "the admin API has /config, /healthz, /readyz and /metrics",
            ),
        }
    }

    /// 200, with the served revision in `Gatehouse-Revision`, so an operator
    /// that (re)starts can tell a proxy is current without pushing to it.
    /// A config read from a snapshot, without its secret values, says so
    /// in the revision: the operator then pushes it the whole config.
    fn ready(&self) -> Response<Body> {
        let mut response = body::plain(StatusCode::OK, "ready");
        let served = self.state.current().map(|active| {
            let missing = active.config.missing_secrets().count();
            match missing {
                0 => active.config.revision.clone(),
                _ => format!("{}-{MISSING_SECRETS}", active.config.revision),
            }
        });
        if let Some(revision) = served
            && let Ok(revision) = header::HeaderValue::from_str(&revision)
        {
            response.headers_mut().insert(REVISION_HEADER, revision);
        }
        response
    }

    fn check_token<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        let expected = self.token.as_deref()?;
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim_start());
        if given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
            return None;
        }
        let mut response = body::plain(
            StatusCode::UNAUTHORIZED,
            "send the admin token as `Authorization: Bearer <token>`",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        Some(response)
    }

    fn get_config(&self) -> Response<Body> {
        match self.state.current() {
            // Secret values stay on the proxy (`secret.rs`).
            Some(active) => body::json(StatusCode::OK, &active.config.redacted()),
            None => body::plain(StatusCode::NOT_FOUND, "no config is loaded yet"),
        }
    }

    async fn put_config(&self, req: Request<Incoming>) -> Response<Body> {
        let too_large = || {
            let errors = [format!(
                "the config is larger than {MAX_CONFIG_BYTES} bytes, the most a push may carry"
            )];
            body::json(StatusCode::PAYLOAD_TOO_LARGE, &json!({ "errors": errors }))
        };
        // Refused before a byte of it is read (or a `100 Continue` sent).
        if http_body::Body::size_hint(req.body()).lower() > MAX_CONFIG_BYTES as u64 {
            return too_large();
        }
        let bytes = match Limited::new(req.into_body(), MAX_CONFIG_BYTES)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => return too_large(),
            Err(err) => {
                let errors = [format!("could not read the body: {err}")];
                return body::json(StatusCode::BAD_REQUEST, &json!({ "errors": errors }));
            }
        };
        let config: ProxyConfig = match serde_json::from_slice(&bytes) {
            Ok(config) => config,
            Err(err) => {
                self.state.metrics.config_applied("admin", false);
                let errors = [format!(
                    "the body is not a ProxyConfig: {err} (line {}, column {})",
                    err.line(),
                    err.column()
                )];
                return body::json(StatusCode::BAD_REQUEST, &json!({ "errors": errors }));
            }
        };
        match self.state.apply(config, "admin") {
            Ok(applied) => {
                if !applied.unchanged {
                    tracing::info!(revision = %applied.revision, generation = applied.generation, source = "admin", "config applied");
                }
                body::json(StatusCode::OK, &applied)
            }
            Err(errors) => {
                tracing::warn!(
                    count = errors.len(),
                    errors = %errors.join("; "),
                    "pushed config rejected; the previous config keeps serving"
                );
                body::json(StatusCode::BAD_REQUEST, &json!({ "errors": errors }))
            }
        }
    }
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = body::plain(StatusCode::METHOD_NOT_ALLOWED, &format!("use {allow}"));
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
