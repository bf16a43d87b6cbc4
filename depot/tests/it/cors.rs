//! Browsers: a foreign origin may read, and write only when the
//! repository lists it.

use crate::support::{Fixture, call, regular_files};
use gatehouse_depot::RepoOptions;
use http::{Method, StatusCode};

const ADMIN: &str = "https://admin.example.com";
const OTHER: &str = "https://evil.example.net";

fn fixture() -> Fixture {
    Fixture::with(RepoOptions {
        cors_write_origins: vec![ADMIN.into()],
        ..RepoOptions::default()
    })
}

#[test]
fn a_foreign_origin_may_get_with_allow_origin_star() {
    let f = fixture();
    f.put("/r/f.txt", b"a");
    let r = call(
        &f.depot,
        Method::GET,
        "/r/f.txt",
        &[("origin", OTHER), ("host", "depot.local")],
        b"",
    );
    assert_eq!(r.ok_text(), "a");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let l = call(&f.depot, Method::GET, "/r/all", &[("origin", OTHER)], b"");
    assert_eq!(l.header("access-control-allow-origin"), Some("*"));
    let missing = call(
        &f.depot,
        Method::GET,
        "/r/nope.txt",
        &[("origin", OTHER)],
        b"",
    );
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn a_foreign_write_is_403_unless_listed() {
    let f = fixture();
    let headers = [("origin", OTHER), ("host", "depot.local")];
    for m in [Method::PUT, Method::POST, Method::DELETE] {
        let r = call(&f.depot, m.clone(), "/r/f.txt?revision=all", &headers, b"x");
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m}");
    }
    assert!(regular_files(&f.root()).is_empty());
    let ok = call(
        &f.depot,
        Method::PUT,
        "/r/f.txt",
        &[("origin", ADMIN), ("host", "depot.local")],
        b"x",
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("access-control-allow-origin"), Some(ADMIN));
    // Same origin as the Host: not foreign.
    let same = call(
        &f.depot,
        Method::PUT,
        "/r/g.txt",
        &[("origin", "https://depot.local"), ("host", "depot.local")],
        b"y",
    );
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "g.txt~1"]);
}

#[test]
fn preflight_for_get_is_204_for_a_write_only_when_listed() {
    let f = fixture();
    let pre = |origin: &str, method: &str| {
        call(
            &f.depot,
            Method::OPTIONS,
            "/r/f.txt",
            &[
                ("origin", origin),
                ("host", "depot.local"),
                ("access-control-request-method", method),
            ],
            b"",
        )
    };
    let get = pre(OTHER, "GET");
    assert_eq!(get.status, StatusCode::NO_CONTENT);
    assert_eq!(get.header("access-control-allow-origin"), Some("*"));
    assert_eq!(pre(OTHER, "PUT").status, StatusCode::FORBIDDEN);
    assert_eq!(pre(OTHER, "DELETE").status, StatusCode::FORBIDDEN);
    let listed = pre(ADMIN, "PUT");
    assert_eq!(listed.status, StatusCode::NO_CONTENT);
    assert_eq!(listed.header("access-control-allow-origin"), Some(ADMIN));
    assert!(
        listed
            .header("access-control-allow-methods")
            .unwrap()
            .contains("PUT")
    );
}
