//! `gatehouse-operator users`: the real binary edits a Secret's manifest,
//! and what it writes is read back as the proxy reads it (`gatehouse_auth`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gatehouse_auth::Users;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn users(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse-operator"))
        .arg("users")
        .args(args)
        .env_remove("GATEHOUSE_USERS_FILE")
        .env_remove("GATEHOUSE_USERS_SECRET")
        .env_remove("GATEHOUSE_USERS_NAMESPACE")
        .env_remove("GATEHOUSE_USERS_COST")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("$2y$"),
        "a hash on stderr: {}",
        run.stderr
    );
    run
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-users-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Secret's `stringData` keys, read as the proxy will read them.
fn read_users(manifest: &str) -> (String, Users) {
    let doc: serde_yaml::Value = serde_yaml::from_str(manifest).unwrap();
    assert_eq!(doc["kind"].as_str(), Some("Secret"), "{manifest}");
    assert_eq!(doc["type"].as_str(), Some("Opaque"), "{manifest}");
    let htpasswd = doc["stringData"]["htpasswd"].as_str().unwrap().to_owned();
    let groups = doc["stringData"]["groups"].as_str().unwrap_or_default();
    let users = Users::from_htpasswd("htpasswd", &htpasswd)
        .unwrap()
        .with_groups("groups", groups)
        .unwrap();
    (htpasswd, users)
}

fn generated(stderr: &str, user: &str) -> String {
    let prefix = format!("generated password for {user}: ");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no generated password in: {stderr}"))
        .to_owned()
}

fn add_alice(file: &Path) {
    let path = file.to_str().unwrap();
    let run = users(
        &["add", "alice", "--password-stdin", "-f", path],
        Some("alice's pass: 1\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "with -f, stdout stays empty");
    assert_eq!(
        run.stderr,
        format!("added alice to Secret gatehouse-users in {path}\n")
    );
}

#[test]
fn add_list_verify_and_remove_in_a_manifest_file() {
    let dir = folder("file");
    let file = dir.join("users.yaml");
    let path = file.to_str().unwrap();
    add_alice(&file);

    let bob = users(
        &["add", "bob", "--generate", "--group", "devs", "-f", path],
        None,
    );
    assert_eq!(bob.code, 0, "{}", bob.stderr);
    assert!(
        bob.stderr.starts_with(&format!(
            "added bob to Secret gatehouse-users in {path} (groups: devs)\n"
        )),
        "{}",
        bob.stderr
    );
    assert!(
        bob.stderr.contains("will not be shown again"),
        "{}",
        bob.stderr
    );
    let bob_password = generated(&bob.stderr, "bob");
    assert_eq!(bob_password.len(), 24);

    let list = users(&["list", "-f", path], None);
    assert_eq!(
        (list.code, list.stdout.as_str()),
        (0, "alice\t\nbob\tdevs\n")
    );

    let (_, written) = read_users(&std::fs::read_to_string(&file).unwrap());
    assert!(written.verify("alice", b"alice's pass: 1"));
    assert!(!written.verify("alice", b"alice's pass: 2"));
    assert!(written.verify("bob", bob_password.as_bytes()));
    assert!(written.in_group("bob", "devs"));
    assert!(!written.in_group("alice", "devs"));

    let removed = users(&["remove", "alice", "-f", path], None);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(
        removed.stderr,
        format!("removed alice from Secret gatehouse-users in {path}\n")
    );
    let list = users(&["list", "-f", path], None);
    assert_eq!(list.stdout, "bob\tdevs\n");

    let again = users(&["remove", "alice", "-f", path], None);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.stderr,
        format!(
            "error: user \"alice\" is not in Secret gatehouse-users in {path}; `users list` shows who is\n"
        )
    );

    // bob leaves: his group goes with him.
    let removed = users(&["remove", "bob", "-f", path], None);
    assert!(
        removed.stderr.ends_with("(and from groups: devs)\n"),
        "{}",
        removed.stderr
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("groups"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_a_file_the_new_secret_goes_to_stdout_for_kubectl_apply() {
    let run = users(
        &[
            "add",
            "carol",
            "--generate",
            "--group",
            "ops",
            "--secret",
            "git-users",
            "-n",
            "git",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_yaml::Value = serde_yaml::from_str(&run.stdout).unwrap();
    assert_eq!(doc["metadata"]["name"].as_str(), Some("git-users"));
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("git"));
    let (_, written) = read_users(&run.stdout);
    assert!(written.verify("carol", generated(&run.stderr, "carol").as_bytes()));
    assert!(written.in_group("carol", "ops"));
    assert!(
        run.stderr
            .starts_with("added carol to Secret git/git-users (groups: ops)\n")
    );

    // The same Secret piped back in, as `kubectl get -o yaml` would.
    let list = users(&["list"], Some(&run.stdout));
    assert_eq!(list.stdout, "carol\tops\n");
}

#[test]
fn bad_input_exits_1_with_the_fix() {
    let no_tty = users(&["add", "dan"], None);
    assert_eq!(no_tty.code, 1);
    assert!(
        no_tty.stderr.starts_with("error: stdin is not a terminal")
            && no_tty.stderr.contains("--password-stdin"),
        "{}",
        no_tty.stderr
    );
    let empty = users(&["add", "dan", "--password-stdin"], Some("\n"));
    assert_eq!(empty.code, 1);
    assert!(
        empty.stderr.contains("read an empty password"),
        "{}",
        empty.stderr
    );
    let cost = users(&["add", "dan", "--generate", "--cost", "32"], None);
    assert_eq!(cost.code, 1);
    assert!(
        cost.stderr.contains("--cost 32 is outside bcrypt's 4..=31"),
        "{}",
        cost.stderr
    );
    let name = users(&["add", "d:n", "--generate", "--group", "a b"], None);
    assert_eq!(name.code, 1);
    assert_eq!(name.stderr.lines().count(), 2, "{}", name.stderr);
    assert_eq!(name.stdout, "");

    let dir = folder("bad");
    let file = dir.join("cm.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let wrong = users(
        &["add", "dan", "--generate", "-f", file.to_str().unwrap()],
        None,
    );
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("`users` edits a v1 Secret"),
        "{}",
        wrong.stderr
    );
    assert!(
        !wrong.stderr.contains("generated password"),
        "nothing made when the file is refused: {}",
        wrong.stderr
    );
    let missing = users(
        &["list", "-f", dir.join("none.yaml").to_str().unwrap()],
        None,
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no such file"),
        "{}",
        missing.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs Apache's htpasswd (apt-get install -y apache2-utils): run bash ct/test-all.sh"]
fn real_htpasswd_accepts_the_line_users_add_writes() {
    let dir = folder("apache");
    let file = dir.join("users.yaml");
    add_alice(&file);
    let (htpasswd, _) = read_users(&std::fs::read_to_string(&file).unwrap());
    let plain = dir.join("htpasswd");
    std::fs::write(&plain, htpasswd).unwrap();
    let verify = |password: &str| {
        Command::new("htpasswd")
            .args(["-vb", plain.to_str().unwrap(), "alice", password])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run Apache's htpasswd ({e}): apt-get install -y apache2-utils")
            })
            .status
            .success()
    };
    assert!(verify("alice's pass: 1"));
    assert!(!verify("alice's pass: 2"));
    std::fs::remove_dir_all(&dir).unwrap();
}
