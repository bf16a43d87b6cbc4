//! `--local-app`: sidecar mode. Requests no Route matches go to the app
//! beside the proxy instead of a 404; the Routes still come first.

use clap::Parser;
use gatehouse_proxy::Settings;
use gatehouse_testkit::{Upstream, client};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{apply_yaml, get_text, metric, route_yaml, start_proxy, url};

/// `/api` goes to `routed`; everything else is the app's.
fn api_route(routed: &Upstream) -> String {
    route_yaml(
        "api",
        &format!(
            "  - matches: [{{path: {{type: PathPrefix, value: /api}}}}]\n    backends: [{{name: routed, url: '{}'}}]\n",
            routed.url()
        ),
    )
}

#[tokio::test]
async fn unmatched_requests_reach_the_local_app_and_routes_still_apply() {
    let app = Upstream::reporting("app");
    let routed = Upstream::start("routed");
    let at = app.url().trim_start_matches("http://").parse().unwrap();
    let proxy = start_proxy(|s| s.local_app = Some(at)).await;
    apply_yaml(&proxy, &api_route(&routed));

    let report: Value = client()
        .post(url(&proxy, "/orders/7?x=1"))
        .header("host", "shop.example")
        .body("{\"n\": 1}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["upstream"], "app");
    assert_eq!(report["method"], "POST");
    assert_eq!(report["path"], "/orders/7");
    assert_eq!(report["query"], "x=1");
    assert_eq!(report["bodyLength"], 8);
    assert_eq!(report["headers"]["host"], "shop.example");
    assert_eq!(report["headers"]["x-forwarded-for"], "127.0.0.1");

    assert_eq!(get_text(&url(&proxy, "/api/items")).await, "routed");
    let counted = metric(
        &proxy,
        "gatehouse_requests_total{backend=\"local-app\",code=\"2xx\",route=\"\"}",
    )
    .await;
    assert_eq!(counted, 1);
}

#[tokio::test]
async fn without_local_app_unmatched_requests_are_404() {
    let routed = Upstream::start("routed");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &api_route(&routed));
    let response = client().get(url(&proxy, "/orders")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(get_text(&url(&proxy, "/api")).await, "routed");
}

#[tokio::test]
async fn a_local_app_that_is_not_listening_is_a_502_naming_it() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = closed.local_addr().unwrap();
    drop(closed);
    let proxy = start_proxy(|s| s.local_app = Some(at.to_string().parse().unwrap())).await;
    let response = client().get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!("local app at {at} (--local-app)")),
        "{text}"
    );
}

#[test]
fn local_app_takes_a_plain_http_address() {
    let parsed =
        Settings::try_parse_from(["gatehouse-proxy", "--local-app", "http://127.0.0.1:3000/"])
            .unwrap();
    assert_eq!(parsed.local_app.unwrap().as_str(), "127.0.0.1:3000");
    for (value, says) in [
        ("https://127.0.0.1:3000", "plain HTTP"),
        ("127.0.0.1:3000", "http://127.0.0.1:PORT"),
    ] {
        let err = Settings::try_parse_from(["gatehouse-proxy", "--local-app", value])
            .expect_err(value)
            .to_string();
        assert!(err.contains(says), "{value}: {err}");
    }
}

/// A sidecar waiting for its first config serves nothing, not even its
/// app: the Routes it will get may guard the app with `access`. Once a
/// config is pushed, unmatched requests reach the app.
#[tokio::test]
async fn before_a_first_config_a_sidecar_passes_nothing_to_its_app() {
    let app = Upstream::start("app");
    let tmp = gatehouse_testkit::TempDir::new("sidecar-await");
    let missing = tmp.join("config.json");
    let at = app.url().trim_start_matches("http://").parse().unwrap();
    let proxy = start_proxy(|s| {
        s.config_file = Some(missing.clone());
        s.await_config = true;
        s.local_app = Some(at);
    })
    .await;
    let before = client().get(url(&proxy, "/private")).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        before.text().await.unwrap(),
        "503 Service Unavailable: no config is loaded yet\n"
    );

    let routed = Upstream::start("routed");
    apply_yaml(&proxy, &api_route(&routed));
    assert_eq!(get_text(&url(&proxy, "/private")).await, "app");
}
