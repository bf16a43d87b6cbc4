//! Sends a request to an upstream and brings its response back, as nginx and
//! Envoy do: bodies streamed both ways, pooled keep-alive connections,
//! hop-by-hop headers dropped, `X-Forwarded-*` set, WebSocket upgrades passed through.
//! A request without a body goes out on Gatehouse's own client (`http1`), the
//! others on hyper's (`hyper_pool`).

pub(crate) mod dial;
pub(crate) mod http1;
pub(crate) mod hyper_pool;
pub(crate) mod request_body;
pub(crate) mod tunnel;

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

use bytes::Bytes;
use tokio::sync::oneshot;

use self::http1 as h1;
use crate::backends::upstream::hyper_pool::Pool;
use crate::backends::upstream::request_body::{ClientBody, Fault};
use crate::observe::access_log::{Entry, TunnelLog};
use crate::observe::metrics::UpstreamError;
use crate::proto::hop;
use crate::route::forwarded::{Origin, ProxyHeaders};
use crate::server::Held;
use crate::support::body::{Body, BoxError};
use crate::support::timer::TimedBody;

/// One worker's HTTP/1.1 clients, each with its own upstream connections:
/// Gatehouse's own for requests without a body, hyper's for the rest.
pub struct Upstreams {
    h1: h1::Client,
    pool: Pool,
    read_timeout: Duration,
    client_body_timeout: Duration,
}

/// How long the proxy waits on backends.
#[derive(Clone, Copy, Debug)]
pub struct BackendTimeouts {
    pub connect: Duration,
    /// Between two reads of a response, its head included.
    pub read: Duration,
    /// Between two reads of a client's request body.
    pub client_body: Duration,
}

impl Upstreams {
    pub fn new(timeouts: BackendTimeouts) -> Upstreams {
        Upstreams {
            h1: h1::Client::new(timeouts.connect, timeouts.read),
            pool: Pool::new(timeouts.connect, timeouts.read),
            read_timeout: timeouts.read,
            client_body_timeout: timeouts.client_body,
        }
    }

    /// The longest pause allowed while a client sends a request body.
    pub(crate) fn client_body_timeout(&self) -> Duration {
        self.client_body_timeout
    }

    /// `forward`'s future in its box, built in place: out of line, so that
    /// its kilobytes are not built on the caller's stack and then copied.
    #[inline(never)]
    pub fn forward_boxed<'a, B: RequestBody>(
        &'a self,
        req: Request<B>,
        authority: &'a Authority,
        origin: Origin<'a>,
        timeout: Option<Duration>,
    ) -> std::pin::Pin<Box<impl Future<Output = Result<Response<Body>, UpstreamError>> + use<'a, B>>>
    {
        crate::support::in_place::boxed(|| self.forward(req, authority, origin, timeout))
    }

    /// Sends `req` to `authority`; `timeout` bounds the wait for response
    /// headers, the read timeout each wait for the backend's next bytes.
    pub async fn forward<B: RequestBody>(
        &self,
        mut req: Request<B>,
        authority: &Authority,
        origin: Origin<'_>,
        timeout: Option<Duration>,
    ) -> Result<Response<Body>, UpstreamError> {
        if req.version() == Version::HTTP_2 {
            join_cookies(req.headers_mut());
        }
        let upgrade = upgrade_protocol(&req);
        let proxy_headers = ProxyHeaders::new(&origin, authority, req.headers());
        if upgrade.is_some() || !req.body().is_end_stream() {
            // Boxed: this rarer future is large, and would otherwise
            // enlarge every request's.
            let sent = self.forward_on_hyper(req, authority, proxy_headers, upgrade, timeout);
            return Box::pin(sent).await;
        }
        // The h1 client writes the request as it is, but in origin form,
        // without hop-by-hop headers and with ours, and answers with the
        // hop-by-hop headers already gone.
        within(timeout, self.h1.send(authority, &req, &proxy_headers)).await
    }

    /// A request with a body, or an upgrade, on hyper's client.
    async fn forward_on_hyper<B: RequestBody>(
        &self,
        mut req: Request<B>,
        authority: &Authority,
        proxy_headers: ProxyHeaders,
        upgrade: Option<HeaderValue>,
        timeout: Option<Duration>,
    ) -> Result<Response<Body>, UpstreamError> {
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let held = req.extensions().get::<Held>().cloned();
        prepare_request(&mut req, &proxy_headers, upgrade.as_ref());
        let fault = Fault::default();
        let (timeout_body, recorded) = (self.client_body_timeout, fault.clone());
        let req = req.map(|body| {
            ClientBody::new(body.map_err(Into::into), timeout_body, recorded).boxed_unsync()
        });

        // The read timeout runs once the body is sent, not while it uploads.
        let read_timeout = self.read_timeout;
        let waited = fault.clone();
        let answered = async {
            let send = self.pool.send(authority, req);
            tokio::pin!(send);
            tokio::select! {
                biased;
                sent = &mut send => sent,
                _ = async { waited.sent().await; tokio::time::sleep(read_timeout).await } => {
                    Err(UpstreamError::Timeout)
                }
            }
        };
        let sent = within(timeout, answered).await;
        // A request whose body failed failed because of its body.
        let mut response = sent.map_err(|err| fault.get().unwrap_or(err))?;

        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            let idle = self.read_timeout;
            let (log_here, logged) = TunnelLog::new();
            tokio::spawn(async move {
                let _held = held;
                let carried = Arc::new(tunnel::Carried::default());
                let _end = TunnelEnd {
                    logged,
                    carried: carried.clone(),
                };
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        let (client, upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                        let ended = tunnel::relay(client, upstream, idle, carried.clone()).await;
                        ended.log(carried.up(), carried.down());
                    }
                    Err(err) => tracing::debug!(%err, "upgrade failed"),
                }
            });
            let (parts, _) = response.into_parts();
            let mut response = Response::from_parts(parts, crate::support::body::empty());
            response.extensions_mut().insert(log_here);
            return Ok(response);
        }
        hop::strip(response.headers_mut());
        let idle = Some(self.read_timeout);
        Ok(response.map(|body| {
            let body = body.map_err(crate::support::body::BoxError::from);
            TimedBody::new(body, idle, None).boxed_unsync()
        }))
    }
}

/// Logs a tunnel's request, whole, when its task ends, as nginx logs a
/// tunnel when it closes: on its own end, or cut short by a shutdown.
struct TunnelEnd {
    logged: oneshot::Receiver<Entry>,
    carried: Arc<tunnel::Carried>,
}

impl Drop for TunnelEnd {
    fn drop(&mut self) {
        // Not sent yet: the upgrade failed before its answer went out, and
        // the entry is logged as it is dropped.
        if let Ok(mut entry) = self.logged.try_recv() {
            entry.tunnel_closed(self.carried.down());
        }
    }
}

/// What a forwarded request's body may be: hyper's, from a connection it
/// serves, or none, from the server's own HTTP/1.1 lane.
pub trait RequestBody:
    http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Unpin + 'static
{
}

/// `sent`, given up with a 504 after `timeout`.
pub(crate) async fn within<T>(
    timeout: Option<Duration>,
    sent: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, sent)
            .await
            .map_err(|_| UpstreamError::Timeout)?,
        None => sent.await,
    }
}

/// HTTP/2 lets a client send each cookie as a field of its own; an
/// HTTP/1.1 upstream must get them as one, joined with `; ` (RFC 9113 §8.2.3).
fn join_cookies(headers: &mut http::HeaderMap) {
    let mut cookies = headers.get_all(header::COOKIE).iter();
    if cookies.next().is_none() || cookies.next().is_none() {
        return;
    }
    let mut joined = Vec::new();
    for cookie in headers.get_all(header::COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(cookie.as_bytes());
    }
    let joined = HeaderValue::from_bytes(&joined).expect("joined cookies are a header value");
    headers.insert(header::COOKIE, joined);
}

/// The upgrade an HTTP/1.1 request may pass on: WebSocket only, as Envoy
/// passes only the upgrade types a route allows (`websocket` by default)
/// and nginx none it is not told to. Any other, `h2c` above all, would open
/// a tunnel past every rule: it is dropped like any hop-by-hop header and
/// the request goes on as a plain one.
fn upgrade_protocol<B>(req: &Request<B>) -> Option<HeaderValue> {
    let connection_says_upgrade =
        hop::connection_lists(req.headers().get_all(header::CONNECTION), "upgrade");
    if req.version() != Version::HTTP_11 || !connection_says_upgrade {
        return None;
    }
    let offered = req.headers().get_all(header::UPGRADE);
    hop::tokens(offered.iter().map(HeaderValue::as_bytes))
        .any(|token| token.eq_ignore_ascii_case(b"websocket"))
        .then(|| HeaderValue::from_static("websocket"))
}

/// Makes `req` what hyper's client is to send: origin form, HTTP/1.1, no
/// hop-by-hop headers but the upgrade's, ours set.
fn prepare_request<B: http_body::Body>(
    req: &mut Request<B>,
    proxy_headers: &ProxyHeaders,
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

    let has_body = !req.body().is_end_stream();
    let headers = req.headers_mut();
    hop::strip_fixed(headers);
    // hyper's client sends a GET or HEAD body of unknown length as no body
    // at all; said chunked, it is sent as nginx sends it.
    if has_body && !headers.contains_key(header::CONTENT_LENGTH) {
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
    }
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    proxy_headers.insert_into(headers);
}
