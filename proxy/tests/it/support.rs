//! What only the proxy's tests need: a proxy started in-process on
//! loopback ports, and Routes for it. Upstreams, clients and raw
//! connections come from `gatehouse-testkit`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_api::ProxyConfig;
use gatehouse_api::manifest::Manifests;
use gatehouse_proxy::{Running, Settings};
use gatehouse_testkit::{client, read_head};
use tokio::io::AsyncWriteExt;

pub(crate) async fn start_proxy(adjust: impl FnOnce(&mut Settings)) -> Running {
    let mut settings = Settings::for_tests();
    settings.config_file = None;
    adjust(&mut settings);
    // An empty config file keeps the embedded examples out of the way.
    if settings.manifests.is_none() && settings.config_file.is_none() {
        // One file per proxy: tests run in parallel and must not see a half-written file.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("gh-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!(
            "empty-{}.json",
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&file, r#"{"routes": []}"#).unwrap();
        settings.config_file = Some(file);
    }
    gatehouse_proxy::start(&settings)
        .await
        .expect("proxy starts")
}

/// Compiles YAML (Routes, DepotRepos, MockProvisions) the way local mode
/// does; panics on any error.
pub(crate) fn config_from_yaml(yaml: &str) -> ProxyConfig {
    let mut manifests = Manifests::default();
    manifests.read("test.yaml", yaml);
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let compiled = manifests.compile();
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.config
}

/// A Route named `name` (in `default`) with the given rules, as YAML.
pub(crate) fn route_yaml(name: &str, rules: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  rules:\n{rules}"
    )
}

/// A Route sending everything to one backend named `backend` at `url`.
pub(crate) fn one_backend(name: &str, backend: &str, url: &str) -> String {
    route_yaml(
        name,
        &format!("  - backends: [{{name: {backend}, url: '{url}'}}]\n"),
    )
}

/// `GET url` and its body as text.
pub(crate) async fn get_text(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub(crate) fn apply_yaml(proxy: &Running, yaml: &str) {
    proxy
        .state
        .apply(config_from_yaml(yaml), "test")
        .expect("config applies");
}

/// Sends `request` and reads its answer as JSON.
pub(crate) async fn json_of<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

pub(crate) fn url(proxy: &Running, path: &str) -> String {
    format!("http://{}{path}", proxy.addr)
}

/// A connection upgraded to a WebSocket, through the proxy, to an
/// `Upstream` (which echoes).
pub(crate) async fn open_websocket(proxy: &Running) -> tokio::net::TcpStream {
    let mut ws = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    ws.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut ws).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws
}

/// The value of the series `series` (with its labels, as exposed) in the
/// proxy's `/metrics`; 0 when it is not there.
pub(crate) async fn metric(proxy: &gatehouse_proxy::Running, series: &str) -> i64 {
    get_text(&format!("http://{}/metrics", proxy.admin_addr))
        .await
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}
