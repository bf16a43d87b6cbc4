//! Gatehouse's own HTTP/1.1 client for requests without a body, most of
//! what a proxy forwards. It runs inside the request's own task: the head
//! is written straight to a pooled socket, the response head parsed where
//! it lands, and a body that came in the same read is handed over whole.
//! hyper's client (see `hyper_pool`) needs a connection task and channels for
//! each request; skipping them is what lets a proxied GET cost about what
//! it costs nginx. Requests with a body and upgrades still go to hyper,
//! which sends the body while the response is already coming back.

mod body;
mod conn;
mod head;
mod idle;
pub(crate) mod interim;

use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use http::{Method, Request, Response};
use http_body_util::BodyExt;

use self::body::{ResponseBody, Rest};
use self::conn::Conn;
use self::head::{Framing, HeadError, ResponseHead};
use self::idle::Idle;
use crate::backends::upstream::dial::dial;
use crate::observe::metrics::UpstreamError;
use crate::route::forwarded::ProxyHeaders;
use crate::support::body::{self as proxy_body, Body};

/// Largest response head accepted, however its bytes arrive; nginx's
/// default (`proxy_buffer_size`) is 4–8 KiB, hyper's about 400 KiB (the
/// pool holds hyper's responses to this one too).
pub(crate) const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// One worker's client and its idle connections.
pub(crate) struct Client {
    idle: Arc<Idle>,
    connect_timeout: Duration,
    /// The longest wait for the upstream's next bytes, head or body.
    read_timeout: Duration,
}

/// Why an exchange failed, and whether the request may have reached the upstream.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the upstream closed the connection before answering")]
    Closed,
    #[error("sending the request failed: {0}")]
    Write(std::io::Error),
    #[error("reading the response failed: {0}")]
    Read(std::io::Error),
    #[error("the upstream sent no response head within the read timeout")]
    TimedOut,
    #[error("the upstream closed the connection in the middle of the response head")]
    TruncatedHead,
    #[error("the response head is larger than {MAX_RESPONSE_HEAD} bytes")]
    HeadTooLarge,
    #[error(transparent)]
    Head(#[from] HeadError),
}

impl Failure {
    /// A reused connection that failed before any byte of a response had
    /// most likely been closed by the upstream while idle.
    fn stale_connection(&self) -> bool {
        matches!(self, Failure::Closed | Failure::Write(_))
            || matches!(self, Failure::Read(err) if err.kind() == std::io::ErrorKind::ConnectionReset)
    }
}

impl Client {
    pub(crate) fn new(connect_timeout: Duration, read_timeout: Duration) -> Client {
        Client {
            idle: Arc::new(Idle::default()),
            connect_timeout,
            read_timeout,
        }
    }

    /// Sends `req` (its body is not read: the caller checked it is empty)
    /// to `authority` with `proxy_headers`, and returns the response, its
    /// body still streaming.
    pub(crate) async fn send<B>(
        &self,
        authority: &Authority,
        req: &Request<B>,
        proxy_headers: &ProxyHeaders,
    ) -> Result<Response<Body>, UpstreamError> {
        let (mut conn, mut reused) = match self.idle.checkout(authority.as_str()) {
            Some(conn) => (conn, true),
            None => (self.connect(authority).await?, false),
        };
        loop {
            match exchange(&mut conn, req, proxy_headers, self.read_timeout).await {
                Ok(head) => return Ok(self.respond(conn, head, authority)),
                // Sending again is safe only for idempotent methods (RFC 9110 §9.2.2).
                Err(failure)
                    if reused && failure.stale_connection() && is_idempotent(req.method()) =>
                {
                    tracing::debug!(%authority, %failure, "idle upstream connection was closed; retrying on a new one");
                    conn = self.connect(authority).await?;
                    reused = false;
                }
                Err(Failure::TimedOut) => return Err(UpstreamError::Timeout),
                Err(failure) => {
                    tracing::debug!(%authority, %failure, "upstream request failed");
                    return Err(UpstreamError::Protocol);
                }
            }
        }
    }

    async fn connect(&self, authority: &Authority) -> Result<Conn, UpstreamError> {
        // Boxed: resolving and connecting make a large future, needed only
        // for a new connection, which would otherwise enlarge every request's.
        let stream = Box::pin(dial(authority, self.connect_timeout)).await?;
        Ok(Conn::new(stream))
    }

    /// The response with its body: whole when it came with the head (the
    /// connection is back in the pool before the client sees a byte),
    /// streamed from the connection otherwise.
    fn respond(&self, mut conn: Conn, head: ResponseHead, authority: &Authority) -> Response<Body> {
        let body = match head.framing {
            Framing::Length(n) if conn.buf.len() as u64 >= n => {
                let data = conn.buf.split_to(n as usize).freeze();
                self.release(conn, head.reusable, authority);
                proxy_body::full(data)
            }
            Framing::Empty => {
                self.release(conn, head.reusable, authority);
                proxy_body::empty()
            }
            framing => {
                let rest = match framing {
                    Framing::Length(n) => Rest::Length(n),
                    Framing::Chunked => Rest::Chunked(Default::default()),
                    _ => Rest::UntilClose,
                };
                let keep = head
                    .reusable
                    .then(|| (self.idle.clone(), authority.clone()));
                ResponseBody::new(conn, rest, keep, self.read_timeout).boxed_unsync()
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = head.status;
        *response.headers_mut() = head.headers;
        if !head.spellings.is_empty() {
            response.extensions_mut().insert(head.spellings);
        }
        response
    }

    /// A connection whose response is fully read: kept if it may be.
    fn release(&self, conn: Conn, reusable: bool, authority: &Authority) {
        if reusable && conn.buf.is_empty() {
            self.idle.checkin(authority.as_str(), conn);
        }
    }
}

/// Writes the request head and reads the response head.
async fn exchange<B>(
    conn: &mut Conn,
    req: &Request<B>,
    proxy_headers: &ProxyHeaders,
    read_timeout: Duration,
) -> Result<ResponseHead, Failure> {
    head::encode_request(req, proxy_headers, &mut conn.out);
    conn.send_out().await.map_err(Failure::Write)?;
    // Whether any of a response came, interim ones included: then the
    // upstream did act on the request.
    let mut answered = false;
    loop {
        let unread = conn.buf.len();
        if let Some(head) = head::parse_response(&mut conn.buf, req.method(), &mut conn.scratch)? {
            // A head that came in one read is measured too.
            if unread - conn.buf.len() > MAX_RESPONSE_HEAD {
                return Err(Failure::HeadTooLarge);
            }
            return Ok(head);
        }
        if conn.buf.len() > MAX_RESPONSE_HEAD {
            return Err(Failure::HeadTooLarge);
        }
        match conn.fill_within(read_timeout).await {
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Failure::TimedOut);
            }
            Ok(0) if !answered => return Err(Failure::Closed),
            Ok(0) => return Err(Failure::TruncatedHead),
            Ok(_) => answered = true,
            Err(err) if !answered => return Err(Failure::Read(err)),
            Err(_) => return Err(Failure::TruncatedHead),
        }
    }
}

/// Methods that may be sent twice (RFC 9110 §9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}
