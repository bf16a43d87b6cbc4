//! The `depot` backend over real sockets: a Route with `PathPrefix /depot`
//! and a depot backend over two DepotRepos, driven by a real HTTP client
//! (and raw connections where a test needs a body sent in pieces).

use std::path::Path;
use std::time::Duration;

use gatehouse_proxy::{BlockingKind, Running};
use gatehouse_testkit::{TempDir, client, eventually, read_response};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{config_from_yaml, start_proxy, url};

fn repo_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: {name}}}\nspec: {spec}\n---\n"
    )
}

fn route_yaml(prefix: &str, depot: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: depot}}\nspec:\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]\n    backends: [{{name: files, depot: {depot}}}]\n"
    )
}

/// Two repositories (`configs` takes 1 KiB at most) at `/depot`.
fn two_repos() -> String {
    repo_yaml("configs", "{maxFileSize: 1Ki}")
        + &*repo_yaml("scripts", "{}")
        + &*route_yaml("/depot", "{}")
}

async fn depot_proxy(data: &TempDir, yaml: &str) -> Running {
    let dir = data.path().to_owned();
    let proxy = start_proxy(|s| s.data_dir = Some(dir)).await;
    proxy
        .state
        .apply(config_from_yaml(yaml), "test")
        .expect("config applies");
    proxy
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn etag(&self) -> &str {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn get(proxy: &Running, path: &str) -> Reply {
    send(client().get(url(proxy, path))).await
}

async fn put(proxy: &Running, path: &str, body: &str) -> Reply {
    send(client().put(url(proxy, path)).body(body.to_owned())).await
}

async fn post(proxy: &Running, path: &str) -> Reply {
    send(client().post(url(proxy, path))).await
}

async fn delete(proxy: &Running, path: &str) -> Reply {
    send(client().delete(url(proxy, path))).await
}

fn link_target(path: &Path) -> String {
    std::fs::read_link(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .display()
        .to_string()
}

#[tokio::test]
async fn the_api_round_trip_over_two_repositories() {
    let data = TempDir::new("depot-api");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let file = "/depot/configs/app.json";

    let first = put(&proxy, file, "{\"v\":1}").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.etag(), "\"1\"");
    let current = get(&proxy, file).await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.body, "{\"v\":1}");
    assert_eq!(current.headers["content-type"], "application/json");
    assert_eq!(current.etag(), "\"1\"");
    // Stored content runs in an origin of its own (a stored page's script
    // cannot write as this origin), and is never sniffed.
    assert_eq!(
        current.headers["content-security-policy"],
        "sandbox allow-scripts allow-forms allow-popups"
    );
    assert_eq!(current.headers["x-content-type-options"], "nosniff");
    let check_before = get(&proxy, "/depot/check").await.json()["updated"]
        .as_u64()
        .unwrap();

    assert_eq!(put(&proxy, file, "{\"v\":2}").await.etag(), "\"2\"");
    let history = get(&proxy, &format!("{file}?revision=all")).await.json();
    assert_eq!(history["file"], file);
    assert_eq!(
        history["tags"],
        serde_json::json!([["current", 2], ["latest", 2]])
    );
    let revs: Vec<u64> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rev"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [1, 2]);

    let all = get(&proxy, "/depot/all").await.json();
    assert_eq!(
        all["repositories"],
        serde_json::json!(["/depot/configs", "/depot/scripts"])
    );
    assert!(all["host"].as_str().is_some_and(|h| !h.is_empty()), "{all}");
    let files = get(&proxy, "/depot/configs/all").await.json();
    assert_eq!(files["files"][0]["name"], file);
    assert_eq!(
        files["files"][0]["rev"], "2",
        "a string, as HouseDepot writes it"
    );
    let check_after = get(&proxy, "/depot/check").await.json()["updated"]
        .as_u64()
        .unwrap();
    assert!(check_after > check_before, "updated moves on a check-in");

    // Tag, then roll back.
    assert_eq!(
        post(&proxy, &format!("{file}?revision=1&tag=prod"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&proxy, &format!("{file}?revision=prod")).await.body,
        "{\"v\":1}"
    );
    assert_eq!(
        post(&proxy, &format!("{file}?revision=1")).await.status,
        StatusCode::OK
    );
    assert_eq!(get(&proxy, file).await.body, "{\"v\":1}", "rolled back");
    assert_eq!(
        get(&proxy, &format!("{file}?revision=latest")).await.body,
        "{\"v\":2}"
    );

    // HEAD: the length, no body.
    let head = send(client().head(url(&proxy, file))).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-length"], "7");
    assert!(head.body.is_empty());

    // The layout HouseDepot keeps.
    let folder = data.path().join("default/configs");
    assert_eq!(
        std::fs::read_to_string(folder.join("app.json~1")).unwrap(),
        "{\"v\":1}"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("app.json~2")).unwrap(),
        "{\"v\":2}"
    );
    assert_eq!(link_target(&folder.join("app.json~current")), "app.json~1");
    assert_eq!(link_target(&folder.join("app.json~latest")), "app.json~2");
    assert_eq!(link_target(&folder.join("app.json~prod")), "app.json~1");
    assert_eq!(
        std::fs::read_to_string(folder.join("app.json")).unwrap(),
        "{\"v\":1}"
    );

    // Delete a tag, then the file.
    assert_eq!(
        delete(&proxy, &format!("{file}?revision=prod"))
            .await
            .status,
        StatusCode::OK
    );
    assert!(!folder.join("app.json~prod").exists());
    assert_eq!(
        delete(&proxy, &format!("{file}?revision=all")).await.status,
        StatusCode::OK
    );
    let gone = get(&proxy, file).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error(), "Not found");

    // A group one level down, in the other repository.
    assert_eq!(
        put(&proxy, "/depot/scripts/ops/boot.sh", "echo hi")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&proxy, "/depot/scripts/ops/boot.sh").await.body,
        "echo hi"
    );
    assert!(data.path().join("default/scripts/ops/boot.sh~1").is_file());

    let metrics = send(client().get(format!("http://{}/metrics", proxy.admin_addr)))
        .await
        .body;
    assert!(
        metrics.contains("gatehouse_depot_revisions_total{repo=\"default/configs\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_depot_written_bytes_total{repo=\"default/scripts\"} 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_depot_write_duration_seconds_count"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("gatehouse_depot_refusals_total{repo=\"default/configs\",status=\"404\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn refusals_are_json_errors_with_housedepots_words() {
    let data = TempDir::new("depot-refusals");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let file = "/depot/configs/f.txt";
    assert_eq!(put(&proxy, file, "one").await.status, StatusCode::OK);

    let cases = [
        (
            post(&proxy, &format!("{file}?tag=all")).await,
            400,
            "cannot assign the all tag name",
        ),
        (
            post(&proxy, &format!("{file}?tag=latest")).await,
            400,
            "cannot assign the latest tag name",
        ),
        (
            post(&proxy, &format!("{file}?tag=12")).await,
            400,
            "invalid numeric tag name",
        ),
        (
            post(&proxy, &format!("{file}?revision=9")).await,
            404,
            "invalid revision",
        ),
        (
            delete(&proxy, file).await,
            400,
            "Revision to delete not specified",
        ),
        (
            delete(&proxy, &format!("{file}?revision=1")).await,
            409,
            "Cannot delete current",
        ),
        (get(&proxy, "/depot/configs").await, 403, "Path not visible"),
        (get(&proxy, "/depot/nowhere/f").await, 404, "Not found"),
        (
            get(&proxy, "/depot/configs/a/b/c").await,
            400,
            "URI too deep",
        ),
        (
            get(&proxy, "/depot/configs/a~b").await,
            400,
            "invalid character in name",
        ),
        (
            get(&proxy, &format!("{file}?revision=nope")).await,
            404,
            "invalid revision",
        ),
    ];
    for (reply, status, words) in cases {
        assert_eq!(reply.status.as_u16(), status, "{words}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert!(reply.error().contains(words), "{words}: {}", reply.body);
    }
    let patch = send(client().patch(url(&proxy, file))).await;
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(patch.headers.contains_key("allow"));
    // `..` encoded so the proxy's own normalisation leaves it to the depot.
    let dots = get(&proxy, "/depot/configs/%2e%2e%2Fscripts/f").await;
    assert!(
        dots.status.is_client_error(),
        "{}: {}",
        dots.status,
        dots.body
    );
}

/// A PUT in raw HTTP/1.1: its head, then `chunks` as chunked coding.
async fn chunked_put(proxy: &Running, path: &str, chunks: &[&[u8]]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        let piece = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&piece).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    read_response(&mut stream).await
}

#[tokio::test]
async fn a_body_over_max_file_size_is_413_and_nothing_is_stored() {
    let data = TempDir::new("depot-413");
    let proxy = depot_proxy(&data, &two_repos()).await;
    // Told by Content-Length: refused before the body is read.
    let big = "x".repeat(2000);
    let told = put(&proxy, "/depot/configs/big.txt", &big).await;
    assert_eq!(told.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", told.body);
    assert!(
        told.error().contains("1024"),
        "the limit is named: {}",
        told.body
    );
    // Streamed (chunked): refused at the chunk that crosses the limit.
    let chunk = [b'y'; 600];
    let (head, body) =
        chunked_put(&proxy, "/depot/configs/big.txt", &[&chunk, &chunk, &chunk]).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("1024"));
    assert_eq!(
        get(&proxy, "/depot/configs/big.txt").await.status,
        StatusCode::NOT_FOUND
    );
    let left: Vec<_> = std::fs::read_dir(data.path().join("default/configs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "no revision, no temp file: {left:?}");
    // At the limit is fine, and a chunked body under it is stored whole.
    let (head, _) = chunked_put(
        &proxy,
        "/depot/configs/ok.txt",
        &[&chunk[..500], &chunk[..524]],
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(get(&proxy, "/depot/configs/ok.txt").await.body.len(), 1024);
}

#[tokio::test]
async fn staging_if_match_and_if_none_match() {
    let data = TempDir::new("depot-staging");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let file = "/depot/scripts/run.sh";
    assert_eq!(put(&proxy, file, "v1").await.status, StatusCode::OK);
    let staged = put(&proxy, &format!("{file}?current=false"), "v2").await;
    assert_eq!(staged.status, StatusCode::OK);
    assert_eq!(staged.etag(), "\"2\"");
    assert_eq!(get(&proxy, file).await.body, "v1", "staged: current stays");
    assert_eq!(
        get(&proxy, &format!("{file}?revision=latest")).await.body,
        "v2"
    );
    assert_eq!(
        post(&proxy, &format!("{file}?revision=latest"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(get(&proxy, file).await.body, "v2", "committed");

    let stale = send(
        client()
            .put(url(&proxy, file))
            .header("if-match", "\"1\"")
            .body("v3"),
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    assert!(
        stale.error().contains("latest revision is 2"),
        "{}",
        stale.body
    );
    let fresh = send(
        client()
            .put(url(&proxy, file))
            .header("if-match", "\"2\"")
            .body("v3"),
    )
    .await;
    assert_eq!(fresh.status, StatusCode::OK);
    let unchanged = send(
        client()
            .get(url(&proxy, file))
            .header("if-none-match", "\"3\""),
    )
    .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_swap_keeps_each_repository_and_a_write_under_way_completes() {
    let data = TempDir::new("depot-swap");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let before = proxy
        .state
        .depot_repo_identity("default/configs")
        .expect("bound");

    // A PUT whose body is half sent when the config changes; large
    // enough to stream (a small one is read whole before it is planned).
    let half = 40 * 1024;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "PUT /depot/scripts/long.txt HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        2 * half
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'a'; half]).await.unwrap();
    // Under way: its body goes to a hidden temp file, and no slot of the
    // fsync lane is held while the client takes its time.
    let folder = data.path().join("default/scripts");
    let under_way = eventually(Duration::from_secs(5), async || {
        std::fs::read_dir(&folder).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".long.txt~tmp-")
            })
        })
    })
    .await;
    assert!(under_way, "the upload started");
    let metrics = client()
        .get(format!("http://{}/metrics", proxy.admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gatehouse_blocking_tasks{kind=\"fsync\",state=\"running\"} 0"),
        "a body on its way holds no fsync slot"
    );
    // The Route changes (another mount too); the DepotRepos do not.
    let changed = repo_yaml("configs", "{maxFileSize: 1Ki}")
        + &*repo_yaml("scripts", "{}")
        + &*route_yaml("/depot", "{}")
        + "---\n"
        + &*route_yaml("/files", "{}").replace("name: depot}", "name: files}");
    let applied = proxy
        .state
        .apply(config_from_yaml(&changed), "test")
        .unwrap();
    assert!(!applied.unchanged);
    assert_eq!(
        proxy.state.depot_repo_identity("default/configs"),
        Some(before),
        "the very same Repo"
    );
    stream.write_all(&vec![b'b'; half]).await.unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let listed = get(&proxy, "/files/scripts/all").await.json();
    assert_eq!(
        listed["files"][0]["name"], "/files/scripts/long.txt",
        "{listed}"
    );
    assert_eq!(
        get(&proxy, "/depot/scripts/long.txt").await.body,
        "a".repeat(half) + &*"b".repeat(half)
    );

    // New options: a new Repo, on the same folder and revisions.
    let bigger = two_repos().replace("maxFileSize: 1Ki", "maxFileSize: 2Ki");
    proxy
        .state
        .apply(config_from_yaml(&bigger), "test")
        .unwrap();
    let after = proxy
        .state
        .depot_repo_identity("default/configs")
        .expect("bound");
    assert_ne!(after, before, "options changed: a new Repo");
    assert_eq!(
        put(&proxy, "/depot/configs/big.txt", &"x".repeat(2000))
            .await
            .status,
        StatusCode::OK
    );

    // A DepotRepo taken out of the config: let go, its URLs 404.
    let fewer = repo_yaml("configs", "{maxFileSize: 2Ki}") + &*route_yaml("/depot", "{}");
    proxy.state.apply(config_from_yaml(&fewer), "test").unwrap();
    assert_eq!(proxy.state.depot_repo_identity("default/scripts"), None);
    let gone = get(&proxy, "/depot/scripts/long.txt").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    assert_eq!(
        get(&proxy, "/depot/all").await.json()["repositories"],
        serde_json::json!(["/depot/configs"])
    );
    assert!(
        data.path().join("default/scripts/long.txt~1").is_file(),
        "its folder stays"
    );
}

#[tokio::test]
async fn without_a_data_dir_depot_routes_answer_503_naming_the_flag() {
    let proxy = start_proxy(|_| {}).await;
    proxy
        .state
        .apply(config_from_yaml(&two_repos()), "test")
        .expect("config applies");
    for reply in [
        get(&proxy, "/depot/all").await,
        put(&proxy, "/depot/configs/f", "x").await,
    ] {
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(reply.error().contains("--data-dir"), "{}", reply.body);
    }
    let ready = send(client().get(format!("http://{}/readyz", proxy.admin_addr))).await;
    assert_eq!(ready.status, StatusCode::OK, "other routes serve: ready");
}

#[tokio::test]
async fn an_unresolved_depot_backend_answers_500_with_the_reason() {
    let data = TempDir::new("depot-unresolved");
    let yaml = repo_yaml("configs", "{}") + &*route_yaml("/depot", "{repos: [configs, missing]}");
    let proxy = depot_proxy(&data, &yaml).await;
    let reply = get(&proxy, "/depot/all").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply.body.contains("DepotRepo default/missing"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn eight_clients_writing_at_once_each_get_their_own_revision() {
    let data = TempDir::new("depot-concurrent");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let base = url(&proxy, "/depot/scripts");
    let mut tasks = Vec::new();
    for client_no in 0..8 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let http = client();
            let mut acked = Vec::new();
            for round in 0..6 {
                let body = format!("client {client_no} round {round}");
                // Half the writes go to one shared file, half to the client's own.
                let file = if round % 2 == 0 {
                    "shared.txt".to_owned()
                } else {
                    format!("own-{client_no}.txt")
                };
                let reply = http
                    .put(format!("{base}/{file}"))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = reply.status();
                let etag = reply
                    .headers()
                    .get("etag")
                    .map(|v| v.to_str().unwrap().trim_matches('"').to_owned());
                assert!(
                    status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                    "a revision or a clear refusal: {status}"
                );
                if status == StatusCode::OK {
                    acked.push((file, etag.unwrap().parse::<u64>().unwrap(), body));
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    assert!(
        acked.len() >= 40,
        "most writes acknowledged: {}",
        acked.len()
    );
    let mut shared: Vec<u64> = acked
        .iter()
        .filter(|(f, _, _)| f == "shared.txt")
        .map(|(_, r, _)| *r)
        .collect();
    shared.sort();
    let count = shared.len();
    shared.dedup();
    assert_eq!(
        shared.len(),
        count,
        "every acknowledged revision is distinct"
    );
    for (file, revision, body) in &acked {
        let reply = get(
            &proxy,
            &format!("/depot/scripts/{file}?revision={revision}"),
        )
        .await;
        assert_eq!(&reply.body, body, "{file} revision {revision}");
    }
    let history = get(&proxy, "/depot/scripts/shared.txt?revision=all")
        .await
        .json();
    let listed: Vec<u64> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rev"].as_u64().unwrap())
        .collect();
    for revision in &shared {
        assert_eq!(
            listed.iter().filter(|r| *r == revision).count(),
            1,
            "revision {revision} listed once"
        );
    }
    assert_eq!(listed.len(), shared.len(), "no revision nobody was told of");
}

#[tokio::test]
async fn local_mode_keeps_depot_files_beside_the_manifests_folder() {
    let manifests = TempDir::new("depot-local");
    manifests.write("depot.yaml", &two_repos());
    let dir = manifests.path().to_owned();
    let proxy = start_proxy(|s| s.manifests = Some(dir)).await;
    let beside = std::path::PathBuf::from(format!("{}.data", manifests.path().display()));
    assert_eq!(proxy.state.data_dir(), Some(beside.as_path()));
    let reply = put(&proxy, "/depot/configs/f.txt", "here").await;
    let stored = beside.join("default/configs/f.txt~1").is_file();
    let _ = std::fs::remove_dir_all(&beside);
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(stored, "the revision is in {}", beside.display());
}

/// What a browser sends for a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn get_accepting(proxy: &Running, path: &str, accept: &str) -> Reply {
    send(client().get(url(proxy, path)).header("accept", accept)).await
}

#[tokio::test]
async fn a_browser_at_the_mount_gets_the_page_with_its_security_headers() {
    let data = TempDir::new("depot-page");
    let proxy = depot_proxy(&data, &two_repos()).await;
    for path in ["/depot/", "/depot"] {
        let page = get_accepting(&proxy, path, BROWSER_ACCEPT).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["cache-control"], "no-cache");
        assert_eq!(page.headers["vary"], "Accept");
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "script-src 'sha256-",
            "style-src 'sha256-",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(part), "{part} in {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(page.body.starts_with("<!doctype html>"), "{}", page.body);
        assert!(page.body.contains("<dialog id=\"confirm\">"));
    }
    // HEAD: the same head, no body.
    let head = send(
        client()
            .head(url(&proxy, "/depot/"))
            .header("accept", BROWSER_ACCEPT),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-type"], "text/html; charset=utf-8");
    let length: usize = head.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 1000, "the page's length: {length}");
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn other_clients_at_the_mount_keep_the_apis_answer() {
    let data = TempDir::new("depot-page-api");
    let proxy = depot_proxy(&data, &two_repos()).await;
    for accept in [
        "*/*",
        "application/json",
        "application/json, text/html;q=0.5",
    ] {
        let reply = get_accepting(&proxy, "/depot/", accept).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{accept}");
        assert_eq!(reply.error(), "Not found", "{accept}");
        assert_eq!(reply.headers["vary"], "Accept", "{accept}");
    }
    let plain = get(&proxy, "/depot").await;
    assert_eq!(
        plain.status,
        StatusCode::NOT_FOUND,
        "no Accept: {}",
        plain.body
    );
    // Below the mount nothing changes for a browser: files are files.
    assert_eq!(
        put(&proxy, "/depot/configs/a.html", "<b>x</b>")
            .await
            .status,
        StatusCode::OK
    );
    let file = get_accepting(&proxy, "/depot/configs/a.html", BROWSER_ACCEPT).await;
    assert_eq!(file.body, "<b>x</b>");
    let all = get_accepting(&proxy, "/depot/all", BROWSER_ACCEPT).await;
    assert_eq!(all.json()["repositories"][0], "/depot/configs");
    // Writes to the mount stay the engine's.
    let put_mount = put(&proxy, "/depot/", "x").await;
    assert_eq!(
        put_mount.status,
        StatusCode::NOT_FOUND,
        "{}",
        put_mount.body
    );
}

#[tokio::test]
async fn the_page_loads_nothing_from_elsewhere() {
    let data = TempDir::new("depot-page-offline");
    let proxy = depot_proxy(&data, &two_repos()).await;
    let page = get_accepting(&proxy, "/depot/", "text/html").await.body;
    for attribute in ["src=", "href="] {
        for (at, _) in page.match_indices(attribute) {
            let value = page[at + attribute.len()..].trim_start_matches(['"', '\'']);
            assert!(
                !value.starts_with("http:")
                    && !value.starts_with("https:")
                    && !value.starts_with("//"),
                "an external {attribute}{}",
                &value[..value.len().min(60)]
            );
        }
    }
    for external in ["http://", "https://", "@import", "url("] {
        assert!(!page.contains(external), "the page holds {external}");
    }
}

/// The entries of a repository's folder, hidden ones (temp files) included.
fn entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_408_and_nothing_is_stored() {
    let data = TempDir::new("depot-408");
    let dir = data.path().to_owned();
    let proxy = start_proxy(|s| {
        s.data_dir = Some(dir);
        s.client_body_timeout = Duration::from_millis(300);
    })
    .await;
    proxy
        .state
        .apply(config_from_yaml(&two_repos()), "test")
        .expect("config applies");
    // Ten bytes promised, three sent, then silence.
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"PUT /depot/scripts/slow.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await
        .unwrap();
    let (head, body) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("answered once the body stalls past --client-body-timeout");
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("stopped arriving") && body.contains("nothing was stored"),
        "{body}"
    );
    assert_eq!(
        get(&proxy, "/depot/scripts/slow.sh").await.status,
        StatusCode::NOT_FOUND
    );
    let folder = data.path().join("default/scripts");
    assert!(
        eventually(Duration::from_secs(2), async || entries(&folder).is_empty()).await,
        "no revision and no temp file left: {:?}",
        entries(&folder)
    );
}

#[tokio::test]
async fn a_full_fsync_lane_answers_503_with_retry_after_and_stores_nothing() {
    let data = TempDir::new("depot-busy");
    let proxy = depot_proxy(&data, &two_repos()).await;
    // Hold every slot of the lane and every place in its queue, in
    // batches, until a probe is refused at once.
    let (release, held) = tokio::sync::watch::channel(false);
    let mut holders = tokio::task::JoinSet::new();
    let hold = |held: tokio::sync::watch::Receiver<bool>| {
        move || {
            while !*held.borrow() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let mut full = false;
    for _ in 0..100 {
        for _ in 0..64 {
            let (state, work) = (proxy.state.clone(), hold(held.clone()));
            holders.spawn(async move {
                let _ = state.blocking.run(BlockingKind::Fsync, work).await;
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let probe = proxy
            .state
            .blocking
            .run(BlockingKind::Fsync, hold(held.clone()));
        if let Ok(Err(_busy)) = tokio::time::timeout(Duration::from_millis(20), probe).await {
            full = true;
            break;
        }
    }
    assert!(full, "the lane's queue is bounded");
    let reply = put(&proxy, "/depot/scripts/busy.sh", "x").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(reply.error().contains("try again"), "{}", reply.body);
    let metrics = send(client().get(format!("http://{}/metrics", proxy.admin_addr))).await;
    assert!(
        metrics
            .body
            .contains(r#"gatehouse_depot_refusals_total{repo="default/scripts",status="503"} 1"#),
        "{}",
        metrics.body
    );
    release.send(true).unwrap();
    while holders.join_next().await.is_some() {}
    assert_eq!(
        put(&proxy, "/depot/scripts/busy.sh", "x").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&proxy, "/depot/scripts/busy.sh?revision=all")
            .await
            .json()["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_mount_over_a_namespace_without_depot_repos_lists_none_and_answers_404() {
    let data = TempDir::new("depot-empty");
    let proxy = depot_proxy(&data, &route_yaml("/depot", "{}")).await;
    let all = get(&proxy, "/depot/all").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.json()["repositories"], serde_json::json!([]));
    let gone = get(&proxy, "/depot/configs/app.json").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    assert_eq!(gone.error(), "Not found");
}

#[tokio::test]
async fn a_small_body_and_a_streamed_one_make_the_same_revisions() {
    // Up to 64 KiB with a Content-Length, the body is read before its
    // check-in is planned; past it, or chunked, it streams to the temp
    // file. Both end as whole revisions, refused alike past the limit.
    let data = TempDir::new("depot-small-and-streamed");
    let proxy = depot_proxy(&data, &two_repos()).await;
    for (i, len) in [1usize, 64 * 1024, 64 * 1024 + 1, 300 * 1024]
        .into_iter()
        .enumerate()
    {
        let body = format!("{i}").repeat(len);
        let stored = put(&proxy, "/depot/scripts/sizes.bin", &body).await;
        assert_eq!(stored.status, StatusCode::OK, "{len}: {}", stored.body);
        assert_eq!(stored.etag(), format!("\"{}\"", i + 1));
        assert_eq!(get(&proxy, "/depot/scripts/sizes.bin").await.body, body);
    }
    let (head, _) = chunked_put(&proxy, "/depot/scripts/sizes.bin", &[b"c1", b"c2"]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(get(&proxy, "/depot/scripts/sizes.bin").await.body, "c1c2");
    // A small body that names a bad file is refused by the plan, as before.
    let refused = put(&proxy, "/depot/scripts/a~b", "x").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.error(), "invalid character in name");
    let folder = data.path().join("default/scripts");
    assert!(
        !entries(&folder).iter().any(|e| e.starts_with('.')),
        "no temp file left: {:?}",
        entries(&folder)
    );
}
