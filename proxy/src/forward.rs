//! Sends a request to an upstream and brings its response back, as nginx and
//! Envoy do: bodies streamed both ways, pooled keep-alive connections,
//! hop-by-hop headers dropped, `X-Forwarded-*` set, `Upgrade` passed through.

use std::error::Error as _;
use std::net::SocketAddr;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::body::Body;
use crate::metrics::UpstreamError;

/// The pooled HTTP/1.1 client shared by every request.
pub struct Upstreams {
    client: Client<HttpConnector, Incoming>,
}

/// Who asked, for the `X-Forwarded-*` headers.
pub struct Origin<'a> {
    pub client: SocketAddr,
    /// The Host the client sent, before any rewrite.
    pub host: Option<&'a HeaderValue>,
    /// The Host to send upstream, when a URLRewrite changes it.
    pub rewritten_host: Option<&'a HeaderValue>,
}

impl Upstreams {
    pub fn new(connect_timeout: Duration) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Upstreams { client }
    }

    /// Sends `req` to `authority`; `timeout` bounds the wait for response headers.
    pub async fn forward(
        &self,
        mut req: Request<Incoming>,
        authority: &Authority,
        origin: Origin<'_>,
        timeout: Option<Duration>,
    ) -> Result<Response<Body>, UpstreamError> {
        let upgrade = upgrade_protocol(&req);
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        prepare_request(&mut req, authority, &origin, upgrade.as_ref());

        let sent = self.client.request(req);
        let result = match timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| UpstreamError::Timeout)?,
            None => sent.await,
        };
        let mut response = result.map_err(classify)?;

        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        let _ = tokio::io::copy_bidirectional(
                            &mut TokioIo::new(client),
                            &mut TokioIo::new(upstream),
                        )
                        .await;
                    }
                    Err(err) => tracing::debug!(%err, "upgrade failed"),
                }
            });
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, crate::body::empty()));
        }
        strip_hop_by_hop(response.headers_mut());
        Ok(response.map(|body| body.map_err(crate::body::BoxError::from).boxed_unsync()))
    }
}

/// The `Upgrade` value of an HTTP/1.1 upgrade request (WebSocket and the like).
fn upgrade_protocol<B>(req: &Request<B>) -> Option<HeaderValue> {
    let connection_says_upgrade = req
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if req.version() == Version::HTTP_11 && connection_says_upgrade {
        req.headers().get(header::UPGRADE).cloned()
    } else {
        None
    }
}

fn prepare_request(
    req: &mut Request<Incoming>,
    authority: &Authority,
    origin: &Origin<'_>,
    upgrade: Option<&HeaderValue>,
) {
    let path = req.uri().path_and_query().cloned();
    let mut uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone());
    if let Some(path) = path {
        uri = uri.path_and_query(path);
    } else {
        uri = uri.path_and_query("/");
    }
    *req.uri_mut() = uri.build().expect("scheme, authority and path are valid");
    *req.version_mut() = Version::HTTP_11;

    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    if let Some(host) = origin.rewritten_host.or(origin.host) {
        headers.insert(header::HOST, host.clone());
    }
    if let Some(host) = origin.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    let client_ip = origin.client.ip().to_string();
    let forwarded_for = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) => format!("{previous}, {client_ip}"),
        None => client_ip,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// RFC 9110 §7.6.1: connection-specific headers, and any the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn classify(err: hyper_util::client::legacy::Error) -> UpstreamError {
    if err.is_connect() {
        // A name that does not resolve has no endpoint; a refused or
        // timed-out connect is a reachable name that failed.
        let mut source = err.source();
        while let Some(cause) = source {
            if cause.to_string().contains("dns error") {
                return UpstreamError::NoEndpoint;
            }
            source = cause.source();
        }
        return UpstreamError::Connect;
    }
    tracing::debug!(error = %err, source = ?err.source(), "upstream request failed");
    UpstreamError::Protocol
}
