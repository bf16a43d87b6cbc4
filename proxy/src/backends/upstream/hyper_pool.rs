//! One worker's keep-alive connections to its upstreams on hyper's
//! low-level HTTP/1.1 client, for what `h1` leaves to it: requests with a
//! body (sent while the response is read) and upgrades. Each worker owns
//! its pool (see `workers`), so a checkout is an uncontended lock and a
//! short scan, with no hand-off to another thread.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::backends::upstream::dial::dial;
use crate::observe::metrics::UpstreamError;
use crate::support::locks::lock;
use http::uri::Authority;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::support::body::Body;
use crate::support::send_timeout::SendTimeout;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

/// Idle connections kept per upstream; more are closed when they finish.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

pub(crate) struct Pool {
    /// FNV, not SipHash: `Authority` hashes itself a byte at a time, which
    /// SipHash makes the costliest part of a checkout; the keys are the
    /// config's own upstreams, never a client's input, so a keyed hash buys
    /// nothing here.
    connections: Mutex<HashMap<Authority, Vec<SendRequest<Body>>, fnv::FnvBuildHasher>>,
    connect_timeout: Duration,
    /// Longest a backend may take none of a request (nginx's
    /// `proxy_send_timeout`): the read timeout, which starts only once
    /// the request is sent, does not cover a backend that stops reading.
    send_timeout: Duration,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration, send_timeout: Duration) -> Pool {
        Pool {
            connections: Mutex::new(HashMap::default()),
            connect_timeout,
            send_timeout,
        }
    }

    /// Sends `req` on a pooled connection, or a new one. A request a pooled
    /// connection could not take (closed by the upstream meanwhile) is sent
    /// again on a fresh connection; nothing of it had been sent.
    pub(crate) async fn send(
        &self,
        authority: &Authority,
        req: Request<Body>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut req = req;
        // An upgrade is asked for with `Upgrade` (forward keeps it only then).
        let asked_upgrade = req.headers().contains_key(http::header::UPGRADE);
        let mut sender = match self.checkout(authority) {
            Some(sender) => sender,
            None => self.connect(authority).await?,
        };
        let mut response = loop {
            match sender.try_send_request(req).await {
                Ok(response) => break response,
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => {
                        req = unsent;
                        sender = self.connect(authority).await?;
                    }
                    None => {
                        tracing::debug!(error = %failed.error(), %authority, "upstream request failed");
                        return Err(if timed_out(failed.error()) {
                            UpstreamError::Timeout
                        } else {
                            UpstreamError::Protocol
                        });
                    }
                },
            }
        };
        // hyper bounds a head by its read buffer only when the head needs
        // more than one read; measured here, the limit holds however the
        // bytes arrive, as on the proxy's own client.
        if head_size(&response) > crate::backends::upstream::http1::MAX_RESPONSE_HEAD {
            tracing::debug!(%authority, "upstream response head too large");
            return Err(UpstreamError::Protocol);
        }
        // RFC 9110 §15.2.2: a switch the client never asked for leaves
        // the connection in a protocol no one agreed on; it is not reused.
        if response.status() == http::StatusCode::SWITCHING_PROTOCOLS && !asked_upgrade {
            tracing::debug!(%authority, "upstream switched protocols unasked");
            return Err(UpstreamError::Protocol);
        }
        // Both framings (RFC 9112 §6.3): hyper read the body chunked, as
        // the coding says; the length would cut it when written on, and a
        // backend that sends both is not trusted with another request.
        response
            .extensions_mut()
            .insert(crate::proto::header_case::SpelledByHyper);
        let headers = response.headers_mut();
        if headers.contains_key(http::header::TRANSFER_ENCODING)
            && headers.remove(http::header::CONTENT_LENGTH).is_some()
        {
            tracing::debug!(%authority, "upstream response with both Content-Length and Transfer-Encoding; not reusing its connection");
            return Ok(response);
        }
        self.checkin(authority, sender);
        Ok(response)
    }

    /// A connection ready for a request now; closed ones are dropped on the way.
    fn checkout(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        let mut connections = lock(&self.connections);
        let list = connections.get_mut(authority)?;
        list.retain(|s| !s.is_closed());
        let ready = list.iter().rposition(SendRequest::is_ready)?;
        Some(list.swap_remove(ready))
    }

    /// Keeps a connection whose response is under way: it is ready again
    /// once that response's body has been read.
    fn checkin(&self, authority: &Authority, sender: SendRequest<Body>) {
        let mut connections = lock(&self.connections);
        // `entry` would clone the authority on every request; it is there but once.
        let list = match connections.get_mut(authority) {
            Some(list) => list,
            None => connections.entry(authority.clone()).or_default(),
        };
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(sender);
        }
    }

    async fn connect(&self, authority: &Authority) -> Result<SendRequest<Body>, UpstreamError> {
        let stream = dial(authority, self.connect_timeout).await?;
        let stream = SendTimeout::to_backend(stream, self.send_timeout);
        let (sender, connection) = http1::Builder::new()
            // Names are passed on as the upstream spelled them (nginx does):
            // hyper's server writes them back so from the response's case map.
            .preserve_header_case(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| UpstreamError::Connect)?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(%err, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// The size of a response head as it came: status line, fields, end.
fn head_size<B>(response: &Response<B>) -> usize {
    let fields: usize = (response.headers().iter())
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    "HTTP/1.1 200 OK\r\n\r\n".len() + fields
}

/// Whether hyper gave up because a write to the backend timed out.
fn timed_out(err: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = cause.source();
    }
    false
}
