//! `gatehouse-proxy --check` (`-t`, as `nginx -t`): the config source
//! compiled as the proxy loads it at start, every finding with `file:line`,
//! exit 0 or 1, and nothing served. `gatehouse-operator check` beside it
//! checks for a cluster, and points local mode's manifests at the proxy's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gatehouse_ct::ProxyProcess;
use gatehouse_ct::process::operator_binary;
use gatehouse_testkit::{TempDir, scaled};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ct/ sits in the workspace")
        .to_owned()
}

/// Runs the proxy with `args` from `dir` on ports this test holds, so a
/// proxy that tried to serve could not; returns its exit code and stdout.
async fn proxy_check(dir: &Path, args: &[&str]) -> (i32, String) {
    let traffic = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut proxy = ProxyProcess::builder()
        .listen(traffic.local_addr().unwrap())
        .admin_listen(admin.local_addr().unwrap())
        .current_dir(dir)
        .args(args)
        .spawn();
    let status = proxy
        .wait_exit(scaled(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|| proxy.fail("--check kept running: it must check and exit"));
    let stderr = proxy.stderr();
    assert!(
        !stderr.contains("cannot bind") && !stderr.contains("serving"),
        "--check tried to serve: {stderr}"
    );
    for listener in [&traffic, &admin] {
        listener.set_nonblocking(true).unwrap();
        assert!(
            listener.accept().is_err(),
            "--check connected to its --listen or --admin-listen"
        );
    }
    (status.code().unwrap_or(-1), proxy.stdout())
}

#[tokio::test]
async fn check_passes_the_readmes_example_folder_with_its_relative_root_and_binds_nothing() {
    // The README's command, from the repository, relative root and all.
    let (code, out) =
        proxy_check(&workspace(), &["--check", "--manifests", "examples/local"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "--manifests examples/local: 6 Route(s), 1 DepotRepo(s) and 1 MockProvision(s) checked as the proxy loads them at start: 0 error(s), 0 warning(s)\n"
    );

    // `-t` with no source checks the examples built into the binary.
    let empty = TempDir::new("check-embedded");
    let (code, out) = proxy_check(empty.path(), &["-t"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "the embedded example Routes: 6 Route(s), 1 DepotRepo(s) and 1 MockProvision(s) checked as the proxy loads them at start: 0 error(s), 0 warning(s)\n"
    );
}

#[tokio::test]
async fn check_fails_a_broken_folder_naming_file_and_line() {
    let dir = TempDir::new("check-broken");
    dir.write(
        "good.yaml",
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: good}\nspec:\n  rules:\n  - backends: [{static: {root: site}}]\n",
    );
    let bad = dir.write(
        "bad.yaml",
        "# a comment\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: bad}\nspec:\n  rules:\n  - matches: [{path: {type: RegularExpression, value: '(x'}}]\n    backends: [{url: 'http://127.0.0.1:8081'}]\n",
    );
    let (code, out) = proxy_check(dir.path(), &["-t", "--manifests", "."]).await;
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "one error, then the summary: {out}");
    let file = Path::new(".").join(bad.file_name().unwrap());
    assert!(
        lines[0].starts_with(&format!(
            "{}:7: error: Route default/bad spec.rules[0].matches[0].path.value:",
            file.display()
        )),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "--manifests .: checked as the proxy loads it at start: 1 error(s), 0 warning(s); the config is refused whole"
    );

    let (code, out) = proxy_check(dir.path(), &["-t", "--manifests", "missing"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("--manifests missing: no such folder; give a folder of Route YAML files\n"),
        "{out}"
    );
}

#[test]
fn operator_check_of_the_example_folder_says_one_thing_and_points_at_the_proxys_check() {
    let out = Command::new(operator_binary())
        .args(["check", "-f", "examples/local"])
        .current_dir(workspace())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // For a cluster the relative root is an error, and the only finding.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let findings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": error: ") || l.contains(": warning: "))
        .collect();
    assert_eq!(findings.len(), 1, "{stdout}");
    assert!(
        findings[0].starts_with("examples/local/site.yaml:11: error: Route default/site spec.rules[0].backends[0].static.root: root `site` is not an absolute path"),
        "{stdout}"
    );
    assert!(
        stdout.contains("check it as the proxy serves it with `gatehouse-proxy --check --manifests examples/local`"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(
            "6 Route(s), 1 DepotRepo(s) and 1 MockProvision(s) checked as the operator compiles them for a cluster: 1 error(s), 0 warning(s)\n"
        ),
        "{stdout}"
    );
}

/// A local-mode Secret folder whose key cannot be read (here a folder
/// where `tls.key` should be) is said with the read error, not as a value
/// that is not UTF-8 nor as a missing Secret.
#[tokio::test]
async fn check_says_a_secret_folders_file_cannot_be_read() {
    let dir = TempDir::new("check-unreadable-key");
    dir.write(
        "shop.yaml",
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: shop}\nspec:\n  hostnames: [shop.test]\n  tls: {secretName: shop-tls}\n  rules:\n  - backends: [{url: 'http://127.0.0.1:9'}]\n",
    );
    let secret = dir.path().join("shop-tls");
    std::fs::create_dir_all(secret.join("tls.key")).unwrap();
    std::fs::write(secret.join("tls.crt"), "not yet\n").unwrap();
    let (code, out) = proxy_check(dir.path(), &["--manifests", ".", "--check"]).await;
    assert!(
        out.contains("Secret default/shop-tls key `tls.key` cannot be read"),
        "exit {code}: {out}"
    );
    assert!(!out.contains("not UTF-8"), "{out}");
}
