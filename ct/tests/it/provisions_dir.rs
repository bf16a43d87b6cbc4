//! h1mock's way of loading a mock, with the real binary: `--provisions-dir`
//! watched as `kubectl cp` writes into it (a temp name renamed into place,
//! and a plain in-place write, as `tar` does), `touch` bringing an older
//! provision back, and a broken file refused while the last good one
//! serves.

use std::path::Path;
use std::time::Duration;

use gatehouse_ct::ProxyProcess;
use gatehouse_testkit::{TempDir, scaled};

/// The promise: a copied file serves within a second.
const WITHIN: Duration = Duration::from_secs(1);

const ROUTE: &str = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: mock}\nspec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /}}]\n    backends: [{mock: {provisionsDir: true}}]\n";

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mock")
        .join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn files_copied_or_touched_in_the_folder_serve_and_a_broken_one_is_refused() {
    let manifests = TempDir::new("mock-manifests");
    manifests.write("route.yaml", ROUTE);
    let provisions = TempDir::new("provisions");
    provisions.write("initial", &example("healthz"));
    let proxy = ProxyProcess::start([
        "--manifests".as_ref(),
        manifests.path().as_os_str(),
        "--provisions-dir".as_ref(),
        provisions.path().as_os_str(),
    ])
    .await;
    let reply = proxy.get("/healthz").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ok"),
        "`initial` serves at start"
    );

    // `kubectl cp`'s tar writes in place; an editor writes a temp file and renames it.
    provisions.write_atomically("foo-bar", &example("foo-bar"));
    let reply = proxy
        .wait_status("/app/v1/foo/bar", 200, scaled(WITHIN))
        .await;
    assert_eq!(reply.json()["resultData"], "answering a get");
    assert_eq!(
        proxy.get("/healthz").await.status,
        404,
        "the last copied wins"
    );

    provisions.write("default", &example("default"));
    let reply = proxy
        .wait_status("/app/v1/foo/bar", 404, scaled(WITHIN))
        .await;
    assert!(reply.body.contains("How to write a provision"), "{reply:?}");

    // `kubectl exec … touch foo-bar` brings it back.
    let touched = std::process::Command::new("touch")
        .arg(provisions.join("foo-bar"))
        .status()
        .unwrap();
    assert!(touched.success());
    proxy
        .wait_status("/app/v1/foo/bar", 200, scaled(WITHIN))
        .await;

    // A broken file is refused, with its line, and foo-bar keeps serving.
    provisions.write(
        "broken",
        "rules:\n  - request: {path: {regex: '('}}\n    response: {status: 200}\n",
    );
    let line = proxy
        .wait_for_log_line(
            &["broken:2: rules[0].request.path.regex"],
            scaled(WITHIN * 2),
        )
        .await;
    assert!(line.contains("the last good one keeps serving"), "{line}");
    for _ in 0..5 {
        assert_eq!(proxy.get("/app/v1/foo/bar").await.status, 200);
    }
    let admin = proxy.admin_get("/mocks").await;
    assert_eq!(admin.json()["provisionsDir"]["active"], "foo-bar");
}

#[tokio::test]
async fn a_broken_initial_provision_stops_the_start_with_its_errors() {
    let manifests = TempDir::new("mock-manifests");
    manifests.write("route.yaml", ROUTE);
    let provisions = TempDir::new("provisions");
    provisions.write("initial", "rules:\n  - respnse: {}\n");
    let mut proxy = ProxyProcess::builder()
        .arg("--manifests")
        .arg(manifests.path())
        .arg("--provisions-dir")
        .arg(provisions.path())
        .spawn();
    let status = proxy.wait_exit(scaled(Duration::from_secs(10))).await;
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains("`initial` cannot be served")
            && stderr.contains("initial:2: rules[0].respnse"),
        "{stderr}"
    );
}

/// The chart's way: a ConfigMap mounted read-only (its files are symbolic
/// links through `..data` into a timestamped folder) is copied into the
/// writable watched folder at start; `initial` serves, the others are
/// there to switch to, and a file copied in afterwards still wins.
#[tokio::test]
async fn provisions_from_a_configmap_mount_are_copied_in_at_start() {
    let manifests = TempDir::new("mock-manifests");
    manifests.write("route.yaml", ROUTE);
    let mount = TempDir::new("configmap-mount");
    let stamped = mount.path().join("..2026_12_04_14_00_00.000000001");
    std::fs::create_dir(&stamped).unwrap();
    std::fs::write(stamped.join("initial"), example("healthz")).unwrap();
    std::fs::write(stamped.join("foo-bar"), example("foo-bar")).unwrap();
    std::os::unix::fs::symlink(stamped.file_name().unwrap(), mount.path().join("..data")).unwrap();
    for name in ["initial", "foo-bar"] {
        std::os::unix::fs::symlink(format!("..data/{name}"), mount.path().join(name)).unwrap();
    }
    let provisions = TempDir::new("provisions");
    provisions.write("initial", "an older initial, replaced by the mount's\n");
    let proxy = ProxyProcess::start([
        "--manifests".as_ref(),
        manifests.path().as_os_str(),
        "--provisions-dir".as_ref(),
        provisions.path().as_os_str(),
        "--provisions-from".as_ref(),
        mount.path().as_os_str(),
    ])
    .await;
    let reply = proxy.get("/healthz").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ok"),
        "the mount's `initial` serves"
    );
    let mut copied: Vec<String> = std::fs::read_dir(provisions.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        ["foo-bar", "initial"],
        "plain files, no `..data`, no temp left"
    );
    assert!(!provisions.path().join("initial").is_symlink());

    provisions.write_atomically("foo-bar", &example("foo-bar"));
    let reply = proxy
        .wait_status("/app/v1/foo/bar", 200, scaled(WITHIN))
        .await;
    assert_eq!(reply.json()["resultData"], "answering a get");
}

#[tokio::test]
async fn provisions_from_a_missing_folder_stops_the_start_naming_it() {
    let provisions = TempDir::new("provisions");
    let mut proxy = ProxyProcess::builder()
        .arg("--provisions-dir")
        .arg(provisions.path())
        .arg("--provisions-from")
        .arg(provisions.path().join("no-such-folder"))
        .spawn();
    let status = proxy.wait_exit(scaled(Duration::from_secs(10))).await;
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains("--provisions-from") && stderr.contains("no-such-folder"),
        "{stderr}"
    );
}
