//! No flags at all: the proxy serves the example Routes built into it
//! (examples/local/demo.yaml), so a newcomer sees it work at once.

use std::net::SocketAddr;

use gatehouse_ct::ProxyProcess;
use gatehouse_testkit::port_is_free;

/// The embedded `status` Route sends `/status` to the admin API here.
const EMBEDDED_ADMIN: &str = "127.0.0.1:9901";

#[tokio::test]
async fn with_no_flags_the_embedded_example_routes_are_served() {
    let admin: SocketAddr = EMBEDDED_ADMIN.parse().unwrap();
    if !port_is_free(admin) {
        println!(
            "SKIPPED: {EMBEDDED_ADMIN} is taken; the embedded example's /status Route points there, so this test needs it free"
        );
        return;
    }
    // Run from an unrelated, empty folder: the example is inside the binary.
    let proxy = ProxyProcess::builder().admin_listen(admin).start().await;
    assert_eq!(proxy.admin_get("/readyz").await.status, 200);

    // /status, on any host, is the proxy's own readiness, through the proxy.
    let reply = proxy.get("/status").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("ready"), "{reply:?}");
    let reply = proxy.get_host("anything.example", "/status").await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // /old/... moved permanently to /new/...
    let reply = proxy.get("/old/x").await;
    assert_eq!(reply.status, 301, "{reply:?}");
    let location = reply.header("location").unwrap_or_default();
    assert!(location.ends_with("/new/x"), "Location: {location}");
    let reply = proxy.get("/old/deeper/page?q=1").await;
    assert_eq!(reply.status, 301, "{reply:?}");
    let location = reply.header("location").unwrap_or_default();
    assert!(
        location.ends_with("/new/deeper/page?q=1"),
        "Location: {location}"
    );

    // The depot example takes a revision from its editor and gives it
    // back to anyone; without a login a write is refused.
    let url = proxy.url("/depot/configs/hello.txt");
    let anonymous = proxy
        .try_request(reqwest::Method::PUT, &url, &[], Some("hello".into()))
        .await
        .unwrap();
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"depot\"")
    );
    // editor:editor
    let login = [("authorization", "Basic ZWRpdG9yOmVkaXRvcg==")];
    let put = proxy
        .try_request(reqwest::Method::PUT, &url, &login, Some("hello".into()))
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.header("etag"), Some("\"1\""), "{put:?}");
    let reply = proxy.get("/depot/configs/hello.txt").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));

    let stderr = proxy.stderr();
    assert!(
        stderr.contains("embedded"),
        "the log says what it serves: {stderr}"
    );
    let config = proxy.admin_get("/config").await.json();
    let ids: Vec<&str> = config["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "default/app",
        "default/status",
        "default/moved",
        "default/depot",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // The proxy is killed on drop and cannot tidy up: remove the folder it
    // unpacked its examples to, when its log names one.
    if let Some(folder) = stderr
        .split_whitespace()
        .find_map(|word| word.strip_prefix("folder="))
        .filter(|f| f.contains("gatehouse-examples-"))
    {
        drop(proxy);
        let _ = std::fs::remove_dir_all(folder.trim_matches('"'));
    }
}

#[tokio::test]
async fn the_embedded_examples_leave_no_folder_behind_after_a_clean_exit() {
    let mut proxy = ProxyProcess::builder().start().await;
    let stderr = proxy.stderr();
    let folder = stderr
        .split_whitespace()
        .find_map(|word| word.strip_prefix("folder="))
        .map(|f| std::path::PathBuf::from(f.trim_matches('"')))
        .unwrap_or_else(|| proxy.fail("the log names the folder the examples were written to"));
    assert!(folder.is_dir(), "{} exists while serving", folder.display());

    proxy.signal("TERM");
    let exit = proxy
        .wait_exit(gatehouse_testkit::scaled(std::time::Duration::from_secs(5)))
        .await
        .unwrap_or_else(|| proxy.fail("no exit after SIGTERM"));
    assert!(exit.success(), "{exit}");
    let left = folder.exists();
    if left {
        let _ = std::fs::remove_dir_all(&folder);
    }
    assert!(!left, "{} is left behind", folder.display());
}
