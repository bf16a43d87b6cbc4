//! Thread per core, as nginx's worker processes: each worker thread runs its
//! own single-threaded runtime with its own `SO_REUSEPORT` listener and its
//! own upstream connection pool, so a request never leaves the thread that
//! accepted it (no cross-thread wake-ups on the hot path). Only the config
//! (an `ArcSwap`), the metrics and the connection limit are shared.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::backends::upstream::{BackendTimeouts, Upstreams};
use crate::config::state::State;
use crate::observe::access_log::{self, AccessLog, WorkerLog};
use crate::route::Shared;
use crate::route::client_headers::Underscores;
use crate::route::forwarded::TrustedProxies;
use crate::route::target::EscapedSlashes;
use crate::server::{self, Limits};

/// `count` listeners on one address (the first decides the port when `addr` has port 0).
pub(crate) fn bind(
    addr: SocketAddr,
    count: usize,
) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    if addr.port() != 0 {
        refuse_a_taken_port(addr)?;
    }
    let mut bound = addr;
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = if bound.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.set_nodelay(true)?;
        socket.bind(bound)?;
        let listener = socket.listen(4096)?;
        bound = listener.local_addr()?;
        listeners.push(listener.into_std()?);
    }
    Ok((bound, listeners))
}

/// `SO_REUSEPORT` would let a second proxy (or anything of the same user)
/// share a port that is already serving, and the kernel would split the
/// connections between the two. A plain bind first fails as nginx does:
/// "Address already in use".
fn refuse_a_taken_port(addr: SocketAddr) -> io::Result<()> {
    let probe = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    probe.set_reuseaddr(true)?;
    probe.bind(addr)
}

/// What every worker is started with.
pub(crate) struct WorkerSettings {
    pub limits: Limits,
    pub backend: BackendTimeouts,
    pub shutdown_grace: Duration,
    pub access_log: Option<Arc<AccessLog>>,
    pub escaped_slashes: EscapedSlashes,
    pub trusted_proxies: TrustedProxies,
    pub underscores: Underscores,
    pub https_port: Option<u16>,
    /// `--local-app`: where requests no Route matches go.
    pub local_app: Option<http::uri::Authority>,
}

/// The running worker threads.
pub(crate) struct Workers {
    finished: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// One worker per plain listener; each takes a TLS listener too, when
    /// `tls_listeners` has them (one each, or none).
    pub(crate) fn spawn(
        listeners: Vec<std::net::TcpListener>,
        tls_listeners: Vec<std::net::TcpListener>,
        state: Arc<State>,
        settings: WorkerSettings,
        stop: watch::Receiver<bool>,
    ) -> io::Result<Workers> {
        let slots = Arc::new(Semaphore::new(settings.limits.max_connections));
        let mut finished = Vec::new();
        let mut tls_listeners = tls_listeners.into_iter();
        for (index, listener) in listeners.into_iter().enumerate() {
            let tls_listener = tls_listeners.next();
            let (done, finished_rx) = oneshot::channel();
            finished.push(finished_rx);
            let (state, slots, stop) = (state.clone(), slots.clone(), stop.clone());
            let (limits, backend, grace) =
                (settings.limits, settings.backend, settings.shutdown_grace);
            let escaped_slashes = settings.escaped_slashes;
            let trusted_proxies = settings.trusted_proxies.clone();
            let underscores = settings.underscores;
            let https_port = settings.https_port;
            let local_app = settings.local_app.clone();
            let access_log = settings.access_log.as_ref().map(AccessLog::for_worker);
            std::thread::Builder::new()
                .name(format!("gatehouse-worker-{index}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a worker runtime starts");
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)
                            .expect("listener registers");
                        let tls_listener = tls_listener.map(|listener| {
                            tokio::net::TcpListener::from_std(listener).expect("listener registers")
                        });
                        if let Some(log) = access_log.clone() {
                            tokio::spawn(flush_every_so_often(log));
                        }
                        let shared = Arc::new(Shared {
                            state,
                            upstreams: Upstreams::new(backend),
                            access_log,
                            escaped_slashes,
                            trusted_proxies,
                            underscores,
                            https_port,
                            local_app,
                        });
                        server::serve(listener, tls_listener, shared, limits, slots, stop, grace)
                            .await;
                    });
                    // Its tasks dropped first: their access log lines are
                    // handed to the writer before the process may exit.
                    drop(runtime);
                    let _ = done.send(());
                })?;
        }
        Ok(Workers { finished })
    }

    /// Waits until every worker has drained and stopped.
    pub(crate) async fn wait(self) {
        for finished in self.finished {
            let _ = finished.await;
        }
    }
}

/// Hands a quiet worker's access log lines to the writer, so none waits
/// long; a busy worker hands them over each time its buffer fills.
async fn flush_every_so_often(log: Arc<WorkerLog>) {
    let mut tick = tokio::time::interval(access_log::FLUSH_EVERY);
    loop {
        tick.tick().await;
        log.flush();
    }
}
