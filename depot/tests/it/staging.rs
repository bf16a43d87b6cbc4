//! What Gatehouse adds to a check-in: staging, depth pruning, and numbers
//! that only grow.

use crate::support::{Fixture, call, links, regular_files};
use gatehouse_depot::RepoOptions;
use http::{Method, StatusCode};

#[test]
fn a_staged_revision_is_latest_but_not_current_until_committed() {
    let f = Fixture::new();
    f.put("/r/app.json", b"live");
    let r = f.put("/r/app.json?current=false", b"staged");
    assert_eq!(
        (r.status, r.header("etag")),
        (StatusCode::OK, Some("\"2\""))
    );
    assert_eq!(f.get("/r/app.json").ok_text(), "live");
    assert_eq!(f.get("/r/app.json?revision=latest").ok_text(), "staged");
    assert_eq!(f.get("/r/all").json()["files"][0]["rev"], "1");
    let l = links(&f.root());
    assert_eq!(
        (
            l["app.json"].as_str(),
            l["app.json~current"].as_str(),
            l["app.json~latest"].as_str()
        ),
        ("app.json~1", "app.json~1", "app.json~2")
    );
    assert_eq!(f.post("/r/app.json?revision=latest").status, StatusCode::OK);
    assert_eq!(f.get("/r/app.json").ok_text(), "staged");
    assert_eq!(links(&f.root())["app.json"], "app.json~2");
}

#[test]
fn a_new_file_staged_is_not_in_the_depot_until_committed() {
    let f = Fixture::new();
    f.put("/r/new.txt?current=false", b"draft");
    assert_eq!(f.get("/r/new.txt").refusal(), (404, "Not found".into()));
    assert_eq!(f.get("/r/new.txt?revision=latest").ok_text(), "draft");
    assert_eq!(f.get("/r/all").json()["files"], serde_json::json!([]));
    f.post("/r/new.txt?revision=latest");
    assert_eq!(f.get("/r/new.txt").ok_text(), "draft");
    assert_eq!(
        f.get("/r/all").json()["files"][0]["name"],
        "/depot/r/new.txt"
    );
}

#[test]
fn bad_put_parameters_are_400() {
    let f = Fixture::new();
    assert_eq!(
        f.put("/r/f.txt?current=maybe", b"x").refusal(),
        (400, "invalid current parameter".into())
    );
    assert_eq!(
        f.put("/r/f.txt?time=yesterday", b"x").refusal(),
        (400, "invalid time".into())
    );
    assert!(regular_files(&f.root()).is_empty());
}

#[test]
fn depth_prunes_old_revisions_but_never_current_or_latest() {
    let f = Fixture::with(RepoOptions {
        depth: Some(2),
        ..RepoOptions::default()
    });
    for i in 1..=3 {
        f.put("/r/f.txt", format!("v{i}").as_bytes());
    }
    // latest 3, depth 2: ≤ 1 goes.
    assert_eq!(regular_files(&f.root()), ["f.txt~2", "f.txt~3"]);
    f.post("/r/f.txt?revision=2");
    f.post("/r/f.txt?revision=2&tag=keep");
    f.post("/r/f.txt?revision=3&tag=gone");
    for i in 4..=6 {
        f.put("/r/f.txt?current=false", format!("v{i}").as_bytes());
    }
    // latest 6: ≤ 4 goes, but 2 is current; tags on pruned revisions go too.
    assert_eq!(regular_files(&f.root()), ["f.txt~2", "f.txt~5", "f.txt~6"]);
    let l = links(&f.root());
    assert_eq!(l["f.txt~keep"], "f.txt~2");
    assert!(!l.contains_key("f.txt~gone"));
    assert_eq!(f.get("/r/f.txt").ok_text(), "v2");
    let events = f.get("/log/events").json();
    let pruned: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "prune")
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(pruned, [1, 3, 4]);
}

#[test]
fn numbers_only_grow_after_deletes() {
    let mut f = Fixture::new();
    for b in ["a", "b", "c"] {
        f.put("/r/f.txt", b.as_bytes());
    }
    f.post("/r/f.txt?revision=1");
    f.delete("/r/f.txt?revision=2");
    f.put("/r/f.txt", b"d");
    assert_eq!(regular_files(&f.root()), ["f.txt~1", "f.txt~3", "f.txt~4"]);
    // A HouseDepot folder whose highest file was removed by hand while a
    // tag still names it: that number is not given again either. (Read
    // when a file is first changed after the folder is opened, as
    // HouseDepot reads its folders at start-up: a hand edit under a
    // running proxy is seen after a restart.)
    std::os::unix::fs::symlink("f.txt~9", f.root().join("f.txt~ghost")).unwrap();
    f.reopen();
    f.put("/r/f.txt", b"e");
    assert!(f.root().join("f.txt~10").is_file());
}

#[test]
fn numbers_only_grow_with_two_repos_on_one_folder() {
    // A check-in remembers the highest number it gave, yet never goes
    // below `latest` on disk: revisions another `Repo` on the same folder
    // made (as when a DepotRepo's options change under a running PUT) are
    // not numbered again.
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    let other = f.opened_again();
    for body in [b"b", b"c", b"d"] {
        assert_eq!(call(&other, Method::PUT, "/r/f.txt", &[], body).status, 200);
    }
    let deleted = call(&other, Method::DELETE, "/r/f.txt?revision=3", &[], b"");
    assert_eq!(deleted.status, 200);
    f.put("/r/f.txt", b"e");
    assert_eq!(
        regular_files(&f.root()),
        ["f.txt~1", "f.txt~2", "f.txt~4", "f.txt~5"]
    );
    assert_eq!(f.get("/r/f.txt?revision=5").text(), "e");
}
