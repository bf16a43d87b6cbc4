//! The admin API as the operator (or a person with curl) uses it:
//! `PUT /config`, `GET /config`, `/healthz`, `/readyz`, and the bearer token.

use std::time::Duration;

use gatehouse_ct::{ProxyProcess, config_json, route_json};
use gatehouse_testkit::{TempDir, Upstream};
use serde_json::{Value, json};

/// A proxy serving an empty ProxyConfig from `--config-file`, as the
/// operator's ConfigMap would start it, plus `extra` flags.
async fn start_proxy(extra: &[&std::ffi::OsStr]) -> (ProxyProcess, TempDir) {
    let dir = TempDir::new("admin");
    let file = dir.write("config.json", &config_json(vec![]).to_string());
    let proxy = ProxyProcess::builder()
        .arg("--config-file")
        .arg(file)
        .args(extra)
        .start()
        .await;
    (proxy, dir)
}

fn errors_of(reply: &gatehouse_ct::Reply) -> Vec<String> {
    let body = reply.json();
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a 400 lists `errors`: {body}"))
        .iter()
        .map(|e| e.as_str().expect("each error is a string").to_owned())
        .collect()
}

async fn assert_served_by(proxy: &ProxyProcess, path: &str, upstream: &str) {
    let reply = proxy.get(path).await;
    if reply.status != 200 || reply.body != upstream {
        proxy.fail(format!(
            "GET {path}: expected {upstream}, got {} {:?}",
            reply.status, reply.body
        ));
    }
}

#[tokio::test]
async fn a_pushed_config_is_served_and_get_config_returns_it() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let (proxy, _dir) = start_proxy(&[]).await;

    let pushed = config_json(vec![route_json(
        "default/pushed",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    let reply = proxy.put_config(pushed.to_string(), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let applied = reply.json();
    let revision = applied["revision"].as_str().expect("revision").to_owned();
    assert_eq!(revision.len(), 16, "a content hash: {applied}");
    assert!(revision.chars().all(|c| c.is_ascii_hexdigit()), "{applied}");
    let generation = applied["generation"].as_u64().expect("generation");
    assert_eq!(
        generation, 2,
        "the config file's was generation 1: {applied}"
    );
    assert_eq!(applied["unchanged"], json!(false));

    // Served at once: the 200 means it is swapped in.
    assert_served_by(&proxy, "/anything", "A").await;

    let config = proxy.admin_get("/config").await;
    assert_eq!(config.status, 200);
    let config = config.json();
    assert_eq!(config["revision"], json!(revision));
    assert_eq!(
        config["routes"], pushed["routes"],
        "GET /config returns what was pushed"
    );

    // The operator re-pushes with the revision it was acked: nothing changes.
    let mut again = pushed.clone();
    again["revision"] = json!(revision);
    let reply = proxy.put_config(again.to_string(), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let acked = reply.json();
    assert_eq!(acked["unchanged"], json!(true), "{acked}");
    assert_eq!(acked["generation"], json!(generation), "{acked}");
    assert_eq!(acked["revision"], json!(revision));

    // A new config is a new generation.
    let next = config_json(vec![route_json(
        "default/pushed",
        "/",
        &[("b", 1, &b.authority())],
    )]);
    let reply = proxy.put_config(next.to_string(), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let applied = reply.json();
    assert_eq!(applied["generation"], json!(generation + 1), "{applied}");
    assert_ne!(applied["revision"], json!(revision));
    assert_served_by(&proxy, "/anything", "B").await;
}

#[tokio::test]
async fn invalid_pushes_get_400_with_every_error_and_the_old_config_keeps_serving() {
    let a = Upstream::start("A");
    let (proxy, _dir) = start_proxy(&[]).await;
    let good = config_json(vec![route_json(
        "default/good",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    let reply = proxy.put_config(good.to_string(), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let served_revision = reply.json()["revision"].clone();

    let mut bad_regex = config_json(vec![route_json(
        "default/regex",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    bad_regex["routes"][0]["rules"][0]["matches"] =
        json!([{"path": {"type": "RegularExpression", "value": "/(unclosed"}}]);
    let mut wrong_revision = good.clone();
    wrong_revision["revision"] = json!("0123456789abcdef");
    let mut both = bad_regex.clone();
    both["revision"] = json!("0123456789abcdef");

    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "a bad regex",
            bad_regex.to_string(),
            vec!["default/regex", "/(unclosed"],
        ),
        (
            "a revision that does not match the content",
            wrong_revision.to_string(),
            vec!["revision", "0123456789abcdef"],
        ),
        (
            "a body that is not JSON",
            "routes: [oops".into(),
            vec!["not a ProxyConfig"],
        ),
        (
            "JSON that is not a ProxyConfig",
            json!({"routes": [{"id": 7}]}).to_string(),
            vec!["not a ProxyConfig"],
        ),
    ];
    for (what, body, expected) in cases {
        let reply = proxy.put_config(body, None).await;
        assert_eq!(reply.status, 400, "{what}: {reply:?}");
        let errors = errors_of(&reply);
        let all = errors.join("\n");
        for needle in expected {
            assert!(
                all.contains(needle),
                "{what}: errors should mention {needle:?}: {all}"
            );
        }
        assert_served_by(&proxy, "/", "A").await;
        let config = proxy.admin_get("/config").await.json();
        assert_eq!(
            config["revision"], served_revision,
            "{what}: the old config is kept"
        );
    }

    // Every error at once, not just the first.
    let reply = proxy.put_config(both.to_string(), None).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    let errors = errors_of(&reply);
    assert!(errors.len() >= 2, "both problems are listed: {errors:?}");
    assert!(errors.iter().any(|e| e.contains("revision")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("/(unclosed")),
        "{errors:?}"
    );
    assert_served_by(&proxy, "/", "A").await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
}

#[tokio::test]
async fn with_a_token_file_config_needs_the_bearer_token() {
    let a = Upstream::start("A");
    let dir = TempDir::new("token");
    let token_file = dir.write("token", "s3cret-t0ken\n");
    let (proxy, _dir) = start_proxy(&["--admin-token-file".as_ref(), token_file.as_os_str()]).await;
    let config = config_json(vec![route_json(
        "default/tok",
        "/",
        &[("a", 1, &a.authority())],
    )])
    .to_string();

    for (what, token) in [("no token", None), ("a wrong token", Some("guess"))] {
        let reply = proxy.put_config(config.clone(), token).await;
        assert_eq!(reply.status, 401, "PUT with {what}: {reply:?}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
    }
    let reply = proxy
        .try_request(
            reqwest::Method::GET,
            &proxy.admin_url("/config"),
            &[("authorization", "Bearer guess")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        reply.status, 401,
        "GET /config with a wrong token: {reply:?}"
    );
    assert_eq!(
        proxy.admin_get("/config").await.status,
        401,
        "GET /config without one"
    );
    assert_ne!(proxy.get("/").await.body, "A", "nothing was applied");

    let reply = proxy.put_config(config.clone(), Some("s3cret-t0ken")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(proxy.get("/").await.body, "A");
    let reply = proxy
        .try_request(
            reqwest::Method::GET,
            &proxy.admin_url("/config"),
            &[("authorization", "Bearer s3cret-t0ken")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["routes"][0]["id"], json!("default/tok"));

    // Probes and scrapes need no token.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(proxy.admin_get(path).await.status, 200, "{path}");
    }
    assert!(
        !proxy.stderr().contains("s3cret-t0ken"),
        "the token is never logged:\n{}",
        proxy.stderr()
    );
}

#[tokio::test]
async fn an_empty_or_missing_token_file_stops_the_process_naming_it() {
    let dir = TempDir::new("token-bad");
    let empty = dir.write("empty-token", "  \n");
    let missing = dir.join("missing-token");
    for file in [empty, missing] {
        let mut proxy = ProxyProcess::builder()
            .arg("--admin-token-file")
            .arg(&file)
            .spawn();
        let status = proxy
            .wait_exit(gatehouse_testkit::scaled(Duration::from_secs(10)))
            .await
            .unwrap_or_else(|| proxy.fail("the proxy started without a usable token"));
        assert!(!status.success(), "{status}");
        let stderr = proxy.stderr();
        assert!(
            stderr.contains(&file.display().to_string()),
            "names the file: {stderr}"
        );
    }
}

#[tokio::test]
async fn readyz_is_503_until_a_first_config_is_pushed() {
    let a = Upstream::start("A");
    let dir = TempDir::new("unready");
    // A folder whose only file is broken: no config is ever loaded from it.
    dir.write("broken.yaml", "kind: Route\nspec: [unclosed\n");
    let proxy = ProxyProcess::start(["--manifests".as_ref(), dir.path().as_os_str()]).await;
    let reply = proxy.admin_get("/readyz").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        proxy.admin_get("/healthz").await.status,
        200,
        "alive all the same"
    );

    let config = config_json(vec![route_json(
        "default/r",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    assert_eq!(proxy.put_config(config.to_string(), None).await.status, 200);
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
    assert_eq!(proxy.get("/").await.body, "A");
}

#[tokio::test]
async fn the_admin_api_names_its_paths_and_methods() {
    let (proxy, _dir) = start_proxy(&[]).await;
    let reply = proxy.admin_get("/nope").await;
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("/config"), "{reply:?}");
    let reply = proxy
        .try_request(
            reqwest::Method::POST,
            &proxy.admin_url("/config"),
            &[],
            Some("{}".into()),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 405, "{reply:?}");
    assert_eq!(reply.header("allow"), Some("GET, HEAD, PUT"));
    let reply = proxy
        .try_request(
            reqwest::Method::DELETE,
            &proxy.admin_url("/healthz"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    for path in ["/healthz", "/metrics", "/config"] {
        let reply = proxy
            .try_request(reqwest::Method::HEAD, &proxy.admin_url(path), &[], None)
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "HEAD {path}: {reply:?}");
        assert!(reply.body.is_empty(), "HEAD {path} has no body");
    }
    let metrics = proxy.admin_get("/metrics").await;
    assert!(
        metrics
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain"),
        "{:?}",
        metrics.headers
    );
    let _: Value = proxy.admin_get("/config").await.json();
}

#[tokio::test]
async fn re_pushing_the_served_config_without_a_revision_changes_nothing() {
    let a = Upstream::start("A");
    let (proxy, _dir) = start_proxy(&[]).await;
    let config = config_json(vec![route_json(
        "default/x",
        "/",
        &[("a", 1, &a.authority())],
    )]);
    let first = proxy.put_config(config.to_string(), None).await.json();
    let second = proxy.put_config(config.to_string(), None).await.json();
    assert_eq!(second["revision"], first["revision"]);
    assert_eq!(second["unchanged"], json!(true), "{second}");
    assert_eq!(second["generation"], first["generation"], "{second}");
}
