//! A repository's summary (files, bytes, last change), as its DepotRepo
//! status shows it, after each kind of change.

use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_depot::{Repo, RepoOptions, Summary};

use crate::support::Fixture;

fn repo(f: &Fixture) -> &Repo {
    f.depot.repo("r").unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn an_empty_repository_is_zero_with_no_last_change() {
    let f = Fixture::new();
    assert_eq!(repo(&f).summary().unwrap(), Summary::default());
    assert_eq!(repo(&f).changes(), 0);
}

#[test]
fn files_count_current_ones_at_the_top_and_in_groups_and_bytes_every_revision() {
    let f = Fixture::new();
    f.put("/r/a.txt", b"12345");
    f.put("/r/a.txt", b"123");
    f.put("/r/g/b.json", b"{}");
    // Staged: a new file with no current yet is no file, but its bytes count.
    f.put("/r/staged.txt?current=false", b"1234567");
    let before = now();
    let s = repo(&f).summary().unwrap();
    assert_eq!(s.files, 2, "a.txt and g/b.json");
    assert_eq!(
        s.bytes,
        5 + 3 + 2 + 7,
        "every revision kept, staged included"
    );
    assert!(s.last_change.unwrap() >= before - 2, "{s:?}");
    assert_eq!(repo(&f).changes(), 4);
}

#[test]
fn deleting_a_revision_or_a_file_lowers_the_counts() {
    let f = Fixture::new();
    f.put("/r/a.txt", b"aaaa");
    f.put("/r/a.txt", b"bb");
    f.put("/r/a.txt", b"c");
    f.put("/r/b.txt", b"dddddd");
    assert_eq!(repo(&f).summary().unwrap().bytes, 4 + 2 + 1 + 6);
    f.delete("/r/a.txt?revision=1");
    let s = repo(&f).summary().unwrap();
    assert_eq!((s.files, s.bytes), (2, 2 + 1 + 6));
    f.delete("/r/b.txt?revision=all");
    let s = repo(&f).summary().unwrap();
    assert_eq!((s.files, s.bytes), (1, 2 + 1));
}

#[test]
fn depth_pruning_is_reflected_in_bytes() {
    let f = Fixture::with(RepoOptions {
        depth: Some(2),
        ..RepoOptions::default()
    });
    for body in ["1", "22", "333", "4444"] {
        f.put("/r/f", body.as_bytes());
    }
    // Revisions 3 and 4 are kept.
    assert_eq!(repo(&f).summary().unwrap().bytes, 3 + 4);
}

#[test]
fn last_change_is_the_check_in_even_for_a_revision_with_an_old_time() {
    let f = Fixture::new();
    let before = now();
    f.put("/r/f.txt?time=1600000000", b"old");
    let last = repo(&f).summary().unwrap().last_change.unwrap();
    assert!(
        last >= before - 2,
        "the latest and current links date the check-in: {last}"
    );
}

#[test]
fn a_folder_written_by_someone_else_is_read_from_disk_alone() {
    let f = Fixture::new();
    let root = f.root();
    // A HouseDepot folder, as copied in: revisions, links, a hidden temp.
    fs::write(root.join("x~1"), b"abc").unwrap();
    fs::write(root.join("x~2"), b"abcdef").unwrap();
    std::os::unix::fs::symlink("x~2", root.join("x~current")).unwrap();
    std::os::unix::fs::symlink("x~2", root.join("x~latest")).unwrap();
    std::os::unix::fs::symlink("x~2", root.join("x")).unwrap();
    fs::write(root.join(".x~tmp-1-1-1"), b"not counted").unwrap();
    // A current link to a revision that is gone: no file.
    std::os::unix::fs::symlink("y~9", root.join("y~current")).unwrap();
    let old = fs::File::options()
        .write(true)
        .open(root.join("x~1"))
        .unwrap();
    old.set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000_000))
        .unwrap();
    let s = repo(&f).summary().unwrap();
    assert_eq!((s.files, s.bytes), (1, 3 + 6));
    assert!(s.last_change.unwrap() > 1_000_000_000, "{s:?}");
    assert_eq!(repo(&f).changes(), 0, "nothing recorded by this process");
}

/// Sets `path`'s own mtime (a link's, not its target's) to `secs`.
fn age(path: &std::path::Path, secs: i64) {
    let touched = std::process::Command::new("touch")
        .args(["-h", "-m", "-d", &format!("@{secs}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(touched.success());
}

#[test]
fn a_delete_is_dated_by_the_repo_that_made_it() {
    let f = Fixture::new();
    let root = f.root();
    for body in ["1", "2", "3"] {
        f.put("/r/f.txt", body.as_bytes());
    }
    // Age every entry, links included, as a folder untouched for years.
    for entry in fs::read_dir(&root).unwrap() {
        age(&entry.unwrap().path(), 1_000_000_000);
    }
    let on_disk = gatehouse_depot::Repo::open(
        "r",
        &root,
        RepoOptions::default(),
        std::sync::Arc::new(gatehouse_depot::Journal::new()),
    )
    .unwrap();
    assert_eq!(
        on_disk.summary().unwrap().last_change,
        Some(1_000_000_000),
        "the disk alone"
    );
    let changes = repo(&f).changes();
    let before = now();
    // Neither current nor latest (3): the file goes, nothing new is made.
    assert_eq!(f.delete("/r/f.txt?revision=1").status, 200);
    assert_eq!(repo(&f).changes(), changes + 1);
    assert!(repo(&f).summary().unwrap().last_change.unwrap() >= before);
    assert_eq!(on_disk.summary().unwrap().last_change, Some(1_000_000_000));
}
