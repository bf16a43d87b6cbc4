//! Sends a request to an upstream and brings its response back, as nginx and
//! Envoy do: bodies streamed both ways, pooled keep-alive connections,
//! hop-by-hop headers dropped, `X-Forwarded-*` set, `Upgrade` passed through.

use std::net::SocketAddr;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::Body;
use crate::metrics::UpstreamError;
use crate::pool::Pool;

/// One worker's HTTP/1.1 client: its own pool of upstream connections.
pub struct Upstreams {
    pool: Pool,
}

/// The client's IP as `X-Forwarded-For` carries it: formatted once per
/// connection, not on each of its requests.
#[derive(Clone)]
pub struct ClientIp(HeaderValue);

impl ClientIp {
    pub fn new(addr: SocketAddr) -> ClientIp {
        let text = addr.ip().to_string();
        ClientIp(HeaderValue::from_str(&text).expect("an IP address is a valid header value"))
    }
}

/// Who asked, for the `X-Forwarded-*` headers.
pub struct Origin<'a> {
    pub client: &'a ClientIp,
    /// The Host the client sent, before any rewrite.
    pub host: Option<&'a HeaderValue>,
    /// The Host to send upstream, when a URLRewrite changes it.
    pub rewritten_host: Option<&'a HeaderValue>,
}

impl Upstreams {
    pub fn new(connect_timeout: Duration) -> Upstreams {
        Upstreams {
            pool: Pool::new(connect_timeout),
        }
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

        let sent = self.pool.send(authority, req);
        let mut response = match timeout {
            Some(limit) => tokio::time::timeout(limit, sent)
                .await
                .map_err(|_| UpstreamError::Timeout)??,
            None => sent.await?,
        };

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
    // Origin form (`/path?query`), as a request to an origin server is sent.
    let path = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(path);
    *req.version_mut() = Version::HTTP_11;

    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    match origin.rewritten_host.or(origin.host) {
        Some(host) => headers.insert(header::HOST, host.clone()),
        None => headers.insert(
            header::HOST,
            HeaderValue::from_str(authority.as_str()).expect("an authority is a valid Host"),
        ),
    };
    if let Some(host) = origin.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    let client_ip = &origin.client.0;
    let forwarded_for = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) => {
            let ip = client_ip.to_str().expect("an IP address is ASCII");
            HeaderValue::from_str(&format!("{previous}, {ip}")).ok()
        }
        None => Some(client_ip.clone()),
    };
    if let Some(value) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, value);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// RFC 9110 §7.6.1: connection-specific headers, and any the `Connection` header names.
/// One pass over the names finds those present, so a message without any
/// (most requests) costs no hashed removal, and one with only `Connection`
/// (most responses) costs one instead of eight.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut present: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    if present.is_empty() {
        return;
    }
    present.extend(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("").split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok()),
    );
    for name in present {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == header::PROXY_AUTHORIZATION
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}
