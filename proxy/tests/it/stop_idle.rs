//! A keep-alive connection idling between requests on the lane closes as
//! soon as the proxy stops, not when its keep-alive time runs out.

use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Upstream, read_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_when_the_proxy_stops() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|s| s.keep_alive_timeout = Duration::from_secs(60)).await;
    apply_yaml(&proxy, &one_backend("app", "up", &upstream.url()));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    // Heads that come whole (the connection never waits for a first
    // byte before its first request) and the waits between them.
    for _ in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.shutdown();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the idle connection closes at once, without an answer: {read:?} {rest:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), proxy.wait())
        .await
        .expect("the proxy stops");
}
