//! The admin API, on its own port: config pushes, health, readiness, metrics.
//!
//! `PUT /config`  ProxyConfig JSON → 200 {revision, generation} | 400 {errors} | 401
//! `GET /config`  the config being served
//! `GET /depots`  each DepotRepo served: files, bytes, last change; and
//! whether this proxy keeps depot data (`--data-dir`; a proxy that
//! forwards to `--data-writer` keeps none, and says so)
//! `GET /healthz` the process is up · `GET /readyz` a config is loaded (its
//! revision in the `Gatehouse-Revision` header; the body says when depot
//! routes answer 503 for want of `--data-dir` or `--data-writer`, or are
//! forwarded)
//! `GET /metrics` Prometheus text format
//!
//! Plain HTTP, or TLS only with `--admin-tls-cert` (`tls.rs`); `start`
//! refuses a port beyond loopback that nothing authenticates on.

pub(crate) mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_api::ProxyConfig;
use gatehouse_api::config::BackendTarget;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::state::State;
use crate::observe::access_log::rfc3339_seconds;
use crate::support::blocking::BlockingKind;
use crate::support::body::{self, Body};

/// The header `/readyz` names the served revision in.
const REVISION_HEADER: &str = "gatehouse-revision";

/// Appended to the revision `/readyz` reports while secret values are
/// missing.
const MISSING_SECRETS: &str = "missing-secrets";

/// Largest config a push may carry.
const MAX_CONFIG_BYTES: usize = 64 * 1024 * 1024;

/// How long `GET /depots` waits for a scan under way before it answers
/// with what is known (the scan goes on, and the next call sees it).
const DEPOTS_WAIT: Duration = Duration::from_secs(2);

/// What `/readyz` adds when depot routes cannot be served.
const NO_DATA_DIR: &str = "depot routes answer 503: this proxy keeps no depot data; start it with --data-dir DIR (or GATEHOUSE_DATA_DIR) to serve DepotRepos, or with --data-writer URL (GATEHOUSE_DATA_WRITER) to forward them to the proxy that keeps them";
const NO_DATA_DIR_GIT: &str = "git routes without `git.root` answer 503: start the proxy with --data-dir DIR (or GATEHOUSE_DATA_DIR), or with --data-writer URL (GATEHOUSE_DATA_WRITER) to forward them to the proxy that keeps the repositories, or give them a root";

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Admin {
    pub state: Arc<State>,
    /// Required as `Authorization: Bearer <token>` on /config when set,
    /// unless the connection showed a client certificate (mTLS).
    pub token: Option<String>,
    /// TLS only on the admin port, when set.
    pub tls: Option<tls::AdminTls>,
}

pub(crate) async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
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
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(tls) = &admin.tls else {
                return connection(admin.clone(), stream, false, watcher).await;
            };
            let handshake = tls.acceptor.accept(stream);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => stream,
                // Debug: probes that only open the port would fill the log.
                Ok(Err(err)) => return tracing::debug!(%peer, %err, "admin TLS handshake refused"),
                Err(_) => return tracing::debug!(%peer, "admin TLS handshake timed out"),
            };
            // With a client CA the verifier required the certificate: one
            // shown is one signed by that CA.
            let by_certificate = tls.client_ca && stream.get_ref().1.peer_certificates().is_some();
            connection(admin.clone(), stream, by_certificate, watcher).await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// Refuses an admin API that anyone who reaches its port could use: one
/// beyond loopback (an unspecified address, `0.0.0.0` or `::`, included)
/// with neither a token nor client certificates. Checked before binding.
pub(crate) fn guarded(
    listen: SocketAddr,
    token: bool,
    tls: Option<&tls::AdminTls>,
) -> anyhow::Result<()> {
    if listen.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    if !token && !tls.is_some_and(|tls| tls.client_ca) {
        anyhow::bail!(
            "--admin-listen {listen} is beyond loopback, and nothing there would authenticate the admin API: anyone who reaches the port could change what this proxy serves. \
             Give --admin-token-file FILE (GATEHOUSE_ADMIN_TOKEN_FILE), or --admin-client-ca with --admin-tls-cert and --admin-tls-key to require client certificates, \
             or listen on loopback (--admin-listen 127.0.0.1:9901)"
        );
    }
    if tls.is_none() {
        tracing::warn!(%listen, "the admin API is plain HTTP beyond loopback: its token and the configs' secret values cross the network in clear; give --admin-tls-cert and --admin-tls-key");
    }
    Ok(())
}

/// hyper's HTTP/1.1 server on one connection, plain or TLS, until it ends
/// or the graceful shutdown closes it.
async fn connection<S>(admin: Arc<Admin>, stream: S, by_certificate: bool, watcher: Watcher)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let admin = admin.clone();
        async move { Ok::<_, Infallible>(admin.route(req, by_certificate).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(stream), service);
    let _ = watcher.watch(connection).await;
}

impl Admin {
    async fn route(&self, req: Request<Incoming>, by_certificate: bool) -> Response<Body> {
        let path = req.uri().path().to_owned();
        // HEAD reads as GET does (hyper leaves the body out), as probes and
        // `curl -I` expect.
        let read = req.method() == Method::GET || req.method() == Method::HEAD;
        match (path.as_str(), req.method()) {
            ("/healthz", _) if read => body::plain(StatusCode::OK, "alive"),
            ("/readyz", _) if read && self.state.is_ready() => self.ready(),
            ("/readyz", _) if read => self.not_ready(),
            ("/metrics", _) if read => {
                let mut response = Response::new(body::full(self.state.metrics.render()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            ("/depots", _) if read => {
                if let Some(denied) = self.check_token(&req, by_certificate) {
                    return denied;
                }
                self.depots().await
            }
            ("/config", method) if read || method == Method::PUT => {
                if let Some(denied) = self.check_token(&req, by_certificate) {
                    return denied;
                }
                if read {
                    self.get_config()
                } else {
                    self.put_config(req).await
                }
            }
            (path, _) if crate::backends::mock::admin::owns(path) => {
                if let Some(denied) = self.check_token(&req, by_certificate) {
                    return denied;
                }
                crate::backends::mock::admin::route(&self.state, req).await
            }
            ("/healthz" | "/readyz" | "/metrics" | "/depots", _) => method_not_allowed("GET, HEAD"),
            ("/config", _) => method_not_allowed("GET, HEAD, PUT"),
            _ => body::plain(
                StatusCode::NOT_FOUND,
                "the admin API has /config, /depots, /mocks, /app/v1/provision/<name>, /healthz, /readyz and /metrics",
            ),
        }
    }

    /// 200, with the served revision in `Gatehouse-Revision`, so an operator
    /// that (re)starts can tell a proxy is current without pushing to it.
    /// A config read from a snapshot, without its secret values, says so
    /// in the revision: the operator then pushes it the whole config.
    /// Still 200 when depot routes cannot be served (the other routes
    /// serve), but the body says so and names the flag.
    fn ready(&self) -> Response<Body> {
        let active = self.state.current();
        let serves = |kind: fn(&BackendTarget) -> bool| {
            active.as_ref().is_some_and(|active| {
                active.config.routes.iter().any(|route| {
                    route
                        .rules
                        .iter()
                        .any(|rule| rule.backends.iter().any(|b| kind(&b.target)))
                })
            })
        };
        let depot_routes = serves(|t| matches!(t, BackendTarget::Depot { .. }));
        // A git backend without a root keeps its repositories in the data dir.
        let git_routes = serves(|t| matches!(t, BackendTarget::Git { root: None, .. }));
        let mut text = String::from("ready");
        if let (None, Some(writer)) = (self.state.data_dir(), self.state.data_writer()) {
            if depot_routes || git_routes {
                text = format!(
                    "{text}; depot routes, and git routes without `git.root`, are forwarded to the data writer {writer} (--data-writer)"
                );
            }
        } else if self.state.data_dir().is_none() {
            if depot_routes {
                text = format!("{text}; {NO_DATA_DIR}");
            }
            if git_routes {
                text = format!("{text}; {NO_DATA_DIR_GIT}");
            }
        }
        let mut response = body::plain(StatusCode::OK, &text);
        let served = active.map(|active| {
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

    /// 503, saying why: the process drains, or it waits for its first
    /// config (as a Pod started before the operator wrote its ConfigMap).
    fn not_ready(&self) -> Response<Body> {
        let why = match self.state.is_draining() {
            true => "shutting down: this proxy takes no new requests",
            false => {
                "waiting for its first config: none is loaded yet; the operator pushes one (PUT /config), or the proxy reads --config-file at start and on SIGHUP"
            }
        };
        body::plain(StatusCode::SERVICE_UNAVAILABLE, why)
    }

    /// None when the request may go on: no token is set, the connection
    /// showed a certificate the client CA signed (it authenticates as the
    /// token does), or the token is the one sent.
    fn check_token<B>(&self, req: &Request<B>, by_certificate: bool) -> Option<Response<Body>> {
        if by_certificate {
            return None;
        }
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

    /// `{"dataDir": bool, "revision": R, "depots": {"ns/name": {"files",
    /// "bytes", "lastChange"}}}` for the DepotRepos of the served config.
    /// A repository whose first scan is still under way is
    /// `{"pending": true}`, one that cannot be read `{"error": why}`;
    /// without a data dir each is `{}`. Summaries are kept until their
    /// repository changes (`backends/depot/repos.rs`); stale ones are taken
    /// again off the workers, waited for up to [`DEPOTS_WAIT`].
    async fn depots(&self) -> Response<Body> {
        let active = self.state.current();
        let ids: Vec<String> = active
            .as_ref()
            .map(|a| a.config.depots.iter().map(|d| d.id.clone()).collect())
            .unwrap_or_default();
        let revision = active.as_ref().map(|a| a.config.revision.clone());
        let store = &self.state.depots;
        if store.data_dir().is_none() {
            let depots: serde_json::Map<String, serde_json::Value> =
                ids.into_iter().map(|id| (id, json!({}))).collect();
            let mut answer = json!({"dataDir": false, "revision": revision, "depots": depots});
            if let Some(writer) = self.state.data_writer() {
                // Its numbers are the writer's to give: the operator polls it too.
                answer["dataWriter"] = writer.to_string().into();
            }
            return body::json(StatusCode::OK, &answer);
        }
        if let Some((scan, mut done)) = store.refresh(&ids) {
            if let Some(scan) = scan {
                let state = self.state.clone();
                // Spawned: the scan ends even if this caller stops waiting.
                tokio::spawn(async move {
                    let ran = state.blocking.run(BlockingKind::Scan, move || scan.run());
                    if let Err(busy) = ran.await {
                        tracing::warn!(%busy, "depot summaries not taken");
                    }
                });
            }
            let _ = tokio::time::timeout(DEPOTS_WAIT, done.changed()).await;
        }
        let depots: serde_json::Map<String, serde_json::Value> = store
            .summaries(&ids)
            .into_iter()
            .map(|(id, known)| {
                let value = match known {
                    None => json!({"pending": true}),
                    Some(Err(why)) => json!({"error": why}),
                    Some(Ok(summary)) => {
                        let mut value = json!({"files": summary.files, "bytes": summary.bytes});
                        if let Some(at) = summary.last_change {
                            value["lastChange"] = rfc3339_seconds(at).into();
                        }
                        value
                    }
                };
                (id, value)
            })
            .collect();
        body::json(
            StatusCode::OK,
            &json!({"dataDir": true, "revision": revision, "depots": depots}),
        )
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

pub(crate) fn method_not_allowed(allow: &'static str) -> Response<Body> {
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
