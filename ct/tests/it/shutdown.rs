//! SIGTERM/SIGINT: stop accepting, report not-ready, let requests in flight
//! finish up to `--shutdown-grace`, then exit 0.

use std::time::{Duration, Instant};

use gatehouse_ct::{ProxyProcess, route_yaml};
use gatehouse_testkit::{RawConnection, TempDir, Upstream, scaled, wait_for};

async fn start_routed_to(upstream: &Upstream, extra: &[&str]) -> (ProxyProcess, TempDir) {
    let dir = TempDir::new("shutdown");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &upstream.url()));
    let proxy = ProxyProcess::builder()
        .arg("--manifests")
        .arg(dir.path())
        .args(extra)
        .start()
        .await;
    (proxy, dir)
}

/// Sends `GET /slow` in the background and waits until the upstream has it.
async fn request_in_flight(
    proxy: &ProxyProcess,
    upstream: &Upstream,
) -> tokio::task::JoinHandle<Result<(u16, String), String>> {
    let client = gatehouse_testkit::client();
    let url = proxy.url("/slow");
    let task = tokio::spawn(async move {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| gatehouse_ct::error_chain(&e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| gatehouse_ct::error_chain(&e))?;
        Ok((status, body))
    });
    let before = upstream.request_count();
    wait_for(
        "the request reached the upstream",
        Duration::from_secs(5),
        || async move {
            if upstream.request_count() > before {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
    )
    .await
    .unwrap_or_else(|e| proxy.fail(e));
    task
}

async fn wait_refused(proxy: &ProxyProcess, within: Duration) {
    let addr = proxy.addr;
    wait_for("new connections refused", within, || async move {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(format!("connect failed otherwise: {e}")),
            Ok(_) => Err("connect still accepted".to_owned()),
        }
    })
    .await
    .unwrap_or_else(|e| proxy.fail(e));
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_refuses_new_connections_and_exits_0() {
    let slow = Upstream::with_delay("slow", Duration::from_millis(1500));
    let (mut proxy, _dir) = start_routed_to(&slow, &[]).await;
    let in_flight = request_in_flight(&proxy, &slow).await;

    let signalled = Instant::now();
    proxy.signal("TERM");
    wait_refused(&proxy, Duration::from_millis(500)).await;
    assert!(
        !in_flight.is_finished(),
        "new connections are refused while the slow request is still in flight"
    );

    let (status, body) = in_flight
        .await
        .expect("request task")
        .unwrap_or_else(|e| proxy.fail(format!("the in-flight request failed: {e}")));
    assert_eq!((status, body.as_str()), (200, "slow"));

    let exit = proxy
        .wait_exit(scaled(Duration::from_secs(5)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy did not exit after draining"));
    assert!(exit.success(), "exit status {exit}");
    let took = signalled.elapsed();
    println!("exited {took:?} after SIGTERM");
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM, well within the 30s grace"
    );
    assert!(
        took >= Duration::from_millis(900),
        "it waited for the request ({took:?})"
    );
}

#[tokio::test]
async fn past_the_shutdown_grace_the_process_exits_anyway() {
    let slow = Upstream::with_delay("very-slow", Duration::from_secs(10));
    let (mut proxy, _dir) = start_routed_to(&slow, &["--shutdown-grace", "1s"]).await;
    let in_flight = request_in_flight(&proxy, &slow).await;

    let signalled = Instant::now();
    proxy.signal("TERM");
    let exit = proxy
        .wait_exit(scaled(Duration::from_secs(4)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy outlived its 1s shutdown grace"));
    let took = signalled.elapsed();
    println!("exited {took:?} after SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    assert!(
        took < scaled(Duration::from_millis(2000)),
        "exited {took:?} after SIGTERM with --shutdown-grace 1s"
    );
    assert!(
        took >= Duration::from_millis(900),
        "it gave the request its grace ({took:?})"
    );
    let outcome = in_flight.await.expect("request task");
    assert!(
        outcome.is_err(),
        "the cut-off request does not look like a success: {outcome:?}"
    );
    assert!(
        proxy.stderr().contains("grace"),
        "the log says the grace ran out:\n{}",
        proxy.stderr()
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_does_not_hold_up_sigint() {
    let fast = Upstream::start("fast");
    let (mut proxy, _dir) = start_routed_to(&fast, &[]).await;
    let mut connection = RawConnection::connect(proxy.addr).await.unwrap();
    let reply = connection.get("ct.local", "/").await.unwrap();
    assert_eq!(reply.status, 200);

    let signalled = Instant::now();
    proxy.signal("INT");
    let exit = proxy
        .wait_exit(scaled(Duration::from_secs(5)))
        .await
        .unwrap_or_else(|| proxy.fail("an idle connection kept the proxy from exiting"));
    assert!(exit.success(), "exit status {exit}");
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "{:?}",
        signalled.elapsed()
    );
    assert!(
        connection.get("ct.local", "/").await.is_err(),
        "the idle connection was closed"
    );
}

#[tokio::test]
async fn readyz_answers_503_while_draining() {
    let slow = Upstream::with_delay("slow", Duration::from_secs(3));
    let (proxy, _dir) = start_routed_to(&slow, &[]).await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
    let in_flight = request_in_flight(&proxy, &slow).await;

    proxy.signal("TERM");
    wait_refused(&proxy, Duration::from_millis(500)).await;
    // While the slow request drains, a readiness probe is told 503.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(1000))
        .build()
        .unwrap();
    let probe = client.get(proxy.admin_url("/readyz")).send().await;
    let still_draining = !in_flight.is_finished();
    match probe {
        Ok(response) => assert_eq!(response.status().as_u16(), 503),
        Err(e) => proxy.fail(format!(
            "GET /readyz while draining got no answer: {} (the request was still draining: {still_draining})",
            gatehouse_ct::error_chain(&e)
        )),
    }
    assert!(still_draining);
}

#[tokio::test]
async fn every_request_answered_before_exit_is_in_the_access_log() {
    let upstream = Upstream::start("A");
    let dir = TempDir::new("shutdown-log");
    let log = dir.join("access.log");
    let log_flag = log.display().to_string();
    let (mut proxy, _routes) = start_routed_to(&upstream, &["--access-log", &log_flag]).await;
    // Answered just before the signal: still in the workers' buffers.
    for i in 0..20 {
        let answer = proxy
            .client()
            .get(proxy.url(&format!("/quick/{i}")))
            .header("connection", "close")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    proxy.signal("TERM");
    proxy
        .wait_exit(scaled(Duration::from_secs(5)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy did not exit"));
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(written.lines().count(), 20, "{written}");
}
