//! Bounded everything: header size, header read time, connections.

use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Upstream, client, eventually, h2c_client, read_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let proxy = start_proxy(|s| s.max_header_bytes = 16 * 1024).await;
    let r = client()
        .get(url(&proxy, "/"))
        .header("x-big", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);

    // Whole in one write, and under twice the limit: still refused.
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    let answer = answer.expect("the proxy answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("larger than 16384 bytes"), "{answer}");

    // The same on a connection hyper serves, after a request with a body
    // large enough to have grown hyper's read buffer past the limit.
    let upstream = Upstream::reporting("up");
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let body = "b".repeat(256 * 1024);
    let post = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(post.as_bytes()).await.unwrap();
    let (answer, _) = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    let answer = answer.expect("the proxy answered and closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn the_default_limit_holds_for_a_head_sent_whole() {
    // 100 KB in one write: hyper's own limit would let it through.
    let proxy = start_proxy(|_| {}).await;
    for size in [70 * 1024, 100 * 1024] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        let head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(3)).await;
        let answer = answer.expect("the proxy answered and closed");
        assert!(answer.starts_with("HTTP/1.1 431"), "{size}: {answer}");
    }
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_cut_off() {
    let proxy = start_proxy(|s| s.header_read_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    let answer = answer.expect("the proxy closed the slow connection");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let proxy = start_proxy(|s| s.keep_alive_timeout = Duration::from_millis(400)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    for _ in 0..2 {
        // Each request within the timeout keeps the connection.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(
            head.to_ascii_lowercase().contains("content-length: "),
            "a length: {head}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let idle_from = std::time::Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(
        rest.as_deref(),
        Some(""),
        "the idle connection was not closed"
    );
    let idled = idle_from.elapsed();
    assert!(
        idled >= Duration::from_millis(200) && idled < Duration::from_secs(2),
        "closed after {idled:?} idle, not about 400 ms"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| s.max_connections = 2).await;
    apply_yaml(&proxy, &one_backend("r", "a", &upstream.url()));
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(proxy.addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(s);
    }
    let mut third = TcpStream::connect(proxy.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 12];
    let waited = tokio::time::timeout(Duration::from_millis(300), third.read_exact(&mut buf)).await;
    assert!(
        waited.is_err(),
        "a third connection was served beyond the limit of 2"
    );
    drop(held.pop());
    tokio::time::timeout(Duration::from_secs(3), third.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
}

#[tokio::test]
async fn an_http2_connection_that_sends_no_request_is_closed_after_the_header_timeout() {
    let proxy = start_proxy(|s| s.header_read_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(rest.is_some(), "the silent h2 connection stayed open");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after {:?}, not about 300 ms",
        started.elapsed()
    );
}

/// Whether every client connection is let go within 2 s.
async fn all_let_go(proxy: &gatehouse_proxy::Running) -> bool {
    eventually(Duration::from_secs(2), async || {
        open_connections(proxy) == "gatehouse_open_connections 0"
    })
    .await
}

fn open_connections(proxy: &gatehouse_proxy::Running) -> String {
    proxy
        .state
        .metrics
        .render()
        .lines()
        .find(|l| l.starts_with("gatehouse_open_connections "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_keep_alive_timeout_but_not_mid_response() {
    let upstream = Upstream::reporting("s");
    let proxy = start_proxy(|s| s.keep_alive_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "s", &upstream.url()));
    let h2 = h2c_client();
    // Answered after 2.5 s: more than two idle checks (a second apart)
    // pass while it is under way, and must not close the connection.
    let r = h2.get(url(&proxy, "/slow/2500")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/slow/2500"));
    assert_eq!(open_connections(&proxy), "gatehouse_open_connections 1");
    let closed = eventually(Duration::from_secs(4), async || {
        open_connections(&proxy) == "gatehouse_open_connections 0"
    })
    .await;
    assert!(closed, "the idle h2 connection stayed open");
    // The client opens a new connection and carries on.
    let r = h2.get(url(&proxy, "/again")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_websocket_holds_its_connection_slot_until_its_tunnel_closes() {
    let upstream = Upstream::reporting("ws");
    let proxy = start_proxy(|s| s.max_connections = 1).await;
    apply_yaml(&proxy, &one_backend("app", "ws", &upstream.url()));
    let mut ws = open_websocket(&proxy).await;
    ws.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    ws.read_exact(&mut echoed).await.unwrap();
    assert_eq!(open_connections(&proxy), "gatehouse_open_connections 1");

    // The one slot is the tunnel's: another client waits.
    let mut other = TcpStream::connect(proxy.addr).await.unwrap();
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let waited = read_until_closed(&mut other, Duration::from_millis(500)).await;
    assert_eq!(
        waited, None,
        "a second client got in past --max-connections 1"
    );

    drop(ws);
    let answer = read_until_closed(&mut other, Duration::from_secs(5)).await;
    assert!(
        answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "the waiting client is served once the tunnel closes"
    );
    let freed = all_let_go(&proxy).await;
    assert!(freed, "{}", open_connections(&proxy));
}

/// Sends `head` and takes nothing of the answer for `wait`; then reads
/// what was left for it. `None`: the connection was still open.
async fn stop_reading(
    proxy: &gatehouse_proxy::Running,
    head: &str,
    wait: Duration,
) -> Option<usize> {
    // A small receive buffer, so the proxy's writes wait soon.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(proxy.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(wait).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(got.len()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_let_go_after_the_send_timeout() {
    const BIG: usize = 256 * 1024 * 1024;
    let upstream = Upstream::reporting("big");
    let proxy = start_proxy(|s| s.send_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "big", &upstream.url()));
    // On the lane, and on hyper's server (a request with a body).
    for head in [
        format!("GET /big/{BIG} HTTP/1.1\r\nHost: x\r\n\r\n"),
        format!("POST /big/{BIG} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"),
    ] {
        let got = stop_reading(&proxy, &head, Duration::from_millis(1500)).await;
        let got = got.expect("the connection of a client that stopped reading stayed open");
        assert!(got < BIG, "{got} bytes: the whole answer went through");
        let freed = all_let_go(&proxy).await;
        assert!(freed, "{head:?}: {}", open_connections(&proxy));
    }
}

#[tokio::test]
async fn a_silent_websocket_tunnel_is_closed_after_the_read_timeout_but_a_talking_one_is_not() {
    let upstream = Upstream::reporting("ws");
    let proxy = start_proxy(|s| s.backend_read_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "ws", &upstream.url()));
    let mut ws = open_websocket(&proxy).await;
    // Ten pings 100 ms apart: three times the limit, never silent for it.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ws.write_all(b"ping").await.unwrap();
        let mut echoed = [0u8; 4];
        ws.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"ping");
    }
    // Then silence: the tunnel closes, and its slot is free.
    let silent_from = std::time::Instant::now();
    let rest = read_until_closed(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(rest.as_deref(), Some(""), "the silent tunnel stayed open");
    let silent = silent_from.elapsed();
    assert!(
        silent >= Duration::from_millis(250),
        "closed after {silent:?} of silence, not about 300 ms"
    );
    let freed = all_let_go(&proxy).await;
    assert!(freed, "{}", open_connections(&proxy));
}

#[tokio::test]
async fn after_a_request_with_a_body_the_connection_idles_for_the_keep_alive_timeout() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| {
        s.header_read_timeout = Duration::from_millis(300);
        s.keep_alive_timeout = Duration::from_millis(1500);
    })
    .await;
    apply_yaml(&proxy, &one_backend("app", "a", &upstream.url()));
    let post = b"POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(post).await.unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Idle for more than the header timeout, less than the keep-alive one.
    tokio::time::sleep(Duration::from_millis(800)).await;
    stream.write_all(post).await.unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "closed while idle: {head}"
    );
    // A head begun late in the idle time has its header timeout, even past
    // the end of the idle time.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    stream.write_all(b"POST /size HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    stream
        .write_all(b"Host: x\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "a head begun in time was cut at the end of the idle time: {head}"
    );
    let idle_from = std::time::Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(4)).await;
    assert_eq!(rest.as_deref(), Some(""), "the idle connection stayed open");
    let idled = idle_from.elapsed();
    assert!(
        idled >= Duration::from_millis(1200),
        "closed after {idled:?} idle, not about 1.5 s"
    );

    // A head begun after the idle time still has only the header timeout.
    let mut slow = TcpStream::connect(proxy.addr).await.unwrap();
    slow.write_all(post).await.unwrap();
    let (head, _) = read_response(&mut slow).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let begun = std::time::Instant::now();
    let rest = read_until_closed(&mut slow, Duration::from_secs(4)).await;
    let rest = rest.expect("a head that never ends was waited on for ever");
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );
    assert!(
        begun.elapsed() < Duration::from_millis(1200),
        "a slow head was given {:?}, not the 300 ms header timeout",
        begun.elapsed()
    );
}

#[tokio::test]
async fn an_http2_client_that_grants_no_window_is_let_go_after_the_send_timeout() {
    const BIG: usize = 256 * 1024 * 1024;
    let upstream = Upstream::reporting("big");
    let proxy = start_proxy(|s| s.send_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "big", &upstream.url()));
    let h2 = h2c_client();
    // The client's connection goes on reading frames, but the response is
    // not read: its stream window fills, and no WINDOW_UPDATE follows.
    let response = h2
        .get(url(&proxy, &format!("/big/{BIG}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Another request on the same connection, answered after the stall is
    // seen: the connection lets it finish before it goes.
    let other = h2.get(url(&proxy, "/slow/1500")).send().await.unwrap();
    assert_eq!(other.status(), 200);
    let other = other.text().await.expect("the other request finished");
    assert!(other.contains("/slow/1500"), "{other}");
    let freed = eventually(Duration::from_secs(4), async || {
        open_connections(&proxy) == "gatehouse_open_connections 0"
    })
    .await;
    assert!(
        freed,
        "the stalled stream held its connection: {}",
        open_connections(&proxy)
    );
    let body = response.bytes().await;
    assert!(body.is_err(), "the whole answer went through");
}

#[tokio::test]
async fn after_a_slow_or_an_instant_answer_the_idle_time_starts_from_the_answer() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| {
        s.header_read_timeout = Duration::from_millis(300);
        s.keep_alive_timeout = Duration::from_secs(1);
    })
    .await;
    apply_yaml(&proxy, &one_backend("app", "a", &upstream.url()));
    // Slower than the header timeout; answered in the poll that read it
    // (a Host that is not host[:port] is refused before any backend).
    for head in [
        &b"POST /slow/700 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"[..],
        b"POST / HTTP/1.1\r\nHost: a b\r\nContent-Length: 2\r\n\r\nhi",
    ] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(head).await.unwrap();
        let (answer, _) = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        let answered = std::time::Instant::now();
        let rest = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        let idled = answered.elapsed();
        assert_eq!(
            rest.as_deref(),
            Some(""),
            "{answer}: the idle connection was never closed"
        );
        assert!(
            idled >= Duration::from_millis(800) && idled < Duration::from_millis(2500),
            "{answer}: closed {idled:?} after the answer, not about 1 s"
        );
    }
}
