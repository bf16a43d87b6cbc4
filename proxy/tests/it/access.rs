//! Access rules over real sockets: users from a Secret (bcrypt, APR1 and
//! {SHA} lines made by Apache's `htpasswd`, a basic-auth Secret), who may
//! read and write, what the backend is told, the failed-login limit, and
//! a Secret that changes or is missing.

use gatehouse_proxy::Running;
use gatehouse_testkit::{Upstream, client};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{apply_yaml, metric, start_proxy, url};

/// Made with Apache's `htpasswd -nbB -C 5`, `-nbm` and `-nbs`.
const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");
const CAROL: (&str, &str) = ("carol", "secret");
const HTPASSWD: &str = "alice:$2y$05$vpFhl.Xw11VEbvhwmTaHBeXDRhqGXgN/dem/CHRybTIPp/xq1gcCG
bob:$apr1$5L3crQ9I$9R8MGPpPDXcor6F6PqPsp1
carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=
jürgen:$2y$05$NTnD2T0qViEt6f2sFrhq6eKcU64b/9EWjXP6G1reQi0URx2YqHjsq
";

fn users_secret(htpasswd: &str) -> String {
    let indented: String = htpasswd.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: users}}\ntype: Opaque\nstringData:\n  htpasswd: |\n{indented}  groups: |\n    devs: alice bob\n---\n"
    )
}

fn routes(upstream: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: guarded}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /open}}}}]
    access: {{secret: users, read: {{anonymous: true}}, write: {{groups: [devs]}}}}
    backends: [{{url: '{upstream}'}}]
  - matches: [{{path: {{type: PathPrefix, value: /team}}}}]
    access: {{secret: users, realm: Team, allow: {{users: [carol]}}}}
    backends: [{{url: '{upstream}'}}]
  - matches: [{{path: {{type: PathPrefix, value: /pass}}}}]
    access: {{secret: users, forwardAuthorization: true}}
    backends: [{{url: '{upstream}'}}]
  - matches: [{{path: {{type: PathPrefix, value: /nobody}}}}]
    access: {{secret: absent}}
    backends: [{{url: '{upstream}'}}]
"
    )
}

async fn guarded(upstream: &Upstream) -> Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &(users_secret(HTPASSWD) + &*routes(&upstream.url())),
    );
    proxy
}

/// Status, `WWW-Authenticate`, and the body (the backend's report of
/// what it received, when it answered).
async fn send(
    proxy: &Running,
    method: Method,
    path: &str,
    who: Option<(&str, &str)>,
) -> (StatusCode, Option<String>, String) {
    let mut request = client().request(method, url(proxy, path));
    if let Some((user, password)) = who {
        request = request.basic_auth(user, Some(password));
    }
    let response = request
        .header("x-forwarded-user", "forged")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.text().await.unwrap())
}

fn seen(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not the backend's report ({e}): {body}"))
}

#[tokio::test]
async fn no_or_wrong_credentials_get_401_with_the_realm() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    let (status, challenge, _) = send(&proxy, Method::GET, "/team", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Basic realm=\"Team\""));
    let (status, challenge, body) =
        send(&proxy, Method::GET, "/team", Some(("carol", "guess"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(challenge.is_some());
    assert!(!body.contains("guess"), "{body}");
    let (status, _, _) = send(&proxy, Method::GET, "/team", Some(("mallory", "x"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown user");
    let (_, challenge, _) = send(&proxy, Method::GET, "/pass", None).await;
    assert_eq!(
        challenge.as_deref(),
        Some("Basic realm=\"gatehouse\""),
        "the default realm"
    );
}

#[tokio::test]
async fn each_hash_kind_verifies_and_the_backend_learns_the_user_only() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    let (status, _, body) = send(&proxy, Method::GET, "/team/x", Some(CAROL)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let headers = &seen(&body)["headers"];
    assert_eq!(headers["x-forwarded-user"], "carol", "not the forged one");
    assert_eq!(
        headers.get("authorization"),
        None,
        "the password stays here"
    );
    for who in [ALICE, BOB, CAROL, ("jürgen", "pw")] {
        let (status, _, body) = send(&proxy, Method::GET, "/pass", Some(who)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", who.0);
        let recorded = upstream.requests().pop().unwrap();
        assert_eq!(
            recorded.headers["x-forwarded-user"].as_bytes(),
            who.0.as_bytes(),
            "UTF-8 names too"
        );
        let headers = &seen(&body)["headers"];
        assert!(
            headers["authorization"]
                .as_str()
                .unwrap()
                .starts_with("Basic "),
            "forwardAuthorization passes it on"
        );
    }
}

#[tokio::test]
async fn read_and_write_are_allowed_apart() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    let (status, _, body) = send(&proxy, Method::GET, "/open", None).await;
    assert_eq!(status, StatusCode::OK, "anyone reads");
    assert_eq!(
        seen(&body)["headers"].get("x-forwarded-user"),
        None,
        "a client's own X-Forwarded-User never reaches the backend"
    );
    let (status, _, _) = send(&proxy, Method::GET, "/open", Some(("carol", "wrong"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "credentials sent are checked"
    );
    let (status, _, _) = send(&proxy, Method::POST, "/open", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "writing needs a login");
    let (status, _, body) = send(&proxy, Method::POST, "/open", Some(BOB)).await;
    assert_eq!(status, StatusCode::OK, "bob is in devs: {body}");
    let (status, _, body) = send(&proxy, Method::PUT, "/open", Some(CAROL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("`carol` may not write"), "{body}");
    let (status, _, body) = send(&proxy, Method::GET, "/team", Some(ALICE)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only carol: {body}");
}

#[tokio::test]
async fn a_missing_secret_answers_500_and_lets_no_one_in() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    for who in [None, Some(CAROL)] {
        let (status, _, body) = send(&proxy, Method::GET, "/nobody", who).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body.contains("Secret default/absent does not exist"),
            "{body}"
        );
    }
    assert_eq!(upstream.requests().len(), 0, "nothing reached the backend");
}

#[tokio::test]
async fn too_many_failures_from_one_address_get_429() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    for _ in 0..10 {
        let (status, _, _) = send(&proxy, Method::GET, "/team", Some(("carol", "guess"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = client()
        .get(url(&proxy, "/team"))
        .basic_auth("carol", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    let (status, _, _) = send(&proxy, Method::GET, "/open", None).await;
    assert_eq!(status, StatusCode::OK, "anonymous reads are not logins");
}

#[tokio::test]
async fn a_changed_secret_takes_effect_at_the_next_swap() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(CAROL)).await;
    assert_eq!(status, StatusCode::OK, "verified, and remembered");
    // carol's line gone: the remembered verification must go with it.
    let without_carol: String = HTPASSWD.lines().take(2).map(|l| format!("{l}\n")).collect();
    apply_yaml(
        &proxy,
        &(users_secret(&without_carol) + &*routes(&upstream.url())),
    );
    let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(CAROL)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(BOB)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_basic_auth_secret_holds_one_user() {
    let upstream = Upstream::reporting("app");
    let proxy = start_proxy(|_| {}).await;
    let yaml = format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: one}}
type: kubernetes.io/basic-auth
data: {{username: ZGVwbG95, password: aHVudGVyMg==}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: one}}
spec:
  rules:
  - access: {{secret: one}}
    backends: [{{url: '{}'}}]
",
        upstream.url()
    );
    apply_yaml(&proxy, &yaml);
    let (status, _, body) = send(&proxy, Method::GET, "/", Some(("deploy", "hunter2"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(seen(&body)["headers"]["x-forwarded-user"], "deploy");
    let (status, _, _) = send(&proxy, Method::GET, "/", Some(("deploy", "hunter3"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn in_local_mode_a_broken_secret_keeps_its_last_good_users() {
    let upstream = Upstream::reporting("app");
    let dir = gatehouse_testkit::TempDir::new("access-local");
    let probe = |path: &str| {
        format!(
            "  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n    backends: [{{url: '{}'}}]\n",
            upstream.url()
        )
    };
    dir.write_atomically(
        "site.yaml",
        &(users_secret(HTPASSWD) + &*routes(&upstream.url())),
    );
    let proxy = start_proxy(|s| s.manifests = Some(dir.path().to_owned())).await;
    let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(CAROL)).await;
    assert_eq!(status, StatusCode::OK);
    // A plain-text line breaks the file; a new rule shows when it is read.
    let broken = format!("{HTPASSWD}erin:plain\n");
    dir.write_atomically(
        "site.yaml",
        &(users_secret(&broken) + &*routes(&upstream.url()) + &*probe("/probe")),
    );
    let reloaded = async || {
        client()
            .get(url(&proxy, "/probe"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    };
    assert!(
        gatehouse_testkit::eventually(std::time::Duration::from_secs(10), reloaded).await,
        "the edited folder was not loaded"
    );
    let (status, _, body) = send(&proxy, Method::GET, "/pass", Some(CAROL)).await;
    assert_eq!(status, StatusCode::OK, "the last good users serve: {body}");
    let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(("erin", "plain"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the refused line lets no one in"
    );
}

#[tokio::test]
async fn a_password_is_verified_once_then_remembered() {
    let upstream = Upstream::reporting("app");
    let proxy = guarded(&upstream).await;
    for _ in 0..5 {
        let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(ALICE)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let ok = r#"gatehouse_access_hash_verifications_total{result="ok"}"#;
    assert_eq!(metric(&proxy, ok).await, 1, "one bcrypt for five requests");
    for _ in 0..2 {
        let (status, _, _) = send(&proxy, Method::GET, "/pass", Some(("alice", "nope"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let wrong = r#"gatehouse_access_hash_verifications_total{result="wrong"}"#;
    assert_eq!(
        metric(&proxy, wrong).await,
        2,
        "a failure is never remembered"
    );
    let refused = r#"gatehouse_access_refusals_total{status="401"}"#;
    assert_eq!(metric(&proxy, refused).await, 2);
}
