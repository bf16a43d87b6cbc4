//! `/metrics` after real traffic and config changes, as Prometheus scrapes it.

use std::time::Duration;

use gatehouse_ct::{Metrics, ProxyProcess, config_json, route_json, route_yaml};
use gatehouse_testkit::{RawConnection, TempDir, Upstream, free_port, wait_for};

const REQUESTS: &str = "gatehouse_requests_total";
const APPLIES: &str = "gatehouse_config_applies_total";

fn requests(m: &Metrics, route: &str, backend: &str, code: &str) -> f64 {
    m.sum(
        REQUESTS,
        &[("route", route), ("backend", backend), ("code", code)],
    )
}

#[tokio::test]
async fn requests_are_counted_by_route_backend_and_status_class() {
    let a = Upstream::start("A");
    let dir = TempDir::new("metrics-requests");
    dir.write("app.yaml", &route_yaml("app", "/app", "main", &a.url()));
    let dead = free_port(); // nothing listens here
    dir.write(
        "dead.yaml",
        &route_yaml("dead", "/dead", "gone", &format!("http://{dead}")),
    );
    let proxy = ProxyProcess::start(["--manifests".as_ref(), dir.path().as_os_str()]).await;
    let before = proxy.metrics().await;

    for i in 0..5 {
        let reply = proxy.get(&format!("/app/unique-path-{i}-x7q")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    for _ in 0..2 {
        assert_eq!(proxy.get("/app/code/503").await.status, 503);
    }
    assert_eq!(proxy.get("/app/code/404").await.status, 404);
    assert_eq!(proxy.get("/nowhere").await.status, 404);
    let reply = proxy.get("/dead").await;
    assert_eq!(reply.status, 502, "{reply:?}");

    let after = proxy.metrics().await;
    let delta = |route: &str, backend: &str, code: &str| {
        requests(&after, route, backend, code) - requests(&before, route, backend, code)
    };
    assert_eq!(delta("default/app", "main", "2xx"), 5.0, "{}", after.text);
    assert_eq!(delta("default/app", "main", "5xx"), 2.0, "{}", after.text);
    assert_eq!(delta("default/app", "main", "4xx"), 1.0, "{}", after.text);
    assert_eq!(
        delta("", "", "4xx"),
        1.0,
        "unmatched requests: {}",
        after.text
    );
    assert_eq!(delta("default/dead", "gone", "5xx"), 1.0, "{}", after.text);
    assert_eq!(
        after.get(
            "gatehouse_upstream_errors_total",
            &[
                ("route", "default/dead"),
                ("backend", "gone"),
                ("kind", "connect")
            ]
        ),
        Some(1.0),
        "{}",
        after.text
    );
    assert_eq!(
        after.get(
            "gatehouse_request_duration_seconds_count",
            &[("route", "default/app")]
        ),
        Some(8.0),
        "{}",
        after.text
    );
    assert!(
        !after.text.contains("x7q") && !after.text.contains("/nowhere"),
        "labels never carry raw paths:\n{}",
        after.text
    );

    // An open client connection is visible.
    let mut connection = RawConnection::connect(proxy.addr).await.unwrap();
    assert_eq!(
        connection.get("ct.local", "/app").await.unwrap().status,
        200
    );
    let open = proxy
        .metrics()
        .await
        .get("gatehouse_open_connections", &[])
        .unwrap_or(0.0);
    assert!(open >= 1.0, "gatehouse_open_connections = {open}");
}

#[tokio::test]
async fn config_applies_are_counted_by_source_and_result() {
    let a = Upstream::start("A");
    let dir = TempDir::new("metrics-applies");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = ProxyProcess::start(["--manifests".as_ref(), dir.path().as_os_str()]).await;

    let m = proxy.metrics().await;
    assert_eq!(
        m.get(APPLIES, &[("source", "manifests"), ("result", "success")]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(m.get("gatehouse_config_generation", &[]), Some(1.0));
    assert!(
        m.get("gatehouse_config_last_success_timestamp_seconds", &[])
            .unwrap_or(0.0)
            > 1.6e9
    );
    assert!(
        m.get("gatehouse_config_apply_duration_seconds_count", &[])
            .unwrap_or(0.0)
            >= 1.0
    );

    // A broken file: rejected, counted, generation unchanged.
    dir.write("broken.yaml", "kind: Route\nspec: [unclosed\n");
    let p = &proxy;
    wait_for(
        "a rejected manifests apply",
        Duration::from_secs(2),
        || async move {
            let m = p.metrics().await;
            match m.get(APPLIES, &[("source", "manifests"), ("result", "rejected")]) {
                Some(n) if n >= 1.0 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap_or_else(|e| proxy.fail(e));
    assert_eq!(
        proxy
            .metrics()
            .await
            .get("gatehouse_config_generation", &[]),
        Some(1.0)
    );

    // An admin push: its own source.
    let config = config_json(vec![route_json(
        "default/pushed",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    let reply = proxy.put_config(config.to_string(), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let revision = reply.json()["revision"].as_str().unwrap().to_owned();
    assert_eq!(proxy.put_config("not json", None).await.status, 400);

    let m = proxy.metrics().await;
    assert_eq!(
        m.get(APPLIES, &[("source", "admin"), ("result", "success")]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.get(APPLIES, &[("source", "admin"), ("result", "rejected")]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(m.get("gatehouse_config_generation", &[]), Some(2.0));
    assert_eq!(
        m.get("gatehouse_config_info", &[("revision", revision.as_str())]),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.matching("gatehouse_config_info", &[]).count(),
        1,
        "only the revision served now is exported: {}",
        m.text
    );
}

/// Every config source's `success` and `rejected` series exist from the
/// start at 0: a counter born at 1 is invisible to `increase()`, so the
/// first rejected config would never show on the dashboard.
#[tokio::test]
async fn config_apply_counters_exist_at_zero_before_any_rejection() {
    let dir = TempDir::new("metrics-zero");
    dir.write(
        "app.yaml",
        &route_yaml("app", "/app", "main", "http://127.0.0.1:9"),
    );
    let proxy = ProxyProcess::start(["--manifests".as_ref(), dir.path().as_os_str()]).await;
    let metrics = proxy.metrics().await;
    for source in ["admin", "file", "manifests"] {
        assert_eq!(
            metrics.get(APPLIES, &[("source", source), ("result", "rejected")]),
            Some(0.0),
            "{source}: {}",
            metrics.text
        );
    }
    assert_eq!(
        metrics.get(APPLIES, &[("source", "manifests"), ("result", "success")]),
        Some(1.0),
        "{}",
        metrics.text
    );
}
