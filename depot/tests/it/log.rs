//! The write-ahead log: check-ins through it are served at once, and what
//! a crash loses of the folder is put back from it when the data dir is
//! opened again. A crash is played by leaving the records unchecked-in
//! (`leave_records_for_replay`), dropping everything, then taking from the
//! folder what a power cut could take: revision files' bytes and links.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use gatehouse_depot::{
    Change, CommitOptions, FileName, Journal, LOG_NAME, Repo, RepoOptions, Selector, Wal,
};

use crate::support::TempDir;

fn open(data: &Path, options: RepoOptions) -> (Arc<Wal>, Arc<Repo>) {
    let (wal, _) = Wal::open(data).unwrap();
    wal.leave_records_for_replay();
    let repo = Repo::open_logged(
        "r",
        data.join("ns/r"),
        options,
        Arc::new(Journal::new()),
        wal.clone(),
    )
    .unwrap();
    (wal, repo)
}

fn check_in(repo: &Arc<Repo>, file: &str, body: &[u8], make_current: bool) -> u64 {
    let mut upload = repo.begin_upload(&FileName::parse(file).unwrap()).unwrap();
    upload.write_all(body).unwrap();
    let committed = upload
        .commit(CommitOptions {
            make_current,
            ..CommitOptions::default()
        })
        .unwrap();
    assert!(committed.created);
    committed.revision
}

fn link(dir: &Path, name: &str) -> Option<String> {
    fs::read_link(dir.join(name))
        .ok()
        .map(|t| t.to_string_lossy().into_owned())
}

fn point(dir: &Path, name: &str, target: &str) {
    let _ = fs::remove_file(dir.join(name));
    std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
}

/// Eight threads, each `each` check-ins of its own bodies to `f`, taking
/// turns over `repos`: (revision, body) of every acknowledged one.
fn eight_writers(repos: &[Arc<Repo>], each: usize) -> Vec<(u64, String)> {
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let repo = repos[t % repos.len()].clone();
            std::thread::spawn(move || {
                (0..each)
                    .map(|i| {
                        let body = format!("writer {t} write {i}");
                        (check_in(&repo, "f", body.as_bytes(), true), body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

fn remove_revision_files(dir: &Path, acked: &[(u64, String)]) {
    for (rev, _) in acked {
        fs::remove_file(dir.join(format!("f~{rev}"))).unwrap();
    }
}

fn assert_each_acknowledged_once(dir: &Path, acked: &[(u64, String)], count: usize) {
    let mut revisions: Vec<u64> = acked.iter().map(|(r, _)| *r).collect();
    revisions.sort();
    revisions.dedup();
    assert_eq!(revisions.len(), count, "each acknowledged once");
    for (rev, body) in acked {
        assert_eq!(
            fs::read_to_string(dir.join(format!("f~{rev}"))).unwrap(),
            *body,
            "revision {rev}"
        );
    }
}

#[test]
fn a_logged_check_in_is_in_place_at_once_and_a_checkpoint_empties_the_log() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    assert_eq!(check_in(&repo, "f", b"one", true), 1);
    let dir = tmp.path().join("ns/r");
    assert_eq!(fs::read(dir.join("f~1")).unwrap(), b"one");
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"one");
    assert_eq!(link(&dir, "f~latest").as_deref(), Some("f~1"));
    wal.checkpoint().unwrap();
    drop((repo, wal));
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 0, "a checkpoint leaves nothing to replay");
}

#[test]
fn replay_puts_back_the_bytes_and_links_a_crash_lost() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    for body in [&b"one"[..], b"two", b"three"] {
        check_in(&repo, "f", body, true);
    }
    check_in(&repo, "g/h", b"in a group", true);
    drop((repo, wal));
    // What a power cut could leave: revision 3 never reached the disk,
    // revision 2's bytes did not, and the links still name revision 1.
    let dir = tmp.path().join("ns/r");
    fs::remove_file(dir.join("f~3")).unwrap();
    fs::write(dir.join("f~2"), b"").unwrap();
    for name in ["f~latest", "f~current", "f"] {
        point(&dir, name, "f~1");
    }
    fs::remove_file(dir.join("g/h~current")).unwrap();

    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 4);
    assert_eq!(replayed.rewritten, 2, "{replayed:?}");
    assert_eq!(fs::read(dir.join("f~2")).unwrap(), b"two");
    assert_eq!(fs::read(dir.join("f~3")).unwrap(), b"three");
    for name in ["f~latest", "f~current", "f"] {
        assert_eq!(link(&dir, name).as_deref(), Some("f~3"), "{name}");
    }
    assert_eq!(link(&dir.join("g"), "h~current").as_deref(), Some("h~1"));
    assert_eq!(fs::read(dir.join("g/h")).unwrap(), b"in a group");
    let (_again, replayed) = {
        drop(_wal);
        Wal::open(tmp.path()).unwrap()
    };
    assert_eq!(replayed.records, 0, "replayed once, then checkpointed");
}

#[test]
fn a_group_folder_a_crash_lost_is_made_again() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    check_in(&repo, "g/h", b"in a group", true);
    drop((repo, wal));
    let dir = tmp.path().join("ns/r");
    fs::remove_dir_all(dir.join("g")).unwrap();
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.rewritten, 1, "{replayed:?}");
    assert_eq!(fs::read(dir.join("g/h")).unwrap(), b"in a group");
    // A repository removed by hand is not brought back.
    drop(_wal);
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    check_in(&repo, "f", b"one", true);
    drop((repo, wal));
    fs::remove_dir_all(&dir).unwrap();
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.skipped, 1, "{replayed:?}");
    assert!(!dir.exists());
}

#[test]
fn replay_never_undoes_a_rollback_nor_makes_a_staged_revision_current() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    let file = FileName::parse("f").unwrap();
    check_in(&repo, "f", b"one", true);
    check_in(&repo, "f", b"two", true);
    // A rollback checkpoints first: the records of 1 and 2 are gone.
    repo.set_current(&file, &Selector::Number(1), Change::default())
        .unwrap();
    check_in(&repo, "f", b"staged", false);
    drop((repo, wal));
    let dir = tmp.path().join("ns/r");
    point(&dir, "f~latest", "f~2");

    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 1, "only the staged check-in was left");
    assert_eq!(link(&dir, "f~latest").as_deref(), Some("f~3"));
    assert_eq!(link(&dir, "f~current").as_deref(), Some("f~1"));
    assert_eq!(fs::read(dir.join("f")).unwrap(), b"one");
}

#[test]
fn a_revision_depth_pruned_comes_back_whole_and_the_next_check_in_prunes_it() {
    let tmp = TempDir::new();
    let options = RepoOptions {
        depth: Some(2),
        ..RepoOptions::default()
    };
    let (wal, repo) = open(tmp.path(), options.clone());
    for i in 1..=5 {
        check_in(&repo, "f", format!("body {i}").as_bytes(), true);
    }
    drop((repo, wal));
    let dir = tmp.path().join("ns/r");
    let kept = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("f~") && n[2..].parse::<u64>().is_ok())
            .collect();
        names.sort();
        names
    };
    assert_eq!(kept(&dir), ["f~4", "f~5"]);
    // The crash cut the last prune short: revision 3's file is back,
    // empty (its bytes were never fsynced).
    fs::write(dir.join("f~3"), b"").unwrap();
    let (wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.rewritten, 3, "{replayed:?}");
    assert_eq!(kept(&dir), ["f~1", "f~2", "f~3", "f~4", "f~5"]);
    for i in 1..=5 {
        let body = fs::read_to_string(dir.join(format!("f~{i}"))).unwrap();
        assert_eq!(body, format!("body {i}"));
    }
    let repo = Repo::open_logged("r", &dir, options, Arc::new(Journal::new()), wal).unwrap();
    check_in(&repo, "f", b"body 6", true);
    assert_eq!(kept(&dir), ["f~5", "f~6"]);
}

#[test]
fn two_repository_handles_on_one_folder_through_the_log_lose_no_revision() {
    let tmp = TempDir::new();
    let (wal, first) = open(tmp.path(), RepoOptions::default());
    let second = Repo::open_logged(
        "r",
        tmp.path().join("ns/r"),
        RepoOptions::default(),
        Arc::new(Journal::new()),
        wal.clone(),
    )
    .unwrap();
    let acked = eight_writers(&[first.clone(), second.clone()], 20);
    drop((first, second, wal));
    let dir = tmp.path().join("ns/r");
    remove_revision_files(&dir, &acked);
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.rewritten, 160, "{replayed:?}");
    assert_each_acknowledged_once(&dir, &acked, 160);
}

#[test]
fn a_data_dir_that_is_not_there_yet_is_made_also_when_named_relatively() {
    let tmp = TempDir::new();
    let nested = tmp.path().join("a/b/data");
    let (wal, _) = Wal::open(&nested).unwrap();
    assert!(nested.join(LOG_NAME).is_file());
    drop(wal);
    // `--data-dir data` from the folder the proxy runs in.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "log::made_relative_in_the_working_folder",
            "--ignored",
        ])
        .current_dir(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(tmp.path().join("relative-data").join(LOG_NAME).is_file());
}

/// Run by the test above, in a temp folder of its own.
#[test]
#[ignore = "run by a_data_dir_that_is_not_there_yet_is_made_also_when_named_relatively"]
fn made_relative_in_the_working_folder() {
    Wal::open(Path::new("relative-data")).unwrap();
}

#[test]
fn a_log_cut_short_while_it_was_made_is_made_again() {
    let tmp = TempDir::new();
    fs::write(tmp.path().join(format!("{LOG_NAME}.new")), vec![0u8; 4096]).unwrap();
    let (wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 0);
    assert_eq!(
        fs::metadata(tmp.path().join(LOG_NAME)).unwrap().len(),
        gatehouse_depot::LOG_BYTES
    );
    assert!(!tmp.path().join(format!("{LOG_NAME}.new")).exists());
    drop(wal);
    Wal::open(tmp.path()).unwrap();
}

#[test]
fn a_torn_last_record_is_not_replayed_and_the_ones_before_it_are() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    check_in(&repo, "f", b"one", true);
    check_in(&repo, "f", b"two", true);
    drop((repo, wal));
    // Tear the second record: its last bytes never reached the disk.
    let log = tmp.path().join(LOG_NAME);
    let mut bytes = fs::read(&log).unwrap();
    let two = bytes
        .windows(3)
        .rposition(|w| w == b"two")
        .expect("the second body is in the log");
    bytes[two + 2] = 0;
    fs::write(&log, &bytes).unwrap();
    let dir = tmp.path().join("ns/r");
    fs::remove_file(dir.join("f~1")).unwrap();
    fs::remove_file(dir.join("f~2")).unwrap();

    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 1);
    assert_eq!(fs::read(dir.join("f~1")).unwrap(), b"one");
    assert!(!dir.join("f~2").exists());
}

#[test]
fn a_record_of_an_earlier_run_behind_the_last_one_is_never_replayed() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    check_in(&repo, "f", b"a", true);
    check_in(&repo, "f", b"b", true);
    wal.checkpoint().unwrap();
    drop((repo, wal));
    // The next run's first record has the same size as the last run's
    // first: right behind it lies the last run's second record, whole and
    // with a good checksum, and a lower seq than none of this run's. Only
    // the key (new at every checkpoint) tells it is not of this lap; a
    // client's body made to look like a record fails the same way.
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    check_in(&repo, "f", b"c", true);
    drop((repo, wal));
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.records, 1, "{replayed:?}");
}

#[test]
fn a_second_process_on_the_same_data_dir_is_refused_with_the_fix() {
    let tmp = TempDir::new();
    let (_wal, _) = Wal::open(tmp.path()).unwrap();
    let err = Wal::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("another process keeps depot data in"), "{err}");
    assert!(err.contains("--data-writer"), "{err}");
}

#[test]
fn a_full_log_checkpoints_and_goes_on() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    // 16 MiB of log, 60 KiB a record: several laps.
    let mut last = 0;
    for i in 0..700u32 {
        let mut body = vec![b'x'; 60 * 1024];
        body[..4].copy_from_slice(&i.to_le_bytes());
        last = check_in(&repo, "f", &body, true);
    }
    assert_eq!(last, 700);
    drop((repo, wal));
    let dir = tmp.path().join("ns/r");
    fs::remove_file(dir.join("f~700")).unwrap();
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert!(
        replayed.records > 0 && replayed.records < 700,
        "{replayed:?}"
    );
    assert_eq!(replayed.rewritten, 1);
    assert_eq!(
        &fs::read(dir.join("f")).unwrap()[..4],
        &699u32.to_le_bytes()
    );
}

#[test]
fn eight_writers_on_one_file_through_the_log_each_get_their_own_revision() {
    let tmp = TempDir::new();
    let (wal, repo) = open(tmp.path(), RepoOptions::default());
    let acked = eight_writers(std::slice::from_ref(&repo), 25);
    drop((repo, wal));
    let dir = tmp.path().join("ns/r");
    // A power cut takes every revision file: the log has them all.
    remove_revision_files(&dir, &acked);
    let (_wal, replayed) = Wal::open(tmp.path()).unwrap();
    assert_eq!(replayed.rewritten, 200);
    assert_each_acknowledged_once(&dir, &acked, 200);
    assert_eq!(link(&dir, "f~latest").as_deref(), Some("f~200"));
}
