//! CGI programs through the proxy: small shell scripts written to a temp
//! folder, run per request with RFC 3875's environment (and none of the
//! proxy's own), their stdin and stdout streamed, their header block
//! parsed, their time and number limited.

use std::path::Path;
use std::time::Duration;

use gatehouse_proxy::Running;
use gatehouse_testkit::{TempDir, client, wait_for};
use reqwest::StatusCode;

use crate::support::{apply_yaml, start_proxy, url};

/// alice / wonderland, made with Apache's `htpasswd -nbB -C 5`.
const ALICE_LINE: &str = "alice:$2y$05$vpFhl.Xw11VEbvhwmTaHBeXDRhqGXgN/dem/CHRybTIPp/xq1gcCG";

const SCRIPTS: &[(&str, &str)] = &[
    (
        "env.sh",
        "printf 'Content-Type: text/plain\\r\\nX-Script: env\\r\\n\\r\\n'\nenv | sort\n",
    ),
    (
        "echo.sh",
        "printf 'Content-Type: application/octet-stream\\n\\n'\nexec cat\n",
    ),
    (
        "status.sh",
        "printf 'Status: 418 I am a teapot\\nContent-Type: text/plain\\nX-Extra: yes\\n\\nshort and stout\\n'\n",
    ),
    (
        "redirect.sh",
        "printf 'Location: https://example.com/\\n\\n'\n",
    ),
    ("malformed.sh", "printf 'this is not a header\\n\\nbody'\n"),
    ("nohead.sh", "printf 'Content-Type: text/plain\\n'\n"),
    ("sleepy.sh", "echo $$ > \"$PIDFILE\"\nexec sleep 30\n"),
    (
        "slow.sh",
        "echo $$ > \"$PIDDIR/$$\"\nsleep 2\nprintf 'Content-Type: text/plain\\n\\ndone'\n",
    ),
    (
        "lying.sh",
        "printf 'Content-Type: text/plain\\nContent-Length: 5\\n\\nhello HTTP/1.1 200 OK\\r\\n\\r\\n'\n",
    ),
    (
        "stderr.sh",
        "echo 'a line for the log' >&2\nprintf 'Content-Type: text/plain\\n\\nok'\n",
    ),
];

fn write_scripts(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (name, body) in SCRIPTS {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn manifests(dir: &Path) -> String {
    let d = dir.display();
    let rule = |prefix: &str, cgi: &str| {
        format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    backends: [{{cgi: {cgi}}}]\n"
        )
    };
    let mut rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /env}}}}]
    access: {{secret: users, allow: {{anonymous: true}}}}
    backends: [{{cgi: {{script: '{d}/env.sh', env: [{{name: GREETING, value: hello}}]}}}}]
"
    );
    rules += &rule("/echo", &format!("{{script: '{d}/echo.sh'}}"));
    rules += &rule("/status", &format!("{{script: '{d}/status.sh'}}"));
    rules += &rule("/redirect", &format!("{{script: '{d}/redirect.sh'}}"));
    rules += &rule("/malformed", &format!("{{script: '{d}/malformed.sh'}}"));
    rules += &rule("/nohead", &format!("{{script: '{d}/nohead.sh'}}"));
    rules += &rule("/stderr", &format!("{{script: '{d}/stderr.sh'}}"));
    rules += &rule("/lying", &format!("{{script: '{d}/lying.sh'}}"));
    rules += &rule(
        "/sleepy",
        &format!(
            "{{script: '{d}/sleepy.sh', timeout: 1s, env: [{{name: PIDFILE, value: '{d}/sleepy.pid'}}]}}"
        ),
    );
    rules += &rule(
        "/linger",
        &format!("{{script: '{d}/sleepy.sh', env: [{{name: PIDFILE, value: '{d}/linger.pid'}}]}}"),
    );
    rules += &rule(
        "/slow",
        &format!(
            "{{script: '{d}/slow.sh', maxProcesses: 1, env: [{{name: PIDDIR, value: '{d}/slow'}}]}}"
        ),
    );
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: users}}
type: Opaque
stringData:
  htpasswd: |
    {ALICE_LINE}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: cgi}}
spec:
  rules:
{rules}"
    )
}

async fn served(tmp: &TempDir) -> Running {
    write_scripts(tmp.path());
    std::fs::create_dir_all(tmp.join("slow")).unwrap();
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &manifests(tmp.path()));
    proxy
}

fn var<'t>(env: &'t str, name: &str) -> Option<&'t str> {
    env.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn the_program_sees_rfc_3875_variables_and_nothing_of_the_proxy() {
    let tmp = TempDir::new("cgi-env");
    let proxy = served(&tmp).await;
    let response = client()
        .get(url(&proxy, "/env/some%20where/else?a=1&b=two"))
        .basic_auth("alice", Some("wonderland"))
        .header("x-custom", "value")
        .header("git-protocol", "version=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-script"], "env");
    let env = response.text().await.unwrap();
    assert_eq!(var(&env, "GATEWAY_INTERFACE"), Some("CGI/1.1"), "{env}");
    assert_eq!(var(&env, "SERVER_SOFTWARE"), Some("gatehouse"));
    assert_eq!(var(&env, "REQUEST_METHOD"), Some("GET"));
    assert_eq!(var(&env, "SCRIPT_NAME"), Some("/env"));
    assert_eq!(var(&env, "PATH_INFO"), Some("/some where/else"));
    assert_eq!(var(&env, "QUERY_STRING"), Some("a=1&b=two"));
    assert_eq!(var(&env, "REMOTE_USER"), Some("alice"));
    assert_eq!(var(&env, "AUTH_TYPE"), Some("Basic"));
    assert_eq!(var(&env, "REMOTE_ADDR"), Some("127.0.0.1"));
    assert_eq!(var(&env, "SERVER_NAME"), Some("127.0.0.1"));
    assert_eq!(
        var(&env, "SERVER_PORT"),
        Some(proxy.addr.port().to_string().as_str())
    );
    assert_eq!(var(&env, "HTTP_X_CUSTOM"), Some("value"));
    assert_eq!(var(&env, "GIT_PROTOCOL"), Some("version=2"));
    assert_eq!(var(&env, "GREETING"), Some("hello"));
    assert_eq!(var(&env, "PATH"), Some("/usr/local/bin:/usr/bin:/bin"));
    assert_eq!(var(&env, "HTTP_AUTHORIZATION"), None, "{env}");
    assert!(!env.contains("wonderland"), "{env}");
    // The test process's (so the proxy's) own environment stays out.
    assert!(std::env::vars().any(|(name, _)| name.starts_with("CARGO")));
    assert!(!env.contains("CARGO"), "{env}");
    assert_eq!(var(&env, "HOME"), None, "{env}");
    // Anonymous: no user.
    let env = client()
        .get(url(&proxy, "/env"))
        .header("x-forwarded-user", "forged")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(var(&env, "REMOTE_USER"), None, "{env}");
    assert_eq!(var(&env, "PATH_INFO"), Some(""));
}

#[tokio::test]
async fn a_body_streams_in_and_out() {
    let tmp = TempDir::new("cgi-echo");
    let proxy = served(&tmp).await;
    let body: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let response = client()
        .post(url(&proxy, "/echo"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let echoed = response.bytes().await.unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body);
}

#[tokio::test]
async fn status_and_location_are_honoured() {
    let tmp = TempDir::new("cgi-status");
    let proxy = served(&tmp).await;
    let response = client().get(url(&proxy, "/status")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(response.headers()["x-extra"], "yes");
    assert!(response.headers().get("status").is_none());
    assert_eq!(response.text().await.unwrap(), "short and stout\n");
    let response = client().get(url(&proxy, "/redirect")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "https://example.com/");
}

#[tokio::test]
async fn a_malformed_or_unfinished_header_block_is_502_with_the_reason() {
    let tmp = TempDir::new("cgi-malformed");
    let proxy = served(&tmp).await;
    let response = client()
        .get(url(&proxy, "/malformed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = response.text().await.unwrap();
    assert!(text.contains("has no `:`"), "{text}");
    let response = client().get(url(&proxy, "/nohead")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = response.text().await.unwrap();
    assert!(text.contains("no blank line"), "{text}");
    // A program's stderr goes to the log; the answer is its stdout.
    let response = client().get(url(&proxy, "/stderr")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn a_program_past_its_time_limit_is_killed() {
    let tmp = TempDir::new("cgi-sleepy");
    let proxy = served(&tmp).await;
    let started = std::time::Instant::now();
    let response = client().get(url(&proxy, "/sleepy")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = std::fs::read_to_string(tmp.join("sleepy.pid")).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    wait_for(
        "the program to be gone",
        Duration::from_secs(5),
        async || {
            // Killed and reaped, or at least killed (a zombie's state is Z).
            match std::fs::read_to_string(format!("{proc}/stat")) {
                Err(_) => Ok(()),
                Ok(stat) if stat.contains(") Z ") => Ok(()),
                Ok(stat) => Err(stat),
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_program_is_killed_when_its_client_leaves() {
    let tmp = TempDir::new("cgi-linger");
    let proxy = served(&tmp).await;
    let request = tokio::spawn(client().get(url(&proxy, "/linger")).send());
    let pidfile = tmp.join("linger.pid");
    wait_for(
        "the program to start",
        Duration::from_secs(5),
        async || match std::fs::read_to_string(&pidfile) {
            Ok(pid) if pid.ends_with('\n') => Ok(()),
            _ => Err(String::new()),
        },
    )
    .await
    .unwrap();
    // The client goes away: its connection closes.
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    let pid = std::fs::read_to_string(tmp.join("linger.pid")).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    wait_for(
        "the program to be gone",
        Duration::from_secs(5),
        async || match std::fs::read_to_string(format!("{proc}/stat")) {
            Err(_) => Ok(()),
            Ok(stat) if stat.contains(") Z ") => Ok(()),
            Ok(stat) => Err(stat),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn past_max_processes_the_answer_is_503_with_retry_after() {
    let tmp = TempDir::new("cgi-slow");
    let proxy = served(&tmp).await;
    let first = tokio::spawn(client().get(url(&proxy, "/slow")).send());
    let piddir = tmp.join("slow");
    wait_for(
        "the first program to start",
        Duration::from_secs(5),
        async || match std::fs::read_dir(&piddir).unwrap().next() {
            Some(_) => Ok(()),
            None => Err(String::new()),
        },
    )
    .await
    .unwrap();
    let second = client().get(url(&proxy, "/slow")).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "1");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.text().await.unwrap(), "done");
}

/// Local mode: a relative script is taken from the manifest's folder.
#[tokio::test]
async fn in_local_mode_a_relative_script_is_the_manifests_neighbour() {
    let tmp = TempDir::new("cgi-local");
    write_scripts(tmp.path());
    tmp.write(
        "route.yaml",
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: local}
spec:
  rules:
  - backends: [{cgi: {script: status.sh}}]
",
    );
    let proxy = start_proxy(|s| s.manifests = Some(tmp.path().to_owned())).await;
    let response = client().get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 418);
}

/// A program that declares 5 bytes and writes more: the client gets the 5
/// and the connection ends, so the rest (here, what looks like a second
/// response) is never read as the answer to its next request.
#[tokio::test]
async fn a_body_longer_than_its_content_length_is_cut_and_the_connection_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tmp = TempDir::new("cgi-lying");
    let proxy = served(&tmp).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /lying HTTP/1.1\r\nHost: x\r\n\r\nGET /lying HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the connection ends")
        .unwrap();
    let text = String::from_utf8_lossy(&received);
    assert_eq!(
        text.matches("HTTP/1.1 200").count(),
        1,
        "one answer: {text}"
    );
    assert!(
        text.ends_with("\r\n\r\nhello"),
        "its 5 bytes, nothing more: {text}"
    );
}
