//! Rules match the resource the upstream will serve, however the client
//! spells its path, and requests whose host or target RFC 9112 refuses get
//! a 400 that says why. Raw sockets: real clients normalize before sending.

use crate::support::*;
use gatehouse_testkit::Upstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `/admin` (and `admin.test`) go to upstream `admin`, the rest to `app`.
async fn two_apps() -> (gatehouse_proxy::Running, Upstream, Upstream) {
    let admin = Upstream::reporting("admin");
    let app = Upstream::reporting("app");
    let proxy = start_proxy(|_| {}).await;
    let yaml = format!(
        "{}---\n{}---\n{}",
        route_yaml(
            "admin-paths",
            &format!(
                "  - matches: [{{path: {{type: PathPrefix, value: /admin}}}}]\n    backends: [{{name: admin, url: '{}'}}]\n  - backends: [{{name: app, url: '{}'}}]\n",
                admin.url(),
                app.url()
            ),
        ),
        route_yaml(
            "admin-host",
            &format!("  - backends: [{{name: admin, url: '{}'}}]\n", admin.url()),
        )
        .replace("spec:\n", "spec:\n  hostnames: [admin.test]\n"),
        one_backend("public", "app", &app.url())
            .replace("spec:\n", "spec:\n  hostnames: [public.test]\n"),
    );
    apply_yaml(&proxy, &yaml);
    (proxy, admin, app)
}

/// Sends `head` as is and reads the whole answer (the request asks to close).
async fn raw(proxy: &gatehouse_proxy::Running, head: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (status, head.to_owned(), body.to_owned())
}

fn seen(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not the upstream's JSON: {body}"))
}

#[tokio::test]
async fn every_spelling_of_a_path_meets_the_rule_for_it() {
    let (proxy, _admin, _app) = two_apps().await;
    for path in [
        "/admin/users",
        "/static/../admin/users",
        "/static/%2e%2e/admin/users",
        "/%61dmin/users",
        "//admin/users",
        "/admin/./users",
        "/../admin/users",
    ] {
        let (status, _, body) = raw(
            &proxy,
            &format!("GET {path} HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 200, "{path}");
        let seen = seen(&body);
        assert_eq!(seen["upstream"], "admin", "{path} escaped the /admin rule");
        assert_eq!(
            seen["path"], "/admin/users",
            "{path} is forwarded normalized"
        );
    }
    // Other escapes keep their meaning; the query is left as sent.
    let (_, _, body) = raw(
        &proxy,
        "GET /admin/a%20b?q=%2e HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let seen = seen(&body);
    assert_eq!(seen["path"], "/admin/a%20b");
    assert_eq!(seen["query"], "q=%2e", "the query is left as sent");
}

const ESCAPED_SLASH: &str =
    "GET /public/..%2Fadmin%2fx HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n";

/// `%2F` is no `/` (RFC 3986 §2.2): kept, it is part of its segment, and
/// cannot climb out of one; APIs such as GitLab's need it forwarded so.
#[tokio::test]
async fn an_encoded_slash_is_kept_in_its_segment_and_forwarded_as_sent() {
    let (proxy, _admin, _app) = two_apps().await;
    let (status, _, body) = raw(&proxy, ESCAPED_SLASH).await;
    assert_eq!(status, 200);
    let seen = seen(&body);
    assert_eq!(seen["upstream"], "app", "..%2F is a segment, not a way up");
    assert_eq!(seen["path"], "/public/..%2Fadmin%2Fx");
    let (_, _, body) = raw(
        &proxy,
        "GET /api/vhosts/%2F/queues HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(self::seen(&body)["path"], "/api/vhosts/%2F/queues");
}

/// For backends that would read `%2F` as `/` anyway, the proxy can decode
/// it first, so that the rules see the path those backends will serve, or
/// refuse it.
#[tokio::test]
async fn an_encoded_slash_can_be_decoded_or_refused_instead() {
    use gatehouse_proxy::EscapedSlashes;
    let admin = Upstream::reporting("admin");
    let app = Upstream::reporting("app");
    let rules = format!(
        "  - matches: [{{path: {{type: PathPrefix, value: /admin}}}}]\n    backends: [{{name: admin, url: '{}'}}]\n  - backends: [{{name: app, url: '{}'}}]\n",
        admin.url(),
        app.url()
    );
    let decoding = start_proxy(|s| s.escaped_slashes = EscapedSlashes::Decode).await;
    apply_yaml(&decoding, &route_yaml("paths", &rules));
    let (_, _, body) = raw(&decoding, ESCAPED_SLASH).await;
    let seen = seen(&body);
    assert_eq!(
        seen["upstream"], "admin",
        "decoded, ..%2F climbs out of /public"
    );
    assert_eq!(seen["path"], "/admin/x");

    let refusing = start_proxy(|s| s.escaped_slashes = EscapedSlashes::Reject).await;
    apply_yaml(&refusing, &route_yaml("paths", &rules));
    let (status, _, body) = raw(&refusing, ESCAPED_SLASH).await;
    assert_eq!(status, 400);
    assert!(body.contains("encoded slash (`%2F`)"), "{body}");
}

#[tokio::test]
async fn a_broken_escape_is_a_400_that_says_why() {
    let (proxy, admin, app) = two_apps().await;
    let (status, head, body) = raw(
        &proxy,
        "GET /a%zz HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{head}");
    assert!(body.contains("`%25`"), "{body}");
    let (status, _, body) = raw(
        &proxy,
        "GET x HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("starting with `/`"), "{body}");
    let (status, _, body) = raw(
        &proxy,
        "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405, "{body}");
    assert!(body.contains("CONNECT tunnels are not served"), "{body}");
    let forwarded = admin.request_count() + app.request_count();
    assert_eq!(forwarded, 0, "refused requests never reach an upstream");
}

#[tokio::test]
async fn hosts_follow_rfc_9112() {
    let (proxy, _admin, _app) = two_apps().await;
    let (status, _, body) = raw(
        &proxy,
        "GET /x HTTP/1.1\r\nHost: public.test\r\nHost: admin.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("more than one Host"), "{body}");

    let (status, _, body) = raw(&proxy, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 400);
    assert!(body.contains("needs a Host header"), "{body}");

    // HTTP/1.0 may leave Host out; Routes without hostnames serve it.
    let (status, _, body) = raw(&proxy, "GET /admin/x HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);
    assert_eq!(seen(&body)["upstream"], "admin");

    // An absolute target names the host; the Host header is ignored and
    // replaced on the way upstream.
    let (status, _, body) = raw(
        &proxy,
        "GET http://admin.test/x HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let seen = seen(&body);
    assert_eq!(seen["upstream"], "admin");
    assert_eq!(seen["headers"]["host"], "admin.test");
    assert_eq!(seen["path"], "/x");
}
