//! `--data-writer`: a proxy without a data dir forwards depot requests,
//! and git requests whose rule has no root, to the one proxy that keeps
//! the data, as to an upstream. Two real proxies on one config: the
//! writer (`--data-dir`) and a forwarder (`--data-writer` to it).

use clap::Parser;
use gatehouse_proxy::{Running, Settings};
use gatehouse_testkit::{TempDir, client};
use reqwest::StatusCode;

use crate::git::{ALICE, commit_and_push, git, ok, users_secret};
use crate::support::{apply_yaml, start_proxy, url};

/// A depot at `/depot` (anyone reads, `writers` write) and git
/// repositories at `/git` in the data dir (no root), the same users.
fn manifests() -> String {
    format!(
        "{users}---
apiVersion: gatehouse.dev/v1alpha1
kind: DepotRepo
metadata: {{name: configs}}
spec: {{}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: data}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /depot}}}}]
    access: {{secret: users, read: {{anonymous: true}}, write: {{groups: [writers]}}}}
    backends: [{{name: files, depot: {{}}}}]
  - matches: [{{path: {{type: PathPrefix, value: /git}}}}]
    access: {{secret: users, realm: Git, read: {{anonymous: true}}, write: {{groups: [writers]}}}}
    backends: [{{name: repos, git: {{createOnPush: true}}}}]
",
        users = users_secret()
    )
}

/// The writer with its data dir, and a forwarder to it, both serving
/// [`manifests`], as the operator pushes one config to every proxy.
async fn pair(tmp: &TempDir) -> (Running, Running) {
    let data = tmp.join("data");
    let writer = start_proxy(|s| s.data_dir = Some(data)).await;
    let at = writer.addr.to_string().parse().unwrap();
    let forwarder = start_proxy(|s| s.data_writer = Some(at)).await;
    apply_yaml(&writer, &manifests());
    apply_yaml(&forwarder, &manifests());
    (writer, forwarder)
}

#[tokio::test]
async fn a_put_through_the_forwarder_lands_in_the_writers_data_dir() {
    let tmp = TempDir::new("writer-depot");
    let (writer, forwarder) = pair(&tmp).await;
    let client = client();
    let (user, password) = ALICE.split_once(':').unwrap();
    let put = client
        .put(url(&forwarder, "/depot/configs/app.json"))
        .basic_auth(user, Some(password))
        .body("{\"v\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK, "{:?}", put.text().await);
    assert_eq!(put.headers()["etag"], "\"1\"");
    // HouseDepot's layout, in the writer's folder alone.
    let stored = tmp.join("data").join("default/configs/app.json~1");
    assert_eq!(std::fs::read_to_string(&stored).unwrap(), "{\"v\": 1}");
    for proxy in [&forwarder, &writer] {
        let got = client
            .get(url(proxy, "/depot/configs/app.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.text().await.unwrap(), "{\"v\": 1}");
    }
    // Refused at the forwarder, which checks `access` as the writer does.
    let anonymous = client
        .put(url(&forwarder, "/depot/configs/app.json"))
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // The forwarder keeps no data, says where it goes, and counts what it
    // forwarded under the rule's backend.
    let ready = client
        .get(format!("http://{}/readyz", forwarder.admin_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let text = ready.text().await.unwrap();
    assert!(
        text.contains(&format!("forwarded to the data writer {}", writer.addr)),
        "{text}"
    );
    let depots: serde_json::Value = client
        .get(format!("http://{}/depots", forwarder.admin_addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(depots["dataDir"], false);
    assert_eq!(depots["dataWriter"], writer.addr.to_string());
    let served = crate::support::metric(
        &forwarder,
        "gatehouse_requests_total{backend=\"files\",code=\"2xx\",route=\"default/data\"}",
    )
    .await;
    assert_eq!(served, 2, "the PUT and one GET came through the forwarder");
}

#[tokio::test]
async fn git_clones_and_pushes_through_the_forwarder() {
    let tmp = TempDir::new("writer-git");
    let (_writer, forwarder) = pair(&tmp).await;
    let (user, password) = ALICE.split_once(':').unwrap();
    let remote = format!("http://{user}:{password}@{}/git/app.git", forwarder.addr);
    // createOnPush makes the repository in the writer's data dir.
    let work = tmp.join("work");
    std::fs::create_dir_all(&work).unwrap();
    ok(&git(&work, &["init", "--quiet"]).await);
    let pushed = commit_and_push(&work, "first.txt", &remote).await;
    ok(&pushed);
    let bare = tmp.join("data").join("git/app.git");
    let log = ok(&git(&bare, &["log", "--format=%s", "main"]).await);
    assert_eq!(log.trim(), "add first.txt");
    // A clone through the forwarder, anonymously, and a second push.
    let anonymous = format!("http://{}/git/app.git", forwarder.addr);
    ok(&git(
        tmp.path(),
        &["clone", "--quiet", "--branch", "main", &anonymous, "clone"],
    )
    .await);
    assert_eq!(
        std::fs::read_to_string(tmp.join("clone/first.txt")).unwrap(),
        "pushed\n"
    );
    ok(&commit_and_push(&tmp.join("clone"), "second.txt", &remote).await);
    let log = ok(&git(&bare, &["log", "--format=%s", "main"]).await);
    assert_eq!(log.lines().next(), Some("add second.txt"));
}

#[tokio::test]
async fn a_writer_that_is_down_is_a_502_naming_it() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = closed.local_addr().unwrap();
    drop(closed);
    let forwarder = start_proxy(|s| s.data_writer = Some(at.to_string().parse().unwrap())).await;
    apply_yaml(&forwarder, &manifests());
    let response = client()
        .get(url(&forwarder, "/depot/configs/app.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!("data writer {at} (--data-writer)")) && text.contains("refused"),
        "{text}"
    );
}

/// Without `--data-writer` nothing changes: no data dir is a 503 naming
/// both flags.
#[tokio::test]
async fn without_a_writer_or_a_data_dir_depot_routes_answer_503_naming_both_flags() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &manifests());
    let response = client()
        .get(url(&proxy, "/depot/configs/app.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("--data-dir") && text.contains("--data-writer"),
        "{text}"
    );
    let ready = client()
        .get(format!("http://{}/readyz", proxy.admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ready.contains("--data-dir") && ready.contains("--data-writer"),
        "{ready}"
    );
}

#[test]
fn data_writer_flags_are_checked_at_start() {
    let parsed =
        Settings::try_parse_from(["gatehouse-proxy", "--data-writer", "http://gatehouse-depot"])
            .unwrap();
    assert_eq!(parsed.data_writer.unwrap().as_str(), "gatehouse-depot:80");
    let both = Settings::try_parse_from([
        "gatehouse-proxy",
        "--data-dir",
        "/var/lib/gatehouse",
        "--data-writer",
        "http://gatehouse-depot:8080",
    ])
    .expect_err("both")
    .to_string();
    assert!(
        both.contains("--data-dir") && both.contains("--data-writer"),
        "{both}"
    );
    for (value, says) in [
        ("https://w:8443", "plain HTTP"),
        ("http://w:8080/depot", "takes none"),
        ("w:8080", "http://host:port"),
        ("http://u:p@w:8080", "no user"),
    ] {
        let err = Settings::try_parse_from(["gatehouse-proxy", "--data-writer", value])
            .expect_err(value)
            .to_string();
        assert!(err.contains(says), "{value}: {err}");
    }
}
