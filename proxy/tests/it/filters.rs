//! Routing and Gateway API filters, end to end through real sockets.

use crate::support::*;
use gatehouse_testkit::{Upstream, client};

#[tokio::test]
async fn routes_by_host_path_method_and_header() {
    let (a, b, c) = (
        Upstream::reporting("a"),
        Upstream::reporting("b"),
        Upstream::reporting("c"),
    );
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            r#"
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: shop}}
spec:
  hostnames: [shop.example.com, "*.shop.example.com"]
  rules:
  - backends: [{{url: '{a}'}}]
  - matches: [{{path: {{type: PathPrefix, value: /api}}, method: POST}}]
    backends: [{{url: '{b}'}}]
  - matches: [{{path: {{type: RegularExpression, value: "/items/[0-9]+"}}, headers: [{{name: X-Env, value: canary}}]}}]
    backends: [{{url: '{c}'}}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: fallback}}
spec:
  rules:
  - matches: [{{path: {{type: Exact, value: /only}}}}]
    backends: [{{url: '{c}'}}]
"#,
            a = a.url(),
            b = b.url(),
            c = c.url()
        ),
    );
    let client = client();
    let who = async |method: reqwest::Method, host: &str, path: &str, env: Option<&str>| {
        let mut req = client
            .request(method, url(&proxy, path))
            .header("host", host);
        if let Some(env) = env {
            req = req.header("x-env", env);
        }
        let r = req.send().await.unwrap();
        match r.headers().get("x-upstream") {
            Some(name) => name.to_str().unwrap().to_owned(),
            None => r.status().to_string(),
        }
    };
    use reqwest::Method;
    assert_eq!(who(Method::GET, "shop.example.com", "/", None).await, "a");
    assert_eq!(
        who(Method::GET, "SHOP.example.com:8080", "/api", None).await,
        "a",
        "method must match"
    );
    assert_eq!(
        who(Method::POST, "shop.example.com", "/api/orders", None).await,
        "b"
    );
    assert_eq!(
        who(Method::POST, "eu.shop.example.com", "/api", None).await,
        "b",
        "wildcard host"
    );
    assert_eq!(
        who(Method::GET, "shop.example.com", "/items/42", Some("canary")).await,
        "c"
    );
    assert_eq!(
        who(Method::GET, "shop.example.com", "/items/42", None).await,
        "a",
        "header must match"
    );
    assert_eq!(
        who(
            Method::GET,
            "shop.example.com",
            "/items/42x",
            Some("canary")
        )
        .await,
        "a",
        "regex is anchored"
    );
    assert_eq!(
        who(Method::GET, "other.example.com", "/only", None).await,
        "c",
        "Routes without hostnames serve any host"
    );
    assert_eq!(
        who(Method::GET, "other.example.com", "/", None).await,
        "404 Not Found"
    );
}

#[tokio::test]
async fn header_modifiers_and_url_rewrite() {
    let upstream = Upstream::reporting("a");
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            r#"
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: rw}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /old-api/}}}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{{name: x-team, value: payments}}]
        add: [{{name: x-tag, value: two}}]
        remove: [x-drop]
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{{name: x-served-by, value: gatehouse}}]
        remove: [x-upstream]
    - type: URLRewrite
      urlRewrite:
        hostname: internal.example
        path: {{type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    backends: [{{url: '{}'}}]
"#,
            upstream.url()
        ),
    );
    let r = client()
        .get(url(&proxy, "/old-api/users?id=7"))
        .header("host", "public.example")
        .header("x-team", "someone-else")
        .header("x-tag", "one")
        .header("x-drop", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-served-by"], "gatehouse");
    assert!(r.headers().get("x-upstream").is_none());
    let seen: serde_json::Value = r.json().await.unwrap();
    assert_eq!(seen["path"], "/v2/users");
    assert_eq!(seen["query"], "id=7");
    assert_eq!(seen["headers"]["host"], "internal.example");
    assert_eq!(seen["headers"]["x-forwarded-host"], "public.example");
    assert_eq!(seen["headers"]["x-team"], "payments");
    assert_eq!(
        seen["headers"]["x-tag"], "one, two",
        "add appends to what the client sent"
    );
    assert!(seen["headers"].get("x-drop").is_none());
}

#[tokio::test]
async fn redirects_answer_without_a_backend() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        r#"
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: moved}
spec:
  hostnames: [old.example.com]
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.example.com, statusCode: 308}
  - matches: [{path: {value: /docs}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /manual}, statusCode: 301}
"#,
    );
    let client = client();
    let r = client
        .get(url(&proxy, "/a/b?c=d"))
        .header("host", "old.example.com:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "https://new.example.com/a/b?c=d");
    let r = client
        .get(url(&proxy, "/docs/x"))
        .header("host", "old.example.com:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        "http://old.example.com:8080/manual"
    );
}

#[tokio::test]
async fn response_headers_are_set_on_redirects_and_on_the_proxy_s_own_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            r#"
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: hsts}}
spec:
  rules:
  - matches: [{{path: {{value: /moved}}}}]
    filters:
    - {{type: RequestRedirect, requestRedirect: {{scheme: https, statusCode: 301}}}}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {{set: [{{name: strict-transport-security, value: max-age=31536000}}]}}
  - matches: [{{path: {{value: /down}}}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {{set: [{{name: access-control-allow-origin, value: "*"}}]}}
    backends: [{{name: gone, url: '{gone}'}}]
"#
        ),
    );
    let moved = client().get(url(&proxy, "/moved")).send().await.unwrap();
    assert_eq!(moved.status(), 301);
    assert_eq!(
        moved.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let down = client().get(url(&proxy, "/down")).send().await.unwrap();
    assert_eq!(down.status(), 502);
    assert_eq!(down.headers()["access-control-allow-origin"], "*");
}
