//! The traffic listeners: accept connections up to a limit, serve each on
//! the HTTP/1.1 lane (which hands h2, h2c and requests with a body to
//! hyper), after a TLS handshake on `--listen-tls`, and drain gracefully
//! on shutdown.

pub(crate) mod http1;
mod hyper_served;
pub(crate) mod peer;
pub(crate) mod stream;
pub(crate) mod tls;
pub(crate) mod workers;

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prometheus::IntGauge;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::route::Shared;
use crate::server::peer::Peer;

/// Limits that bound what one client can hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    /// Idle time allowed between requests on an HTTP/1.1 connection.
    pub keep_alive_timeout: Duration,
    /// Longest a client may take none of what is sent to it.
    pub send_timeout: Duration,
    pub max_connections: usize,
}

/// Serves until `stop` turns true, then lets in-flight requests finish for up to `grace`.
/// `slots` bounds connections across every worker. A worker holds at most
/// one accepted connection while it waits for a free slot, so the limit
/// holds and nothing piles up in the process.
pub(crate) async fn serve(
    listener: TcpListener,
    tls_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    limits: Limits,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let hyper = Arc::new(hyper_servers(limits));
    // The worker's own copy of the stop signal, for its connections: they
    // wait on it between requests, and a channel per worker keeps that off
    // a lock every worker would share. Every connection holds a receiver
    // to its end: when the last is gone, all have finished.
    let (worker_stop_tx, worker_stop) = watch::channel(false);
    loop {
        let (accepted, over_tls) = tokio::select! {
            accepted = listener.accept() => (accepted, false),
            accepted = accept_on(tls_listener.as_ref()) => (accepted, true),
            _ = stopping(&mut stop) => break,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off, don't spin.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("semaphore is never closed"),
            _ = stopping(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let held = Held::new(slot, shared.state.metrics.open_connections.clone());
        let peer = Peer::judged(client, &shared.trusted_proxies);
        if over_tls {
            let (shared, hyper, worker_stop) = (shared.clone(), hyper.clone(), worker_stop.clone());
            tokio::spawn(async move {
                let shaken =
                    tls::accept(stream, peer, &shared.state, limits.header_read_timeout).await;
                if let Some((stream, peer)) = shaken {
                    http1::serve(stream, shared, peer, limits, hyper, worker_stop, held).await;
                }
            });
            continue;
        }
        let connection = http1::serve(
            stream,
            shared.clone(),
            peer,
            limits,
            hyper.clone(),
            worker_stop.clone(),
            held,
        );
        // Spawned as it is: an `async` block around it would carry a
        // second, moved-from copy of it in every connection's task.
        tokio::spawn(connection);
    }
    drop(listener);
    drop(tls_listener);
    drop(worker_stop);
    let _ = worker_stop_tx.send(true);
    tracing::info!(grace = ?grace, "stopped accepting; draining open requests");
    if tokio::time::timeout(grace, worker_stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace ran out with requests still open");
    }
}

/// A client connection's slot under `--max-connections` and its place in
/// `gatehouse_open_connections`, kept while anything serves the client:
/// its connection, or the tunnel of the WebSocket it upgraded to.
#[derive(Clone)]
pub(crate) struct Held(#[allow(dead_code, reason = "held for its Drop")] Arc<HeldSlot>);

struct HeldSlot {
    _slot: OwnedSemaphorePermit,
    open: IntGauge,
}

impl Held {
    fn new(slot: OwnedSemaphorePermit, open: IntGauge) -> Held {
        open.inc();
        Held(Arc::new(HeldSlot { _slot: slot, open }))
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// hyper's servers, for the connections the lane hands over.
pub(crate) struct HyperServers {
    pub http1: hyper::server::conn::http1::Builder,
    pub http2: http2::Builder<TokioExecutor>,
}

fn hyper_servers(limits: Limits) -> HyperServers {
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        // The lane's connections come with a whole head; `HeadTimeout`
        // times the ones after it.
        .header_read_timeout(None)
        // Its read buffer bounds a head: hyper reads no more than it holds.
        .max_buf_size(limits.max_header_bytes.max(8192))
        // Names in their usual case on HTTP/1.x (`Content-Length`), but an
        // upstream's as it spelled them: see `header_case`.
        .title_case_headers(true);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    HyperServers { http1, http2 }
}

/// The next connection on `listener`; never, without one.
async fn accept_on(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
