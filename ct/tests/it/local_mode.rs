//! Local mode: `--manifests DIR` serves the Route YAML in a folder and
//! follows every change to it, as a user editing those files sees it.

use std::time::Duration;

use gatehouse_ct::{ProxyProcess, route_yaml};
use gatehouse_testkit::{RawConnection, TempDir, Upstream, scaled, wait_for};

/// The promise: an edit changes routing within a second.
const RELOAD_WITHIN: Duration = Duration::from_secs(1);

async fn start_on(dir: &TempDir) -> ProxyProcess {
    ProxyProcess::start(["--manifests".as_ref(), dir.path().as_os_str()]).await
}

/// Asserts a handful of requests in a row are all answered by `upstream`.
async fn assert_still_served_by(proxy: &ProxyProcess, path: &str, upstream: &str) {
    for _ in 0..5 {
        let reply = proxy.get(path).await;
        if reply.status != 200 || reply.header("x-upstream") != Some(upstream) {
            proxy.fail(format!(
                "GET {path} should still be served by {upstream} (the last good config), got {} x-upstream={:?} {:?}",
                reply.status,
                reply.header("x-upstream"),
                reply.body
            ));
        }
    }
}

#[tokio::test]
async fn edits_new_files_and_removals_change_routing_within_a_second() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let c = Upstream::start("C");
    let dir = TempDir::new("edits");
    dir.write("app.yaml", &route_yaml("app", "/app", "main", &a.url()));
    let proxy = start_on(&dir).await;

    let reply = proxy.get("/app/page").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, "A");
    assert_eq!(
        a.requests()[0].uri,
        "/app/page",
        "the path reaches the upstream as sent"
    );

    // Edit the file in place: point the Route at B.
    dir.write("app.yaml", &route_yaml("app", "/app", "main", &b.url()));
    let took = proxy.wait_served_by("/app", "B", RELOAD_WITHIN).await;
    println!("edit picked up after {took:?}");

    // A second file with another Route.
    dir.write("other.yaml", &route_yaml("other", "/other", "c", &c.url()));
    proxy.wait_served_by("/other", "C", RELOAD_WITHIN).await;
    assert_still_served_by(&proxy, "/app", "B").await;

    // Removing that file removes its Route.
    dir.remove("other.yaml");
    let reply = proxy.wait_status("/other", 404, RELOAD_WITHIN).await;
    assert!(reply.body.contains("no route"), "{reply:?}");
    assert_still_served_by(&proxy, "/app", "B").await;
}

#[tokio::test]
async fn an_editor_style_save_through_a_renamed_temp_file_is_picked_up() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("rename");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    dir.write_atomically("app.yaml", &route_yaml("app", "/", "main", &b.url()));
    proxy.wait_served_by("/", "B", RELOAD_WITHIN).await;
}

#[tokio::test]
async fn a_configmap_volume_update_by_symlink_swap_is_picked_up() {
    use std::os::unix::fs::symlink;
    // The layout kubelet gives a mounted ConfigMap: files are symlinks into
    // `..data`, itself a symlink swapped atomically to a new timestamped folder.
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("configmap");
    std::fs::create_dir(dir.join("..2026_01_01")).unwrap();
    std::fs::write(
        dir.join("..2026_01_01/app.yaml"),
        route_yaml("app", "/", "main", &a.url()),
    )
    .unwrap();
    symlink("..2026_01_01", dir.join("..data")).unwrap();
    symlink("..data/app.yaml", dir.join("app.yaml")).unwrap();
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    std::fs::create_dir(dir.join("..2026_01_02")).unwrap();
    std::fs::write(
        dir.join("..2026_01_02/app.yaml"),
        route_yaml("app", "/", "main", &b.url()),
    )
    .unwrap();
    symlink("..2026_01_02", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..2026_01_01")).unwrap();
    proxy.wait_served_by("/", "B", RELOAD_WITHIN).await;
}

#[tokio::test]
async fn a_wrong_field_type_is_reported_with_file_line_and_resource_and_the_last_good_config_keeps_serving()
 {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("type-error");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    // Line 6: `hostnames` must be a list.
    let broken = format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: app
spec:
  hostnames: app.example.com
  rules:
    - backends: [{{name: main, url: \"{}\"}}]
",
        b.url()
    );
    dir.write("app.yaml", &broken);
    let at = format!("{}:6", path.display());
    let line = proxy
        .wait_for_log_line(&[&at, "Route default/app", "hostnames"], RELOAD_WITHIN)
        .await;
    assert!(line.contains("ERROR"), "logged as an error: {line}");
    proxy
        .wait_for_log_line(&["last good config keeps serving"], RELOAD_WITHIN)
        .await;
    assert_still_served_by(&proxy, "/", "A").await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200, "still ready");

    // Fixed: the new config is served.
    dir.write("app.yaml", &route_yaml("app", "/", "main", &b.url()));
    proxy.wait_served_by("/", "B", RELOAD_WITHIN).await;
}

/// A Route whose line 8 is indented wrongly: a YAML syntax error.
fn syntax_error_yaml(name: &str, url: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: {name}
spec:
  rules:
    - backends: [{{name: main, url: \"{url}\"}}]
   matches: []
"
    )
}

#[tokio::test]
async fn a_yaml_syntax_error_is_reported_with_file_and_line_and_the_last_good_config_keeps_serving()
{
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("syntax-error");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    dir.write("app.yaml", &syntax_error_yaml("app", &b.url()));
    let at = format!("{}:8:", path.display());
    let line = proxy
        .wait_for_log_line(&[&at, "invalid YAML"], RELOAD_WITHIN)
        .await;
    assert!(line.contains("ERROR"), "logged as an error: {line}");
    proxy
        .wait_for_log_line(&["last good config keeps serving"], RELOAD_WITHIN)
        .await;
    assert_still_served_by(&proxy, "/", "A").await;

    dir.write("app.yaml", &route_yaml("app", "/", "main", &b.url()));
    proxy.wait_served_by("/", "B", RELOAD_WITHIN).await;
}

#[tokio::test]
async fn a_yaml_syntax_error_names_the_resource() {
    let a = Upstream::start("A");
    let dir = TempDir::new("syntax-resource");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    dir.write("app.yaml", &syntax_error_yaml("app", &a.url()));
    let at = format!("{}:8:", path.display());
    let line = proxy
        .wait_for_log_line(&[&at, "invalid YAML"], RELOAD_WITHIN)
        .await;
    assert!(
        line.contains("Route default/app") || line.contains("Route app"),
        "the error should name the resource: {line}"
    );
}

#[tokio::test]
async fn a_yaml_syntax_error_in_a_later_document_gives_one_line_number() {
    let a = Upstream::start("A");
    let dir = TempDir::new("syntax-multidoc");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    // The second document starts at line 13, its broken line is the file's line 20.
    let text = format!(
        "{}---\n{}",
        route_yaml("first", "/first", "main", &a.url()),
        syntax_error_yaml("second", &a.url())
    );
    dir.write("app.yaml", &text);
    let at = format!("{}:20:", path.display());
    let line = proxy
        .wait_for_log_line(&[&at, "invalid YAML"], RELOAD_WITHIN)
        .await;
    assert!(
        !line.contains("at line 8"),
        "the message must not also cite the document-relative line 8: {line}"
    );
}

#[tokio::test]
async fn a_route_the_compiler_rejects_is_reported_with_file_resource_and_field() {
    let a = Upstream::start("A");
    let dir = TempDir::new("compile-error");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    dir.write(
        "regex.yaml",
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: badre
spec:
  rules:
    - matches:
        - path: {{type: RegularExpression, value: \"/(unclosed\"}}
      backends: [{{url: \"{}\"}}]
",
            a.url()
        ),
    );
    let regex_file = path.with_file_name("regex.yaml");
    let line = proxy
        .wait_for_log_line(
            &[
                // Line 8 holds the field itself, not the document's first.
                &format!("{}:8:", regex_file.display()),
                "Route default/badre",
                "spec.rules[0].matches[0].path.value",
                "regular expression",
            ],
            RELOAD_WITHIN,
        )
        .await;
    assert!(line.contains("ERROR"), "{line}");
    // The whole folder is rejected: the good Route keeps serving as before.
    proxy
        .wait_for_log_line(&["last good config keeps serving"], RELOAD_WITHIN)
        .await;
    assert_still_served_by(&proxy, "/", "A").await;
}

#[tokio::test]
async fn a_kept_alive_connection_keeps_working_across_reloads() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("keepalive");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;

    let mut connection = RawConnection::connect(proxy.addr)
        .await
        .unwrap_or_else(|e| proxy.fail(format!("connect: {e}")));
    let first = connection
        .get("ct.local", "/one")
        .await
        .unwrap_or_else(|e| proxy.fail(format!("first request: {e}")));
    assert_eq!((first.status, first.text().as_str()), (200, "A"));
    assert_ne!(first.header("connection"), Some("close"));

    for (upstream, url) in [("B", b.url()), ("A", a.url()), ("B", b.url())] {
        dir.write("app.yaml", &route_yaml("app", "/", "main", &url));
        proxy.wait_served_by("/", upstream, RELOAD_WITHIN).await;
        // The same connection, after the swap: answered, by the new config.
        let next = connection
            .get("ct.local", "/next")
            .await
            .unwrap_or_else(|e| {
                proxy.fail(format!(
                    "the kept-alive connection failed after a reload to {upstream}: {e}"
                ))
            });
        assert_eq!(next.status, 200, "{next:?}");
        assert_eq!(next.text(), upstream, "served by the config now loaded");
    }
}

#[tokio::test]
async fn a_request_in_flight_during_a_reload_completes_on_the_old_config() {
    let slow = Upstream::with_delay("slow-A", Duration::from_millis(1200));
    let b = Upstream::start("B");
    let dir = TempDir::new("inflight");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &slow.url()));
    let proxy = start_on(&dir).await;

    let client = proxy.client().clone();
    let url = proxy.url("/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    let upstream = &slow;
    wait_for(
        "the slow request reached the upstream",
        Duration::from_secs(5),
        || async move {
            if upstream.request_count() == 1 {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
    )
    .await
    .unwrap_or_else(|e| proxy.fail(e));

    dir.write("app.yaml", &route_yaml("app", "/", "main", &b.url()));
    // (Probing with requests could itself land on the slow upstream.)
    proxy.wait_generation(2, RELOAD_WITHIN).await;
    let reply = proxy.get("/").await;
    assert_eq!(reply.body, "B", "{reply:?}");
    assert!(
        !in_flight.is_finished(),
        "the slow request is still in flight"
    );

    let response = in_flight
        .await
        .expect("the request task")
        .unwrap_or_else(|e| proxy.fail(format!("the in-flight request failed: {e}")));
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "slow-A");
}

#[tokio::test]
async fn a_folder_that_starts_broken_is_not_ready_until_it_is_fixed() {
    let a = Upstream::start("A");
    let dir = TempDir::new("starts-broken");
    dir.write("app.yaml", &syntax_error_yaml("app", &a.url()));
    let proxy = start_on(&dir).await;

    let ready = proxy.admin_get("/readyz").await;
    assert_eq!(ready.status, 503, "no config loaded yet: {ready:?}");
    let reply = proxy.get("/").await;
    assert_eq!(reply.status, 503, "traffic before any config: {reply:?}");
    assert_eq!(proxy.admin_get("/config").await.status, 404);
    let said = proxy
        .wait_for_log_line(&["config rejected"], RELOAD_WITHIN)
        .await;
    assert!(
        said.contains("no earlier config") && !said.contains("last good config"),
        "there is no last good config to speak of: {said}"
    );

    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
}

#[tokio::test]
async fn an_empty_folder_is_a_loaded_config_that_routes_nothing() {
    // An empty folder compiles to an empty config: that is a config, so the
    // proxy is ready, and every request is answered 404.
    let a = Upstream::start("A");
    let dir = TempDir::new("empty");
    let proxy = start_on(&dir).await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);
    let reply = proxy.get("/anything").await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(reply.body.contains("no route"), "{reply:?}");
    let config = proxy.admin_get("/config").await.json();
    assert_eq!(config["routes"], serde_json::json!([]));

    // Files other than .yaml/.yml, and hidden ones, are not read.
    dir.write("notes.txt", "not yaml");
    dir.write(".hidden.yaml", &route_yaml("hidden", "/", "main", &a.url()));
    dir.write("app.yml", &route_yaml("app", "/app", "main", &a.url()));
    proxy.wait_served_by("/app", "A", RELOAD_WITHIN).await;
    assert_eq!(
        proxy.get("/anything").await.status,
        404,
        "the hidden Route is not served"
    );
}

#[tokio::test]
async fn a_manifests_folder_that_does_not_exist_stops_the_process_naming_it() {
    let dir = TempDir::new("no-such");
    let missing = dir.join("missing-folder");
    let mut proxy = ProxyProcess::builder()
        .arg("--manifests")
        .arg(&missing)
        .spawn();
    let status = proxy
        .wait_exit(scaled(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|| proxy.fail("the proxy kept running without its folder"));
    assert!(!status.success(), "exit status {status}");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains(&missing.display().to_string()),
        "stderr names the folder: {stderr}"
    );
}

#[tokio::test]
async fn an_h2c_client_is_served_across_a_reload() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let dir = TempDir::new("h2c");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = start_on(&dir).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let get = |client: reqwest::Client, url: String| async move {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| gatehouse_ct::error_chain(&e))?;
        let version = response.version();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((version, text))
    };
    let (version, body) = get(client.clone(), proxy.url("/"))
        .await
        .unwrap_or_else(|e| proxy.fail(e));
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_eq!(body, "A");

    dir.write("app.yaml", &route_yaml("app", "/", "main", &b.url()));
    proxy.wait_served_by("/", "B", RELOAD_WITHIN).await;
    let (version, body) = get(client.clone(), proxy.url("/"))
        .await
        .unwrap_or_else(|e| proxy.fail(e));
    assert_eq!((version, body.as_str()), (reqwest::Version::HTTP_2, "B"));
}

#[tokio::test]
async fn a_manifests_folder_that_is_replaced_is_followed() {
    let a = Upstream::start("A");
    let b = Upstream::start("B");
    let c = Upstream::start("C");
    let root = TempDir::new("replaced");
    let dir = root.join("manifests");
    let write = |upstream: &Upstream| {
        std::fs::write(
            dir.join("app.yaml"),
            route_yaml("app", "/", "main", &upstream.url()),
        )
        .unwrap();
    };
    std::fs::create_dir(&dir).unwrap();
    write(&a);
    let proxy = ProxyProcess::start(["--manifests".as_ref(), dir.as_os_str()]).await;
    proxy.wait_served_by("/", "A", RELOAD_WITHIN).await;

    // Deleted and made again, as a deploy script or `rm -rf; cp -r` does.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    write(&b);
    proxy.wait_served_by("/", "B", RELOAD_WITHIN * 2).await;

    // Moved away and another put in its place; edits to it still count.
    std::fs::rename(&dir, root.join("old")).unwrap();
    std::fs::create_dir(&dir).unwrap();
    write(&a);
    proxy.wait_served_by("/", "A", RELOAD_WITHIN * 2).await;
    write(&c);
    proxy.wait_served_by("/", "C", RELOAD_WITHIN * 2).await;
}
