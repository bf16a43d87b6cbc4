//! A real upstream HTTP server on `127.0.0.1:0` (HTTP/1.1 and h2c), on its
//! own thread and runtime, so it keeps answering whatever the test's
//! runtime is doing.
//!
//! Every answer carries `x-upstream: <name>`. Its body is the server's name
//! ([`Upstream::start`]) or a JSON report of the request received
//! ([`Upstream::reporting`]: `upstream`, `method`, `path`, `query`,
//! `headers`, `bodyLength`). Whatever the body, these paths answer alike:
//! - a path holding `/code/NNN` is answered with status NNN;
//! - `/slow/<ms>` waits that long first;
//! - `/big/<bytes>` sends that many bytes;
//! - `/stream` sends three chunks 200 ms apart;
//! - a request with `Upgrade` is switched (101, to the protocol asked for)
//!   and its bytes echoed.
//!
//! Each connection is counted as it is accepted and each request as its head
//! arrives; each request is recorded once its body is read, before any
//! delay, so a test can see it is in flight.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// What an answer's body holds.
#[derive(Clone, Copy, Debug)]
enum Body {
    /// The upstream's name, as `text/plain`.
    Name,
    /// A JSON report of the request, on a connection kept alive 5 s.
    Report,
}

pub struct Upstream {
    pub name: String,
    pub addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
    recorded: Mutex<Vec<Recorded>>,
}

/// How one upstream answers: shared by its connections.
struct Answers {
    name: String,
    delay: Duration,
    body: Body,
    seen: Arc<Seen>,
}

impl Upstream {
    /// An upstream that answers at once with its name.
    pub fn start(name: &str) -> Upstream {
        Upstream::spawn(name, Duration::ZERO, Body::Name)
    }

    /// An upstream that waits `delay` before answering each request with its name.
    pub fn with_delay(name: &str, delay: Duration) -> Upstream {
        Upstream::spawn(name, delay, Body::Name)
    }

    /// An upstream that answers at once with a JSON report of the request.
    pub fn reporting(name: &str) -> Upstream {
        Upstream::spawn(name, Duration::ZERO, Body::Report)
    }

    fn spawn(name: &str, delay: Duration, body: Body) -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        let seen = Arc::new(Seen::default());
        let answers = Arc::new(Answers {
            name: name.to_owned(),
            delay,
            body,
            seen: seen.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("upstream-{name}"))
            .spawn(move || serve(listener, answers, stopped))
            .expect("spawn the upstream thread");
        Upstream {
            name: name.to_owned(),
            addr,
            seen,
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
        self.seen
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests whose head has arrived.
    pub fn request_count(&self) -> usize {
        self.seen.requests.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connection_count(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
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
    answers: Arc<Answers>,
    mut stopped: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("upstream runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            answers.seen.connections.fetch_add(1, Ordering::SeqCst);
            let answers = answers.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let answers = answers.clone();
                answers.seen.requests.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, Infallible>(answer(req, peer, &answers).await) }
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    // Dropping the runtime here cancels the connections still open.
}

type TestBody = BoxBody<Bytes, Infallible>;

async fn answer(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    answers: &Answers,
) -> Response<TestBody> {
    if let Some(protocol) = req.headers().get(http::header::UPGRADE).cloned() {
        tokio::spawn(echo(hyper::upgrade::on(&mut req)));
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", protocol)
            .body(full(""))
            .expect("valid response");
    }
    let path = req.uri().path().to_owned();
    if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
    }
    if let Some(size) = path.strip_prefix("/big/") {
        return big(size.parse().expect("/big/<bytes>"));
    }
    if path == "/stream" {
        return stream(&answers.name);
    }
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
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri,
        headers: parts.headers,
        body,
        peer,
    };
    let response = Response::builder()
        .status(status)
        .header("x-upstream", answers.name.as_str());
    let response = match answers.body {
        Body::Name => response
            .header("content-type", "text/plain")
            .body(full(answers.name.clone())),
        Body::Report => response
            .header("connection", "keep-alive")
            .header("keep-alive", "timeout=5")
            .header("content-type", "application/json")
            .body(full(report(&answers.name, &parts.uri, &recorded))),
    }
    .expect("valid response");
    answers
        .seen
        .recorded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(recorded);
    if !answers.delay.is_zero() {
        tokio::time::sleep(answers.delay).await;
    }
    response
}

/// The request as JSON; repeated headers joined with ", ", as RFC 9110 allows.
fn report(name: &str, uri: &http::Uri, request: &Recorded) -> String {
    let mut headers = serde_json::Map::new();
    for header in request.headers.keys() {
        let values: Vec<&str> = request
            .headers
            .get_all(header)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        headers.insert(header.to_string(), values.join(", ").into());
    }
    serde_json::json!({
        "upstream": name, "method": request.method, "path": uri.path(),
        "query": uri.query().unwrap_or(""), "headers": headers,
        "bodyLength": request.body.len(),
    })
    .to_string()
}

/// Echoes what the upgraded connection sends until it closes.
async fn echo(upgrade: hyper::upgrade::OnUpgrade) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let mut io = TokioIo::new(upgraded);
    let mut buf = [0u8; 1024];
    while let Ok(n) = io.read(&mut buf).await {
        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// `size` bytes of `x`, in 64 KiB frames.
fn big(size: usize) -> Response<TestBody> {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = (0..size.div_ceil(chunk.len())).map(move |i| {
        let end = (size - i * chunk.len()).min(chunk.len());
        Ok::<_, Infallible>(Frame::data(chunk.slice(..end)))
    });
    let body = BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)));
    Response::builder()
        .header("content-length", size)
        .body(body)
        .expect("valid response")
}

/// Three chunks, 200 ms apart.
fn stream(name: &str) -> Response<TestBody> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
    tokio::spawn(async move {
        for i in 0..3 {
            let _ = tx
                .send(Ok(Frame::data(Bytes::from(format!("chunk{i};")))))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let frames =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    Response::builder()
        .header("x-upstream", name)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("valid response")
}

fn full(text: impl Into<Bytes>) -> TestBody {
    BodyExt::boxed(Full::new(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client;

    #[tokio::test]
    async fn a_named_upstream_answers_its_name_or_the_code_asked_for_and_records_the_request() {
        let upstream = Upstream::start("shop");
        let client = client();
        let answer = client
            .post(format!("{}/cart?x=1", upstream.url()))
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["x-upstream"], "shop");
        assert_eq!(answer.text().await.unwrap(), "shop");
        let coded = client
            .get(format!("{}/app/code/503", upstream.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(coded.status(), 503);

        let seen = upstream.requests();
        assert_eq!(
            (seen[0].method.as_str(), seen[0].uri.as_str()),
            ("POST", "/cart?x=1")
        );
        assert_eq!(seen[0].body, "hi");
        assert_eq!(upstream.request_count(), 2);
        assert_eq!(upstream.connection_count(), 1, "one kept-alive connection");
    }

    #[tokio::test]
    async fn a_reporting_upstream_answers_with_what_it_was_sent() {
        let upstream = Upstream::reporting("a");
        let report: serde_json::Value = client()
            .post(format!("{}/p?q=1", upstream.url()))
            .header("x-twice", "1")
            .header("x-twice", "2")
            .body("four")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(report["upstream"], "a");
        assert_eq!(report["method"], "POST");
        assert_eq!(report["path"], "/p");
        assert_eq!(report["query"], "q=1");
        assert_eq!(report["headers"]["x-twice"], "1, 2");
        assert_eq!(report["bodyLength"], 4);
    }
}
