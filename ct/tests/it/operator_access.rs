//! Access rules in a real cluster (kube-apiserver 1.20): a Secret written
//! by `gatehouse-operator users add`, applied as a user would, guards a
//! Route; the operator reads it and the proxy lets its user in; the
//! Secret edited (a second user added) lets that user in at once; a Route
//! naming a Secret that does not exist says so and answers 500.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_ct::cluster::{Operator, cluster, condition, route, running_proxy, scope};
use gatehouse_ct::process::{ProxyProcess, operator_binary};
use gatehouse_testkit::{TempDir, Upstream, eventually};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};

/// `gatehouse-operator users add USER -f FILE --password-stdin`.
fn users_add(file: &std::path::Path, secret: &str, user: &str, password: &str) {
    let mut child = Command::new(operator_binary())
        .args([
            "users",
            "add",
            user,
            "--password-stdin",
            "--secret",
            secret,
            "-f",
        ])
        .arg(file)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "users add {user}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn status_as(proxy: &ProxyProcess, user: &str, password: &str) -> Option<u16> {
    let credentials = format!("{user}:{password}");
    let header = format!("Basic {}", base64_of(credentials.as_bytes()));
    proxy
        .try_request(
            reqwest::Method::GET,
            &proxy.url("/team/x"),
            &[("authorization", header.as_str())],
            None,
        )
        .await
        .ok()
        .map(|reply| reply.status)
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_a_secret_made_by_users_add_guards_a_route_and_its_edits_apply_at_once() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _config_map) = scope(&format!("access-{id}"));
    let proxy = running_proxy(&cluster.client, &format!("gh-access-proxy-{id}"), &label).await;
    let operator = Operator::start(&cluster, &class, &label, &format!("gh-access-config-{id}"));
    let upstream = Upstream::reporting("team");

    let name = format!("team-{id}");
    let folder = TempDir::new("users");
    let file = folder.path().join("team.yaml");
    users_add(&file, &name, "alice", "wonderland");

    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "default");
    let routes: Api<gatehouse_api::Route> = Api::namespaced(cluster.client.clone(), "default");
    let _ = secrets.delete(&name, &DeleteParams::default()).await;
    let _ = routes.delete(&name, &DeleteParams::default()).await;
    let manifest: Secret = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    secrets
        .create(&PostParams::default(), &manifest)
        .await
        .unwrap();
    let mut guarded = route(
        &name,
        &class,
        "/team",
        &format!("{{url: '{}'}}", upstream.url()),
    );
    guarded.spec.rules[0].access = Some(gatehouse_api::route::Access {
        secret: name.clone(),
        realm: Some("Team".into()),
        ..Default::default()
    });
    routes
        .create(&PostParams::default(), &guarded)
        .await
        .unwrap();

    let alice_in = async || status_as(&proxy, "alice", "wonderland").await == Some(200);
    assert!(
        eventually(Duration::from_secs(15), alice_in).await,
        "{}",
        operator.logs()
    );
    let seen = upstream
        .requests()
        .pop()
        .expect("alice's request reached the backend");
    assert_eq!(seen.headers["x-forwarded-user"], "alice");
    assert_eq!(seen.headers.get("authorization"), None);
    assert_eq!(status_as(&proxy, "bob", "builder").await, Some(401));
    let anonymous = proxy.get("/team/x").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"Team\"")
    );

    // The ConfigMap the operator writes holds no hash.
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(cluster.client.clone(), "default");
    let snapshot = config_maps
        .get(&format!("gh-access-config-{id}"))
        .await
        .unwrap();
    let text = serde_json::to_string(&snapshot.data).unwrap();
    assert!(text.contains(&name), "the snapshot names the Secret");
    assert!(!text.contains("$2y$"), "and holds no hash: {text}");

    // bob added to the same manifest and the Secret replaced, as
    // `kubectl apply -f team.yaml` does.
    users_add(&file, &name, "bob", "builder");
    let mut edited: Secret =
        serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    edited.metadata.resource_version = secrets.get(&name).await.unwrap().metadata.resource_version;
    let started = Instant::now();
    secrets
        .replace(&name, &PostParams::default(), &edited)
        .await
        .unwrap();
    let bob_in = async || status_as(&proxy, "bob", "builder").await == Some(200);
    assert!(
        eventually(Duration::from_secs(15), bob_in).await,
        "{}",
        operator.logs()
    );
    let took = started.elapsed();
    eprintln!("a Secret's edit let its new user in after {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(status_as(&proxy, "alice", "wonderland").await, Some(200));

    // A Route naming a Secret that does not exist: ResolvedRefs=False, 500.
    let missing = format!("nobody-{id}");
    let _ = routes.delete(&missing, &DeleteParams::default()).await;
    let mut unguarded = route(
        &missing,
        &class,
        "/nobody",
        &format!("{{url: '{}'}}", upstream.url()),
    );
    unguarded.spec.rules[0].access = Some(gatehouse_api::route::Access {
        secret: format!("absent-{id}"),
        ..Default::default()
    });
    routes
        .create(&PostParams::default(), &unguarded)
        .await
        .unwrap();
    let reported = async || {
        let r = routes.get(&missing).await.unwrap();
        condition(&r, "ResolvedRefs")
            .is_some_and(|(status, reason)| status == "False" && reason == "SecretNotFound")
    };
    assert!(
        eventually(Duration::from_secs(15), reported).await,
        "{:?}\n{}",
        routes.get(&missing).await.unwrap().status,
        operator.logs()
    );
    let refused = async || {
        proxy
            .try_get("/nobody")
            .await
            .is_ok_and(|r| r.status == 500 && r.body.contains("does not exist"))
    };
    assert!(eventually(Duration::from_secs(15), refused).await);

    let _ = routes.delete(&missing, &DeleteParams::default()).await;
    let _ = routes.delete(&name, &DeleteParams::default()).await;
    let _ = secrets.delete(&name, &DeleteParams::default()).await;
}
