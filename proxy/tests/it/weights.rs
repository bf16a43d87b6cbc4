//! Blue/green and canary by HTTPRoute weight semantics.

use std::collections::HashMap;

use crate::support::*;
use gatehouse_testkit::{Upstream, client};

fn split(blue: &Upstream, green: &Upstream, blue_weight: u32, green_weight: u32) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: app}}\nspec:\n  rules:\n  - backends:\n    - {{name: blue, weight: {blue_weight}, url: '{}'}}\n    - {{name: green, weight: {green_weight}, url: '{}'}}\n",
        blue.url(),
        green.url()
    )
}

async fn count(proxy: &gatehouse_proxy::Running, n: usize) -> HashMap<String, usize> {
    let client = client();
    let mut counts = HashMap::new();
    for _ in 0..n {
        let r = client.get(url(proxy, "/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let who = r.headers()["x-upstream"].to_str().unwrap().to_owned();
        r.bytes().await.unwrap();
        *counts.entry(who).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_90_10_split_lands_within_two_points_over_10000_requests() {
    let (blue, green) = (Upstream::reporting("blue"), Upstream::reporting("green"));
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &split(&blue, &green, 90, 10));
    let counts = count(&proxy, 10_000).await;
    let blue_share = counts.get("blue").copied().unwrap_or(0) as f64 / 100.0;
    assert!(
        (88.0..=92.0).contains(&blue_share),
        "blue got {blue_share}% ({counts:?})"
    );
    assert_eq!(counts.values().sum::<usize>(), 10_000);
}

#[tokio::test]
async fn weight_zero_drains_a_backend_and_weights_swap_live() {
    let (blue, green) = (Upstream::reporting("blue"), Upstream::reporting("green"));
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &split(&blue, &green, 1, 0));
    assert_eq!(count(&proxy, 200).await.get("blue"), Some(&200));
    apply_yaml(&proxy, &split(&blue, &green, 0, 5));
    assert_eq!(count(&proxy, 200).await.get("green"), Some(&200));
}

#[tokio::test]
async fn all_weights_zero_and_unresolved_backends_answer_500() {
    let blue = Upstream::reporting("blue");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &split(&blue, &blue, 0, 0).replace("name: green", "name: blue2"),
    );
    let r = client().get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(r.status(), 500);

    // A Service the cluster does not have: its share is answered 500, the rest is served.
    let yaml = format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: app}}\nspec:\n  rules:\n  - backends:\n    - {{name: missing, weight: 1, service: {{name: nope, port: 80}}}}\n    - {{name: blue, weight: 1, url: '{}'}}\n",
        blue.url()
    );
    let mut manifests = gatehouse_api::manifest::Manifests::default();
    manifests.read("t.yaml", &yaml);
    let routes: Vec<_> = manifests.routes().map(|r| r.value.clone()).collect();
    let services = [];
    let compiled = gatehouse_api::compile(gatehouse_api::Resources {
        services: Some(&services),
        secrets: &[],
        config_maps: &[],
        ..gatehouse_api::Resources::routes(&routes)
    });
    assert!(!compiled.has_errors());
    proxy.state.apply(compiled.config, "test").unwrap();
    let client = client();
    let mut statuses = HashMap::new();
    for _ in 0..400 {
        let r = client.get(url(&proxy, "/")).send().await.unwrap();
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    let (ok, failed) = (statuses[&200], statuses[&500]);
    assert!(
        (150..=250).contains(&ok) && ok + failed == 400,
        "{statuses:?}"
    );
}
