//! Every row of the request table in depot-api.md, checked as a client
//! sees it, with the folder's layout after each change.

use crate::support::{Fixture, links, map, regular_files, times_masked};
use gatehouse_depot::RepoOptions;
use http::StatusCode;

#[test]
fn all_lists_the_repositories() {
    let f = Fixture::with_repos(&[("b", RepoOptions::default()), ("a", RepoOptions::default())]);
    let r = f.get("/all");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        times_masked(&r.ok_text()),
        r#"{"host":"test-host","timestamp":T,"repositories":["/depot/a","/depot/b"]}"#
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts = r.json()["timestamp"].as_i64().unwrap();
    assert!((now - ts).abs() <= 5, "timestamp {ts} is not now {now}");
}

#[test]
fn check_changes_on_every_checkin_tag_change_and_delete_only() {
    let f = Fixture::new();
    let shape = times_masked(&f.get("/check").ok_text());
    assert_eq!(shape, r#"{"host":"test-host","timestamp":T,"updated":0}"#);
    let updated = |f: &Fixture| f.get("/check").json()["updated"].as_u64().unwrap();

    let mut last = updated(&f);
    let mut expect_change = |f: &Fixture, what: &str| {
        let now = updated(f);
        assert!(now > last, "{what}: updated stayed {last}");
        last = now;
    };
    f.put("/r/f.txt", b"one");
    expect_change(&f, "check-in");
    f.put("/r/f.txt", b"two");
    expect_change(&f, "second check-in");
    f.post("/r/f.txt?tag=prod");
    expect_change(&f, "tag");
    f.post("/r/f.txt?revision=1");
    expect_change(&f, "current moved");
    f.delete("/r/f.txt?revision=prod");
    expect_change(&f, "tag deleted");
    f.put("/r/f.txt", b"three");
    f.post("/r/f.txt?revision=3");
    f.delete("/r/f.txt?revision=1");
    expect_change(&f, "revision deleted");

    let before = updated(&f);
    f.put("/r/f.txt", b"three"); // equals latest: no revision
    f.get("/r/f.txt");
    f.get("/r/all");
    f.post("/r/f.txt"); // neither revision nor tag
    assert_eq!(updated(&f), before, "nothing changed, yet updated moved");
}

#[test]
fn put_makes_revision_one_current_and_latest_and_get_returns_it() {
    let f = Fixture::new();
    let r = f.put("/r/config.json", br#"{"a":1}"#);
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some("\"1\""));

    let root = f.root();
    assert_eq!(regular_files(&root), ["config.json~1"]);
    assert_eq!(
        links(&root),
        map(&[
            ("config.json", "config.json~1"),
            ("config.json~current", "config.json~1"),
            ("config.json~latest", "config.json~1"),
        ])
    );

    let g = f.get("/r/config.json");
    assert_eq!(g.ok_text(), r#"{"a":1}"#);
    assert_eq!(g.header("content-type"), Some("application/json"));
    assert_eq!(g.header("etag"), Some("\"1\""));
    assert_eq!(g.header("content-length"), Some("7"));

    f.put("/r/config.json", br#"{"a":2}"#);
    assert_eq!(f.get("/r/config.json").ok_text(), r#"{"a":2}"#);
    assert_eq!(regular_files(&root), ["config.json~1", "config.json~2"]);
    assert_eq!(
        links(&root),
        map(&[
            ("config.json", "config.json~2"),
            ("config.json~current", "config.json~2"),
            ("config.json~latest", "config.json~2"),
        ])
    );
}

#[test]
fn a_body_equal_to_latest_makes_no_revision_even_when_current_differs() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?revision=1");
    // Equal to latest (2): nothing, current stays 1.
    let r = f.put("/r/f.txt", b"b");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~2"]);
    assert_eq!(f.get("/r/f.txt").ok_text(), "a");
    // Equal to current (1) but not latest: a new revision 3.
    let r = f.put("/r/f.txt", b"a");
    assert_eq!(r.header("etag"), Some("\"3\""));
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~2", "f.txt~3"]);
    assert_eq!(links(&f.root())["f.txt~current"], "f.txt~3");
}

#[test]
fn put_with_time_sets_the_revision_time() {
    let f = Fixture::new();
    assert_eq!(
        f.put("/r/f.csv?time=1600000000", b"x,y").status,
        StatusCode::OK
    );
    let h = f.get("/r/f.csv?revision=all").json();
    assert_eq!(h["history"][0]["time"], 1600000000);
    let l = f.get("/r/all").json();
    assert_eq!(l["files"][0]["time"], 1600000000);
}

#[test]
fn get_by_number_current_latest_and_tag() {
    let f = Fixture::new();
    for body in ["v1", "v2", "v3"] {
        f.put("/r/f.txt", body.as_bytes());
    }
    f.post("/r/f.txt?revision=2&tag=prod");
    f.post("/r/f.txt?revision=1");
    assert_eq!(f.get("/r/f.txt").ok_text(), "v1");
    assert_eq!(f.get("/r/f.txt?revision=current").ok_text(), "v1");
    assert_eq!(f.get("/r/f.txt?revision=latest").ok_text(), "v3");
    assert_eq!(f.get("/r/f.txt?revision=prod").ok_text(), "v2");
    let r = f.get("/r/f.txt?revision=3");
    assert_eq!(r.ok_text(), "v3");
    assert_eq!(r.header("etag"), Some("\"3\""));
    assert_eq!(
        f.get("/r/f.txt?revision=9").refusal(),
        (404, "invalid revision".into())
    );
    assert_eq!(
        f.get("/r/f.txt?revision=nope").refusal(),
        (404, "invalid revision".into())
    );
    assert_eq!(f.get("/r/missing.txt").refusal(), (404, "Not found".into()));
    assert_eq!(
        f.get("/r/missing.txt?revision=1").refusal(),
        (404, "invalid revision".into())
    );
}

#[test]
fn history_has_the_reference_shape() {
    let f = Fixture::new();
    f.put("/r/f.json?time=100", b"1");
    f.put("/r/f.json?time=200", b"2");
    f.post("/r/f.json?tag=prod");
    f.post("/r/f.json?revision=1");
    f.post("/r/f.json?revision=1&tag=alpha");
    let r = f.get("/r/f.json?revision=all");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        times_masked(&r.ok_text()),
        concat!(
            r#"{"host":"test-host","timestamp":T,"file":"/depot/r/f.json","#,
            r#""tags":[["alpha",1],["current",1],["latest",2],["prod",2]],"#,
            r#""history":[{"rev":1,"time":T},{"rev":2,"time":T}]}"#
        )
    );
    let h = r.json();
    assert_eq!(h["history"][0]["time"], 100);
    assert_eq!(h["history"][1]["time"], 200);
}

#[test]
fn history_of_a_file_without_revisions_ends_after_tags() {
    let f = Fixture::new();
    assert_eq!(
        times_masked(&f.get("/r/none.txt?revision=all").ok_text()),
        r#"{"host":"test-host","timestamp":T,"file":"/depot/r/none.txt","tags":[]}"#
    );
    assert_eq!(
        times_masked(&f.get("/r/g/none.txt?revision=all").ok_text()),
        r#"{"host":"test-host","timestamp":T,"file":"/depot/r/g/none.txt","tags":[]}"#
    );
}

#[test]
fn listing_shows_current_as_a_string_top_level_first_then_groups() {
    let f = Fixture::new();
    f.put("/r/zeta.txt?time=10", b"z");
    f.put("/r/alpha/one.txt?time=20", b"1");
    f.put("/r/alpha/one.txt?time=30", b"2");
    f.post("/r/alpha/one.txt?revision=1");
    f.put("/r/beta/two.txt?time=40", b"2");
    f.put("/r/apple.txt?time=50", b"a");
    let r = f.get("/r/all");
    assert_eq!(
        r.ok_text().split_once(",\"files\"").unwrap().1,
        concat!(
            r#":[{"name":"/depot/r/apple.txt","rev":"1","time":50},"#,
            r#"{"name":"/depot/r/zeta.txt","rev":"1","time":10},"#,
            r#"{"name":"/depot/r/alpha/one.txt","rev":"1","time":20},"#,
            r#"{"name":"/depot/r/beta/two.txt","rev":"1","time":40}]}"#
        )
    );
    assert!(times_masked(&r.text()).starts_with(r#"{"host":"test-host","timestamp":T,"files":["#));
    let g = f.get("/r/alpha/all");
    assert_eq!(
        times_masked(&g.ok_text()),
        r#"{"host":"test-host","timestamp":T,"files":[{"name":"/depot/r/alpha/one.txt","rev":"1","time":T}]}"#
    );
    assert_eq!(f.get("/r/empty/all").json()["files"], serde_json::json!([]));
}

#[test]
fn post_revision_moves_current_and_the_plain_link() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    let r = f.post("/r/f.txt?revision=1");
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    assert_eq!(f.get("/r/f.txt").ok_text(), "a");
    let l = links(&f.root());
    assert_eq!(l["f.txt"], "f.txt~1");
    assert_eq!(l["f.txt~current"], "f.txt~1");
    assert_eq!(l["f.txt~latest"], "f.txt~2");
    f.post("/r/f.txt?revision=latest");
    assert_eq!(f.get("/r/f.txt").ok_text(), "b");
    f.post("/r/f.txt?tag=prod");
    f.post("/r/f.txt?revision=1");
    f.post("/r/f.txt?revision=prod");
    assert_eq!(links(&f.root())["f.txt"], "f.txt~2");
}

#[test]
fn post_tag_points_at_current_or_at_the_revision_given() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?revision=1");
    assert_eq!(f.post("/r/f.txt?tag=stable").status, StatusCode::OK);
    assert_eq!(
        f.post("/r/f.txt?revision=2&tag=next").status,
        StatusCode::OK
    );
    let l = links(&f.root());
    assert_eq!(l["f.txt~stable"], "f.txt~1");
    assert_eq!(l["f.txt~next"], "f.txt~2");
    // A tag moves when set again; current is untouched by tagging.
    f.post("/r/f.txt?revision=next&tag=stable");
    let l = links(&f.root());
    assert_eq!(l["f.txt~stable"], "f.txt~2");
    assert_eq!(l["f.txt~current"], "f.txt~1");
    assert_eq!(f.get("/r/f.txt?revision=stable").ok_text(), "b");
}

#[test]
fn post_with_neither_does_nothing() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    let before = links(&f.root());
    let r = f.post("/r/f.txt");
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    assert_eq!(links(&f.root()), before);
}

#[test]
fn delete_a_revision_takes_its_user_tags_with_it() {
    let f = Fixture::new();
    for b in ["a", "b", "c"] {
        f.put("/r/f.txt", b.as_bytes());
    }
    f.post("/r/f.txt?revision=2&tag=prod");
    f.post("/r/f.txt?revision=2&tag=qa");
    f.post("/r/f.txt?revision=1&tag=old");
    assert_eq!(f.delete("/r/f.txt?revision=2").status, StatusCode::OK);
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~3"]);
    assert_eq!(
        links(&f.root()),
        map(&[
            ("f.txt", "f.txt~3"),
            ("f.txt~current", "f.txt~3"),
            ("f.txt~latest", "f.txt~3"),
            ("f.txt~old", "f.txt~1"),
        ])
    );
    assert_eq!(
        f.get("/r/f.txt?revision=2").refusal(),
        (404, "invalid revision".into())
    );
    // Numbers only grow: the next is 4.
    f.put("/r/f.txt", b"d");
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~3", "f.txt~4"]);
}

#[test]
fn delete_a_tag_removes_the_tag_only() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.post("/r/f.txt?tag=prod");
    assert_eq!(f.delete("/r/f.txt?revision=prod").status, StatusCode::OK);
    assert_eq!(regular_files(&f.root()), ["f.txt~1"]);
    assert!(!links(&f.root()).contains_key("f.txt~prod"));
    assert_eq!(f.get("/r/f.txt").ok_text(), "a");
    assert_eq!(
        f.delete("/r/f.txt?revision=prod").refusal(),
        (404, "invalid revision".into())
    );
}

#[test]
fn delete_all_removes_the_file_its_revisions_and_tags() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?tag=prod");
    f.put("/r/other.txt", b"o");
    assert_eq!(f.delete("/r/f.txt?revision=all").status, StatusCode::OK);
    assert_eq!(regular_files(&f.root()), ["other.txt~1"]);
    assert!(links(&f.root()).keys().all(|k| k.starts_with("other.txt")));
    assert_eq!(f.get("/r/f.txt").refusal(), (404, "Not found".into()));
    let names: Vec<_> = f.get("/r/all").json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["/depot/r/other.txt"]);
    assert_eq!(
        f.delete("/r/f.txt?revision=all").refusal(),
        (404, "Not found".into())
    );
}

#[test]
fn content_type_follows_the_extension() {
    let f = Fixture::new();
    for (name, ct) in [
        ("a.html", "text/html"),
        ("a.css", "text/css"),
        ("a.csv", "text/csv"),
        ("a.json", "application/json"),
        ("a.js", "application/javascript"),
        ("a.xml", "text/xml"),
        ("a.txt", "text/plain"),
        ("a.bin", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ] {
        f.put(&format!("/r/{name}"), b"x");
        assert_eq!(
            f.get(&format!("/r/{name}")).header("content-type"),
            Some(ct),
            "{name}"
        );
    }
}

#[test]
fn path_and_query_are_percent_decoded() {
    let f = Fixture::new();
    assert_eq!(f.put("/r/my%20file.txt", b"hello").status, StatusCode::OK);
    assert!(f.root().join("my file.txt~1").is_file());
    assert_eq!(f.get("/r/my file.txt").ok_text(), "hello");
    f.post("/r/my%20file.txt?tag=%70rod");
    assert_eq!(f.get("/r/my%20file.txt?revision=%70rod").ok_text(), "hello");
    assert_eq!(
        f.get("/r/my%20file.txt?revision=%6Catest").ok_text(),
        "hello"
    );
}

#[test]
fn if_none_match_on_the_current_etag_is_304() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    let hit = crate::support::call(
        &f.depot,
        http::Method::GET,
        "/r/f.txt",
        &[("if-none-match", "\"1\"")],
        b"",
    );
    assert_eq!(hit.status, StatusCode::NOT_MODIFIED);
    assert!(hit.body.is_empty());
    assert_eq!(hit.header("etag"), Some("\"1\""));
    f.put("/r/f.txt", b"b");
    let miss = crate::support::call(
        &f.depot,
        http::Method::GET,
        "/r/f.txt",
        &[("if-none-match", "\"1\"")],
        b"",
    );
    assert_eq!(miss.ok_text(), "b");
}

#[test]
fn a_group_file_lives_in_its_group_folder() {
    let f = Fixture::new();
    assert_eq!(f.put("/r/g/f.txt", b"in group").status, StatusCode::OK);
    let dir = f.root().join("g");
    assert_eq!(regular_files(&dir), ["f.txt~1"]);
    assert_eq!(links(&dir)["f.txt"], "f.txt~1");
    assert_eq!(f.get("/r/g/f.txt").ok_text(), "in group");
    assert!(regular_files(&f.root()).is_empty());
}

#[test]
fn events_record_who_changed_what() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.post("/r/f.txt?tag=prod");
    f.put("/r/f.txt", b"b");
    f.post("/r/f.txt?revision=1");
    f.delete("/r/f.txt?revision=prod");
    let r = f.get("/log/events");
    let text = times_masked(&r.ok_text());
    assert!(
        text.starts_with(r#"{"host":"test-host","timestamp":T,"events":["#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"{"time":T,"file":"/depot/r/f.txt","action":"checkin","revision":1,"user":"tester"}"#
        ),
        "{text}"
    );
    let events = r.json()["events"].as_array().unwrap().clone();
    let actions: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["revision"].clone(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("checkin".to_string(), serde_json::json!(1)),
            ("tag".to_string(), serde_json::json!(1)),
            ("checkin".to_string(), serde_json::json!(2)),
            ("current".to_string(), serde_json::json!(1)),
            ("untag".to_string(), serde_json::json!(1)),
        ]
    );
    assert_eq!(events[1]["tag"], "prod");
}
