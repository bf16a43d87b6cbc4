//! The size promise with the real binary and the real git: a
//! 200 MB push, and a clone of that repository, through a `git` backend
//! behind `access`, never hold more than a few MiB in the proxy: bodies
//! stream between the client and `git http-backend`. The proxy's peak
//! resident memory (VmHWM) is read before and after.

use std::process::Command;

use gatehouse_ct::ProxyProcess;
use gatehouse_testkit::TempDir;

/// Incompressible bytes pushed: git cannot shrink them, so they cross the
/// proxy whole.
const SIZE: usize = 200 << 20;
/// How much the proxy's peak memory may grow while they do.
const GROWTH_LIMIT_MIB: u64 = 32;

fn git(dir: &std::path::Path, args: &[&str]) {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "ct")
        .env("GIT_AUTHOR_EMAIL", "ct@example.com")
        .env("GIT_COMMITTER_NAME", "ct")
        .env("GIT_COMMITTER_EMAIL", "ct@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_200_mb_push_and_its_clone_stream_through_in_bounded_memory() {
    let work = TempDir::new("git-large");
    let root = work.path().join("repos");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "--bare", "big.git"]);
    let source = work.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q", "-b", "main"]);
    let mut bytes = vec![0u8; SIZE];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in bytes.chunks_mut(8) {
        // xorshift: random enough that zlib keeps every byte.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(source.join("blob.bin"), &bytes).unwrap();
    drop(bytes);
    git(&source, &["add", "blob.bin"]);
    git(&source, &["commit", "-q", "-m", "200 MB"]);

    let manifests = TempDir::new("git-large-manifests");
    // {SHA} of "pushpw" (`htpasswd -nbs pusher pushpw`): the cheapest to verify.
    manifests.write(
        "git.yaml",
        &format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: pushers}}
stringData:
  htpasswd: |
    pusher:{{SHA}}Q/mnMWH7ZWgovwD++Q7VYV1Qme0=
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: git}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /git}}}}]
    access: {{secret: pushers}}
    backends: [{{git: {{root: '{}'}}}}]
",
            root.display()
        ),
    );
    let proxy = ProxyProcess::start(["--manifests".as_ref(), manifests.path().as_os_str()]).await;
    let url = format!("http://pusher:pushpw@{}/git/big.git", proxy.addr);
    let before = proxy.peak_rss_kib();

    let pushing = source.clone();
    let push_url = url.clone();
    tokio::task::spawn_blocking(move || git(&pushing, &["push", "-q", &push_url, "main"]))
        .await
        .unwrap();
    let after_push = proxy.peak_rss_kib();

    let cloned = work.path().join("clone.git");
    let clone_into = cloned.display().to_string();
    tokio::task::spawn_blocking(move || {
        git(
            std::path::Path::new("."),
            &["clone", "-q", "--bare", &url, &clone_into],
        )
    })
    .await
    .unwrap();
    let after_clone = proxy.peak_rss_kib();
    let size = std::fs::metadata(cloned.join("objects/pack"))
        .map(|_| {
            std::fs::read_dir(cloned.join("objects/pack"))
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum::<u64>()
        })
        .unwrap();
    assert!(
        size > SIZE as u64,
        "the clone holds the 200 MB ({size} bytes of packs)"
    );

    let push_mib = after_push.saturating_sub(before) / 1024;
    let clone_mib = after_clone.saturating_sub(before) / 1024;
    eprintln!(
        "proxy peak RSS: {} MiB before, +{push_mib} MiB after a 200 MB push, +{clone_mib} MiB after its clone",
        before / 1024
    );
    assert!(
        push_mib < GROWTH_LIMIT_MIB && clone_mib < GROWTH_LIMIT_MIB,
        "the proxy's peak memory grew by {push_mib} MiB (push) and {clone_mib} MiB (clone); {}",
        proxy.stderr()
    );
}
