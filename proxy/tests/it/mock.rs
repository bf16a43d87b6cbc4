//! The `mock` backend over real sockets: MockProvisions answered through
//! a Route, the journal and h1mock's admin API driven by a real HTTP
//! client, state kept across swaps of other resources, and the provisions
//! folder loaded through the admin API.

use std::path::{Path, PathBuf};

use gatehouse_proxy::Running;
use gatehouse_testkit::{TempDir, client};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{apply_yaml, start_proxy, url};

fn mock_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: MockProvision\nmetadata: {{name: {name}}}\nspec:\n{spec}\n---\n"
    )
}

fn mock_route(backend: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: mock}}\nspec:\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /}}}}]\n    backends: [{{name: fake, mock: {backend}}}]\n"
    )
}

/// The example provision `name` (`examples/mock/<name>.yaml`).
fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mock")
        .join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An example as a MockProvision's spec (indented under `spec:`).
fn example_spec(name: &str) -> String {
    example(name)
        .lines()
        .map(|line| format!("  {line}\n"))
        .collect()
}

fn admin(proxy: &Running, path: &str) -> String {
    format!("http://{}{path}", proxy.admin_addr)
}

async fn get(url: String) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn json(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let url = response.url().clone();
    let text = response.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"));
    (status, value)
}

#[tokio::test]
async fn a_mock_provision_answers_through_a_route_and_journals_each_request() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &(mock_yaml("foo", &example_spec("foo-bar")) + &*mock_route("{provision: foo}")),
    );

    let (status, headers, body) = get(url(&proxy, "/app/v1/foo/bar?x=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"resultData": "answering a get"})
    );

    let posted = client()
        .post(url(&proxy, "/app/v1/foo/bar"))
        .body(r#"{"name": "widget"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    assert_eq!(posted.headers()["x-version"], "1.0");

    let head = client()
        .head(url(&proxy, "/app/v1/foo/bar"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND, "no rule takes HEAD");

    let (status, headers, body) = get(url(&proxy, "/elsewhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(body.contains("docs/mock.md"), "{body}");

    // The journal, as WireMock users verify.
    let (status, listed) = json(client().get(admin(&proxy, "/mocks/default/foo/requests"))).await;
    assert_eq!(status, StatusCode::OK);
    let requests = listed["requests"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, u64)> = requests
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap(),
                r["url"].as_str().unwrap(),
                r["matched"].as_str().unwrap(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "/app/v1/foo/bar?x=1", "get-foo-bar", 200),
            ("POST", "/app/v1/foo/bar", "post-foo-bar", 201),
            ("HEAD", "/app/v1/foo/bar", "none", 404),
            ("GET", "/elsewhere", "none", 404),
        ]
    );
    assert_eq!(requests[1]["body"], r#"{"name": "widget"}"#);
    let (_, count) = json(client().get(admin(
        &proxy,
        "/mocks/default/foo/requests/count?method=post&path=/app/*",
    )))
    .await;
    assert_eq!(count["count"], 1);
    let (_, all) = json(client().get(admin(&proxy, "/mocks"))).await;
    assert_eq!(all["mocks"]["default/foo"]["requests"], 4);
    assert_eq!(all["mocks"]["default/foo"]["rules"], 2);

    let metrics = get(admin(&proxy, "/metrics")).await.2;
    assert!(
        metrics.contains(r#"gatehouse_mock_requests_total{mock="default/foo",rule="none"} 2"#),
        "{metrics}"
    );

    let cleared = client()
        .delete(admin(&proxy, "/mocks/default/foo/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let (_, count) = json(client().get(admin(&proxy, "/mocks/default/foo/requests/count"))).await;
    assert_eq!(count["count"], 0);
    let (status, missing) = json(client().get(admin(&proxy, "/mocks/default/nope/requests"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing["error"].as_str().unwrap().contains("GET /mocks"));
}

#[tokio::test]
async fn state_survives_swaps_of_other_resources_and_resets_when_its_spec_changes() {
    let proxy = start_proxy(|_| {}).await;
    let otu = mock_yaml("otu", &example_spec("otuserver"));
    apply_yaml(&proxy, &(otu.clone() + &*mock_route("{provision: otu}")));
    let scores = |proxy: &Running| url(proxy, "/api/v1/scores");
    let created = client()
        .post(scores(&proxy))
        .body(r#"{"client_id": 9001, "score": 4.5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(get(url(&proxy, &location)).await.0, StatusCode::OK);

    // An admin reset: back to the seed, the journal emptied.
    let reset = client()
        .post(admin(&proxy, "/mocks/default/otu/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(get(url(&proxy, &location)).await.0, StatusCode::NOT_FOUND);
    let (_, count) = json(client().get(admin(&proxy, "/mocks/default/otu/requests/count"))).await;
    assert_eq!(count["count"], 1, "only the GET after the reset");
    let created = client()
        .post(scores(&proxy))
        .body(r#"{"client_id": 9001, "score": 4.5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Another resource changes: the provision and its items stay.
    let other = mock_yaml("other", "  default: {status: 418}");
    apply_yaml(
        &proxy,
        &(otu.clone() + &*other + &*mock_route("{provision: otu}")),
    );
    assert_eq!(get(url(&proxy, &location)).await.0, StatusCode::OK);

    // Its own spec changes: back to its seed data.
    let changed = otu.replace("interests", "hobbies");
    apply_yaml(&proxy, &(changed + &*mock_route("{provision: otu}")));
    assert_eq!(get(url(&proxy, &location)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_mock_reads_bodies_up_to_its_limit() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &(mock_yaml("any", "  default: {status: 204}") + &*mock_route("{provision: any}")),
    );
    let big = vec![b'x'; 5 << 20];
    let refused = client()
        .put(url(&proxy, "/upload"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(refused.text().await.unwrap().contains("4 MiB"));
}

#[tokio::test]
async fn a_provisions_dir_backend_without_the_flag_answers_503_naming_it() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &mock_route("{provisionsDir: true}"));
    let (status, _, body) = get(url(&proxy, "/app/v1/foo/bar")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("--provisions-dir"), "{body}");
}

async fn dir_proxy(folder: PathBuf) -> Running {
    let proxy = start_proxy(|s| s.provisions_dir = Some(folder)).await;
    apply_yaml(&proxy, &mock_route("{provisionsDir: true}"));
    proxy
}

async fn post_provision(proxy: &Running, name: &str, text: &str) -> (StatusCode, Value) {
    json(
        client()
            .post(admin(proxy, &format!("/app/v1/provision/{name}")))
            .header("content-type", "text/plain")
            .body(text.to_owned()),
    )
    .await
}

/// h1mock's answer to a provision loaded by a POST.
fn assert_loaded((status, body): (StatusCode, Value), name: &str) {
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"result": format!("success: basename file '{name}' has been loaded")})
    );
}

/// h1mock's own component checks, in this format, through real HTTP.
#[tokio::test]
async fn h1mocks_component_checks_pass_through_the_admin_api() {
    let folder = TempDir::new("provisions");
    let proxy = dir_proxy(folder.path().to_owned()).await;

    let (status, _, _) = get(admin(&proxy, "/healthz")).await;
    assert_eq!(status, StatusCode::OK);

    assert_loaded(
        post_provision(&proxy, "foo-bar", &example("foo-bar")).await,
        "foo-bar",
    );
    let (status, _, text) = get(url(&proxy, "/app/v1/foo/bar")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["resultData"],
        "answering a get"
    );

    assert_loaded(
        post_provision(&proxy, "default", &example("default")).await,
        "default",
    );
    let (status, headers, text) = get(url(&proxy, "/app/v1/foo/bar")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(text.contains("How to write a provision"), "{text}");
    assert!(
        folder.path().join("default").is_file(),
        "written to the folder"
    );
}

#[tokio::test]
async fn the_admin_api_refuses_bad_names_types_and_provisions_and_keeps_the_last_good_one() {
    let folder = TempDir::new("provisions");
    let proxy = dir_proxy(folder.path().to_owned()).await;
    assert_eq!(
        post_provision(&proxy, "healthz", &example("healthz"))
            .await
            .0,
        StatusCode::CREATED
    );

    let (status, body) = json(
        client()
            .post(admin(&proxy, "/app/v1/provision/x"))
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body,
        json!({"result": "failed: content-type must be 'text/plain'"})
    );

    // (`..` and `%2e%2e` never leave the client: URLs are normalised.)
    let long = "n".repeat(129);
    for name in ["a%20b", "x..y", "a/b", "a;b", &long] {
        let (status, body) = post_provision(&proxy, name, "default: {status: 200}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert!(
            body["result"].as_str().unwrap().starts_with("failed: "),
            "{body}"
        );
    }

    let (status, body) = post_provision(
        &proxy,
        "broken",
        "rules:\n  - request: {path: {regex: '('}}\n    response: {status: 99}\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("broken:2: rules[0].request.path.regex"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("broken:3: rules[0].response.status"),
        "{errors:?}"
    );
    assert!(!folder.path().join("broken").exists(), "nothing written");
    let (status, _, text) = get(url(&proxy, "/healthz")).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "ok"),
        "the last good one serves"
    );

    // GET re-activates a file; a missing one is 404 (h1mock made it empty).
    assert_eq!(
        post_provision(&proxy, "foo-bar", &example("foo-bar"))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(get(url(&proxy, "/healthz")).await.0, StatusCode::NOT_FOUND);
    let (status, body) = json(client().get(admin(&proxy, "/app/v1/provision/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"result": "success: basename file 'healthz' has been loaded"})
    );
    assert_eq!(get(url(&proxy, "/healthz")).await.0, StatusCode::OK);
    let (status, _) = json(client().get(admin(&proxy, "/app/v1/provision/nothing"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!folder.path().join("nothing").exists());
    let (_, all) = json(client().get(admin(&proxy, "/mocks"))).await;
    assert_eq!(all["provisionsDir"]["active"], "healthz");
}

#[tokio::test]
async fn the_provision_named_initial_serves_from_the_start() {
    let folder = TempDir::new("provisions");
    std::fs::write(folder.path().join("initial"), example("healthz")).unwrap();
    let proxy = dir_proxy(folder.path().to_owned()).await;
    let (status, _, text) = get(url(&proxy, "/healthz")).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn a_templated_location_carries_a_new_id_each_time() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &(mock_yaml("foo", &example_spec("foo-bar")) + &*mock_route("{provision: foo}")),
    );
    let mut ids = Vec::new();
    for _ in 0..2 {
        let posted = client()
            .post(url(&proxy, "/app/v1/foo/bar"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::CREATED);
        let location = posted.headers()["location"].to_str().unwrap().to_owned();
        let body: Value = posted.json().await.unwrap();
        let id = location.rsplit('/').next().unwrap().to_owned();
        assert_eq!(body["id"], id.as_str(), "the body and Location agree");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn delays_and_faults_reach_the_client() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &(mock_yaml("faults", &example_spec("faults")) + &*mock_route("{provision: faults}")),
    );
    let started = std::time::Instant::now();
    let (status, _, body) = get(url(&proxy, "/jitter")).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "somewhere between 100 and 300 ms");
    assert!(took >= std::time::Duration::from_millis(100), "{took:?}");

    // A reset: the client sees the connection reset, no response.
    let mut raw = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = raw.read_to_end(&mut got).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A close: end of stream, no response; with a body too (hyper's path).
    for request in [
        &b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &b"POST /close HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"[..],
    ] {
        let mut raw = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        raw.write_all(request).await.unwrap();
        let mut got = Vec::new();
        raw.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // A reset of a request with a body (served by hyper) is a reset too.
    let mut raw = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    raw.write_all(b"PUT /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .unwrap();
    let read = raw.read_to_end(&mut Vec::new()).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );

    // A slow body: whole, in pieces, 100 ms apart (8 waits).
    let started = std::time::Instant::now();
    let (status, headers, body) = get(url(&proxy, "/trickle")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], "36");
    assert_eq!(body, "0123456789abcdefghijklmnopqrstuvwxyz");
    assert!(started.elapsed() >= std::time::Duration::from_millis(800));

    // The proxy itself is unharmed.
    assert_eq!(get(url(&proxy, "/jitter")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn scripts_keep_state_and_one_that_never_ends_is_500_while_others_are_served() {
    let proxy = start_proxy(|_| {}).await;
    let spin = "  rules:\n    - request: {path: /spin}\n      response:\n        script:\n          timeout: 300ms\n          maxOperations: 1000000000\n          source: 'loop { }'\n    - request: {path: /fast}\n      response: {body: fast}\n";
    apply_yaml(
        &proxy,
        &(mock_yaml("todo", &example_spec("script"))
            + &*mock_yaml("spin", spin)
            + &*mock_route("{provision: todo}").replace(
                "  - matches: [{path: {type: PathPrefix, value: /}}]",
                "  - matches: [{path: {type: PathPrefix, value: /spin}}, {path: {type: PathPrefix, value: /fast}}]\n    backends: [{name: spin, mock: {provision: spin}}]\n  - matches: [{path: {type: PathPrefix, value: /}}]",
            )),
    );
    for title in ["milk", "bread"] {
        let created = client()
            .post(url(&proxy, "/todos"))
            .json(&json!({"title": title}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let (status, _, body) = get(url(&proxy, "/todos/2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["title"],
        "bread"
    );

    let spinning = tokio::spawn(get(url(&proxy, "/spin")));
    // Meanwhile the workers serve: the script runs off them.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    assert_eq!(get(url(&proxy, "/fast")).await.2, "fast");
    assert!(started.elapsed() < std::time::Duration::from_millis(250));
    let (status, _, body) = spinning.await.unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("rules[0]"), "{body}");
    assert!(body.to_lowercase().contains("time"), "{body}");
}

#[tokio::test]
async fn the_admin_token_guards_the_mock_endpoints_as_it_guards_config() {
    let folder = TempDir::new("provisions");
    let token_file = folder.path().join(".token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let dir = folder.path().to_owned();
    let proxy = start_proxy(|s| {
        s.admin_token_file = Some(token_file);
        s.provisions_dir = Some(dir);
    })
    .await;
    let post = || {
        client()
            .post(admin(&proxy, "/app/v1/provision/healthz"))
            .body(example("healthz"))
    };
    for request in [
        post(),
        client().get(admin(&proxy, "/app/v1/provision/healthz")),
        client().get(admin(&proxy, "/mocks")),
        client().delete(admin(&proxy, "/mocks/provisions-dir/requests")),
        client().post(admin(&proxy, "/mocks/provisions-dir/reset")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(!folder.path().join("healthz").exists(), "nothing written");
    assert_loaded(json(post().bearer_auth("s3cret")).await, "healthz");
}
