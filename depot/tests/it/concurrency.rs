//! Concurrent writers: every acknowledged revision is there exactly once
//! with its own bytes; none lost, mixed or duplicated; no temp file left.

use crate::support::{Fixture, TempDir, hidden, regular_files};
use gatehouse_depot::{CommitOptions, FileName, Journal, Repo, RepoOptions};
use http::StatusCode;
use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

const THREADS: usize = 8;
const EACH: usize = 5;

fn body(thread: usize, i: usize) -> Vec<u8> {
    // Large enough to take several chunks, distinct per writer and round.
    format!("writer {thread} round {i} ")
        .repeat(50)
        .into_bytes()
}

#[test]
fn eight_writers_on_one_file_each_get_their_own_revision() {
    let f = Fixture::new();
    let acked: Vec<(u64, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let b = body(t, i);
                            let r = f.put("/r/shared.txt", &b);
                            assert_eq!(r.status, StatusCode::OK);
                            let rev = r.header("etag").unwrap().trim_matches('"').parse().unwrap();
                            (rev, b)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let by_rev: BTreeMap<u64, Vec<u8>> = acked.iter().cloned().collect();
    assert_eq!(by_rev.len(), THREADS * EACH, "two writers got one revision");
    let expected: Vec<u64> = (1..=(THREADS * EACH) as u64).collect();
    assert_eq!(by_rev.keys().copied().collect::<Vec<_>>(), expected);
    for (rev, b) in &by_rev {
        assert_eq!(
            &fs::read(f.root().join(format!("shared.txt~{rev}"))).unwrap(),
            b,
            "revision {rev}"
        );
    }
    assert_eq!(regular_files(&f.root()).len(), THREADS * EACH);
    assert!(
        hidden(&f.root()).is_empty(),
        "left: {:?}",
        hidden(&f.root())
    );
    let latest = fs::read_link(f.root().join("shared.txt~latest")).unwrap();
    assert_eq!(
        latest.to_str().unwrap(),
        format!("shared.txt~{}", THREADS * EACH)
    );
}

#[test]
fn eight_writers_on_different_files_all_land() {
    let f = Fixture::new();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let f = &f;
            s.spawn(move || {
                for i in 0..EACH {
                    let path = if t % 2 == 0 {
                        format!("/r/f{t}.txt")
                    } else {
                        format!("/r/g/f{t}.txt")
                    };
                    assert_eq!(f.put(&path, &body(t, i)).status, StatusCode::OK);
                }
            });
        }
    });
    for t in 0..THREADS {
        let (dir, name) = if t % 2 == 0 {
            (f.root(), format!("f{t}.txt"))
        } else {
            (f.root().join("g"), format!("f{t}.txt"))
        };
        for i in 0..EACH {
            let rev = i + 1;
            assert_eq!(
                fs::read(dir.join(format!("{name}~{rev}"))).unwrap(),
                body(t, i)
            );
        }
        assert_eq!(fs::read(dir.join(&name)).unwrap(), body(t, EACH - 1));
        assert!(hidden(&dir).is_empty());
    }
    assert_eq!(
        f.get("/r/all").json()["files"].as_array().unwrap().len(),
        THREADS
    );
}

/// Two `Repo` values on one folder have separate locks, as two processes
/// would: the no-overwrite link alone must keep every revision.
#[test]
fn two_repo_handles_on_one_folder_never_clobber_a_revision() {
    let tmp = TempDir::new();
    let root = tmp.path().join("r");
    let open = || Repo::open("r", &root, RepoOptions::default(), Arc::new(Journal::new())).unwrap();
    let (a, b) = (open(), open());
    let file = FileName::parse("f.txt").unwrap();
    let acked: Vec<(u64, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let repo = if t % 2 == 0 { a.clone() } else { b.clone() };
                let file = file.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let bytes = body(t, i);
                            let mut up = repo.begin_upload(&file).unwrap();
                            up.write_all(&bytes).unwrap();
                            let done = up.commit(CommitOptions::default()).unwrap();
                            assert!(done.created);
                            (done.revision, bytes)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let by_rev: BTreeMap<u64, Vec<u8>> = acked.iter().cloned().collect();
    assert_eq!(
        by_rev.len(),
        THREADS * EACH,
        "a revision number was acknowledged twice"
    );
    for (rev, bytes) in &by_rev {
        assert_eq!(&fs::read(root.join(format!("f.txt~{rev}"))).unwrap(), bytes);
    }
    assert!(hidden(&root).is_empty());
}
