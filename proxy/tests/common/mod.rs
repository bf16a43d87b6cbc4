//! Test fixtures: a proxy started in-process on loopback ports, and real
//! upstream HTTP servers that report what they received.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_api::manifest::Manifests;
use gatehouse_api::{ProxyConfig, Resources, compile};
use gatehouse_proxy::{Running, Settings};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub async fn start_proxy(adjust: impl FnOnce(&mut Settings)) -> Running {
    let mut settings = Settings::for_tests();
    settings.config_file = None;
    adjust(&mut settings);
    // An empty config file keeps the embedded examples out of the way.
    if settings.manifests.is_none() && settings.config_file.is_none() {
        // One file per proxy: tests run in parallel and must not see a half-written file.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("gh-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!(
            "empty-{}.json",
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&file, r#"{"routes": []}"#).unwrap();
        settings.config_file = Some(file);
    }
    gatehouse_proxy::start(&settings)
        .await
        .expect("proxy starts")
}

/// Compiles Route YAML the way users write it; panics on any error.
pub fn config_from_yaml(yaml: &str) -> ProxyConfig {
    let mut manifests = Manifests::default();
    manifests.read("test.yaml", yaml);
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let routes: Vec<_> = manifests.routes().map(|r| r.value.clone()).collect();
    let compiled = compile(Resources::routes(&routes));
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.config
}

/// A Route named `name` (in `default`) with the given rules, as YAML.
pub fn route_yaml(name: &str, rules: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  rules:\n{rules}"
    )
}

/// A Route sending everything to one backend named `backend` at `url`.
pub fn one_backend(name: &str, backend: &str, url: &str) -> String {
    route_yaml(
        name,
        &format!("  - backends: [{{name: {backend}, url: '{url}'}}]\n"),
    )
}

/// Reads an HTTP/1.1 response head (up to the blank line) byte by byte.
pub async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// One response read off `stream`: its head, and its body as framed by
/// `Content-Length` or chunked coding.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let head = read_head(stream).await;
    let lower = head.to_ascii_lowercase();
    let body = if let Some(length) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        let mut body = vec![0; length.trim().parse().unwrap()];
        stream.read_exact(&mut body).await.unwrap();
        body
    } else if lower.contains("transfer-encoding: chunked") {
        read_chunked(stream).await
    } else {
        Vec::new()
    };
    (head, body)
}

async fn read_chunked(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            line.push(stream.read_u8().await.unwrap());
        }
        let size = usize::from_str_radix(std::str::from_utf8(&line).unwrap().trim(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        stream.read_exact(&mut chunk).await.unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// `GET url` and its body as text.
pub async fn get_text(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub fn apply_yaml(proxy: &Running, yaml: &str) {
    proxy
        .state
        .apply(config_from_yaml(yaml), "test")
        .expect("config applies");
}

/// Sends `request` and reads its answer as JSON.
pub async fn json_of<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// A client that speaks HTTP/2 without TLS from its first bytes (h2c
/// with prior knowledge), as gRPC clients inside a cluster do.
pub fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn url(proxy: &Running, path: &str) -> String {
    format!("http://{}{path}", proxy.addr)
}

/// A real HTTP/1.1 upstream on 127.0.0.1:0. Every response carries
/// `x-upstream: <name>`; the body is JSON describing the request received.
/// Paths: `/slow/<ms>` waits first; `/stream` sends three chunks 200 ms apart;
/// `/size` answers the request body's length; `/big/<bytes>` sends that
/// many bytes; an `Upgrade` request is
/// switched (101, to the protocol asked for) and echoes bytes.
pub struct Upstream {
    pub addr: SocketAddr,
    pub name: &'static str,
    pub connections: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start(name: &'static str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        r.fetch_add(1, Ordering::SeqCst);
                        answer(name, req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Upstream {
            addr,
            name,
            connections,
            requests,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type TestBody = BoxBody<Bytes, Infallible>;

async fn answer(
    name: &'static str,
    mut req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if let Some(protocol) = req.headers().get(http::header::UPGRADE).cloned() {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", protocol)
            .body(full(""))
            .unwrap();
        return Ok(response);
    }
    if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
    }
    if let Some(size) = path.strip_prefix("/big/") {
        let size: usize = size.parse().unwrap();
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let chunks = (0..size.div_ceil(chunk.len())).map(move |i| {
            let end = (size - i * chunk.len()).min(chunk.len());
            Ok::<_, Infallible>(Frame::data(chunk.slice(..end)))
        });
        let body = BodyExt::boxed(StreamBody::new(futures_util::stream::iter(chunks)));
        return Ok(Response::builder()
            .header("content-length", size)
            .body(body)
            .unwrap());
    }
    if path == "/stream" {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        tokio::spawn(async move {
            for i in 0..3 {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from(format!("chunk{i};")))))
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let stream =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            );
        let body = BodyExt::boxed(StreamBody::new(stream));
        return Ok(Response::builder()
            .header("x-upstream", name)
            .body(body)
            .unwrap());
    }
    // Repeated headers are joined with ", ", as RFC 9110 allows.
    let mut headers = serde_json::Map::new();
    for name in req.headers().keys() {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        headers.insert(name.to_string(), values.join(", ").into());
    }
    let method = req.method().to_string();
    let query = req.uri().query().unwrap_or("").to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let report = serde_json::json!({
        "upstream": name, "method": method, "path": path, "query": query,
        "headers": headers, "bodyLength": body.len(),
    });
    Ok(Response::builder()
        .header("x-upstream", name)
        .header("connection", "keep-alive")
        .header("keep-alive", "timeout=5")
        .header("content-type", "application/json")
        .body(full(report.to_string()))
        .unwrap())
}

fn full(text: impl Into<Bytes>) -> TestBody {
    BodyExt::boxed(Full::new(text.into()))
}

/// Polls `check` until it is true or `within` passes.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A connection upgraded to a WebSocket, through the proxy, to an
/// `Upstream` (which echoes).
pub async fn open_websocket(proxy: &Running) -> tokio::net::TcpStream {
    let mut ws = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    ws.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut ws).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws
}
