//! `--config-file FILE`: a ProxyConfig JSON (as the operator's ConfigMap
//! holds it) served from the start.

use std::time::Duration;

use gatehouse_ct::{ProxyProcess, config_json, route_json};
use gatehouse_testkit::{TempDir, Upstream, scaled};

#[tokio::test]
async fn a_valid_config_file_is_served_from_the_start() {
    let a = Upstream::start("A");
    let dir = TempDir::new("config-file");
    let config = config_json(vec![route_json(
        "shop/cart",
        "/cart",
        &[("a", 1, &a.authority())],
    )]);
    let file = dir.write("config.json", &config.to_string());
    let proxy = ProxyProcess::builder()
        .arg("--config-file")
        .arg(&file)
        .start()
        .await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
    let reply = proxy.get("/cart/items").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "A"), "{reply:?}");
    assert_eq!(
        proxy.get("/elsewhere").await.status,
        404,
        "only what the file says"
    );
    let served = proxy.admin_get("/config").await.json();
    assert_eq!(served["routes"], config["routes"]);
    let metrics = proxy.metrics().await;
    assert_eq!(
        metrics.get(
            "gatehouse_config_applies_total",
            &[("source", "file"), ("result", "success")]
        ),
        Some(1.0),
        "{}",
        metrics.text
    );
}

async fn assert_exits_naming(args: &[&std::ffi::OsStr], file: &std::path::Path, also: &str) {
    let mut proxy = ProxyProcess::builder().args(args).spawn();
    let status = proxy
        .wait_exit(scaled(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy kept running with a config file it cannot serve"));
    assert!(!status.success(), "exit status {status}");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains(&file.display().to_string()),
        "stderr names the file: {stderr}"
    );
    assert!(stderr.contains(also), "stderr says {also:?}: {stderr}");
}

#[tokio::test]
async fn a_missing_config_file_stops_the_process_naming_the_file() {
    let dir = TempDir::new("config-missing");
    let missing = dir.join("nope.json");
    assert_exits_naming(
        &["--config-file".as_ref(), missing.as_os_str()],
        &missing,
        "cannot read",
    )
    .await;
}

#[tokio::test]
async fn a_config_file_that_is_not_a_proxy_config_stops_the_process() {
    let dir = TempDir::new("config-garbage");
    let file = dir.write("config.json", "{\"routes\": 7}");
    assert_exits_naming(
        &["--config-file".as_ref(), file.as_os_str()],
        &file,
        "not a ProxyConfig",
    )
    .await;
}

#[tokio::test]
async fn a_config_file_with_invalid_content_stops_the_process_listing_why() {
    let dir = TempDir::new("config-rejected");
    let mut config = config_json(vec![route_json(
        "default/re",
        "/",
        &[("a", 1, "127.0.0.1:1")],
    )]);
    config["routes"][0]["rules"][0]["matches"] =
        serde_json::json!([{"path": {"type": "RegularExpression", "value": "/(unclosed"}}]);
    let file = dir.write("config.json", &config.to_string());
    assert_exits_naming(
        &["--config-file".as_ref(), file.as_os_str()],
        &file,
        "/(unclosed",
    )
    .await;
}

#[tokio::test]
async fn config_file_and_manifests_cannot_be_combined() {
    let dir = TempDir::new("config-conflict");
    let file = dir.write("config.json", &config_json(vec![]).to_string());
    let mut proxy = ProxyProcess::builder()
        .arg("--config-file")
        .arg(&file)
        .arg("--manifests")
        .arg(dir.path())
        .spawn();
    let status = proxy
        .wait_exit(scaled(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy accepted both sources"));
    assert!(!status.success(), "{status}");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains("--manifests") && stderr.contains("--config-file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sighup_reads_the_config_file_again_and_does_not_stop_the_proxy() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("sighup");
    let config = |upstream: &Upstream| {
        config_json(vec![route_json(
            "default/app",
            "/",
            &[("main", 1, &upstream.authority())],
        )])
        .to_string()
    };
    let file = dir.write("config.json", &config(&a));
    let mut proxy = ProxyProcess::start(["--config-file".as_ref(), file.as_os_str()]).await;
    proxy.wait_served_by("/", "A", Duration::from_secs(1)).await;
    dir.write("config.json", &config(&b));
    proxy.signal("HUP");
    proxy.wait_served_by("/", "B", Duration::from_secs(1)).await;

    // A broken file on HUP is reported; the last good config keeps serving.
    dir.write("config.json", "{\"routes\": 7}");
    proxy.signal("HUP");
    proxy
        .wait_for_log_line(
            &["not a ProxyConfig", "last good config"],
            Duration::from_secs(1),
        )
        .await;
    let reply = proxy.get("/").await;
    assert_eq!(reply.header("x-upstream"), Some("B"), "{reply:?}");
    assert!(
        proxy.try_exit_status().is_none(),
        "SIGHUP stopped the proxy"
    );
}
