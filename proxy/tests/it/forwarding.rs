//! Reverse proxying as nginx and Envoy do it, checked with real sockets.

use std::time::{Duration, Instant};

use crate::support::*;
use gatehouse_testkit::{Upstream, client, h2c_client, read_head, read_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn proxy_to(upstream: &Upstream) -> gatehouse_proxy::Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    proxy
}

#[tokio::test]
async fn sets_forwarded_headers_and_drops_hop_by_hop_ones() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let response = client()
        .get(url(&proxy, "/p?q=1"))
        .header("host", "shop.example.com:8080")
        .header("x-forwarded-for", "10.1.2.3")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .header("te", "trailers")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("keep-alive").is_none(),
        "hop-by-hop header from the upstream leaked"
    );
    let seen: serde_json::Value = response.json().await.unwrap();
    let headers = &seen["headers"];
    assert_eq!(seen["path"], "/p");
    assert_eq!(seen["query"], "q=1");
    assert_eq!(
        headers["host"], "shop.example.com:8080",
        "the client's Host is passed through"
    );
    assert_eq!(headers["x-forwarded-host"], "shop.example.com:8080");
    assert_eq!(headers["x-forwarded-for"], "10.1.2.3, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert!(
        headers.get("x-secret").is_none(),
        "a header named in Connection is hop-by-hop"
    );
    assert!(headers.get("te").is_none());
}

#[tokio::test]
async fn forwarded_for_keeps_every_line_of_the_client_list() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let seen: serde_json::Value = json_of(
        client()
            .get(url(&proxy, "/"))
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2"),
    )
    .await;
    assert_eq!(
        seen["headers"]["x-forwarded-for"],
        "10.0.0.1, 10.0.0.2, 127.0.0.1"
    );
}

/// The headers a client behind a TLS-terminating load balancer sends, as
/// the balancer adds them.
async fn forwarded_as_seen(trusted: &str) -> serde_json::Value {
    let upstream = Upstream::reporting("a");
    let trusted = gatehouse_proxy::TrustedProxies::parse(trusted).unwrap();
    let proxy = start_proxy(|s| s.trusted_proxies = trusted).await;
    apply_yaml(&proxy, &one_backend("app", "a", &upstream.url()));
    let seen: serde_json::Value = json_of(
        client()
            .get(url(&proxy, "/"))
            .header("host", "shop.internal")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "shop.example.com")
            .header("x-forwarded-for", "203.0.113.9"),
    )
    .await;
    seen["headers"].clone()
}

/// A load balancer named in `--trusted-proxies` says which scheme and host
/// the client used; once a list is given, other peers say nothing.
#[tokio::test]
async fn a_trusted_proxy_says_the_scheme_and_host_and_others_do_not() {
    let trusted = forwarded_as_seen("127.0.0.0/8").await;
    assert_eq!(trusted["x-forwarded-proto"], "https");
    assert_eq!(trusted["x-forwarded-host"], "shop.example.com");
    assert_eq!(trusted["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(trusted["host"], "shop.internal");

    let untrusted = forwarded_as_seen("10.0.0.0/8").await;
    assert_eq!(untrusted["x-forwarded-proto"], "http");
    assert_eq!(untrusted["x-forwarded-host"], "shop.internal");
    assert_eq!(
        untrusted["x-forwarded-for"], "127.0.0.1",
        "an untrusted peer's list is not believed"
    );

    // Without a list, as nginx's usual lines: the list extended, the rest ours.
    let unset = forwarded_as_seen("").await;
    assert_eq!(unset["x-forwarded-proto"], "http");
    assert_eq!(unset["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
}

#[tokio::test]
async fn http2_cookie_fields_reach_an_http1_upstream_as_one() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let h2 = h2c_client();
    let seen: serde_json::Value = h2
        .get(url(&proxy, "/"))
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The test upstream joins repeated fields with ", "; one field it shows as is.
    assert_eq!(seen["headers"]["cookie"], "a=1; b=2");
}

#[tokio::test]
async fn reuses_upstream_connections() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..20 {
        let r = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let opened = upstream.connection_count();
    assert!(
        opened <= 2,
        "20 sequential requests opened {opened} upstream connections"
    );
}

#[tokio::test]
async fn streams_response_bodies_without_buffering() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let started = Instant::now();
    let mut response = client().get(url(&proxy, "/stream")).send().await.unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"chunk0;");
    assert!(
        first_at < Duration::from_millis(300),
        "first chunk took {first_at:?}: the body was buffered"
    );
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"chunk1;chunk2;");
}

#[tokio::test]
async fn streams_large_request_bodies() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let body = vec![7u8; 8 * 1024 * 1024];
    let seen: serde_json::Value = client()
        .post(url(&proxy, "/upload"))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["bodyLength"], 8 * 1024 * 1024);
    assert_eq!(seen["method"], "POST");
}

#[tokio::test]
async fn serves_http2_cleartext_clients() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let h2 = h2c_client();
    let response = h2.get(url(&proxy, "/h2")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["path"], "/h2");
    assert_eq!(
        seen["headers"]["host"],
        proxy.addr.to_string(),
        "HTTP/2 :authority becomes Host upstream"
    );
}

#[tokio::test]
async fn passes_upgrades_through() {
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    stream.write_all(b"hello through the tunnel").await.unwrap();
    let mut echoed = [0u8; 24];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"hello through the tunnel");
}

#[tokio::test]
async fn other_upgrades_go_on_as_plain_requests() {
    // An h2c upgrade passed upstream would open a tunnel past every rule.
    let upstream = Upstream::reporting("a");
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for name in ["upgrade", "connection", "http2-settings"] {
        assert!(
            seen["headers"].get(name).is_none(),
            "{name} reached the upstream: {seen}"
        );
    }
}

#[tokio::test]
async fn connect_failure_is_502_and_unknown_host_is_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: down}}\nspec:\n  rules:\n  - matches: [{{path: {{value: /down}}}}]\n    backends: [{{name: gone, url: 'http://{closed}'}}]\n  - matches: [{{path: {{value: /nowhere}}}}]\n    backends: [{{name: ghost, url: 'http://no-such-host.invalid:80'}}]\n"
        ),
    );
    let down = client().get(url(&proxy, "/down")).send().await.unwrap();
    assert_eq!(down.status(), 502);
    assert_eq!(down.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        down.text().await.unwrap(),
        "502 Bad Gateway: could not connect to backend gone\n"
    );
    let nowhere = client().get(url(&proxy, "/nowhere")).send().await.unwrap();
    assert_eq!(nowhere.status(), 503);
    assert!(
        nowhere
            .text()
            .await
            .unwrap()
            .contains("backend ghost has no reachable endpoint")
    );
    let metrics = proxy.state.metrics.render();
    assert!(metrics.contains(r#"gatehouse_upstream_errors_total{backend="gone",kind="connect",route="default/down"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"gatehouse_upstream_errors_total{backend="ghost",kind="no_endpoint",route="default/down"} 1"#));
}

#[tokio::test]
async fn backend_and_request_timeouts_answer_504() {
    let upstream = Upstream::reporting("slow");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: t}}\nspec:\n  rules:\n  - backends: [{{name: slow, url: '{}'}}]\n    timeouts: {{request: 2s, backendRequest: 300ms}}\n",
            upstream.url()
        ),
    );
    let started = Instant::now();
    let r = client()
        .get(url(&proxy, "/slow/1500"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "timed out after {:?}",
        started.elapsed()
    );
    assert_eq!(
        r.text().await.unwrap(),
        "504 Gateway Timeout: backend slow did not answer in time\n"
    );
    let fast = client().get(url(&proxy, "/slow/10")).send().await.unwrap();
    assert_eq!(fast.status(), 200, "a request within the timeout is served");
}

#[tokio::test]
async fn a_silent_backend_gets_504_after_the_read_timeout_without_route_timeouts() {
    let upstream = Upstream::reporting("slow");
    let proxy = start_proxy(|s| s.backend_read_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "slow", &upstream.url()));
    for with_body in [false, true] {
        // Bodiless requests take Gatehouse's own client, others hyper's.
        let request = if with_body {
            client().post(url(&proxy, "/slow/3000")).body("x")
        } else {
            client().get(url(&proxy, "/slow/3000"))
        };
        let started = Instant::now();
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 504, "with a body: {with_body}");
        assert!(
            started.elapsed() < Duration::from_millis(2000),
            "timed out after {:?}",
            started.elapsed()
        );
    }
    let metrics = proxy.state.metrics.render();
    assert!(
        metrics.contains(r#"gatehouse_upstream_errors_total{backend="slow",kind="timeout",route="default/app"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_past_the_read_timeout_is_cut_off() {
    // `/stream` sends a chunk every 200 ms.
    let upstream = Upstream::reporting("s");
    for (read_timeout, completes) in [
        (Duration::from_millis(80), false),
        (Duration::from_secs(2), true),
    ] {
        let proxy = start_proxy(|s| s.backend_read_timeout = read_timeout).await;
        apply_yaml(&proxy, &one_backend("app", "s", &upstream.url()));
        let r = client().get(url(&proxy, "/stream")).send().await.unwrap();
        assert_eq!(r.status(), 200, "the head came in time");
        let body = r.text().await;
        assert_eq!(
            body.is_ok(),
            completes,
            "read timeout {read_timeout:?}: {body:?}"
        );
        if let Ok(body) = body {
            assert_eq!(body, "chunk0;chunk1;chunk2;");
        }
    }
}

#[tokio::test]
async fn a_rule_request_timeout_covers_the_body_too() {
    let upstream = Upstream::reporting("s");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: t}}\nspec:\n  rules:\n  - backends: [{{name: s, url: '{}'}}]\n    timeouts: {{request: 300ms}}\n",
            upstream.url()
        ),
    );
    let r = client().get(url(&proxy, "/stream")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.is_err(),
        "the 600-ms body outlived the 300-ms request timeout"
    );
}

#[tokio::test]
async fn a_client_that_leaves_before_its_answer_lets_go_of_the_upstream() {
    // A raw upstream that reads a request and never answers: it sees the
    // proxy close its connection once the client has gone.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "silent", &upstream));
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    let mut request = vec![0u8; 4096];
    let n = accepted.read(&mut request).await.unwrap();
    assert!(request[..n].starts_with(b"GET /wait"));

    drop(client);
    let mut rest = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(2), accepted.read(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "the upstream connection outlived the client that asked: {closed:?}"
    );
}

/// Sends `head` and reads the answer's head and its plain-text body.
async fn answer_to(proxy: &gatehouse_proxy::Running, head: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    let (answer_head, body) =
        tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
            .await
            .expect("an answer in time");
    (answer_head, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn a_broken_or_stalled_request_body_is_the_client_s_fault() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| s.client_body_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "a", &upstream.url()));

    let (head, body) = answer_to(
        &proxy,
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("request body is malformed"), "{body}");

    let started = Instant::now();
    let (head, body) = answer_to(
        &proxy,
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(body.contains("stopped arriving"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let metrics = proxy.state.metrics.render();
    assert!(
        !metrics.contains("gatehouse_upstream_errors_total{"),
        "a client's fault is no backend error: {metrics}"
    );
}

#[tokio::test]
async fn an_upload_longer_than_the_read_timeout_is_not_cut_off() {
    // The read timeout counts from the end of the body: a slow upload to a
    // backend that reads it is no silent backend.
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| s.backend_read_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "a", &upstream.url()));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
        .await
        .unwrap();
    for byte in b"abcdef" {
        tokio::time::sleep(Duration::from_millis(120)).await;
        stream.write_all(&[*byte]).await.unwrap();
    }
    let head = tokio::time::timeout(Duration::from_secs(5), read_head(&mut stream))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn a_backend_that_stops_taking_an_upload_gets_504_after_the_read_timeout() {
    // It accepts, then reads nothing: the upload fills its buffers and stalls.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let backend = socket.listen(8).unwrap();
    let backend_url = format!("http://{}", backend.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let (stream, _) = backend.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let proxy = start_proxy(|s| s.backend_read_timeout = Duration::from_millis(300)).await;
    apply_yaml(&proxy, &one_backend("app", "stuck", &backend_url));

    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let size = 256 * 1024 * 1024;
    let head = format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        while writer.write_all(&chunk).await.is_ok() {}
    });
    let started = Instant::now();
    let mut answer = vec![0; 12];
    tokio::time::timeout(Duration::from_secs(5), reader.read_exact(&mut answer))
        .await
        .expect("an answer before the client gave up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(answer, "HTTP/1.1 504", "after {:?}", started.elapsed());
    let metrics = proxy.state.metrics.render();
    assert!(
        metrics.contains(r#"kind="timeout""#),
        "counted as a backend timeout: {metrics}"
    );
    held.abort();
}

/// A transfer coding the proxy does not decode is refused with 501, as
/// nginx does (RFC 9112 §6.1), not passed on as a chunked body that no
/// longer says it is compressed.
#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_501() {
    let upstream = Upstream::reporting("up");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    for (coding, status) in [("gzip, chunked", "501"), ("chunked", "200")] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        let request = format!(
            "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let (head, body) = read_response(&mut stream).await;
        let body = String::from_utf8_lossy(&body);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{coding}: {head}"
        );
        if status == "501" {
            assert!(body.contains("transfer coding `gzip`"), "{body}");
        } else {
            assert!(body.contains(r#""bodyLength":5"#), "{body}");
        }
    }
}
