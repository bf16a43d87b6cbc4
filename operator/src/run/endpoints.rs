//! The operator's own HTTP endpoints: `/metrics` (Prometheus text),
//! `/healthz` (the process is up), `/readyz` (its caches are synced).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub(super) struct Metrics {
    registry: Registry,
    pub reconciles: IntCounterVec,
    pub push_duration: Histogram,
    pub push_failures: IntCounterVec,
    pub proxies: IntGauge,
    pub proxies_in_sync: IntGauge,
    pub leader: IntGauge,
    pub ready: AtomicBool,
}

impl Metrics {
    pub(super) fn new() -> Metrics {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "gatehouse_operator_reconciles_total",
                "Compile-and-push rounds, by result",
            ),
            &["result"],
        )
        .expect("valid metric");
        let push_duration = Histogram::with_opts(
            HistogramOpts::new(
                "gatehouse_operator_push_duration_seconds",
                "Time for one push to one proxy",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )
        .expect("valid metric");
        let push_failures = IntCounterVec::new(
            Opts::new(
                "gatehouse_operator_push_failures_total",
                "Failed pushes, by proxy Pod",
            ),
            &["proxy"],
        )
        .expect("valid metric");
        let proxies = IntGauge::new(
            "gatehouse_operator_proxies",
            "Proxy Pods running with an IP",
        )
        .expect("valid metric");
        let proxies_in_sync = IntGauge::new(
            "gatehouse_operator_proxies_in_sync",
            "Proxy Pods serving the current revision",
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "gatehouse_operator_leader",
            "1 while this replica holds the Lease",
        )
        .expect("valid metric");
        for collector in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(push_duration.clone()),
            Box::new(push_failures.clone()),
            Box::new(proxies.clone()),
            Box::new(proxies_in_sync.clone()),
            Box::new(leader.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            reconciles,
            push_duration,
            push_failures,
            proxies,
            proxies_in_sync,
            leader,
            ready: AtomicBool::new(false),
        }
    }

    fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).expect("UTF-8")
    }
}

/// Serves the endpoints on `listener` until the process ends.
pub(super) async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&metrics, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

pub(super) async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: cannot bind: {e}"))
}

fn answer(metrics: &Metrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        (&Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "alive\n".to_owned()),
        (&Method::GET, "/readyz") if metrics.ready.load(Ordering::SeqCst) => {
            (StatusCode::OK, "text/plain", "ready\n".to_owned())
        }
        (&Method::GET, "/readyz") => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "caches not synced yet\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "the operator serves /metrics, /healthz and /readyz\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
