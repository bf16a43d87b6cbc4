//! The server's own HTTP/1.1 lane, seen from raw client sockets: keep-alive
//! and `Connection` rules, pipelining, framing, `Date`, and the hand-off of
//! a connection to hyper when a request has a body.

use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Upstream, exchange, read_head, read_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn proxy_to(upstream: &Upstream) -> gatehouse_proxy::Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    proxy
}

/// What the test upstream reports it received, from a response body.
fn seen(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

/// Whether the peer closes `stream` within a second (reading nothing more).
async fn closes(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut rest)).await,
        Ok(Ok(0))
    )
}

#[tokio::test]
async fn answers_pipelined_requests_in_order() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for path in ["/one", "/two"] {
        let (head, body) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(seen(&body)["path"], path);
    }
}

#[tokio::test]
async fn a_request_with_a_body_moves_the_connection_to_hyper_without_losing_a_byte() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    // A bodiless GET (the lane), then a POST with a body and a GET sent
    // together: hyper must read both from what the lane had buffered.
    let (head, _) = exchange(&mut stream, b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
        .write_all(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let upload = seen(&body);
    assert_eq!(
        (upload["method"].as_str(), upload["bodyLength"].as_u64()),
        (Some("POST"), Some(5))
    );
    let (_, body) = read_response(&mut stream).await;
    assert_eq!(seen(&body)["path"], "/after");
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection_after_the_response() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (head, _) = exchange(
        &mut stream,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        head.to_ascii_lowercase().contains("connection: close\r\n"),
        "{head}"
    );
    assert!(closes(&mut stream).await, "the connection stayed open");

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (head, _) = exchange(&mut stream, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").await;
    assert!(
        head.to_ascii_lowercase().contains("connection: close\r\n"),
        "{head}"
    );
    assert!(
        closes(&mut stream).await,
        "an HTTP/1.0 connection stayed open"
    );

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    for _ in 0..2 {
        let (head, _) = exchange(
            &mut stream,
            b"GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        )
        .await;
        assert!(
            head.to_ascii_lowercase()
                .contains("connection: keep-alive\r\n"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn a_body_of_unknown_length_is_chunked_for_http_1_1_and_closed_for_http_1_0() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (head, body) = exchange(&mut stream, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert_eq!(body, b"chunk0;chunk1;chunk2;");

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /stream HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    let mut body = Vec::new();
    stream.read_to_end(&mut body).await.unwrap();
    assert_eq!(
        body, b"chunk0;chunk1;chunk2;",
        "the body ends with the connection"
    );
}

#[tokio::test]
async fn own_answers_carry_date_and_length_and_head_gets_no_body() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", "http://127.0.0.1:9"));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
    assert!(lower.contains("\r\ndate: "), "{head}");
    // The HEAD answer has a length but no body: the next bytes are the GET's answer.
    assert!(lower.contains("content-length: "), "{head}");
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert_eq!(body, b"502 Bad Gateway: could not connect to backend up\n");
}

#[tokio::test]
async fn a_malformed_request_gets_a_400_that_says_why() {
    let proxy = start_proxy(|_| {}).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        answer.ends_with("400 Bad Request: a header name has a character names may not have (no space before the colon, no line folded onto the next)\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn requests_started_before_a_shutdown_are_answered_with_close() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    // Heads half sent when the drain starts: bodiless ones (the lane's)
    // and ones with a body (hyper's, after the hand-off).
    let mut started = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        let head: &[u8] = if i % 2 == 0 {
            b"GET / HTTP/1.1\r\nHost: x\r\n"
        } else {
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        };
        stream.write_all(head).await.unwrap();
        started.push((stream, i % 2 == 1));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (mut stream, with_body) in started {
        let rest: &[u8] = if with_body { b"\r\nhello" } else { b"\r\n" };
        let (head, _) = exchange(&mut stream, rest).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
    }
    proxy.wait().await;
}
