//! Every flag also reads a `GATEHOUSE_*` variable; logs come as text or JSON.

use std::process::Command;
use std::time::Duration;

use gatehouse_ct::{ProxyProcess, config_json, proxy_binary, route_json, route_yaml};
use gatehouse_testkit::{TempDir, Upstream, free_port, scaled};

#[tokio::test]
async fn gatehouse_listen_and_gatehouse_admin_listen_work_instead_of_flags() {
    let a = Upstream::start("A");
    let dir = TempDir::new("env-listen");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = ProxyProcess::builder()
        .addresses_in_env()
        .arg("--manifests")
        .arg(dir.path())
        .start()
        .await;
    // start() reached /healthz on the GATEHOUSE_ADMIN_LISTEN address.
    let reply = proxy.get("/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "A"));
    assert!(
        proxy.stderr().contains(&proxy.addr.to_string()),
        "the log names the address from the environment:\n{}",
        proxy.stderr()
    );
}

#[tokio::test]
async fn a_flag_wins_over_its_variable() {
    let a = Upstream::start("A");
    let dir = TempDir::new("env-precedence");
    dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let unused = free_port();
    let proxy = ProxyProcess::builder()
        .env("GATEHOUSE_LISTEN", unused.to_string())
        .arg("--manifests")
        .arg(dir.path())
        .start()
        .await;
    assert_eq!(
        proxy.get("/").await.body,
        "A",
        "served on the --listen address"
    );
    assert!(
        std::net::TcpStream::connect(unused).is_err(),
        "nothing listens on the GATEHOUSE_LISTEN address"
    );
}

#[tokio::test]
async fn sources_token_and_log_format_come_from_the_environment() {
    let a = Upstream::start("A");
    let dir = TempDir::new("env-sources");
    let manifests = dir.join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(
        manifests.join("app.yaml"),
        route_yaml("app", "/", "main", &a.url()),
    )
    .unwrap();
    let token = dir.write("token", "env-token");
    let proxy = ProxyProcess::builder()
        .env("GATEHOUSE_MANIFESTS", &manifests)
        .env("GATEHOUSE_ADMIN_TOKEN_FILE", &token)
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_WORKERS", "1")
        .env("GATEHOUSE_SHUTDOWN_GRACE", "2s")
        .start()
        .await;
    assert_eq!(proxy.get("/").await.body, "A", "GATEHOUSE_MANIFESTS");
    let config = config_json(vec![]).to_string();
    assert_eq!(
        proxy.put_config(config.clone(), None).await.status,
        401,
        "GATEHOUSE_ADMIN_TOKEN_FILE"
    );
    assert_eq!(
        proxy.put_config(config, Some("env-token")).await.status,
        200
    );
    let stderr = proxy.stderr();
    assert!(!stderr.trim().is_empty());
    for line in stderr.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("GATEHOUSE_LOG_FORMAT=json: {e}: {line}"));
    }

    let file = dir.write(
        "config.json",
        &config_json(vec![route_json(
            "default/f",
            "/",
            &[("a", 1, &a.authority())],
        )])
        .to_string(),
    );
    let from_file = ProxyProcess::builder()
        .env("GATEHOUSE_CONFIG_FILE", &file)
        .start()
        .await;
    assert_eq!(from_file.get("/").await.body, "A", "GATEHOUSE_CONFIG_FILE");
}

#[test]
fn help_shows_a_variable_for_every_flag() {
    let output = Command::new(proxy_binary())
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatehouse-proxy --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    // clap prints each option as a block starting with `  -x, --flag` or `      --flag`.
    let mut blocks: Vec<String> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--") || (trimmed.starts_with('-') && trimmed.contains(", --")) {
            blocks.push(line.to_owned());
        } else if let Some(last) = blocks.last_mut() {
            last.push_str(line);
        }
    }
    // Actions, not settings: a variable left set for `--check` would turn
    // every start into a check.
    let actions = ["--help", "--version", "--check"];
    let flags: Vec<&String> = blocks
        .iter()
        .filter(|b| !actions.iter().any(|action| b.contains(action)))
        .collect();
    assert!(flags.len() >= 8, "the flags are listed: {help}");
    for block in flags {
        assert!(
            block.contains("[env: GATEHOUSE_"),
            "a flag without a variable: {block}"
        );
    }
}

#[tokio::test]
async fn workers_must_be_at_least_one() {
    let mut proxy = ProxyProcess::builder()
        .env("GATEHOUSE_WORKERS", "0")
        .spawn();
    let status = proxy
        .wait_exit(scaled(Duration::from_secs(10)))
        .await
        .unwrap_or_else(|| proxy.fail("started with 0 workers"));
    assert!(!status.success());
    assert!(proxy.stderr().contains("--workers"), "{}", proxy.stderr());
}

#[tokio::test]
async fn json_logs_carry_yaml_errors_with_file_and_line() {
    let a = Upstream::start("A");
    let dir = TempDir::new("json-logs");
    let path = dir.write("app.yaml", &route_yaml("app", "/", "main", &a.url()));
    let proxy = ProxyProcess::builder()
        .args(["--log-format", "json", "--manifests"])
        .arg(dir.path())
        .start()
        .await;
    dir.write("app.yaml", "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: app}\nspec:\n  hostnames: 7\n");
    let at = format!("{}:5", path.display());
    let line = proxy
        .wait_for_log_line(&[&at, "Route default/app"], Duration::from_secs(2))
        .await;
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(entry["level"], "ERROR", "{entry}");
    let message = entry["fields"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&at), "{entry}");
}

#[tokio::test]
async fn text_logs_have_no_colour_escapes_when_stderr_is_not_a_terminal() {
    let dir = TempDir::new("colours");
    let proxy = ProxyProcess::builder()
        .without_no_color()
        .arg("--manifests")
        .arg(dir.path())
        .start()
        .await;
    let stderr = proxy.stderr();
    assert!(stderr.contains("gatehouse proxy serving"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in a log file: {:?}",
        stderr.lines().next()
    );
}

#[tokio::test]
async fn a_failing_backend_is_logged_at_the_default_level() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = TempDir::new("backend-logs");
    dir.write("down.yaml", &route_yaml("down", "/", "gone", &gone));
    let proxy = ProxyProcess::builder()
        .arg("--manifests")
        .arg(dir.path())
        .start()
        .await;
    assert_eq!(proxy.get("/").await.status, 502);
    let line = proxy
        .wait_for_log_line(&["backend failed", "default/down"], Duration::from_secs(2))
        .await;
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("gone") && line.contains("connect"), "{line}");
}
