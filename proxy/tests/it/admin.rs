//! The admin API: pushes, health, readiness and metrics.

use crate::support::*;
use gatehouse_api::config::ProxyConfig;
use gatehouse_testkit::{Upstream, client, read_head};

fn admin(proxy: &gatehouse_proxy::Running, path: &str) -> String {
    format!("http://{}{path}", proxy.admin_addr)
}

/// `PUT /config` with `body` as JSON, no token.
async fn push(proxy: &gatehouse_proxy::Running, body: &impl serde::Serialize) -> reqwest::Response {
    client()
        .put(admin(proxy, "/config"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn route_to(upstream: &Upstream, path: &str) -> ProxyConfig {
    config_from_yaml(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: r}}\nspec:\n  rules:\n  - matches: [{{path: {{value: {path}}}}}]\n    backends: [{{url: '{}'}}]\n",
        upstream.url()
    ))
}

#[tokio::test]
async fn put_config_applies_and_reports_the_revision() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    let client = client();
    let config = route_to(&upstream, "/pushed");
    let r = push(&proxy, &config).await;
    assert_eq!(r.status(), 200);
    let applied: serde_json::Value = r.json().await.unwrap();
    assert_eq!(applied["revision"], config.revision);
    assert_eq!(applied["unchanged"], false);
    assert_eq!(
        client
            .get(url(&proxy, "/pushed"))
            .send()
            .await
            .unwrap()
            .headers()["x-upstream"],
        "a"
    );

    let again: serde_json::Value = push(&proxy, &config).await.json().await.unwrap();
    assert_eq!(
        again["unchanged"], true,
        "the same revision is not swapped again"
    );
    assert_eq!(again["generation"], applied["generation"]);

    let served: ProxyConfig = json_of(client.get(admin(&proxy, "/config"))).await;
    assert_eq!(served, config);
}

#[tokio::test]
async fn a_bad_push_lists_every_error_and_keeps_the_old_config() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    let client = client();
    client
        .put(admin(&proxy, "/config"))
        .json(&route_to(&upstream, "/good"))
        .send()
        .await
        .unwrap();

    let mut bad = serde_json::to_value(route_to(&upstream, "/bad")).unwrap();
    bad["routes"][0]["rules"][0]["matches"][0]["path"] =
        serde_json::json!({"type": "RegularExpression", "value": "(unclosed"});
    bad["routes"][0]["rules"][0]["backends"][0]["target"]["authority"] = "not a host:port".into();
    bad["revision"] = "".into();
    let r = push(&proxy, &bad).await;
    assert_eq!(r.status(), 400);
    let errors: serde_json::Value = r.json().await.unwrap();
    let errors: Vec<String> = serde_json::from_value(errors["errors"].clone()).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("(unclosed")
            && e.contains("Route default/r routes[0].rules[0].matches[0].path.value")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`not a host:port` is not `host:port`")
                && e.contains("routes[0].rules[0].backends[0].target.authority")),
        "{errors:?}"
    );

    let r = client
        .put(admin(&proxy, "/config"))
        .body("{\"routes\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a ProxyConfig"));

    let mut tampered = route_to(&upstream, "/other");
    tampered.revision = "0000".into();
    let r = push(&proxy, &tampered).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not match the config's content")
    );

    assert_eq!(
        client
            .get(url(&proxy, "/good"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the last good config still serves"
    );
    let metrics = get_text(&admin(&proxy, "/metrics")).await;
    assert!(
        metrics.contains(r#"gatehouse_config_applies_total{result="rejected",source="admin"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_push_is_held_to_the_rules_compile_keeps() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    assert_eq!(
        push(&proxy, &route_to(&upstream, "/good")).await.status(),
        200
    );

    // Mistyped documents are refused, never read as "no routes".
    for (body, says) in [
        ("{}", "missing field `routes`"),
        ("[]", "not a ProxyConfig"),
        (r#"{"Routes": []}"#, "unknown field `Routes`"),
        (r#"{"routes": [], "extra": 1}"#, "unknown field `extra`"),
    ] {
        let r = client()
            .put(admin(&proxy, "/config"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }

    // A well-formed config that compile would never make: every error at once.
    let mut bad = serde_json::to_value(route_to(&upstream, "/bad")).unwrap();
    bad["revision"] = "".into();
    let mut twin = bad["routes"][0].clone();
    twin["hostnames"] = serde_json::json!(["BAD HOST"]);
    let rule = &mut twin["rules"][0];
    rule["matches"][0]["path"]["value"] = "no-slash".into();
    rule["backends"][0]["weight"] = 2_000_000.into();
    rule["backends"][0]["target"]["authority"] = "nohost".into();
    rule["requestTimeoutMs"] = 0.into();
    rule["filters"] = serde_json::json!([
        {"type": "RequestHeaderModifier", "set": [{"name": "x-a", "value": "1"}]},
        {"type": "RequestHeaderModifier", "set": [{"name": "x-b", "value": "2"}]},
        {"type": "URLRewrite", "hostname": "other.test"},
        {"type": "RequestRedirect", "statusCode": 301},
    ]);
    let mut slow = bad["routes"][0]["rules"][0].clone();
    slow["requestTimeoutMs"] = 1000.into();
    slow["backendTimeoutMs"] = 5000.into();
    rule["backends"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "files", "weight": 1, "target": {"kind": "static", "root": "relative/dir", "index": [], "listing": false, "precompressed": false}}));
    twin["rules"].as_array_mut().unwrap().push(slow);
    bad["routes"].as_array_mut().unwrap().push(twin);
    let r = push(&proxy, &bad).await;
    assert_eq!(r.status(), 400);
    let errors: serde_json::Value = r.json().await.unwrap();
    let errors: Vec<String> = serde_json::from_value(errors["errors"].clone()).unwrap();
    for (field, says) in [
        ("routes[1].id", "same id"),
        ("routes[1].hostnames[0]", "BAD HOST"),
        ("routes[1].rules[0].matches[0].path.value", "no-slash"),
        ("routes[1].rules[0].backends[0].weight", "above 1000000"),
        (
            "routes[1].rules[0].backends[0].target.authority",
            "`nohost`",
        ),
        ("routes[1].rules[0].requestTimeoutMs", "leave the field out"),
        (
            "routes[1].rules[0].backends[1].target.root",
            "not an absolute path",
        ),
        (
            "routes[1].rules[0].filters[1].type",
            "one filter of each type",
        ),
        (
            "routes[1].rules[0].filters",
            "URLRewrite and RequestRedirect",
        ),
        (
            "routes[1].rules[1].backendTimeoutMs",
            "at most the request timeout",
        ),
    ] {
        assert!(
            errors.iter().any(|e| e.contains(field) && e.contains(says)),
            "no error at {field} saying {says:?}: {errors:?}"
        );
    }
    let served = get_text(&url(&proxy, "/good")).await;
    assert!(
        served.contains("\"upstream\":\"a\""),
        "the last good config still serves: {served}"
    );
}

#[tokio::test]
async fn an_oversized_push_is_413_before_its_body_is_read() {
    let proxy = start_proxy(|_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.admin_addr)
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(b"PUT /config HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(
        head.starts_with("HTTP/1.1 413"),
        "no 100 Continue, a 413: {head}"
    );
    // A body that turns out too large on the way (chunked) is 413 as well.
    let stream = tokio::net::TcpStream::connect(proxy.admin_addr)
        .await
        .unwrap();
    let (mut read, mut write) = stream.into_split();
    tokio::spawn(async move {
        let _ = write
            .write_all(b"PUT /config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = [b"100000\r\n".as_slice(), &[b' '; 0x100000], b"\r\n"].concat();
        for _ in 0..80 {
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("bytes, the most") {
        let n = read.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 67108864 bytes"), "{answer}");
}

#[tokio::test]
async fn the_token_guards_config() {
    let dir = std::env::temp_dir().join(format!("gh-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let proxy = start_proxy(|s| s.admin_token_file = Some(token_file.clone())).await;
    let client = client();
    let r = client.get(admin(&proxy, "/config")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = client
        .put(admin(&proxy, "/config"))
        .bearer_auth("wrong")
        .body(r#"{"routes": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The scheme is case-insensitive, as RFC 9110 says.
    let r = client
        .put(admin(&proxy, "/config"))
        .header("authorization", "bearer s3cret")
        .body(r#"{"routes": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .put(admin(&proxy, "/config"))
        .bearer_auth("s3cret")
        .body(r#"{"routes": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        client
            .get(admin(&proxy, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "health needs no token"
    );
}

#[tokio::test]
async fn readiness_follows_config_and_shutdown() {
    let dir = std::env::temp_dir().join(format!("gh-ready-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let proxy = start_proxy(|s| s.manifests = Some(dir.clone())).await;
    let client = client();
    let ready = client.get(admin(&proxy, "/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "an empty folder is a loaded (empty) config"
    );
    let served = proxy.state.current().unwrap().config.revision.clone();
    assert_eq!(
        ready.headers()["gatehouse-revision"],
        served.as_str(),
        "readyz names the served revision"
    );
    assert_eq!(
        client.get(url(&proxy, "/")).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        client
            .post(admin(&proxy, "/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        client
            .get(admin(&proxy, "/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    proxy.shutdown();
    let r = client.get(admin(&proxy, "/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503, "not ready while draining");
    let healthz = admin(&proxy, "/healthz");
    assert_eq!(client.get(&healthz).send().await.unwrap().status(), 200);
    proxy.wait().await;
    assert!(
        client.get(&healthz).send().await.is_err(),
        "the admin API stops after the drain"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_backend_and_class() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: m, namespace: shop}}\nspec:\n  rules:\n  - backends: [{{name: blue, url: '{}'}}]\n",
            upstream.url()
        ),
    );
    let client = client();
    for i in 0..3 {
        client
            .get(url(&proxy, &format!("/user/{i}")))
            .send()
            .await
            .unwrap();
    }
    let metrics = get_text(&admin(&proxy, "/metrics")).await;
    assert!(
        metrics.contains(r#"gatehouse_requests_total{backend="blue",code="2xx",route="shop/m"} 3"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"gatehouse_request_duration_seconds_count{route="shop/m"} 3"#));
    assert!(!metrics.contains("/user/"), "labels never carry raw paths");
    assert!(metrics.contains("gatehouse_open_connections"));
    assert!(metrics.contains("gatehouse_config_generation 2"));
    assert!(metrics.contains("gatehouse_config_last_success_timestamp_seconds"));
    assert!(metrics.contains("gatehouse_config_info{revision="));
    // The blocking pool's kinds show from the start, idle.
    for kind in ["fsync", "process", "password_hash", "script", "scan"] {
        assert!(
            metrics.contains(&format!(
                r#"gatehouse_blocking_tasks{{kind="{kind}",state="running"}} 0"#
            )),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn metrics_of_routes_and_backends_no_longer_served_go_away() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    let two = format!(
        "{}---\n{}",
        one_backend("old", "gone-soon", &upstream.url()),
        route_yaml(
            "kept",
            &format!(
                "  - matches: [{{path: {{value: /kept}}}}]\n    backends: [{{name: stays, url: '{0}'}}, {{name: dropped, url: '{0}', weight: 0}}]\n",
                upstream.url()
            )
        )
    );
    apply_yaml(&proxy, &two);
    assert_eq!(
        client()
            .get(url(&proxy, "/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(url(&proxy, "/kept"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let before = get_text(&admin(&proxy, "/metrics")).await;
    assert!(before.contains(r#"route="default/old""#), "{before}");
    assert!(before.contains(r#"backend="dropped""#), "{before}");

    apply_yaml(
        &proxy,
        &route_yaml(
            "kept",
            &format!(
                "  - matches: [{{path: {{value: /kept}}}}]\n    backends: [{{name: stays, url: '{}'}}]\n",
                upstream.url()
            ),
        ),
    );
    let after = get_text(&admin(&proxy, "/metrics")).await;
    assert!(!after.contains(r#"route="default/old""#), "{after}");
    assert!(!after.contains(r#"backend="dropped""#), "{after}");
    assert!(
        after.contains(
            r#"gatehouse_requests_total{backend="stays",code="2xx",route="default/kept"} 1"#
        ),
        "what is still served keeps its counts: {after}"
    );
}

/// A config with a secret, as the operator pushes it (`with_value`) or as
/// its ConfigMap snapshot holds it (without).
fn with_secret(upstream: &Upstream, with_value: bool) -> ProxyConfig {
    use gatehouse_api::secret::{SecretEntry, SecretRef, SecretValue};
    let mut config = route_to(upstream, "/s");
    let source = SecretRef {
        namespace: "default".into(),
        name: "users".into(),
        key: "htpasswd".into(),
    };
    config.secrets = vec![SecretEntry::new(
        source,
        SecretValue::new("alice:$apr1$secret"),
    )];
    config.revision = config.content_revision();
    if with_value {
        config
    } else {
        config.redacted()
    }
}

#[tokio::test]
async fn secret_values_never_leave_the_proxy_and_a_snapshot_asks_for_them() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    let client = client();
    let full = with_secret(&upstream, true);

    // Started from a snapshot: served, but its values are missing, and the
    // revision readyz reports says so, so an operator pushes to it.
    assert_eq!(
        push(&proxy, &with_secret(&upstream, false)).await.status(),
        200
    );
    let ready = client.get(admin(&proxy, "/readyz")).send().await.unwrap();
    assert_eq!(
        ready.headers()["gatehouse-revision"],
        format!("{}-missing-secrets", full.revision).as_str()
    );

    // The push with the values is not "unchanged", and completes it.
    let applied: serde_json::Value = push(&proxy, &full).await.json().await.unwrap();
    assert_eq!(applied["unchanged"], false, "{applied}");
    assert_eq!(applied["revision"], full.revision);
    let ready = client.get(admin(&proxy, "/readyz")).send().await.unwrap();
    assert_eq!(
        ready.headers()["gatehouse-revision"],
        full.revision.as_str()
    );

    // GET /config keeps the reference and the hash, never the value.
    let served = client
        .get(admin(&proxy, "/config"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!served.contains("alice"), "{served}");
    assert!(served.contains(&full.secrets[0].sha256), "{served}");
}
