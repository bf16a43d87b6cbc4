//! Gatehouse's own HTTP/1.1 client (requests without a body) against
//! upstreams that answer with exact bytes: every way a response body can be
//! framed, the malformed heads a proxy must refuse, and connections the
//! upstream closes under it.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Reply, Scripted, client, read_head};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn proxy_to(upstream: &Scripted) -> gatehouse_proxy::Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("raw", "raw", &upstream.url()));
    proxy
}

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[tokio::test]
async fn decodes_chunked_bodies_and_keeps_the_connection() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::Send(bytes(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: dropped\r\n\r\n",
        ))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..3 {
        let response = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-trailer").is_none());
        assert_eq!(response.text().await.unwrap(), "hello, world");
    }
    assert_eq!(upstream.connections(), 1, "the connection was not reused");
}

#[tokio::test]
async fn reads_a_body_without_length_until_the_upstream_closes() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::SendAndClose(bytes(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
        ))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..2 {
        let response = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "all of it");
    }
    assert_eq!(
        upstream.connections(),
        2,
        "a close-delimited body ends its connection"
    );
}

#[tokio::test]
async fn an_http_1_0_upstream_gets_a_connection_per_request() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::Send(bytes("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..2 {
        let response = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    assert_eq!(upstream.connections(), 2);

    let keep_alive = Scripted::start(|_, _, _| {
        Reply::Send(bytes(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
        ))
    })
    .await;
    let proxy = proxy_to(&keep_alive).await;
    for _ in 0..2 {
        let response = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    assert_eq!(
        keep_alive.connections(),
        1,
        "HTTP/1.0 with keep-alive is reused"
    );
}

#[tokio::test]
async fn chunked_wins_over_content_length_and_the_connection_is_not_reused() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::Send(bytes(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
             3\r\nabc\r\n0\r\n\r\n",
        ))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    for _ in 0..2 {
        let response = client().get(url(&proxy, "/")).send().await.unwrap();
        assert_ne!(
            response
                .headers()
                .get("content-length")
                .map(|v| v.as_bytes()),
            Some(&b"100"[..]),
            "the Content-Length that does not frame the body is not passed on"
        );
        assert_eq!(response.text().await.unwrap(), "abc");
    }
    assert_eq!(upstream.connections(), 2);
}

#[tokio::test]
async fn malformed_heads_are_502_with_the_reason_logged_not_sent() {
    let upstream = Scripted::start(|head, _, _| {
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        Reply::SendAndClose(match path.as_str() {
            "/two-lengths" => {
                bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
            }
            "/bad-length" => bytes("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nabcd"),
            "/garbage" => bytes("SMTP ready\r\n\r\n"),
            "/huge-head" => {
                let mut head = bytes("HTTP/1.1 200 OK\r\n");
                for i in 0..2000 {
                    head.extend_from_slice(
                        format!("x-filler-{i}: {}\r\n", "v".repeat(40)).as_bytes(),
                    );
                }
                head
            }
            // 70 KB in one write, with fewer fields than the count limit.
            "/wide-head" => {
                let mut head = bytes("HTTP/1.1 200 OK\r\n");
                for i in 0..70 {
                    head.extend_from_slice(
                        format!("x-filler-{i}: {}\r\n", "v".repeat(1000)).as_bytes(),
                    );
                }
                head.extend_from_slice(b"Content-Length: 2\r\n\r\nok");
                head
            }
            "/cut-head" => bytes("HTTP/1.1 200 OK\r\nContent-"),
            "/unasked-upgrade" => bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
            _ => bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        })
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    for path in [
        "/two-lengths",
        "/bad-length",
        "/garbage",
        "/huge-head",
        "/wide-head",
        "/cut-head",
        "/unasked-upgrade",
    ] {
        let response = client().get(url(&proxy, path)).send().await.unwrap();
        assert_eq!(response.status(), 502, "{path}");
        assert_eq!(
            response.text().await.unwrap(),
            "502 Bad Gateway: backend raw closed or sent an invalid response\n",
            "{path}"
        );
    }
    // A request with a body goes out on hyper's client: the same limit.
    let with_body = client().post(url(&proxy, "/wide-head")).body("x");
    assert_eq!(with_body.send().await.unwrap().status(), 502);
    assert_eq!(get_text(&url(&proxy, "/fine")).await, "ok");
    let metrics = proxy.state.metrics.render();
    assert!(
        metrics.contains(r#"gatehouse_upstream_errors_total{backend="raw",kind="protocol",route="default/raw"} 8"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::Send(bytes(
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
        ))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let response = client().get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "final");
}

#[tokio::test]
async fn head_204_and_304_have_no_body_and_keep_the_connection() {
    let upstream = Scripted::start(|head, _, _| {
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        Reply::Send(match path.as_str() {
            "/empty" => bytes("HTTP/1.1 204 No Content\r\n\r\n"),
            "/same" => bytes("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"),
            // A dynamic page: its length is not known, even to HEAD.
            "/page" => bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            // A HEAD response carries the GET's length but no body.
            _ => bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        })
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    let head = client.head(url(&proxy, "/file")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "1000");
    let page = client.head(url(&proxy, "/page")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("content-length").is_none(),
        "a HEAD answer of unknown length got {:?}",
        page.headers().get("content-length")
    );
    let empty = client.get(url(&proxy, "/empty")).send().await.unwrap();
    assert_eq!(empty.status(), 204);
    assert_eq!(empty.bytes().await.unwrap().len(), 0);
    let same = client.get(url(&proxy, "/same")).send().await.unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"], "\"v1\"");
    assert_eq!(upstream.connections(), 1);
}

#[tokio::test]
async fn drops_hop_by_hop_response_headers_and_those_connection_names() {
    let upstream = Scripted::start(|_, _, _| {
        Reply::Send(bytes(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\n\
             X-Internal: secret\r\nX-Public: shown\r\nContent-Length: 2\r\n\r\nok",
        ))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let response = client().get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(response.headers()["x-public"], "shown");
    for name in ["x-internal", "keep-alive"] {
        assert!(
            response.headers().get(name).is_none(),
            "{name} was passed on"
        );
    }
}

#[tokio::test]
async fn sends_the_request_head_as_nginx_would() {
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let record = seen.clone();
    let upstream = Scripted::start(move |head, _, _| {
        *record.lock().unwrap() = head.to_owned();
        Reply::Send(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /a%20b?x=1&y HTTP/1.1\r\nHost: shop.example\r\nConnection: x-hop\r\nX-Hop: 1\r\n\
              Proxy-Authorization: Basic eA==\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let sent = seen.lock().unwrap().clone();
    let lines: Vec<&str> = sent.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "GET /a%20b?x=1&y HTTP/1.1");
    let mut fields: Vec<&str> = lines[1..].to_vec();
    fields.sort();
    assert_eq!(
        fields,
        [
            "accept: */*",
            "host: shop.example",
            "x-forwarded-for: 127.0.0.1",
            "x-forwarded-host: shop.example",
            "x-forwarded-proto: http",
        ],
        "{sent}"
    );
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_not_used_again() {
    // Each connection answers one request and then closes, but says nothing.
    let upstream = Scripted::start(|_, _, _| {
        Reply::SendAndClose(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for method in [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::GET,
    ] {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let response = client
            .request(method.clone(), url(&proxy, "/"))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    assert_eq!(upstream.connections(), 3);
}

/// An upstream whose first connection answers one request, then closes on
/// the next without a word, as an upstream does when its keep-alive timer
/// fires just as a request arrives. Later connections answer everything
/// with the method's name.
async fn closing_on_the_second_request() -> Scripted {
    Scripted::start(|head, connection, request| {
        if connection == 0 && request == 1 {
            return Reply::Close;
        }
        let method = head.split(' ').next().unwrap_or("").to_owned();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            method.len()
        );
        Reply::Send((head + &*method).into_bytes())
    })
    .await
}

#[tokio::test]
async fn a_get_is_retried_once_when_a_reused_connection_closes_unanswered_but_a_post_is_not() {
    let upstream = closing_on_the_second_request().await;
    let proxy = proxy_to(&upstream).await;
    // One client connection, so both requests meet the same worker's pool.
    let client = client();
    let first = client.get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "GET");
    let retried = client.get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.text().await.unwrap(), "GET");
    assert_eq!(upstream.connections(), 2);

    let second = closing_on_the_second_request().await;
    let proxy = proxy_to(&second).await;
    let client = reqwest::Client::new();
    let first = client.get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "GET");
    let post = client
        .post(url(&proxy, "/"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.status(),
        502,
        "a POST may have been acted on: it is not sent twice"
    );
    assert_eq!(second.connections(), 1);
}

#[tokio::test]
async fn a_body_cut_short_fails_the_client_response() {
    let upstream = Scripted::start(|_, _, _| {
        let mut reply = bytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
        reply.extend(std::iter::repeat_n(b'x', 20_000));
        Reply::SendAndClose(reply)
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    // The proxy may not have sent the head yet when the upstream's end
    // shows; then the whole exchange fails instead of the body.
    if let Ok(response) = client().get(url(&proxy, "/")).send().await {
        assert_eq!(response.status(), 200);
        assert!(
            response.bytes().await.is_err(),
            "a truncated body must not look complete to the client"
        );
    }
}

#[tokio::test]
async fn streams_a_large_body_through_in_order() {
    const SIZE: usize = 5 * 1024 * 1024 + 17;
    let upstream = Scripted::start(|_, _, _| {
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").into_bytes();
        reply.extend((0..SIZE).map(|i| (i % 251) as u8));
        Reply::Send(reply)
    })
    .await;
    let proxy = proxy_to(&upstream).await;
    let client = client();
    for _ in 0..2 {
        let body = client
            .get(url(&proxy, "/"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), SIZE);
        assert!(body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    }
    assert_eq!(upstream.connections(), 1);
}

/// The proxy's sockets to `upstream` that the upstream has closed and the
/// proxy not yet (CLOSE_WAIT, state 08 in /proc/net/tcp).
fn close_wait_sockets_to(upstream: &Scripted) -> usize {
    let port = format!(":{:04X} ", upstream.addr.port());
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && format!("{} ", fields[2]).ends_with(&port) && fields[3] == "08"
        })
        .count()
}

#[tokio::test]
async fn idle_connections_the_upstream_closed_are_let_go_under_steady_traffic() {
    let upstream = Scripted::closing_idle_after(Duration::from_millis(300), |_, _, _| {
        Reply::Send(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    })
    .await;
    // One worker, so every request meets the same pool.
    let proxy = start_proxy(|s| s.workers = Some(1)).await;
    apply_yaml(&proxy, &one_backend("raw", "raw", &upstream.url()));
    let client = client();
    let burst: Vec<_> = (0..20)
        .map(|_| tokio::spawn(client.get(url(&proxy, "/")).send()))
        .collect();
    for response in burst {
        assert_eq!(response.await.unwrap().unwrap().status(), 200);
    }
    // Steady traffic keeps one connection busy while the upstream closes
    // the others, idle for longer than its 300 ms.
    for _ in 0..15 {
        let response = client.get(url(&proxy, "/")).send().await.unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = close_wait_sockets_to(&upstream);
    assert!(left <= 1, "{left} closed upstream connections still held");
}
