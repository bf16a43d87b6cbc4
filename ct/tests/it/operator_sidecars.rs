//! `--sidecars`: proxy Pods beside apps, in the apps' namespaces, are
//! found by the proxy label and pushed to, as the gateway's are. The
//! sidecar is a real proxy process started as the chart starts one:
//! `--config-file` on a missing file with `--await-config`, and
//! `--local-app` to the app beside it.

use std::time::Duration;

use gatehouse_api::Route;
use gatehouse_ct::cluster::{
    Operator, cluster, condition, register_proxy_in, remove_pods, route, running_proxy, scope,
};
use gatehouse_ct::process::ProxyProcess;
use gatehouse_testkit::{TempDir, Upstream, eventually};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, PostParams};

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_sidecar_proxies_in_app_namespaces_get_the_config() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, config_map) = scope(&format!("sidecars-{id}"));
    let apps = format!("ct-apps-{id}");
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": apps}})).unwrap();
    if let Err(kube::Error::Api(e)) = namespaces.create(&PostParams::default(), &namespace).await {
        assert_eq!(e.code, 409, "the namespace could not be made: {e:?}");
    }

    let app = Upstream::start("app");
    let shop = Upstream::start("shop");
    let waiting = TempDir::new("sidecar-config");
    let missing = waiting.join("config.json");
    let app_url = format!("http://{}", app.authority());
    let sidecar = ProxyProcess::start([
        "--config-file".as_ref(),
        missing.as_os_str(),
        "--await-config".as_ref(),
        "--local-app".as_ref(),
        std::ffi::OsStr::new(&app_url),
    ])
    .await;
    // Before any config: unready, and closed, the app included (its
    // Routes may guard it with `access`).
    let before = sidecar.get("/anything").await;
    assert_eq!(
        (before.status, before.body.as_str()),
        (503, "503 Service Unavailable: no config is loaded yet\n")
    );
    let sidecar_pod = format!("app-{id}");
    register_proxy_in(
        &cluster.client,
        &apps,
        &sidecar_pod,
        &label,
        sidecar.admin_addr.port(),
    )
    .await;
    // Names of its own: other tests of this process use `gh-proxy-{id}`
    // and `shop-{id}` in the same namespace at the same time.
    let gateway_pod = format!("gh-sidecars-gateway-{id}");
    let gateway = running_proxy(&cluster.client, &gateway_pod, &label).await;
    let operator = Operator::start_with(&cluster, &class, &label, &config_map, &["--sidecars"]);

    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let name = format!("sidecars-shop-{id}");
    let _ = routes.delete(&name, &DeleteParams::default()).await;
    let backend = format!("{{name: shop, url: 'http://{}'}}", shop.authority());
    routes
        .create(
            &PostParams::default(),
            &route(&name, &class, "/shop", &backend),
        )
        .await
        .unwrap();

    let served = async |proxy: &ProxyProcess| {
        proxy
            .try_get("/shop/cart")
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "shop")
    };
    if !eventually(Duration::from_secs(15), async || served(&sidecar).await).await {
        panic!(
            "the sidecar in {apps} never served the Route; operator log:\n{}",
            operator.logs()
        );
    }
    assert!(served(&gateway).await, "the gateway proxy serves it too");
    // The Route's, pushed; everything else still the app's.
    assert_eq!(sidecar.get("/orders").await.body, "app");
    let programmed = async || {
        let r = routes.get(&name).await.unwrap();
        condition(&r, "Programmed") == Some(("True".into(), "Programmed".into()))
            && r.status.as_ref().and_then(|s| s.proxies.clone()).as_deref() == Some("2/2")
    };
    assert!(
        eventually(Duration::from_secs(10), programmed).await,
        "status: {:?}\n{}",
        routes.get(&name).await.unwrap().status,
        operator.logs()
    );

    let _ = routes.delete(&name, &DeleteParams::default()).await;
    remove_pods(&cluster.client, &[gateway_pod]).await;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &apps);
    let _ = pods
        .delete(&sidecar_pod, &DeleteParams::default().grace_period(0))
        .await;
}
