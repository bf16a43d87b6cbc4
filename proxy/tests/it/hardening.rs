//! What a client may not do to the request a backend receives: remove the
//! headers the proxy sets, smuggle a header in under a name with `_`, or
//! frame a message so that one parser reads it differently from another.
//! Every case runs on the lane (no body), on connections hyper serves (a
//! body), over HTTP/1.0 and, where HTTP/2 can carry it, over h2c. Raw
//! sockets: real clients would not send most of these.

use crate::support::*;
use gatehouse_testkit::{Scripted, Upstream, h2c_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A route whose rule sets `x-route` and adds `x-added` before forwarding.
async fn proxy_setting_headers() -> (gatehouse_proxy::Running, Upstream) {
    let app = Upstream::reporting("app");
    let proxy = start_proxy(|_| {}).await;
    let rules = format!(
        r#"  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{{name: X-Route, value: proxy}}]
        add: [{{name: X-Added, value: "yes"}}]
    backends: [{{name: app, url: '{}'}}]
"#,
        app.url()
    );
    apply_yaml(&proxy, &route_yaml("headers", &rules));
    (proxy, app)
}

/// Sends `request` on a new connection and reads until the proxy closes it.
async fn raw(proxy: &gatehouse_proxy::Running, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The upstream's report of the request it got, from a whole answer.
fn seen(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not the upstream's JSON: {answer}"))
}

#[tokio::test]
async fn a_client_cannot_remove_the_headers_the_proxy_sets() {
    let (proxy, _app) = proxy_setting_headers().await;
    let cases = [
        // The lane, one Connection line naming them.
        "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close, X-Route, X-Added, X-Forwarded-For\r\nX-Route: client\r\n\r\n",
        // A second Connection line.
        "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: X-Route, X-Added\r\nX-Route: client\r\n\r\n",
        // HTTP/1.0.
        "GET /c HTTP/1.0\r\nHost: a\r\nConnection: X-Route, X-Added\r\nX-Route: client\r\n\r\n",
        // On hyper's path: a request with a body.
        "POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close, X-Route, X-Added\r\nX-Route: client\r\n\r\nhi",
    ];
    for request in cases {
        let answer = raw(&proxy, request).await;
        let seen = seen(&answer);
        let headers = &seen["headers"];
        assert_eq!(headers["x-route"], "proxy", "{request:?}\n{answer}");
        assert_eq!(headers["x-added"], "yes", "{request:?}\n{answer}");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "{request:?}");
        assert_eq!(headers["host"], "a", "{request:?}");
    }
}

#[tokio::test]
async fn connection_removes_a_clients_own_headers_but_never_framing_or_routing_ones() {
    let (proxy, _app) = proxy_setting_headers().await;
    let answer = raw(
        &proxy,
        "POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close, Host, Content-Length, X-Mine\r\nX-Mine: 1\r\nX-Other: 2\r\n\r\nhi",
    )
    .await;
    let seen = seen(&answer);
    assert_eq!(seen["headers"]["host"], "a");
    assert_eq!(seen["bodyLength"], 2, "{answer}");
    assert_eq!(seen["headers"]["x-mine"], serde_json::Value::Null);
    assert_eq!(seen["headers"]["x-other"], "2");
}

#[tokio::test]
async fn header_names_with_underscores_are_dropped_by_default() {
    let (proxy, _app) = proxy_setting_headers().await;
    for request in [
        "GET /u HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX_Forwarded_For: 6.6.6.6\r\nContent_Length: 5\r\nX-Kept: 1\r\n\r\n",
        "POST /u HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nX-Kept: 1\r\n\r\nhi",
    ] {
        let answer = raw(&proxy, request).await;
        let headers = seen(&answer)["headers"].clone();
        let names: Vec<&String> = headers.as_object().unwrap().keys().collect();
        assert!(
            names.iter().all(|name| !name.contains('_')),
            "{request:?} passed on {names:?}"
        );
        assert_eq!(headers["x-kept"], "1");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    }

    // h2c: the same.
    let h2 = h2c_client();
    let report: serde_json::Value = h2
        .get(url(&proxy, "/u"))
        .header("x_forwarded_for", "6.6.6.6")
        .header("x-kept", "1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["headers"]["x_forwarded_for"],
        serde_json::Value::Null
    );
    assert_eq!(report["headers"]["x-kept"], "1");
}

#[tokio::test]
async fn allow_underscores_in_headers_passes_them_on() {
    let app = Upstream::reporting("app");
    let proxy = start_proxy(|settings| settings.allow_underscores_in_headers = true).await;
    apply_yaml(&proxy, &one_backend("u", "app", &app.url()));
    let answer = raw(
        &proxy,
        "GET /u HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX_Tenant: blue\r\n\r\n",
    )
    .await;
    assert_eq!(seen(&answer)["headers"]["x_tenant"], "blue");
}

/// Sends `request` and reads the answers until the proxy closes or
/// `answers` responses have begun; the status lines, in order.
async fn statuses(proxy: &gatehouse_proxy::Running, request: &str) -> (Vec<String>, String) {
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), raw(proxy, request))
        .await
        .expect("the proxy closes the connection");
    // A status line may follow the last body on its line.
    let lines = answer
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| answer[at..].lines().next().unwrap_or("").to_owned())
        .collect();
    (lines, answer)
}

#[tokio::test]
async fn a_bare_lf_in_a_chunked_trailer_is_400_and_swallows_nothing() {
    let (proxy, app) = proxy_setting_headers().await;
    // Pipelined behind the body: a request the trailer would swallow.
    let (lines, answer) = statuses(
        &proxy,
        "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await;
    assert_eq!(lines, ["HTTP/1.1 400 Bad Request"], "{answer}");
    assert!(!answer.contains("/next"), "{answer}");
    // A well-formed trailer still passes, and the next request is served.
    let (lines, answer) = statuses(
        &proxy,
        "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(lines, ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"], "{answer}");
    let _ = app;
}

#[tokio::test]
async fn equal_content_lengths_are_sent_as_one_and_different_ones_refused() {
    let upstream = Scripted::answering(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("cl", "cl", &upstream.url()));
    for request in [
        // The lane.
        "GET /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        // hyper's path.
        "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    ] {
        let answer = raw(&proxy, request).await;
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
        let head = upstream.take_heads().pop().unwrap().to_ascii_lowercase();
        assert_eq!(
            head.matches("content-length").count(),
            1,
            "{request:?}: {head}"
        );
    }
    let (lines, _) = statuses(
        &proxy,
        "GET /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    )
    .await;
    assert_eq!(lines, ["HTTP/1.1 400 Bad Request"]);

    // HTTP/2: content-length twice, equal, then different.
    let h2 = h2c_client();
    let answer = h2
        .get(url(&proxy, "/cl"))
        .header("content-length", "0")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    let head = upstream.take_heads().pop().unwrap().to_ascii_lowercase();
    assert_eq!(head.matches("content-length").count(), 1, "h2: {head}");
}

#[tokio::test]
async fn a_get_with_a_body_has_it_forwarded() {
    let (proxy, _app) = proxy_setting_headers().await;
    let answer = raw(
        &proxy,
        "GET /g HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(seen(&answer)["bodyLength"], 5, "{answer}");

    // HTTP/2: a GET with DATA and no content-length.
    use http_body_util::{BodyExt, StreamBody};
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let frames = [Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(
        bytes::Bytes::from_static(b"hello"),
    ))];
    let body = StreamBody::new(futures_util::stream::iter(frames));
    let request = http::Request::get(url(&proxy, "/g")).body(body).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let report = response.into_body().collect().await.unwrap().to_bytes();
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["bodyLength"], 5, "h2 GET with DATA: {report}");
}

#[tokio::test]
async fn an_absolute_target_with_no_path_is_forwarded_with_slash() {
    let (proxy, _app) = proxy_setting_headers().await;
    let answer = raw(
        &proxy,
        "GET http://b.test?x=1 HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let seen = seen(&answer);
    assert_eq!(seen["path"], "/", "{answer}");
    assert_eq!(seen["query"], "x=1");
}

#[tokio::test]
async fn the_h2_preface_after_a_request_is_400() {
    let (proxy, _app) = proxy_setting_headers().await;
    let (lines, answer) = statuses(
        &proxy,
        "GET /a HTTP/1.1\r\nHost: a\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    )
    .await;
    assert_eq!(
        lines,
        ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"],
        "{answer}"
    );
    assert!(answer.contains("first bytes"), "{answer}");
    // On a connection hyper serves (after a request with a body).
    let (lines, answer) = statuses(
        &proxy,
        "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    )
    .await;
    assert_eq!(
        lines,
        ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"],
        "{answer}"
    );
}

#[tokio::test]
async fn a_response_with_length_and_chunked_is_read_chunked_and_its_connection_dropped() {
    let upstream = Scripted::answering(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\r\n",
    )
    .await;
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("both", "both", &upstream.url()));
    for request in [
        // The lane's client, then hyper's (a request with a body).
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    ] {
        let answer = raw(&proxy, request).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            !head.to_ascii_lowercase().contains("content-length: 3"),
            "{request:?}: {head}"
        );
        assert!(
            body.contains("abcdef"),
            "{request:?}: the whole body: {answer}"
        );
    }
    assert_eq!(
        upstream.connections(),
        3,
        "no connection that sent both framings is used again"
    );
}

#[tokio::test]
async fn a_connect_timeout_is_504() {
    // A listener whose accept queue is full: the kernel drops further
    // SYNs, so a connect to it waits (loopback only, nothing leaves).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let full = socket.listen(0).unwrap();
    let addr = full.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let filler = tokio::net::TcpSocket::new_v4().unwrap();
        if let Ok(Ok(stream)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), filler.connect(addr)).await
        {
            fillers.push(stream);
        }
    }
    let proxy = start_proxy(|s| s.connect_timeout = std::time::Duration::from_millis(300)).await;
    apply_yaml(
        &proxy,
        &one_backend("slow", "slow", &format!("http://{addr}")),
    );
    let (lines, answer) = statuses(
        &proxy,
        "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(lines, ["HTTP/1.1 504 Gateway Timeout"], "{answer}");
    assert!(answer.contains("connect timeout"), "{answer}");
    let metrics = proxy.state.metrics.render();
    assert!(metrics.contains(r#"kind="connect_timeout""#), "{metrics}");
    drop(full);
}

#[tokio::test]
async fn chunk_sizes_take_leading_zeros_and_refuse_a_bare_lf_on_both_clients() {
    let zeros = Scripted::answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000005\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    let bare_lf = Scripted::answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    let (zeros, bare_lf) = (zeros.url(), bare_lf.url());
    let proxy = start_proxy(|_| {}).await;
    let yaml = format!(
        "{}---\n{}",
        route_yaml(
            "zeros",
            &format!(
                "  - matches: [{{path: {{type: PathPrefix, value: /zeros}}}}]\n    backends: [{{name: zeros, url: '{zeros}'}}]\n  - backends: [{{name: lf, url: '{bare_lf}'}}]\n"
            )
        ),
        one_backend("unused", "unused", &zeros)
            .replace("spec:\n", "spec:\n  hostnames: [unused.test]\n"),
    );
    apply_yaml(&proxy, &yaml);
    for (method, body) in [("GET", ""), ("POST", "hi")] {
        let request = format!(
            "{method} /zeros HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let answer = raw(&proxy, &request).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{method}: {answer}");
        assert!(answer.ends_with("hello\r\n0\r\n\r\n"), "{method}: {answer}");

        let request = request.replace("/zeros", "/lf");
        let answer = raw(&proxy, &request).await;
        // The head was good; the body is cut off where its framing breaks.
        assert!(!answer.contains("hello"), "{method}: {answer}");
    }
}
