//! A request the lane leaves to hyper (one with a body) is hyper's alone:
//! once it is answered, the connection is the lane's again. Seen from raw
//! client sockets: the lane passes an upstream's `103 Early Hints` on,
//! hyper cannot, so a request answered with the hints was the lane's.

use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Upstream, read_head, read_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that answers each request with `103 Early Hints`, then a
/// 200 whose body is the request's method and path.
async fn hinting_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(hint_and_answer(stream));
        }
    });
    format!("http://{addr}")
}

async fn hint_and_answer(mut stream: TcpStream) {
    let mut pending = Vec::new();
    loop {
        let Some((line, used)) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        pending.drain(..used);
        let reply = format!(
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{line}",
            line.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (its body by `Content-Length` or chunked) into
/// `pending`: its method and path, and how many bytes it took.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<(String, usize)> {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let line: Vec<&str> = head.lines().next()?.split(' ').take(2).collect();
            let line = line.join(" ").to_ascii_uppercase();
            let body_start = end + 4;
            if let Some(length) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
                let whole = body_start + length.trim().parse::<usize>().unwrap();
                if pending.len() >= whole {
                    return Some((line, whole));
                }
            } else if head.contains("transfer-encoding: chunked") {
                if let Some(last) = pending[body_start..]
                    .windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                {
                    return Some((line, body_start + last + 5));
                }
            } else {
                return Some((line, body_start));
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn proxy_to_hints() -> gatehouse_proxy::Running {
    let upstream = hinting_upstream().await;
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream));
    proxy
}

/// Reads the answer to one request: whether the hints came before it,
/// and its body.
async fn answer(stream: &mut TcpStream) -> (bool, String) {
    let first = tokio::time::timeout(Duration::from_secs(5), read_head(stream))
        .await
        .expect("an answer");
    let hinted = first.starts_with("HTTP/1.1 103 Early Hints\r\n");
    let (head, body) = if hinted {
        read_response(stream).await
    } else {
        let rest = read_body_after(stream, &first).await;
        (first, rest)
    };
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    (hinted, String::from_utf8(body).unwrap())
}

/// The body after `head`, by its `Content-Length`.
async fn read_body_after(stream: &mut TcpStream, head: &str) -> Vec<u8> {
    let length = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length: ").map(str::to_owned))
        .expect("a Content-Length");
    let mut body = vec![0; length.trim().parse().unwrap()];
    stream.read_exact(&mut body).await.unwrap();
    body
}

#[tokio::test]
async fn after_a_post_the_next_get_is_the_lanes() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    // hyper answered the POST: it cannot send the hints.
    assert_eq!(answer(&mut stream).await, (false, "POST /UPLOAD".into()));
    stream
        .write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answer(&mut stream).await, (true, "GET /NEXT".into()));
}

#[tokio::test]
async fn a_get_pipelined_behind_a_post_is_answered_in_order_by_the_lane() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /b HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /c HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await
        .unwrap();
    assert_eq!(answer(&mut stream).await, (false, "POST /A".into()));
    assert_eq!(answer(&mut stream).await, (true, "GET /B".into()));
    assert_eq!(answer(&mut stream).await, (true, "GET /C".into()));
}

#[tokio::test]
async fn after_a_chunked_post_and_its_trailers_the_next_get_is_the_lanes() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    // Sent in pieces, the body's end and the next request together.
    stream
        .write_all(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream
        .write_all(b"0\r\nX-Trailer: 1\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answer(&mut stream).await, (false, "POST /C".into()));
    assert_eq!(answer(&mut stream).await, (true, "GET /D".into()));
}

#[tokio::test]
async fn a_post_that_expects_100_continue_then_a_get() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 100 Continue\r\n"), "{head}");
    stream.write_all(b"hello").await.unwrap();
    assert_eq!(answer(&mut stream).await, (false, "POST /E".into()));
    stream
        .write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(answer(&mut stream).await, (true, "GET /F".into()));
}

#[tokio::test]
async fn a_post_with_connection_close_still_ends_the_connection() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"POST /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
        )
        .await
        .unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all))
        .await
        .expect("closed after the answer")
        .unwrap();
    let all = String::from_utf8(all).unwrap();
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    assert!(all.ends_with("POST /G"), "{all}");
}

#[tokio::test]
async fn an_upgrade_after_a_post_still_upgrades() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echo))
        .await
        .expect("the tunnel echoes")
        .unwrap();
    assert_eq!(&echo, b"ping");
}

#[tokio::test]
async fn a_large_answer_to_a_post_read_slowly_comes_whole_before_the_next() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    // More than the sockets' buffers hold: hyper's last write waits on
    // the client, and the connection is handed back only after it.
    stream
        .write_all(
            b"POST /big/4000000 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.len(), 4_000_000);
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["path"], "/after");
}

#[tokio::test]
async fn a_client_that_leaves_after_its_post_lets_go_of_the_upstream() {
    // A raw upstream that reads a request and never answers: it sees the
    // proxy close its connection once the client has gone.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &one_backend("app", "silent", &upstream));
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client
        .write_all(b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let (mut accepted, _) = listener.accept().await.unwrap();
    let mut request = vec![0u8; 4096];
    let n = accepted.read(&mut request).await.unwrap();
    assert!(request[..n].starts_with(b"POST /wait"));

    drop(client);
    let mut rest = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        // The body may come in a read of its own.
        loop {
            match accepted.read(&mut rest).await {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(
        closed,
        Ok(true),
        "the upstream connection outlived the client that asked"
    );
}

#[tokio::test]
async fn a_client_that_sends_a_post_and_a_get_and_closes_its_side_gets_the_post_answered() {
    let proxy = proxy_to_hints().await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
              GET /i HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    // hyper answers the POST, as it always did with a request behind it;
    // the GET is then the lane's, which takes a closed side as a client
    // that has left, as nginx does.
    assert_eq!(answer(&mut stream).await, (false, "POST /H".into()));
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the connection ends")
        .unwrap();
    assert_eq!(rest, b"", "the GET behind a closed side is not answered");
}
