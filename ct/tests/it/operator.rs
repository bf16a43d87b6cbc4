//! The operator against a real kube-apiserver (1.20, ct/kube/start-apiserver.sh)
//! and real proxy processes standing in for proxy Pods (`gatehouse_ct::cluster`).
//! Ignored by a plain `cargo test`; `bash ct/test-all.sh` starts the server
//! and runs them (`api_server_*`).
//!
//! Each test uses its own class, proxy label and ConfigMap, so tests sharing
//! the API server never see each other's objects.

use std::process::Command;
use std::time::Duration;

use gatehouse_api::Route;
use gatehouse_ct::cluster::{
    Operator, cluster, condition, kubectl, register_proxy, remove_pods, route, running_proxy,
    scope, table, warnings,
};
use gatehouse_ct::process::ProxyProcess;
use gatehouse_testkit::{TempDir, Upstream, eventually, free_port};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_routes_applied_in_the_cluster_are_served_by_the_proxy_and_reported() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, config_map) = scope(&id);
    let upstream = Upstream::start("shop");
    let proxy = running_proxy(&cluster.client, &format!("gh-proxy-{id}"), &label).await;
    let operator = Operator::start(&cluster, &class, &label, &config_map);

    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let (shop, broken) = (format!("shop-{id}"), format!("broken-{id}"));
    for name in [&shop, &broken] {
        let _ = routes.delete(name, &DeleteParams::default()).await;
    }
    let served = format!("{{name: shop, url: 'http://{}'}}", upstream.authority());
    routes
        .create(
            &PostParams::default(),
            &route(&shop, &class, "/shop", &served),
        )
        .await
        .unwrap();

    let reaches_shop = async || {
        proxy
            .try_get("/shop/cart")
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "shop")
    };
    if !eventually(Duration::from_secs(10), reaches_shop).await {
        panic!(
            "the proxy never served the Route; operator log:\n{}",
            operator.logs()
        );
    }
    let programmed = async || {
        let r = routes.get(&shop).await.unwrap();
        condition(&r, "Programmed") == Some(("True".into(), "Programmed".into()))
            && r.status.as_ref().and_then(|s| s.proxies.clone()).as_deref() == Some("1/1")
    };
    assert!(
        eventually(Duration::from_secs(10), programmed).await,
        "status: {:?}\n{}",
        routes.get(&shop).await.unwrap().status,
        operator.logs()
    );
    let status = routes.get(&shop).await.unwrap();
    assert_eq!(
        condition(&status, "Accepted"),
        Some(("True".into(), "Accepted".into()))
    );

    assert_eq!(
        status.status.unwrap().conditions[0].observed_generation,
        status.metadata.generation,
        "observedGeneration follows the Route"
    );

    // The operator's own endpoints.
    assert_eq!(operator.get("/readyz").await.map(|r| r.0), Some(200));
    assert_eq!(operator.get("/healthz").await.map(|r| r.0), Some(200));
    let (_, metrics) = operator.get("/metrics").await.unwrap();
    for line in [
        "gatehouse_operator_proxies 1",
        "gatehouse_operator_proxies_in_sync 1",
        "gatehouse_operator_leader 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("gatehouse_operator_reconciles_total{result=\"success\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_operator_push_duration_seconds_count"),
        "{metrics}"
    );

    // A Service that does not exist: ResolvedRefs False, its share answered 500, the rest still served.
    let missing = "{name: ghost, service: {name: no-such-service, port: 80}}";
    routes
        .create(
            &PostParams::default(),
            &route(&broken, &class, "/ghost", missing),
        )
        .await
        .unwrap();
    let refs_false = async || {
        condition(&routes.get(&broken).await.unwrap(), "ResolvedRefs")
            == Some(("False".into(), "BackendNotFound".into()))
    };
    assert!(
        eventually(Duration::from_secs(10), refs_false).await,
        "{}",
        operator.logs()
    );
    assert!(
        eventually(Duration::from_secs(10), async || proxy
            .try_get("/ghost")
            .await
            .is_ok_and(|r| r.status == 500))
        .await
    );
    assert_eq!(proxy.try_get("/shop").await.unwrap().body, "shop");

    // The compiled config is kept in a ConfigMap for proxies that restart.
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let map = maps.get(&config_map).await.unwrap();
    let json = &map.data.unwrap()["config.json"];
    assert!(json.contains(&format!("default/{shop}")), "{json}");

    // Editing the Route: traffic follows, and so does the status.
    let edit = serde_json::json!({"spec": {"rules": [{
        "matches": [{"path": {"value": "/store"}}],
        "backends": [{"name": "shop", "url": format!("http://{}", upstream.authority())}],
    }]}});
    let edited = routes
        .patch(&shop, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    assert_eq!(edited.metadata.generation, Some(2));
    let follows = async || {
        proxy
            .try_get("/store")
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "shop")
            && proxy.try_get("/shop").await.is_ok_and(|r| r.status == 404)
    };
    assert!(
        eventually(Duration::from_secs(10), follows).await,
        "{}",
        operator.logs()
    );
    let reported = async || {
        let r = routes.get(&shop).await.unwrap();
        let conditions = r.status.map(|s| s.conditions).unwrap_or_default();
        conditions.len() == 3
            && conditions
                .iter()
                .all(|c| c.observed_generation == Some(2) && c.status == "True")
    };
    assert!(
        eventually(Duration::from_secs(10), reported).await,
        "{:?}",
        routes.get(&shop).await.unwrap().status
    );

    // Deleting the Route takes it off the proxy.
    routes
        .delete(&shop, &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || proxy
            .try_get("/shop")
            .await
            .is_ok_and(|r| r.status == 404))
        .await,
        "{}",
        operator.logs()
    );

    routes
        .delete(&broken, &DeleteParams::default())
        .await
        .unwrap();
    remove_pods(&cluster.client, &[format!("gh-proxy-{id}")]).await;
    let _ = maps.delete(&config_map, &DeleteParams::default()).await;
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_a_proxy_that_comes_late_gets_the_config_and_other_classes_and_invalid_routes_are_kept_apart()
 {
    let cluster = cluster().await;
    let id = format!("{}-late", std::process::id());
    let (class, label, config_map) = scope(&id);
    let upstream = Upstream::start("late");
    // The Pod is Running before anything listens on its admin port.
    let admin = free_port();
    register_proxy(
        &cluster.client,
        &format!("gh-proxy-{id}"),
        &label,
        admin.port(),
    )
    .await;
    let operator = Operator::start(&cluster, &class, &label, &config_map);

    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let names = [
        format!("late-{id}"),
        format!("other-{id}"),
        format!("invalid-{id}"),
    ];
    for name in &names {
        let _ = routes.delete(name, &DeleteParams::default()).await;
    }
    let backend = format!("{{name: late, url: 'http://{}'}}", upstream.authority());
    routes
        .create(
            &PostParams::default(),
            &route(&names[0], &class, "/late", &backend),
        )
        .await
        .unwrap();
    routes
        .create(
            &PostParams::default(),
            &route(&names[1], "someone-else", "/other", &backend),
        )
        .await
        .unwrap();
    let invalid: Route = serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {}}}\nspec:\n  className: {class}\n  rules:\n  - matches: [{{path: {{type: RegularExpression, value: '(unclosed'}}}}]\n    backends: [{backend}]\n",
        names[2]
    ))
    .unwrap();
    routes
        .create(&PostParams::default(), &invalid)
        .await
        .unwrap();

    // The push fails while nothing listens; the Route waits as not programmed.
    let pending = async || {
        condition(&routes.get(&names[0]).await.unwrap(), "Programmed")
            == Some(("False".into(), "Pending".into()))
    };
    assert!(
        eventually(Duration::from_secs(10), pending).await,
        "{}",
        operator.logs()
    );

    let empty = TempDir::new("late-config");
    let config_file = empty.write("config.json", r#"{"routes": []}"#);
    let proxy = ProxyProcess::builder()
        .admin_listen(admin)
        .arg("--config-file")
        .arg(&config_file)
        .start()
        .await;
    let served = async || {
        proxy
            .try_get("/late")
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "late")
    };
    assert!(
        eventually(Duration::from_secs(15), served).await,
        "the late proxy never got the config:\n{}",
        operator.logs()
    );
    let programmed = async || {
        condition(&routes.get(&names[0]).await.unwrap(), "Programmed")
            == Some(("True".into(), "Programmed".into()))
    };
    assert!(
        eventually(Duration::from_secs(10), programmed).await,
        "{}",
        operator.logs()
    );

    // Another class is not ours: not served, its status untouched.
    assert_eq!(proxy.try_get("/other").await.unwrap().status, 404);
    assert!(
        routes.get(&names[1]).await.unwrap().status.is_none(),
        "the operator wrote status on another class's Route"
    );

    // An invalid Route is refused with the field and the fix, and the others keep serving.
    let refused = routes.get(&names[2]).await.unwrap();
    assert_eq!(
        condition(&refused, "Accepted"),
        Some(("False".into(), "InvalidRegex".into()))
    );
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(
        message.contains("spec.rules[0].matches[0].path.value") && message.contains("RE2"),
        "{message}"
    );
    assert_eq!(proxy.try_get("/late").await.unwrap().status, 200);
    // …and announced as a Warning Event on the Route (`kubectl describe route`).
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(cluster.client.clone(), "default");
    let announced = async || {
        events.list(&Default::default()).await.is_ok_and(|list| {
            list.items.iter().any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(names[2].as_str())
                    && e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some("InvalidRegex")
            })
        })
    };
    assert!(
        eventually(Duration::from_secs(10), announced).await,
        "no Warning Event for the invalid Route"
    );

    for name in &names {
        let _ = routes.delete(name, &DeleteParams::default()).await;
    }
    remove_pods(&cluster.client, &[format!("gh-proxy-{id}")]).await;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let _ = maps.delete(&config_map, &DeleteParams::default()).await;
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_two_replicas_elect_one_leader_and_the_other_takes_over() {
    let cluster = cluster().await;
    let id = format!("{}-ha", std::process::id());
    let (class, label, config_map) = scope(&id);
    let upstream = Upstream::start("ha");
    let proxy = running_proxy(&cluster.client, &format!("gh-proxy-{id}"), &label).await;
    let lease = ["--lease-duration", "2s"];
    let mut first = Some(Operator::start_with(
        &cluster,
        &class,
        &label,
        &config_map,
        &[&lease[..], &["--identity", "first"]].concat(),
    ));
    let second = Operator::start_with(
        &cluster,
        &class,
        &label,
        &config_map,
        &[&lease[..], &["--identity", "second"]].concat(),
    );

    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let (one, two) = (format!("ha-one-{id}"), format!("ha-two-{id}"));
    for name in [&one, &two] {
        let _ = routes.delete(name, &DeleteParams::default()).await;
    }
    let backend = format!("{{name: ha, url: 'http://{}'}}", upstream.authority());
    routes
        .create(
            &PostParams::default(),
            &route(&one, &class, "/one", &backend),
        )
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || proxy
            .try_get("/one")
            .await
            .is_ok_and(|r| r.status == 200))
        .await,
        "first: {}\nsecond: {}",
        first.as_ref().unwrap().logs(),
        second.logs()
    );
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(cluster.client.clone(), "default");
    let holder = async || {
        leases
            .get(&format!("gatehouse-operator-{class}"))
            .await
            .ok()?
            .spec?
            .holder_identity
    };
    let leader = holder().await.expect("a Lease names the leader");
    let leaders = [first.as_ref().unwrap().logs(), second.logs()]
        .iter()
        .filter(|log| log.contains("became the leader"))
        .count();
    assert_eq!(leaders, 1, "exactly one replica leads");

    // Stop the leader: the other takes the Lease and serves the next change.
    let survivor = if leader == "first" {
        first = None;
        "second"
    } else {
        drop(second);
        "first"
    };
    routes
        .create(
            &PostParams::default(),
            &route(&two, &class, "/two", &backend),
        )
        .await
        .unwrap();
    let taken_over = async || {
        holder().await.as_deref() == Some(survivor)
            && proxy.try_get("/two").await.is_ok_and(|r| r.status == 200)
    };
    assert!(
        eventually(Duration::from_secs(10), taken_over).await,
        "{survivor} did not take over"
    );
    drop(first);

    for name in [&one, &two] {
        let _ = routes.delete(name, &DeleteParams::default()).await;
    }
    remove_pods(&cluster.client, &[format!("gh-proxy-{id}")]).await;
}

fn signal(proxy: &ProxyProcess, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(proxy.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// The value of the proxy metric line starting with `prefix` (name and labels).
async fn proxy_metric(proxy: &ProxyProcess, prefix: &str) -> Option<String> {
    let metrics = proxy
        .try_request(
            reqwest::Method::GET,
            &proxy.admin_url("/metrics"),
            &[],
            None,
        )
        .await
        .ok()?
        .body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_owned()))
}

/// How many configs the proxy took from its admin API (unchanged re-pushes included).
async fn admin_applies(proxy: &ProxyProcess) -> Option<String> {
    proxy_metric(
        proxy,
        "gatehouse_config_applies_total{result=\"success\",source=\"admin\"}",
    )
    .await
}

async fn config_generation(proxy: &ProxyProcess) -> Option<String> {
    proxy_metric(proxy, "gatehouse_config_generation").await
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_a_slow_proxy_delays_nobody_and_a_restarted_operator_keeps_status_without_new_swaps()
 {
    let cluster = cluster().await;
    let id = format!("{}-slow", std::process::id());
    let (class, label, config_map) = scope(&id);
    let upstream = Upstream::start("slow");
    let fast = running_proxy(&cluster.client, &format!("gh-fast-{id}"), &label).await;
    let slow = running_proxy(&cluster.client, &format!("gh-slow-{id}"), &label).await;
    signal(&slow, "STOP"); // accepts connections, answers nothing
    let operator = Operator::start_with(
        &cluster,
        &class,
        &label,
        &config_map,
        &["--push-timeout", "1s", "--lease-duration", "2s"],
    );

    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let name = format!("slow-{id}");
    let _ = routes.delete(&name, &DeleteParams::default()).await;
    let backend = format!("{{name: slow, url: 'http://{}'}}", upstream.authority());
    routes
        .create(
            &PostParams::default(),
            &route(&name, &class, "/both", &backend),
        )
        .await
        .unwrap();
    let fast_serves = async || fast.try_get("/both").await.is_ok_and(|r| r.status == 200);
    assert!(
        eventually(Duration::from_secs(5), fast_serves).await,
        "the stuck proxy held up the other:\n{}",
        operator.logs()
    );
    let half = async || {
        routes
            .get(&name)
            .await
            .unwrap()
            .status
            .and_then(|s| s.proxies)
            .as_deref()
            == Some("1/2")
    };
    assert!(
        eventually(Duration::from_secs(10), half).await,
        "{}",
        operator.logs()
    );
    assert_eq!(
        condition(&routes.get(&name).await.unwrap(), "Programmed"),
        Some(("False".into(), "Pending".into()))
    );

    signal(&slow, "CONT");
    let both = async || {
        slow.try_get("/both").await.is_ok_and(|r| r.status == 200)
            && routes
                .get(&name)
                .await
                .unwrap()
                .status
                .and_then(|s| s.proxies)
                .as_deref()
                == Some("2/2")
    };
    assert!(
        eventually(Duration::from_secs(15), both).await,
        "the slow proxy never caught up:\n{}",
        operator.logs()
    );

    // A restarted operator finds both proxies serving: status stays, no proxy swaps again.
    let generation = config_generation(&fast)
        .await
        .expect("the proxy reports its generation");
    let applies = admin_applies(&fast)
        .await
        .expect("the proxy counts its applies");
    drop(operator);
    let restarted = Operator::start_with(
        &cluster,
        &class,
        &label,
        &config_map,
        &["--push-timeout", "1s", "--lease-duration", "2s"],
    );
    let one_round = async || {
        restarted.get("/metrics").await.is_some_and(|(_, m)| {
            m.contains("gatehouse_operator_reconciles_total{result=\"success\"}")
        })
    };
    assert!(
        eventually(Duration::from_secs(10), one_round).await,
        "{}",
        restarted.logs()
    );
    assert_eq!(
        config_generation(&fast).await,
        Some(generation),
        "the proxy swapped its config again"
    );
    assert_eq!(
        admin_applies(&fast).await,
        Some(applies),
        "the restarted operator pushed to a proxy that was current"
    );
    let status = routes.get(&name).await.unwrap();
    assert_eq!(
        condition(&status, "Programmed"),
        Some(("True".into(), "Programmed".into()))
    );

    let _ = routes.delete(&name, &DeleteParams::default()).await;
    remove_pods(
        &cluster.client,
        &[format!("gh-fast-{id}"), format!("gh-slow-{id}")],
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_kubectl_shows_the_status_columns_and_a_config_too_large_for_its_config_map_is_a_warning()
 {
    let cluster = cluster().await;
    let id = format!("{}-big", std::process::id());
    let (class, label, config_map) = scope(&id);
    let upstream = Upstream::start("shop");
    let proxy = running_proxy(&cluster.client, &format!("gh-proxy-{id}"), &label).await;
    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let backend = format!("{{name: shop, url: 'http://{}'}}", upstream.authority());
    let mut shop = route(&format!("shop-{id}"), &class, "/shop", &backend);
    shop.spec.hostnames = vec!["shop.example".into()];
    // Three Routes whose rule removes 2,000 long header names each: about
    // 1.3 MB of compiled config, past the 1 MiB a ConfigMap holds (each
    // Route still fits etcd, and every list the CRD bounds stays in bounds).
    let mut names = vec![shop.metadata.name.clone().unwrap()];
    let mut wanted = vec![shop];
    for part in 0..3 {
        let mut big = route(&format!("big{part}-{id}"), &class, "/big", &backend);
        big.spec.hostnames = vec![format!("big{part}.example")];
        let filler = "x".repeat(200);
        let removed: Vec<String> = (0..2_000)
            .map(|i| format!("x-unused-{i:04}-{part}-{filler}"))
            .collect();
        big.spec.rules[0].filters = vec![
            serde_json::from_value(serde_json::json!({
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {"remove": removed},
            }))
            .unwrap(),
        ];
        names.push(big.metadata.name.clone().unwrap());
        wanted.push(big);
    }
    for route in &wanted {
        let name = route.metadata.name.as_deref().unwrap();
        let _ = routes.delete(name, &DeleteParams::default()).await;
        routes.create(&PostParams::default(), route).await.unwrap();
    }
    let operator = Operator::start(&cluster, &class, &label, &config_map);

    // Too large for the ConfigMap: still pushed and served, and said so.
    let served = async || {
        proxy
            .try_request(
                reqwest::Method::GET,
                &proxy.url("/big"),
                &[("host", "big2.example")],
                None,
            )
            .await
            .is_ok_and(|r| r.status == 200 && r.body == "shop")
    };
    assert!(
        eventually(Duration::from_secs(20), served).await,
        "{}",
        operator.logs()
    );
    let too_large = async || {
        !warnings(&cluster.client, "ConfigMap", &config_map, "ConfigTooLarge")
            .await
            .is_empty()
    };
    assert!(
        eventually(Duration::from_secs(10), too_large).await,
        "no ConfigTooLarge Event; operator log:\n{}",
        operator.logs()
    );
    let note = &warnings(&cluster.client, "ConfigMap", &config_map, "ConfigTooLarge").await[0];
    assert!(note.contains("more than a ConfigMap holds"), "{note}");
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    assert!(maps.get_opt(&config_map).await.unwrap().is_none());

    // What `kubectl get routes` (and its short name) shows a user.
    let programmed = async || {
        let r = routes.get(&names[0]).await.unwrap();
        r.status.as_ref().and_then(|s| s.proxies.clone()).as_deref() == Some("1/1")
    };
    assert!(eventually(Duration::from_secs(10), programmed).await);
    for kind in ["routes", "gr"] {
        let printed = kubectl(&cluster, &["get", kind, &names[0], "-n", "default"]);
        let header: Vec<&str> = printed.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            [
                "NAME",
                "HOSTNAMES",
                "ACCEPTED",
                "PROGRAMMED",
                "PROXIES",
                "AGE"
            ],
            "{printed}"
        );
        let rows = table(&printed);
        assert_eq!(rows.len(), 1, "{printed}");
        let row = &rows[0];
        assert_eq!(row["NAME"], names[0], "{printed}");
        assert_eq!(row["HOSTNAMES"], r#"["shop.example"]"#, "{printed}");
        assert_eq!(row["ACCEPTED"], "True", "{printed}");
        assert_eq!(row["PROGRAMMED"], "True", "{printed}");
        assert_eq!(row["PROXIES"], "1/1", "{printed}");
        assert!(row["AGE"].ends_with('s'), "{printed}");
    }

    for name in &names {
        routes.delete(name, &DeleteParams::default()).await.unwrap();
    }
    remove_pods(&cluster.client, &[format!("gh-proxy-{id}")]).await;
}
