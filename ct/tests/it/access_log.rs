//! `--access-log`: the binary writes a line per request to stdout or a
//! file, and SIGUSR1 opens the file again after logrotate moved it.

use std::path::Path;
use std::time::Duration;

use gatehouse_ct::{ProxyProcess, route_yaml};
use gatehouse_testkit::{TempDir, Upstream, wait_for};

/// Waits for `text` in what `read` returns.
async fn logged(what: &str, text: &str, read: impl Fn() -> String) -> Result<String, String> {
    let (seen, _) = wait_for(what, Duration::from_secs(3), || {
        let seen = read();
        async move {
            if seen.contains(text) {
                Ok(seen)
            } else {
                Err(seen)
            }
        }
    })
    .await?;
    Ok(seen)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn stdout_gets_a_line_per_request() {
    let a = Upstream::start("A");
    let dir = TempDir::new("access-stdout");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = ProxyProcess::builder()
        .args(["--access-log", "stdout", "--manifests"])
        .arg(dir.path())
        .start()
        .await;
    assert_eq!(proxy.get("/logged?q=1").await.body, "A");
    let line = "\"GET /logged?q=1 HTTP/1.1\" 200 1 ";
    let stdout = logged("a line on stdout", line, || proxy.stdout()).await;
    let stdout = stdout.unwrap_or_else(|err| proxy.fail(err));
    assert!(
        stdout
            .trim_end()
            .ends_with("route=default/app backend=main scheme=http"),
        "{stdout}"
    );
    assert!(
        !proxy.stderr().contains("/logged"),
        "the access log stays off stderr, where the proxy's own log goes"
    );
}

#[tokio::test]
async fn sigusr1_opens_a_rotated_file_again() {
    let a = Upstream::start("A");
    let dir = TempDir::new("access-file");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let log = dir.join("access.log");
    let proxy = ProxyProcess::builder()
        .env("GATEHOUSE_ACCESS_LOG", &log)
        .args(["--log-format", "json", "--manifests"])
        .arg(dir.path())
        .start()
        .await;
    proxy.get("/before").await;
    let first = logged("the first line", "/before", || read(&log)).await;
    let first = first.unwrap_or_else(|err| proxy.fail(err));
    let entry: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(entry["target"], "/before");
    assert_eq!(entry["status"], 200);

    let rotated = dir.join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    proxy.signal("USR1");
    // The signal is taken on another thread than the requests: a line may
    // still go to the old file, so ask until one reaches the new.
    let followed = wait_for("a line in the new file", Duration::from_secs(5), || async {
        proxy.get("/after").await;
        let now = read(&log);
        if now.contains("/after") {
            Ok(())
        } else {
            Err(now)
        }
    })
    .await;
    followed.unwrap_or_else(|err| proxy.fail(err));
    assert!(read(&rotated).contains("/before"), "{}", read(&rotated));
    assert_eq!(proxy.get("/still").await.status, 200, "alive after SIGUSR1");
}
