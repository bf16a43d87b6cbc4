//! Response heads as a client reads them off the socket: header names in
//! their usual case on HTTP/1.x (the proxy's own) or as the upstream
//! spelled them (as nginx writes them), lower-case on HTTP/2; one
//! `Connection` line; interim 1xx responses passed on; a 101 nobody asked
//! for refused. On the lane and on connections hyper serves.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Reply, Scripted, exchange, h2c_client, read_head, read_response};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// An upstream answering every request (its body read by its
/// `Content-Length`) with the parts of `reply`, written `gap` apart.
async fn raw_upstream(reply: &[&[u8]], gap: Duration) -> Scripted {
    let parts: Vec<Vec<u8>> = reply.iter().map(|part| part.to_vec()).collect();
    Scripted::start(move |_, _, _| Reply::SendInParts(parts.clone(), gap)).await
}

async fn proxy_to(upstream: &Scripted) -> gatehouse_proxy::Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("raw", "raw", &upstream.url()));
    proxy
}

/// The header lines of a head, without the status line, as sent.
fn lines(head: &str) -> Vec<&str> {
    head.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether `head` carries the line `line` exactly, case included.
fn has(head: &str, line: &str) -> bool {
    lines(head).contains(&line)
}

/// The names of `head`'s fields, as sent.
fn names(head: &str) -> Vec<&str> {
    lines(head)
        .iter()
        .map(|l| l.split(':').next().unwrap())
        .collect()
}

/// A POST with a body: the lane hands the connection to hyper, whose
/// server then serves this request and every later one on it.
const TO_HYPER: &[u8] = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";

const SPELLED: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-type: text/plain\r\nx-lower: 1\r\nX-UPPER: 2\r\n\
ETag: \"e\"\r\nx-dup: a\r\nX-Dup: b\r\nContent-Length: 2\r\n\r\nok";

#[tokio::test]
async fn http1_names_go_out_as_the_upstream_spelled_them_and_ours_in_their_usual_case() {
    let upstream = raw_upstream(&[SPELLED], Duration::ZERO).await;
    let proxy = proxy_to(&upstream).await;
    let spelled_lines = [
        "Content-type: text/plain",
        "x-lower: 1",
        "X-UPPER: 2",
        "ETag: \"e\"",
        "x-dup: a",
        "X-Dup: b",
        "Content-Length: 2",
    ];

    // The lane, HTTP/1.1 and HTTP/1.0, with the proxy's own `Date` and
    // `Connection`; then hyper's server, which has the upstream's names
    // from hyper's client.
    for (request, own) in [
        (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &["Date"][..]),
        (
            b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
            &["Date", "Connection"],
        ),
        (TO_HYPER, &["Date"]),
        // hyper's server, with an answer from Gatehouse's own client.
        (
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\
              GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &["Date"],
        ),
        (
            b"POST /up HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
            &["Date"],
        ),
    ] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = read_response(&mut stream).await;
        if request.ends_with(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") && request.starts_with(b"POST") {
            answer = read_response(&mut stream).await;
        }
        let (head, body) = answer;
        assert_eq!(body, b"ok", "{head}");
        for line in spelled_lines {
            assert!(has(&head, line), "{line:?} in\n{head}");
        }
        for name in own {
            assert!(names(&head).contains(name), "{name} in\n{head}");
        }
        assert!(
            names(&head)
                .iter()
                .all(|n| *n != "date" && *n != "content-length"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn the_proxys_own_answers_name_their_headers_in_the_usual_case() {
    // Nothing listens on the upstream's port: the proxy's own 502.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("gone", "gone", &url));
    for first in [&b""[..], TO_HYPER] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        if !first.is_empty() {
            let _ = exchange(&mut stream, first).await;
        }
        let (head, _) = exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 502"), "{head}");
        assert_eq!(
            names(&head),
            ["Content-Type", "Content-Length", "Date"],
            "{head}"
        );
    }
}

fn site(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-heads-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    dir
}

async fn serve_site(root: &std::path::Path) -> gatehouse_proxy::Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: site}}\nspec:\n  rules:\n  - backends: [{{static: {{root: '{}'}}}}]\n",
            root.display()
        ),
    );
    proxy
}

#[tokio::test]
async fn a_static_file_answer_reads_as_nginx_writes_it_with_one_connection_line() {
    let root = site("case");
    let proxy = serve_site(&root).await;
    // What a case-sensitive client reads (the OTUServer suite's HEAD test
    // reads `Content-Length`), on the lane and on hyper's server.
    for first in [&b""[..], TO_HYPER] {
        for (request, expected) in [
            (
                &b"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                "keep-alive",
            ),
            (b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "keep-alive"),
            (b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n", "close"),
            (
                b"GET /index.html HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
                "keep-alive",
            ),
        ] {
            let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
            if !first.is_empty() {
                let _ = exchange(&mut stream, first).await;
            }
            stream.write_all(request).await.unwrap();
            let head = read_head(&mut stream).await;
            let names = names(&head);
            for name in [
                "Content-Length",
                "Content-Type",
                "Last-Modified",
                "Accept-Ranges",
                "Server",
                "Date",
            ] {
                assert!(names.contains(&name), "{name} in\n{head}");
            }
            assert!(has(&head, "Content-Length: 13"), "{head}");
            let connection: Vec<_> = lines(&head)
                .into_iter()
                .filter(|l| l.to_ascii_lowercase().starts_with("connection:"))
                .collect();
            assert_eq!(connection, [format!("Connection: {expected}")], "{head}");
        }
    }
    // `ETag` is more than a capitalised word (hyper's server alone would
    // write `Etag`).
    for first in [&b""[..], TO_HYPER] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        if !first.is_empty() {
            let _ = exchange(&mut stream, first).await;
        }
        let (head, _) = exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(names(&head).contains(&"ETag"), "{head}");
    }
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn http2_names_stay_lower_case() {
    let upstream = raw_upstream(&[SPELLED], Duration::ZERO).await;
    let proxy = proxy_to(&upstream).await;
    let h2 = h2c_client();
    // reqwest's h2 refuses a field name with an upper-case letter (RFC
    // 9113 §8.2.1): an answer read at all had every name in lower case.
    let response = h2.get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers()["x-upper"], "2");
    assert_eq!(response.text().await.unwrap(), "ok");
}

/// Two interim responses, as an upstream may send them before its answer.
const INTERIM: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n";
const FINAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

#[tokio::test]
async fn early_hints_reach_an_http11_client_before_the_answer_and_not_an_http10_one() {
    // The answer comes two seconds after the hints: they must not wait for it.
    let upstream = raw_upstream(&[INTERIM, FINAL], Duration::from_secs(2)).await;
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for status in ["100 Continue", "103 Early Hints"] {
        let interim = tokio::time::timeout(Duration::from_secs(1), read_head(&mut stream))
            .await
            .expect("the interim response, before the answer");
        assert!(
            interim.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{interim}"
        );
        if status.starts_with("103") {
            // Its hop-by-hop fields stay behind, as a final answer's do.
            assert_eq!(
                lines(&interim),
                ["Link: </style.css>; rel=preload"],
                "{interim}"
            );
        }
    }
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, b"ok");
    // The connection goes on as before.
    let (head, _) = exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 100 Continue\r\n"), "{head}");

    // HTTP/1.0 has no interim responses (RFC 9110 §15.2).
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (head, body) = exchange(&mut stream, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, b"ok");
}

#[tokio::test]
async fn expect_100_continue_is_still_answered_before_the_body() {
    let upstream = raw_upstream(&[FINAL], Duration::ZERO).await;
    let proxy = proxy_to(&upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let interim = read_head(&mut stream).await;
    assert!(
        interim.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{interim}"
    );
    let (head, body) = exchange(&mut stream, b"hi").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, b"ok");
}

#[tokio::test]
async fn a_101_to_a_request_that_asked_for_no_upgrade_is_a_502_and_its_connection_is_not_reused() {
    let upstream = raw_upstream(
        &[b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"],
        Duration::ZERO,
    )
    .await;
    let proxy = proxy_to(&upstream).await;
    // The lane (Gatehouse's own client), then hyper's client (a body).
    for request in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], TO_HYPER] {
        let before = upstream.connections();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
            let (head, _) = exchange(&mut stream, request).await;
            assert!(head.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{head}");
        }
        assert_eq!(
            upstream.connections() - before,
            2,
            "a connection that switched protocols is never used again"
        );
    }
}
