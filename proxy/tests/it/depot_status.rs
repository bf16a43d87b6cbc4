//! `GET /depots` on the admin API: what each DepotRepo holds (files,
//! bytes, last change), as the operator copies it into the DepotRepo's
//! status; kept until the repository changes; and what a proxy without
//! `--data-dir` says, there and on `/readyz`.

use gatehouse_proxy::Running;
use gatehouse_testkit::{TempDir, client};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{config_from_yaml, start_proxy, url};

/// `configs` and `scripts` in `default`, served at `/depot`.
const TWO_REPOS: &str = "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {name: configs}\nspec: {}\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {name: scripts}\nspec: {}\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: depot}\nspec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /depot}}]\n    backends: [{depot: {}}]\n";

async fn proxy_with(data: Option<&TempDir>, token: Option<&TempDir>) -> Running {
    let data = data.map(|d| d.path().to_owned());
    let token = token.map(|t| t.write("token", "s3cret\n"));
    let proxy = start_proxy(|s| {
        s.data_dir = data;
        s.admin_token_file = token;
    })
    .await;
    proxy
        .state
        .apply(config_from_yaml(TWO_REPOS), "test")
        .expect("config applies");
    proxy
}

async fn depots(proxy: &Running) -> Value {
    let r = client()
        .get(format!("http://{}/depots", proxy.admin_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn put(proxy: &Running, path: &str, body: &str) {
    let r = client()
        .put(url(proxy, path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn delete(proxy: &Running, path: &str) {
    let r = client().delete(url(proxy, path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn depots_reports_files_bytes_and_last_change_of_each_repository() {
    let data = TempDir::new("depots-summary");
    let proxy = proxy_with(Some(&data), None).await;
    let empty = depots(&proxy).await;
    assert_eq!(empty["dataDir"], true);
    assert_eq!(
        empty["revision"],
        proxy.state.current().unwrap().config.revision
    );
    assert_eq!(
        empty["depots"],
        serde_json::json!({
            "default/configs": {"files": 0, "bytes": 0},
            "default/scripts": {"files": 0, "bytes": 0},
        })
    );

    put(&proxy, "/depot/configs/app.json", "{\"a\": 1}").await;
    put(&proxy, "/depot/configs/app.json", "{}").await;
    put(&proxy, "/depot/configs/web/site.css", "body{}").await;
    let now = depots(&proxy).await;
    let configs = &now["depots"]["default/configs"];
    assert_eq!(configs["files"], 2);
    assert_eq!(configs["bytes"], 8 + 2 + 6, "every revision kept");
    let last = configs["lastChange"].as_str().unwrap();
    assert!(
        last.len() == 20 && last.ends_with('Z') && last.starts_with("20"),
        "RFC 3339 to the second: {last}"
    );
    assert_eq!(now["depots"]["default/scripts"]["files"], 0);

    delete(&proxy, "/depot/configs/app.json?revision=all").await;
    let after = depots(&proxy).await;
    assert_eq!(after["depots"]["default/configs"]["files"], 1);
    assert_eq!(after["depots"]["default/configs"]["bytes"], 6);
}

#[tokio::test]
async fn a_summary_is_kept_until_the_proxy_changes_the_repository() {
    let data = TempDir::new("depots-cache");
    let proxy = proxy_with(Some(&data), None).await;
    put(&proxy, "/depot/scripts/a.sh", "echo").await;
    assert_eq!(
        depots(&proxy).await["depots"]["default/scripts"]["bytes"],
        4
    );
    // A revision put in the folder by hand is not read until a change made
    // through the proxy (or the summary's age) calls for a new scan.
    let folder = data.path().join("default/scripts");
    std::fs::write(folder.join("b.sh~1"), "12345").unwrap();
    std::os::unix::fs::symlink("b.sh~1", folder.join("b.sh~current")).unwrap();
    let kept = depots(&proxy).await;
    assert_eq!(kept["depots"]["default/scripts"]["files"], 1, "kept");
    put(&proxy, "/depot/scripts/a.sh", "echo hi").await;
    let scanned = &depots(&proxy).await["depots"]["default/scripts"];
    assert_eq!(scanned["files"], 2);
    assert_eq!(scanned["bytes"], 4 + 5 + 7);
}

#[tokio::test]
async fn without_a_data_dir_depots_and_readiness_name_the_flag() {
    let proxy = proxy_with(None, None).await;
    let answer = depots(&proxy).await;
    assert_eq!(answer["dataDir"], false);
    assert_eq!(
        answer["depots"],
        serde_json::json!({"default/configs": {}, "default/scripts": {}})
    );
    let ready = client()
        .get(format!("http://{}/readyz", proxy.admin_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "the other routes serve");
    let text = ready.text().await.unwrap();
    assert!(
        text.starts_with("200 OK: ready; ") && text.contains("--data-dir"),
        "{text}"
    );

    // With a data dir, readiness says nothing of it.
    let data = TempDir::new("depots-ready");
    let keeping = proxy_with(Some(&data), None).await;
    let text = client()
        .get(format!("http://{}/readyz", keeping.admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "200 OK: ready\n");
}

#[tokio::test]
async fn the_admin_token_guards_depots() {
    let data = TempDir::new("depots-token");
    let secrets = TempDir::new("depots-token-file");
    let proxy = proxy_with(Some(&data), Some(&secrets)).await;
    let at = format!("http://{}/depots", proxy.admin_addr);
    let denied = client().get(&at).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let allowed = client()
        .get(&at)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let wrong = client()
        .put(&at)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
}
