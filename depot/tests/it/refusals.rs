//! Every refusal in depot-api.md: the reference's words, in a JSON body,
//! with Gatehouse's status; and nothing changed on disk.

use crate::support::{Fixture, call, hidden, links, regular_files};
use gatehouse_depot::{RepoOptions, Visibility};
use http::{Method, StatusCode};

fn refused(r: crate::support::Reply) -> (u16, String) {
    r.refusal()
}

#[test]
fn bad_tag_names_are_400_with_the_reference_words() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    let before = links(&f.root());
    for (query, words) in [
        ("tag=all", "cannot assign the all tag name"),
        ("tag=latest", "cannot assign the latest tag name"),
        ("tag=current", "cannot assign the latest tag name"),
        ("tag=42", "invalid numeric tag name"),
        ("tag=bad%2Fname", "invalid tag name"),
        ("tag=sp%20ace", "invalid tag name"),
        ("revision=all", "invalid tag name"),
        ("revision=all&tag=x", "invalid tag name"),
    ] {
        assert_eq!(
            refused(f.post(&format!("/r/f.txt?{query}"))),
            (400, words.into()),
            "{query}"
        );
    }
    assert_eq!(links(&f.root()), before);
}

#[test]
fn unknown_revisions_and_tags_on_missing_files_are_invalid_revision() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    assert_eq!(
        refused(f.post("/r/f.txt?revision=7")),
        (404, "invalid revision".into())
    );
    assert_eq!(
        refused(f.post("/r/f.txt?revision=nosuchtag")),
        (404, "invalid revision".into())
    );
    assert_eq!(
        refused(f.post("/r/f.txt?revision=7&tag=x")),
        (404, "invalid revision".into())
    );
    assert_eq!(
        refused(f.post("/r/missing.txt?tag=x")),
        (404, "invalid revision".into())
    );
    assert!(!f.root().join("missing.txt~x").exists());
    assert_eq!(
        refused(f.delete("/r/f.txt?revision=7")),
        (404, "invalid revision".into())
    );
}

#[test]
fn delete_needs_a_revision_and_refuses_current_and_latest() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?revision=1");
    assert_eq!(
        refused(f.delete("/r/f.txt")),
        (400, "Revision to delete not specified".into())
    );
    assert_eq!(
        refused(f.delete("/r/f.txt?revision=current")),
        (409, "Cannot delete current".into())
    );
    assert_eq!(
        refused(f.delete("/r/f.txt?revision=latest")),
        (409, "Cannot delete latest".into())
    );
    assert_eq!(
        refused(f.delete("/r/f.txt?revision=1")),
        (409, "Cannot delete current".into())
    );
    assert_eq!(
        refused(f.delete("/r/f.txt?revision=2")),
        (409, "Cannot delete latest".into())
    );
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~2"]);
}

#[test]
fn paths_outside_a_repository_and_the_repository_itself() {
    let f = Fixture::new();
    assert_eq!(refused(f.get("/nosuch/f.txt")), (404, "Not found".into()));
    assert_eq!(refused(f.get("/nosuch")), (404, "Not found".into()));
    assert_eq!(refused(f.get("/")), (404, "Not found".into()));
    assert_eq!(refused(f.get("/r")), (403, "Path not visible".into()));
    assert_eq!(refused(f.get("/r/")), (403, "Path not visible".into()));
}

#[test]
fn bad_names() {
    let f = Fixture::new();
    assert_eq!(
        refused(f.put("/r/f~1", b"x")),
        (400, "invalid character in name".into())
    );
    assert_eq!(
        refused(f.put("/r/g%7E/f", b"x")),
        (400, "invalid character in name".into())
    );
    assert_eq!(
        refused(f.put("/r/a/b/c", b"x")),
        (400, "URI too deep".into())
    );
    assert_eq!(refused(f.get("/r/a/b/c")), (400, "URI too deep".into()));
    assert_eq!(
        refused(f.put("/r/.hidden", b"x")),
        (400, "invalid character in name".into())
    );
    assert_eq!(
        refused(f.put("/r/all/f", b"x")),
        (400, "invalid file name".into())
    );
    // `all` is the listing: only GET there.
    let r = f.put("/r/all", b"x");
    assert_eq!(refused(f.put("/r/g/all", b"x")).0, 405);
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
    assert!(regular_files(&f.root()).is_empty());
    assert!(
        hidden(&f.root()).is_empty(),
        "a refused PUT left {:?}",
        hidden(&f.root())
    );
}

#[test]
fn dot_dot_is_400_however_spelled() {
    let f = Fixture::new();
    for path in [
        "/r/../etc/passwd",
        "/r/%2e%2e/x",
        "/r/g/..",
        "/../r/f",
        "/r/%2E%2E%2Fx",
        "/r/./f",
    ] {
        assert_eq!(refused(f.get(path)).0, 400, "{path}");
        assert_eq!(refused(f.put(path, b"x")).0, 400, "{path}");
    }
    assert!(regular_files(f.tmp.path()).is_empty());
}

#[test]
fn other_methods_are_405_with_allow() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    for m in [Method::PATCH, Method::HEAD, Method::TRACE] {
        let r = call(&f.depot, m.clone(), "/r/f.txt", &[], b"");
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m}");
        assert_eq!(r.header("allow"), Some("GET, PUT, POST, DELETE, OPTIONS"));
    }
    assert_eq!(refused(f.post("/all")).0, 405);
    assert_eq!(refused(f.delete("/check")).0, 405);
}

#[test]
fn if_match_compares_with_latest() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?revision=1");
    let with = |m: Method, target: &str, etag: &str, body: &[u8]| {
        call(&f.depot, m, target, &[("if-match", etag)], body)
    };
    // Current is 1, latest 2: "1" is stale everywhere.
    let r = with(Method::PUT, "/r/f.txt", "\"1\"", b"c");
    assert_eq!(
        r.refusal(),
        (412, "precondition failed: the latest revision is 2".into())
    );
    assert_eq!(
        with(Method::POST, "/r/f.txt?tag=x", "\"1\"", b"")
            .status
            .as_u16(),
        412
    );
    assert_eq!(
        with(Method::DELETE, "/r/f.txt?revision=all", "\"1\"", b"")
            .status
            .as_u16(),
        412
    );
    assert_eq!(
        with(Method::PUT, "/r/f.txt", "garbage", b"c")
            .status
            .as_u16(),
        412
    );
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~2"]);
    assert!(!links(&f.root()).contains_key("f.txt~x"));
    assert!(hidden(&f.root()).is_empty());
    // "2" is latest: accepted.
    let ok = with(Method::PUT, "/r/f.txt", "\"2\"", b"c");
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("etag"), Some("\"3\""));
    assert_eq!(
        with(Method::POST, "/r/f.txt?tag=x", "\"3\"", b"").status,
        StatusCode::OK
    );
    // A new file has no latest: any If-Match fails.
    assert_eq!(
        with(Method::PUT, "/r/new.txt", "\"1\"", b"n")
            .status
            .as_u16(),
        412
    );
    assert!(!f.root().join("new.txt~1").exists());
}

#[test]
fn a_body_over_the_limit_is_413_and_stores_nothing() {
    let f = Fixture::with(RepoOptions {
        max_file_size: 10,
        ..RepoOptions::default()
    });
    // Declared too large: refused before a byte is read.
    let r = call(
        &f.depot,
        Method::PUT,
        "/r/f.txt",
        &[("content-length", "11")],
        b"01234567890",
    );
    assert_eq!(
        r.refusal(),
        (413, "file too large: the limit is 10 bytes".into())
    );
    // Chunked (no length): refused while streaming.
    let r = f.put("/r/f.txt", b"0123456789X");
    assert_eq!(
        r.refusal(),
        (413, "file too large: the limit is 10 bytes".into())
    );
    assert!(regular_files(&f.root()).is_empty());
    assert!(links(&f.root()).is_empty());
    assert!(
        hidden(&f.root()).is_empty(),
        "temp left: {:?}",
        hidden(&f.root())
    );
    // Exactly the limit is fine.
    assert_eq!(f.put("/r/f.txt", b"0123456789").status, StatusCode::OK);
}

#[test]
fn allow_list_hides_unlisted_groups_and_top_level_files_from_get_only() {
    let f = Fixture::with(RepoOptions {
        visibility: Visibility::Allow(vec!["rail.".into(), "home".into()]),
        ..RepoOptions::default()
    });
    // Writes still work everywhere.
    for path in [
        "/r/railway/a.txt",
        "/r/home/b.txt",
        "/r/secret/c.txt",
        "/r/top.txt",
    ] {
        assert_eq!(f.put(path, b"x").status, StatusCode::OK, "{path}");
    }
    assert_eq!(f.get("/r/railway/a.txt").ok_text(), "x");
    assert_eq!(f.get("/r/home/b.txt").ok_text(), "x");
    assert_eq!(
        refused(f.get("/r/secret/c.txt")),
        (403, "Path not visible".into())
    );
    assert_eq!(
        refused(f.get("/r/secret/c.txt?revision=all")),
        (403, "Path not visible".into())
    );
    assert_eq!(
        refused(f.get("/r/secret/all")),
        (403, "Path not visible".into())
    );
    assert_eq!(
        refused(f.get("/r/top.txt")),
        (403, "Path not visible".into())
    );
    // The listing filters groups only.
    let names: Vec<String> = f.get("/r/all").json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "/depot/r/top.txt",
            "/depot/r/home/b.txt",
            "/depot/r/railway/a.txt"
        ]
    );
}

#[test]
fn deny_list_hides_listed_groups() {
    let f = Fixture::with(RepoOptions {
        visibility: Visibility::Deny(vec!["priv.".into()]),
        ..RepoOptions::default()
    });
    f.put("/r/private/a.txt", b"x");
    f.put("/r/public/b.txt", b"y");
    assert_eq!(
        refused(f.get("/r/private/a.txt")),
        (403, "Path not visible".into())
    );
    assert_eq!(f.get("/r/public/b.txt").ok_text(), "y");
    let listing = f.get("/r/all").text();
    assert!(!listing.contains("private") && listing.contains("/depot/r/public/b.txt"));
}

#[test]
fn a_name_cannot_be_both_a_file_and_a_group() {
    let f = Fixture::new();
    f.put("/r/g/f.txt", b"x");
    assert_eq!(refused(f.put("/r/g", b"x")).0, 409);
    f.put("/r/top", b"x");
    assert_eq!(refused(f.put("/r/top/f.txt", b"x")).0, 409);
    assert!(hidden(&f.root()).is_empty());
}

#[test]
fn reserved_repository_names_are_refused() {
    use gatehouse_depot::{Depot, Journal, Repo};
    use std::sync::Arc;
    let tmp = crate::support::TempDir::new();
    let journal = Arc::new(Journal::new());
    let mut depot = Depot::new("h", journal.clone());
    for name in ["all", "check", "log"] {
        let repo = Repo::open(
            name,
            tmp.path().join(name),
            RepoOptions::default(),
            journal.clone(),
        )
        .unwrap();
        assert_eq!(
            depot.insert(repo).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
    }
}

#[test]
fn a_stale_if_match_on_put_is_refused_before_the_body_is_read() {
    use gatehouse_depot::{DepotRequest, Plan};
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    let mut headers = http::HeaderMap::new();
    headers.insert("if-match", "\"7\"".parse().unwrap());
    let plan = f.depot.plan(&DepotRequest {
        method: &Method::PUT,
        path: "/r/f.txt",
        query: None,
        headers: &headers,
        mount: "/depot",
        user: None,
    });
    match plan {
        Plan::Answer(a) => assert_eq!(a.status, StatusCode::PRECONDITION_FAILED),
        other => panic!("expected a 412 answer at once, got {other:?}"),
    }
    assert!(hidden(&f.root()).is_empty());
}
