//! Config swaps never close a connection nor fail a request in flight.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use gatehouse_testkit::{Upstream, client, eventually, read_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn route(upstream: &Upstream) -> String {
    one_backend("r", &upstream.name, &upstream.url())
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_config_it_started_with() {
    let (a, b) = (Upstream::reporting("a"), Upstream::reporting("b"));
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &route(&a));
    let in_flight = tokio::spawn(client().get(url(&proxy, "/slow/500")).send());
    assert!(eventually(Duration::from_secs(2), async || a.request_count() == 1).await);
    apply_yaml(&proxy, &route(&b));
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-upstream"], "a");
    assert_eq!(
        client()
            .get(url(&proxy, "/"))
            .send()
            .await
            .unwrap()
            .headers()["x-upstream"],
        "b"
    );
}

#[tokio::test]
async fn a_keep_alive_connection_survives_a_swap() {
    let (a, b) = (Upstream::reporting("a"), Upstream::reporting("b"));
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &route(&a));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let ask = async |stream: &mut TcpStream| {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(stream).await;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        head
    };
    assert!(ask(&mut stream).await.contains("x-upstream: a"));
    apply_yaml(&proxy, &route(&b));
    assert!(
        ask(&mut stream).await.contains("x-upstream: b"),
        "same connection, new config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_under_load_fails_no_request() {
    let (a, b) = (Upstream::reporting("a"), Upstream::reporting("b"));
    let proxy = Arc::new(start_proxy(|_| {}).await);
    apply_yaml(&proxy, &route(&a));
    let mut load = Vec::new();
    for _ in 0..4 {
        let proxy = proxy.clone();
        load.push(tokio::spawn(async move {
            let client = client();
            let mut failures = 0;
            for _ in 0..300 {
                match client.get(url(&proxy, "/")).send().await {
                    Ok(r) if r.status() == 200 => {}
                    _ => failures += 1,
                }
            }
            failures
        }));
    }
    let (ya, yb) = (route(&a), route(&b));
    for i in 0..50 {
        apply_yaml(&proxy, if i % 2 == 0 { &yb } else { &ya });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in load {
        assert_eq!(task.await.unwrap(), 0, "requests failed during swaps");
    }
}
