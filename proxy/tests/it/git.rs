//! Git over smart HTTP through the proxy, with the real `git` CLI on one
//! side and the real `git http-backend` on the other: clones (protocol v0
//! and v2), fetches and pushes, who may push (`access`), `createOnPush`,
//! and names that are refused before anything runs.

use std::path::Path;
use std::process::Output;

use gatehouse_proxy::Running;
use gatehouse_testkit::{TempDir, client};
use reqwest::StatusCode;

use crate::support::{apply_yaml, start_proxy, url};

/// Made with Apache's `htpasswd -nbB -C 5` and `-nbm`: alice writes
/// (group `writers`), bob only reads.
pub(crate) const HTPASSWD: &str =
    "alice:$2y$05$vpFhl.Xw11VEbvhwmTaHBeXDRhqGXgN/dem/CHRybTIPp/xq1gcCG
bob:$apr1$5L3crQ9I$9R8MGPpPDXcor6F6PqPsp1
";
pub(crate) const ALICE: &str = "alice:wonderland";
pub(crate) const BOB: &str = "bob:builder";

/// The Secret `users`: [`HTPASSWD`]'s users, alice in group `writers`.
pub(crate) fn users_secret() -> String {
    let indented: String = HTPASSWD.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: users}}
type: Opaque
stringData:
  htpasswd: |
{indented}  groups: |
    writers: alice
"
    )
}

fn manifests(root: &Path) -> String {
    format!(
        "{users}---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: git}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /git}}}}]
    access: {{secret: users, realm: Git, read: {{anonymous: true}}, write: {{groups: [writers]}}}}
    backends: [{{git: {{root: '{root}', createOnPush: true}}}}]
  - matches: [{{path: {{type: PathPrefix, value: /private}}}}]
    access: {{secret: users, read: {{users: [bob, alice]}}, write: {{groups: [writers]}}}}
    backends: [{{git: {{root: '{root}'}}}}]
",
        users = users_secret(),
        root = root.display()
    )
}

/// Runs git in `dir` with no prompt and no user or system config.
pub(crate) async fn git(dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .output()
        .await
        .expect("git runs")
}

#[track_caller]
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "git failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A bare `project.git` under `root` with three commits on `main`.
async fn seeded(tmp: &TempDir) -> std::path::PathBuf {
    let root = tmp.join("repos");
    std::fs::create_dir_all(&root).unwrap();
    ok(&git(&root, &["init", "--quiet", "--bare", "project.git"]).await);
    let work = tmp.join("seed");
    std::fs::create_dir_all(&work).unwrap();
    ok(&git(&work, &["init", "--quiet"]).await);
    for i in 1..=3 {
        std::fs::write(work.join("file.txt"), format!("version {i}\n")).unwrap();
        ok(&git(&work, &["add", "file.txt"]).await);
        ok(&git(&work, &["commit", "--quiet", "-m", &format!("commit {i}")]).await);
    }
    let bare = root.join("project.git");
    ok(&git(&work, &["push", "--quiet", bare.to_str().unwrap(), "main"]).await);
    root
}

async fn served(tmp: &TempDir) -> (Running, std::path::PathBuf) {
    let root = seeded(tmp).await;
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &manifests(&root));
    (proxy, root)
}

/// `http://[user:pass@]127.0.0.1:port<path>`.
fn git_url(proxy: &Running, who: Option<&str>, path: &str) -> String {
    match who {
        Some(who) => format!("http://{who}@{}{path}", proxy.addr),
        None => url(proxy, path),
    }
}

pub(crate) async fn commit_and_push(dir: &Path, file: &str, remote: &str) -> Output {
    std::fs::write(dir.join(file), "pushed\n").unwrap();
    ok(&git(dir, &["add", file]).await);
    ok(&git(dir, &["commit", "--quiet", "-m", &format!("add {file}")]).await);
    git(dir, &["push", remote, "HEAD:main"]).await
}

#[tokio::test]
async fn clones_with_protocol_v0_and_v2_fetch_and_a_writer_pushes() {
    let tmp = TempDir::new("git-clone");
    let (proxy, root) = served(&tmp).await;
    let anonymous = git_url(&proxy, None, "/git/project.git");
    for version in ["0", "2"] {
        let dir = format!("v{version}");
        let out = git(
            tmp.path(),
            &[
                "-c",
                &format!("protocol.version={version}"),
                "clone",
                &anonymous,
                &dir,
            ],
        )
        .await;
        ok(&out);
        let log = ok(&git(&tmp.join(&dir), &["log", "--format=%s"]).await);
        assert_eq!(log, "commit 3\ncommit 2\ncommit 1\n", "protocol {version}");
    }
    // Alice (a writer) clones with her password and pushes.
    let alice = git_url(&proxy, Some(ALICE), "/git/project.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &alice, "alice"]).await);
    ok(&commit_and_push(&tmp.join("alice"), "alice.txt", "origin").await);
    let bare_log = ok(&git(&root.join("project.git"), &["log", "--format=%s", "main"]).await);
    assert!(bare_log.starts_with("add alice.txt\n"), "{bare_log}");
    // The anonymous clones fetch it, in both protocols.
    for version in ["0", "2"] {
        let dir = tmp.join(&format!("v{version}"));
        ok(&git(
            &dir,
            &[
                "-c",
                &format!("protocol.version={version}"),
                "pull",
                "--quiet",
            ],
        )
        .await);
        assert!(dir.join("alice.txt").exists(), "protocol {version}");
    }
}

#[tokio::test]
async fn a_reader_may_not_push_and_git_shows_the_403() {
    let tmp = TempDir::new("git-reader");
    let (proxy, root) = served(&tmp).await;
    let bob = git_url(&proxy, Some(BOB), "/git/project.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &bob, "bob"]).await);
    let out = commit_and_push(&tmp.join("bob"), "bob.txt", "origin").await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    let bare_log = ok(&git(&root.join("project.git"), &["log", "--format=%s", "main"]).await);
    assert!(bare_log.starts_with("commit 3\n"), "{bare_log}");
    // Anonymous is no writer either: the push asks for a login, and git
    // has no way to give one.
    let anonymous = git_url(&proxy, None, "/git/project.git");
    let out = git(&tmp.join("bob"), &["push", &anonymous, "HEAD:main"]).await;
    assert!(!out.status.success());
}

#[tokio::test]
async fn a_wrong_password_fails_and_a_private_rule_needs_a_login() {
    let tmp = TempDir::new("git-password");
    let (proxy, _root) = served(&tmp).await;
    let wrong = git_url(
        &proxy,
        Some("alice:not-her-password"),
        "/private/project.git",
    );
    let out = git(tmp.path(), &["clone", "--quiet", &wrong, "wrong"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Authentication failed") || stderr(&out).contains("401"),
        "{}",
        stderr(&out)
    );
    let anonymous = git_url(&proxy, None, "/private/project.git");
    let out = git(tmp.path(), &["clone", "--quiet", &anonymous, "anon"]).await;
    assert!(!out.status.success());
    let bob = git_url(&proxy, Some(BOB), "/private/project.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &bob, "bob"]).await);
}

#[tokio::test]
async fn create_on_push_makes_the_repository_for_a_writer_only() {
    let tmp = TempDir::new("git-create");
    let (proxy, root) = served(&tmp).await;
    let work = tmp.join("work");
    std::fs::create_dir_all(&work).unwrap();
    ok(&git(&work, &["init", "--quiet"]).await);
    // Bob may not write: nothing is made.
    let bob = git_url(&proxy, Some(BOB), "/git/team/fresh.git");
    let out = commit_and_push(&work, "one.txt", &bob).await;
    assert!(!out.status.success());
    assert!(!root.join("team/fresh.git").exists());
    // Alice's push makes it.
    let alice = git_url(&proxy, Some(ALICE), "/git/team/fresh.git");
    ok(&git(&work, &["push", "--quiet", &alice, "HEAD:main"]).await);
    assert!(root.join("team/fresh.git/HEAD").is_file());
    let anonymous = git_url(&proxy, None, "/git/team/fresh.git");
    ok(&git(
        tmp.path(),
        &["clone", "--quiet", "-b", "main", &anonymous, "back"],
    )
    .await);
    assert!(tmp.join("back/one.txt").exists());
    // Without createOnPush, a push to a missing repository is 404.
    let private = git_url(&proxy, Some(ALICE), "/private/other.git");
    let out = git(&work, &["push", &private, "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(!root.join("other.git").exists());
}

#[tokio::test]
async fn bad_names_are_400_and_missing_repositories_404() {
    let tmp = TempDir::new("git-names");
    let (proxy, _root) = served(&tmp).await;
    let get = |path: &str| client().get(url(&proxy, path)).send();
    let response = get("/git/a%2F..%2F..%2Fetc/info/refs?service=git-upload-pack")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("`..`"));
    let response = get("/git/nope.git/info/refs?service=git-upload-pack")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("no repository `nope.git`")
    );
    let out = git(
        tmp.path(),
        &["clone", &git_url(&proxy, None, "/git/nope.git"), "nope"],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not found") || stderr(&out).contains("404"),
        "{}",
        stderr(&out)
    );
    // A symlink out of the root is as missing.
    std::os::unix::fs::symlink(tmp.path(), _root.join("out.git")).unwrap();
    let response = get("/git/out.git/seed/.git/info/refs").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// A fetch of many new branches sends many `want` lines, and git gzips
/// a request body over 1 KiB (`Content-Encoding: gzip`; fetches only:
/// git never gzips a push); it reaches http-backend as sent.
#[tokio::test]
async fn a_fetch_that_git_gzips_is_served() {
    let tmp = TempDir::new("git-gzip-fetch");
    let (proxy, _root) = served(&tmp).await;
    let anonymous = git_url(&proxy, None, "/git/project.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &anonymous, "many"]).await);
    let many = tmp.join("many");
    let alice = git_url(&proxy, Some(ALICE), "/git/project.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &alice, "alice"]).await);
    let work = tmp.join("alice");
    for i in 0..40 {
        ok(&git(
            &work,
            &["commit", "--quiet", "--allow-empty", "-m", &format!("b{i}")],
        )
        .await);
        ok(&git(&work, &["branch", &format!("b{i}")]).await);
    }
    ok(&git(
        &work,
        &["push", "--quiet", "origin", "refs/heads/b*:refs/heads/b*"],
    )
    .await);
    ok(&commit_and_push(&work, "new.txt", "origin").await);
    let fetched = tokio::process::Command::new("git")
        .args(["-c", "protocol.version=0", "fetch", "origin"])
        .current_dir(&many)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TRACE_CURL", "1")
        .env("GIT_TRACE_CURL_NO_DATA", "1")
        .output()
        .await
        .unwrap();
    ok(&fetched);
    assert!(
        stderr(&fetched).contains("Content-Encoding: gzip"),
        "git sent no gzip body: {}",
        stderr(&fetched)
    );
    let log = ok(&git(&many, &["log", "--format=%s", "-1", "origin/main"]).await);
    assert_eq!(log, "add new.txt\n");
}

/// What git sends a large fetch as: `Content-Encoding: gzip`, which
/// http-backend inflates itself.
#[tokio::test]
async fn a_gzip_request_body_reaches_http_backend_as_sent() {
    let tmp = TempDir::new("git-gzip");
    let (proxy, root) = served(&tmp).await;
    let head = ok(&git(&root.join("project.git"), &["rev-parse", "main"]).await);
    let want = format!("want {}\n", head.trim());
    let request = format!("{:04x}{want}00000009done\n", want.len() + 4);
    let mut gzip = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    gzip.stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let gzipped = gzip.wait_with_output().unwrap().stdout;
    let response = client()
        .post(url(&proxy, "/git/project.git/git-upload-pack"))
        .header("content-type", "application/x-git-upload-pack-request")
        .header("content-encoding", "gzip")
        .body(gzipped)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-git-upload-pack-result"
    );
    let body = response.bytes().await.unwrap();
    assert!(
        body.windows(4).any(|w| w == b"PACK"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn without_a_root_or_a_data_dir_git_answers_503_naming_the_flag() {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: git}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /git}}]
    backends: [{git: {}}]
",
    );
    let response = client()
        .get(url(&proxy, "/git/r.git/info/refs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("--data-dir"));
    // The proxy is ready (its other routes serve), and says why these do not.
    let ready = client()
        .get(format!("http://{}/readyz", proxy.admin_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let text = ready.text().await.unwrap();
    assert!(
        text.contains("git routes without `git.root` answer 503"),
        "{text}"
    );
}

#[tokio::test]
async fn with_a_data_dir_repositories_live_in_its_git_folder() {
    let tmp = TempDir::new("git-data-dir");
    let data = tmp.join("data");
    let proxy = start_proxy(|s| s.data_dir = Some(data.clone())).await;
    apply_yaml(
        &proxy,
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: git}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /git}}]
    backends: [{git: {}}]
",
    );
    ok(&git(&data.join("git"), &["init", "--quiet", "--bare", "r.git"]).await);
    let response = client()
        .get(url(&proxy, "/git/r.git/info/refs?service=git-upload-pack"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-git-upload-pack-advertisement"
    );
    // Without `access` no one is `REMOTE_USER`, and http-backend takes no
    // push then (its `http.receivepack` default), as behind Apache.
    let tmp_clone = tmp.join("clone");
    let remote = url(&proxy, "/git/r.git");
    ok(&git(tmp.path(), &["clone", "--quiet", &remote, "clone"]).await);
    let out = commit_and_push(&tmp_clone, "a.txt", "origin").await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
}

/// Debian's gitweb (`/usr/share/gitweb/gitweb.cgi`, Perl) behind the cgi
/// backend and an access rule, on the git backend's repositories: it
/// lists them and shows a commit, as Apache's `ScriptAlias` to it does.
#[tokio::test]
#[ignore = "needs Debian's gitweb (apt-get install gitweb): run `bash ct/test-all.sh`"]
async fn gitweb_lists_the_repositories_and_shows_a_commit() {
    const GITWEB: &str = "/usr/share/gitweb/gitweb.cgi";
    assert!(
        Path::new(GITWEB).is_file(),
        "{GITWEB} is missing: apt-get install -y gitweb (.ci/run does)"
    );
    let tmp = TempDir::new("gitweb");
    let root = seeded(&tmp).await;
    let config = tmp.join("gitweb.conf");
    std::fs::write(
        &config,
        format!(
            "$projectroot = \"{}\";\n$git_temp = \"/tmp\";\n",
            root.display()
        ),
    )
    .unwrap();
    let gitweb = format!(
        "---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: gitweb}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /gitweb}}}}]
    access: {{secret: users, realm: Git}}
    backends: [{{cgi: {{script: '{GITWEB}', env: [{{name: GITWEB_CONFIG, value: '{}'}}]}}}}]
",
        config.display()
    );
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(&proxy, &(manifests(&root) + &*gitweb));

    let anonymous = client().get(url(&proxy, "/gitweb/")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let page = |path: &str| {
        let url = git_url(&proxy, None, path);
        async move {
            let response = client()
                .get(url)
                .basic_auth("alice", Some("wonderland"))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let (status, list) = page("/gitweb/").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.contains("project.git"),
        "the repository is listed: {list}"
    );
    let (status, commit) = page("/gitweb/?p=project.git;a=commit;h=HEAD").await;
    assert_eq!(status, StatusCode::OK, "{commit}");
    assert!(
        commit.contains("commit 3"),
        "the last commit is shown: {commit}"
    );
}
