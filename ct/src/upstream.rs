//! A real upstream HTTP server on `127.0.0.1:0`, on its own thread and
//! runtime (so it keeps answering whatever the test's runtime is doing).
//!
//! Every answer is `200`, body = the server's name, header `x-upstream: name`;
//! a path holding `/code/NNN` is answered with status NNN instead. Each request is
//! recorded (before any delay, so a test can see it is in flight).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::sync::oneshot;

/// What the upstream was sent.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as the upstream received them.
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The proxy-side address of the connection it came on.
    pub peer: SocketAddr,
}

pub struct Upstream {
    pub name: String,
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    /// An upstream that answers at once.
    pub fn start(name: &str) -> Upstream {
        Upstream::with_delay(name, Duration::ZERO)
    }

    /// An upstream that waits `delay` before answering each request.
    pub fn with_delay(name: &str, delay: Duration) -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let thread = {
            let name = name.to_owned();
            let requests = requests.clone();
            std::thread::Builder::new()
                .name(format!("upstream-{name}"))
                .spawn(move || serve(listener, name, delay, requests, stopped))
                .expect("spawn the upstream thread")
        };
        Upstream {
            name: name.to_owned(),
            addr,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, as a Route's `url` takes it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, as a ProxyConfig's upstream `authority` takes it.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Everything received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: std::net::TcpListener,
    name: String,
    delay: Duration,
    requests: Arc<Mutex<Vec<Recorded>>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("upstream runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let name: Arc<str> = name.into();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            let name = name.clone();
            let requests = requests.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let name = name.clone();
                let requests = requests.clone();
                async move { Ok::<_, Infallible>(answer(req, peer, &name, delay, &requests).await) }
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    // Dropping the runtime here cancels the connections still open.
}

async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    name: &str,
    delay: Duration,
    requests: &Mutex<Vec<Recorded>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let status = uri
        .find("/code/")
        .and_then(|at| uri.get(at + 6..at + 9))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Recorded {
            method: parts.method.to_string(),
            uri,
            headers: parts.headers,
            body,
            peer,
        });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Response::builder()
        .status(status)
        .header("x-upstream", name)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(name.to_owned())))
        .expect("valid response")
}
