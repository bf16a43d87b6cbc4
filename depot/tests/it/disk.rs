//! The on-disk layout both ways: a folder HouseDepot wrote is served as it
//! is, and a folder the engine wrote is HouseDepot's layout exactly.

use crate::support::{Fixture, TempDir, hidden, links, map, regular_files, times_masked};
use gatehouse_depot::{CommitOptions, FileName, Journal, Repo, RepoOptions};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;

fn write_revision(dir: &Path, name: &str, n: u64, body: &str, time: u64) {
    let path = dir.join(format!("{name}~{n}"));
    fs::write(&path, body).unwrap();
    let f = fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(time))
        .unwrap();
}

#[test]
fn a_housedepot_folder_is_served_as_it_is() {
    let f = Fixture::new();
    let root = f.root();
    write_revision(&root, "config.json", 1, "one", 1000);
    write_revision(&root, "config.json", 2, "two", 2000);
    symlink("config.json~1", root.join("config.json~current")).unwrap();
    symlink("config.json~2", root.join("config.json~latest")).unwrap();
    symlink("config.json~2", root.join("config.json~prod")).unwrap();
    symlink("config.json~1", root.join("config.json")).unwrap();
    // Older HouseDepot wrote absolute links: they read too.
    let g = root.join("lights");
    fs::create_dir(&g).unwrap();
    write_revision(&g, "rules.txt", 1, "on", 3000);
    symlink(g.join("rules.txt~1"), g.join("rules.txt~current")).unwrap();
    symlink(g.join("rules.txt~1"), g.join("rules.txt~latest")).unwrap();
    symlink(g.join("rules.txt~1"), g.join("rules.txt")).unwrap();
    // Not part of the depot: no ~current; hidden files.
    write_revision(&root, "orphan.txt", 1, "x", 1);
    fs::write(root.join(".hidden"), "h").unwrap();
    fs::create_dir(root.join(".git")).unwrap();

    assert_eq!(f.get("/r/config.json").ok_text(), "one");
    assert_eq!(f.get("/r/config.json?revision=prod").ok_text(), "two");
    assert_eq!(f.get("/r/lights/rules.txt").ok_text(), "on");
    assert_eq!(
        times_masked(&f.get("/r/all").ok_text()),
        concat!(
            r#"{"host":"test-host","timestamp":T,"files":["#,
            r#"{"name":"/depot/r/config.json","rev":"1","time":T},"#,
            r#"{"name":"/depot/r/lights/rules.txt","rev":"1","time":T}]}"#
        )
    );
    let l = f.get("/r/all").json();
    assert_eq!(l["files"][0]["time"], 1000);
    assert_eq!(l["files"][1]["time"], 3000);
    let h = f.get("/r/config.json?revision=all").json();
    assert_eq!(
        h["tags"],
        serde_json::json!([["current", 1], ["latest", 2], ["prod", 2]])
    );
    assert_eq!(
        h["history"],
        serde_json::json!([{"rev": 1, "time": 1000}, {"rev": 2, "time": 2000}])
    );
    assert_eq!(f.get("/r/orphan.txt").refusal().0, 404);

    // Changing it keeps the layout: revision 3, relative links.
    f.put("/r/config.json", b"three");
    assert_eq!(
        regular_files(&root),
        [
            ".hidden",
            "config.json~1",
            "config.json~2",
            "config.json~3",
            "orphan.txt~1"
        ]
    );
    assert_eq!(
        links(&root),
        map(&[
            ("config.json", "config.json~3"),
            ("config.json~current", "config.json~3"),
            ("config.json~latest", "config.json~3"),
            ("config.json~prod", "config.json~2"),
        ])
    );
    f.put("/r/lights/rules.txt", b"off");
    assert_eq!(links(&g)["rules.txt~current"], "rules.txt~2");
    assert_eq!(links(&g)["rules.txt"], "rules.txt~2");
}

#[test]
fn the_engine_writes_relative_links_that_a_static_server_follows() {
    let f = Fixture::new();
    f.put("/r/site.html", b"<p>1</p>");
    f.put("/r/site.html", b"<p>2</p>");
    f.post("/r/site.html?revision=1&tag=first");
    f.put("/r/g/x.css", b"a{}");
    for dir in [f.root(), f.root().join("g")] {
        for (link, target) in links(&dir) {
            assert!(!target.contains('/'), "{link} -> {target} is not relative");
            assert!(dir.join(&target).is_file(), "{link} -> {target} dangles");
        }
    }
    // `F` is what a static server reads: the current revision's bytes.
    assert_eq!(
        fs::read_to_string(f.root().join("site.html")).unwrap(),
        "<p>2</p>"
    );
    assert_eq!(fs::read_to_string(f.root().join("g/x.css")).unwrap(), "a{}");
    assert!(hidden(&f.root()).is_empty());
    assert!(hidden(&f.root().join("g")).is_empty());
}

#[test]
fn temp_files_a_crash_left_are_cleaned_when_the_repository_opens() {
    let tmp = TempDir::new();
    let root = tmp.path().join("r");
    fs::create_dir_all(root.join("g")).unwrap();
    fs::write(root.join(".f.txt~tmp-4194999-1"), "partial").unwrap();
    fs::write(root.join("g/.x~tmp-4194999-2"), "partial").unwrap();
    symlink("f.txt~1", root.join(".f.txt~current~tmp-4194999-3")).unwrap();
    fs::write(root.join(".keep"), "not ours").unwrap();
    Repo::open("r", &root, RepoOptions::default(), Arc::new(Journal::new())).unwrap();
    assert_eq!(hidden(&root), [".keep"]);
    assert!(hidden(&root.join("g")).is_empty());
}

#[test]
fn a_repository_opened_again_leaves_an_upload_under_way_alone() {
    let tmp = TempDir::new();
    let root = tmp.path().join("r");
    let journal = Arc::new(Journal::new());
    let first = Repo::open("r", &root, RepoOptions::default(), journal.clone()).unwrap();
    let file = FileName::parse("f.txt").unwrap();
    let mut up = first.begin_upload(&file).unwrap();
    up.write_all(b"a body on its way").unwrap();
    // New options, or a second process: the folder is opened again.
    let _second = Repo::open("r", &root, RepoOptions::default(), journal).unwrap();
    let committed = up.commit(Default::default()).unwrap();
    assert_eq!(committed.revision, 1);
    assert_eq!(
        fs::read_to_string(root.join("f.txt")).unwrap(),
        "a body on its way"
    );
}

#[test]
fn an_upload_dropped_before_commit_leaves_nothing() {
    let tmp = TempDir::new();
    let repo = Repo::open(
        "r",
        tmp.path().join("r"),
        RepoOptions::default(),
        Arc::new(Journal::new()),
    )
    .unwrap();
    let file = FileName::parse("f.txt").unwrap();
    let mut up = repo.begin_upload(&file).unwrap();
    up.write_all(b"half a body").unwrap();
    assert_eq!(
        hidden(repo.root()).len(),
        1,
        "the body goes to a hidden temp file"
    );
    assert!(
        regular_files(repo.root())
            .iter()
            .all(|n| n.starts_with('.'))
    );
    drop(up);
    assert!(fs::read_dir(repo.root()).unwrap().next().is_none());

    // And a committed one is there, with the answer saying so.
    let mut up = repo.begin_upload(&file).unwrap();
    up.write_all(b"whole").unwrap();
    let done = up.commit(CommitOptions::default()).unwrap();
    assert_eq!((done.revision, done.created), (1, true));
    let mut again = repo.begin_upload(&file).unwrap();
    again.write_all(b"whole").unwrap();
    let same = again.commit(CommitOptions::default()).unwrap();
    assert_eq!((same.revision, same.created), (1, false));
    assert!(hidden(repo.root()).is_empty());
}

#[test]
fn a_check_in_that_fails_after_the_revision_is_linked_leaves_nothing_visible() {
    let f = Fixture::new();
    f.put("/r/f.txt", b"one");
    // Make the `latest` link impossible to replace: a folder in its place
    // (rename(2) of a link over a folder fails), as a full disk would fail it.
    fs::remove_file(f.root().join("f.txt~latest")).unwrap();
    fs::create_dir(f.root().join("f.txt~latest")).unwrap();
    let r = f.put("/r/f.txt", b"two");
    assert_eq!(r.refusal().0, 500);
    assert_eq!(regular_files(&f.root()), ["f.txt~1"]);
    assert!(
        hidden(&f.root()).is_empty(),
        "left: {:?}",
        hidden(&f.root())
    );
    let l = links(&f.root());
    assert_eq!(l["f.txt"], "f.txt~1");
    assert_eq!(l["f.txt~current"], "f.txt~1");
    assert_eq!(f.get("/r/f.txt").ok_text(), "one");
}

#[test]
fn a_check_in_makes_one_link_inode_for_its_three_names() {
    use std::os::unix::fs::MetadataExt;
    let f = Fixture::new();
    f.put("/r/f.txt", b"a");
    f.put("/r/f.txt", b"b");
    let inode = |name: &str| {
        let md = fs::symlink_metadata(f.root().join(name)).unwrap();
        assert!(md.file_type().is_symlink(), "{name} is a symbolic link");
        md.ino()
    };
    // Three names, each a symbolic link to `f.txt~2` as HouseDepot reads
    // them, one inode (hard links of the one symbolic link).
    for name in ["f.txt", "f.txt~current", "f.txt~latest"] {
        assert_eq!(
            fs::read_link(f.root().join(name)).unwrap().to_str(),
            Some("f.txt~2")
        );
    }
    assert_eq!(inode("f.txt"), inode("f.txt~latest"));
    assert_eq!(inode("f.txt~current"), inode("f.txt~latest"));
    // Moving `current` back leaves `latest` alone.
    assert_eq!(f.post("/r/f.txt?revision=1").status, 200);
    assert_eq!(inode("f.txt"), inode("f.txt~current"));
    assert_ne!(inode("f.txt~current"), inode("f.txt~latest"));
    assert_eq!(
        fs::read_link(f.root().join("f.txt~latest"))
            .unwrap()
            .to_str(),
        Some("f.txt~2")
    );
    assert_eq!(fs::read_to_string(f.root().join("f.txt")).unwrap(), "a");
    assert!(hidden(&f.root()).is_empty(), "{:?}", hidden(&f.root()));
}
