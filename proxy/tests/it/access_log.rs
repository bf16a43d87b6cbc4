//! The access log: a line per request, as nginx writes it, checked in the
//! file the proxy appends to.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;
use gatehouse_proxy::Destination;
use gatehouse_proxy::cli::LogFormat;
use gatehouse_testkit::{Upstream, client, eventually, read_response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn log_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{test}.log"));
    let _ = std::fs::remove_file(&path);
    path
}

/// The log's lines once it has `count` of them (the writer is a thread of its own).
async fn lines(path: &Path, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    eventually(Duration::from_secs(3), async || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        seen = text.lines().map(str::to_owned).collect();
        seen.len() >= count
    })
    .await;
    assert_eq!(seen.len(), count, "{seen:#?}");
    seen
}

async fn proxy_logging(
    path: &Path,
    format: LogFormat,
    upstream: &Upstream,
) -> gatehouse_proxy::Running {
    let destination = Destination::File(path.to_owned());
    let proxy = start_proxy(|s| {
        s.access_log = destination;
        s.log_format = format;
    })
    .await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    proxy
}

/// A proxy logging to `path` whose heads must come whole within 300 ms.
async fn proxy_with_a_short_header_timeout(
    path: &Path,
    upstream: &Upstream,
) -> gatehouse_proxy::Running {
    let destination = Destination::File(path.to_owned());
    let proxy = start_proxy(|s| {
        s.access_log = destination;
        s.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    proxy
}

/// Asserts that one of `lines` holds `text`.
fn assert_logged(lines: &[String], text: &str) {
    assert!(
        lines.iter().any(|l| l.contains(text)),
        "no {text:?} in {lines:#?}"
    );
}

#[tokio::test]
async fn each_request_gets_a_combined_line_with_time_route_and_backend() {
    let upstream = Upstream::reporting("up");
    let path = log_path("combined");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    let response = client()
        .get(url(&proxy, "/hello?name=x"))
        .header("user-agent", "test-agent/1.0")
        .header("referer", "http://example.com/from")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    // Refused before any rule: a broken escape.
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");

    // Two connections, perhaps on two workers: in either order.
    let lines = lines(&path, 2).await;
    let by_target = |target: &str| {
        let line = lines.iter().find(|line| line.contains(target));
        line.unwrap_or_else(|| panic!("no line for {target}: {lines:#?}"))
    };
    // 127.0.0.1 - - [02/Dec/2026:10:00:00 +0000] "GET /hello?name=x HTTP/1.1" 200 N "ref" "ua" 0.001 route=default/app backend=up scheme=http
    let line = by_target("/hello");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains(" +0000] "), "{line}");
    let expected = format!(
        "\"GET /hello?name=x HTTP/1.1\" 200 {} \"http://example.com/from\" \"test-agent/1.0\" ",
        body.len()
    );
    assert!(line.contains(&expected), "{line}\nwanted {expected}");
    assert!(
        line.ends_with(" route=default/app backend=up scheme=http"),
        "{line}"
    );
    let seconds: f64 = line.split(' ').rev().nth(3).unwrap().parse().unwrap();
    assert!((0.0..5.0).contains(&seconds), "{line}");

    // No rule saw it: no route, no backend; logged as the client sent it.
    let line = by_target("/%zz");
    assert!(line.contains("\"GET /%zz HTTP/1.1\" 400 "), "{line}");
    assert!(line.ends_with(" route=- backend=- scheme=http"), "{line}");
}

#[tokio::test]
async fn json_lines_carry_the_same_fields() {
    let upstream = Upstream::reporting("up");
    let path = log_path("json");
    let proxy = proxy_logging(&path, LogFormat::Json, &upstream).await;
    let response = client()
        .post(url(&proxy, "/size"))
        .body("four")
        .send()
        .await
        .unwrap();
    let body = response.bytes().await.unwrap();
    let lines = lines(&path, 1).await;
    let entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(entry["method"], "POST");
    assert_eq!(entry["target"], "/size");
    assert_eq!(entry["protocol"], "HTTP/1.1");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["bytes"], body.len() as u64);
    assert_eq!(entry["route"], "default/app");
    assert_eq!(entry["backend"], "up");
    assert_eq!(entry["client"], "127.0.0.1");
    assert_eq!(entry["user_agent"], serde_json::Value::Null);
    assert!(entry["duration_seconds"].as_f64().unwrap() >= 0.0);
    let time = entry["time"].as_str().unwrap();
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
}

#[tokio::test]
async fn a_client_that_leaves_before_its_answer_is_logged_499() {
    let upstream = Upstream::reporting("up");
    let path = log_path("left");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /slow/3000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
    let lines = lines(&path, 1).await;
    assert!(
        lines[0].contains("\"GET /slow/3000 HTTP/1.1\" 499 0 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(" route=default/app backend=up scheme=http"),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn what_a_client_sends_cannot_forge_a_line_or_a_field() {
    let upstream = Upstream::reporting("up");
    let path = log_path("forged");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: x\" 200 0 \"\xc3\xa9\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lines = lines(&path, 1).await;
    assert!(
        lines[0].contains(r#" "x\x22 200 0 \x22\xC3\xA9" "#),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn reopening_follows_a_rotated_file() {
    let upstream = Upstream::reporting("up");
    let path = log_path("rotated");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    get_text(&url(&proxy, "/first")).await;
    lines(&path, 1).await;
    // logrotate moves the file, then signals (SIGUSR1 calls this).
    let rotated = path.with_extension("log.1");
    std::fs::rename(&path, &rotated).unwrap();
    proxy.reopen_logs();
    get_text(&url(&proxy, "/second")).await;
    let new = lines(&path, 1).await;
    assert!(new[0].contains("GET /second "), "{}", new[0]);
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains("GET /first ") && !old.contains("/second"),
        "{old}"
    );
}

/// Sends `times` pings through a WebSocket tunnel and reads their echoes.
async fn ping(ws: &mut TcpStream, times: usize) {
    use tokio::io::AsyncReadExt;
    for _ in 0..times {
        ws.write_all(b"ping").await.unwrap();
        let mut echoed = [0u8; 4];
        ws.read_exact(&mut echoed).await.unwrap();
    }
}

#[tokio::test]
async fn a_websocket_is_logged_when_its_tunnel_closes_with_what_it_sent() {
    let upstream = Upstream::reporting("up");
    let path = log_path("websocket");
    let proxy = proxy_logging(&path, LogFormat::Json, &upstream).await;
    let mut ws = open_websocket(&proxy).await;
    ping(&mut ws, 3).await;
    // Open for longer than a flush: nothing logged yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "");
    drop(ws);
    let lines = lines(&path, 1).await;
    let entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(entry["status"], 101);
    assert_eq!(entry["bytes"], 12, "the echoes sent to the client");
    assert!(
        entry["duration_seconds"].as_f64().unwrap() >= 0.5,
        "{entry}"
    );
    assert_eq!(entry["backend"], "up");
}

/// A tunnel still open when the proxy stops is cut, and logged with what
/// it had carried.
#[tokio::test]
async fn a_websocket_cut_at_shutdown_is_logged_with_what_it_sent() {
    let upstream = Upstream::reporting("up");
    let path = log_path("websocket-shutdown");
    let proxy = proxy_logging(&path, LogFormat::Json, &upstream).await;
    let mut ws = open_websocket(&proxy).await;
    ping(&mut ws, 2).await;
    proxy.shutdown();
    tokio::time::timeout(Duration::from_secs(10), proxy.wait())
        .await
        .expect("the proxy stops with a tunnel open");
    let lines = lines(&path, 1).await;
    let entry: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(entry["status"], 101);
    assert_eq!(entry["bytes"], 8, "the echoes sent to the client: {entry}");
    drop(ws);
}

#[tokio::test]
async fn lines_a_write_fails_to_write_are_counted_as_lost() {
    let upstream = Upstream::reporting("up");
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let proxy = proxy_logging(Path::new("/dev/full"), LogFormat::Text, &upstream).await;
    for _ in 0..3 {
        get_text(&url(&proxy, "/lost")).await;
    }
    let counted = eventually(Duration::from_secs(3), async || {
        proxy
            .state
            .metrics
            .render()
            .contains("gatehouse_access_log_dropped_total 3")
    })
    .await;
    assert!(counted, "{}", proxy.state.metrics.render());
}

#[tokio::test]
async fn heads_refused_before_they_are_read_are_logged_as_they_came() {
    let upstream = Upstream::reporting("up");
    let path = log_path("refused");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    for head in [
        &b"BLAH \"/x\r\n\r\n"[..],
        format!(
            "GET /big HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(70 * 1024)
        )
        .as_bytes(),
    ] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(head).await.unwrap();
        let (answer, _) = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
    // Two connections, perhaps on two workers: in either order.
    let lines = lines(&path, 2).await;
    let malformed = lines.iter().find(|l| l.contains("BLAH"));
    let malformed = malformed.expect("the malformed head is logged");
    assert!(malformed.contains(r#" "BLAH \x22/x" 400 "#), "{malformed}");
    assert!(
        malformed.ends_with(" route=- backend=- scheme=http"),
        "{malformed}"
    );
    assert_logged(&lines, r#" "GET /big HTTP/1.1" 431 "#);
}

#[tokio::test]
async fn a_head_not_finished_in_time_is_logged_408_and_an_idle_connection_not_at_all() {
    use tokio::io::AsyncReadExt;
    let upstream = Upstream::reporting("up");
    let path = log_path("slow-head");
    let proxy = proxy_with_a_short_header_timeout(&path, &upstream).await;
    let idle = TcpStream::connect(proxy.addr).await.unwrap();
    let mut slow = TcpStream::connect(proxy.addr).await.unwrap();
    slow.write_all(b"GET /slow-head HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow head was waited on for ever");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = lines(&path, 1).await;
    assert!(
        lines[0].contains(r#" "GET /slow-head HTTP/1.1" 408 0 "#),
        "{}",
        lines[0]
    );
    drop(idle);
}

/// A connection hyper serves (it carried a request with a body) logs the
/// heads that end it as the lane does: refused with 400, or not finished
/// within the header timeout with 408.
#[tokio::test]
async fn after_a_request_with_a_body_refused_and_slow_heads_are_logged_too() {
    use tokio::io::AsyncReadExt;
    let upstream = Upstream::reporting("up");
    let path = log_path("hyper-refused");
    let proxy = proxy_with_a_short_header_timeout(&path, &upstream).await;
    let post = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    for (next, status) in [
        ("BLAH \"/malformed\r\n\r\n", "400"),
        ("GET /slow HTTP/1.1\r\nHost: x\r\n", "408"),
    ] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(post.as_bytes()).await.unwrap();
        let (answer, _) = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stream.write_all(next.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{next:?} was waited on for ever");
        let answer = String::from_utf8_lossy(&rest);
        match status {
            "400" => assert!(answer.starts_with("HTTP/1.1 400"), "{answer}"),
            _ => assert!(answer.is_empty(), "a slow head gets no answer: {answer}"),
        }
    }
    let lines = lines(&path, 4).await;
    let posts = lines
        .iter()
        .filter(|l| l.contains(r#""POST /upload HTTP/1.1" 200 "#));
    assert_eq!(posts.count(), 2, "{lines:#?}");
    assert_logged(&lines, r#" "BLAH \x22/malformed" 400 "#);
    assert_logged(&lines, r#" "GET /slow HTTP/1.1" 408 0 "#);
}

/// A head with more fields than the proxy takes is answered 431, saying
/// so, and logged with that status.
#[tokio::test]
async fn a_head_with_too_many_fields_is_logged_431() {
    let upstream = Upstream::reporting("up");
    let path = log_path("many-fields");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    let mut head = String::from("GET /many HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        head.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, body) = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("more than 100 header fields"), "{body}");
    let lines = lines(&path, 1).await;
    assert_logged(&lines, r#" "GET /many HTTP/1.1" 431 "#);
}

/// A refused head pipelined behind a request with a body is logged with
/// its own request line, never with that request's line or a header line
/// of its own. (hyper, which read it with the body, could only log `-`;
/// the connection is the lane's again once hyper has answered the body's
/// request, and the lane knows the line.)
#[tokio::test]
async fn a_pipelined_refused_head_is_never_logged_with_another_line() {
    use tokio::io::AsyncReadExt;
    let upstream = Upstream::reporting("up");
    let path = log_path("pipelined-refused");
    let proxy = proxy_logging(&path, LogFormat::Text, &upstream).await;
    let post = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    // All in one write; then the start of a head with the body, its rest later.
    let whole = format!("{post}GET /second HTTP/1.1\r\nHost: x\r\n\r\nBLAH \"/malformed\r\n\r\n");
    let split = format!("{post}GET /third HTTP/1.1\r\nHost: x");
    for (first, rest) in [
        (whole.as_str(), ""),
        (split.as_str(), "\r\nX Bad: y\r\n\r\n"),
    ] {
        let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
        stream.write_all(first.as_bytes()).await.unwrap();
        if !rest.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stream.write_all(rest.as_bytes()).await.unwrap();
        }
        let mut answer = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
        assert!(closed.is_ok(), "{first:?} was waited on for ever");
        assert!(String::from_utf8_lossy(&answer).contains(" 400 "));
    }
    let lines = lines(&path, 5).await;
    let refused: Vec<_> = lines.iter().filter(|l| l.contains(" 400 ")).collect();
    assert_eq!(refused.len(), 2, "{lines:#?}");
    assert!(
        refused[0].contains(r#" "BLAH \x22/malformed" 400 "#),
        "{}",
        refused[0]
    );
    assert!(
        refused[1].contains(r#" "GET /third HTTP/1.1" 400 "#),
        "{}",
        refused[1]
    );
}
