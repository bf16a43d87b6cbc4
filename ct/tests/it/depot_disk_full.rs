//! A full disk, for real: the proxy runs in a mount namespace of its own
//! (`unshare`) whose data dir is a 512 KiB tmpfs. A PUT that does not fit
//! is answered 507 with a message, nothing half-written is left or served,
//! the file keeps its last revision, and once space is freed PUTs work
//! again. The test sees the proxy's tmpfs through `/proc/<pid>/root`.

use std::path::PathBuf;
use std::time::Duration;

use gatehouse_ct::{ProxyProcess, depot_yaml};
use gatehouse_testkit::TempDir;
use reqwest::StatusCode;

/// Mounts a tmpfs of `size` on the data dir, in a new user and mount
/// namespace, then execs the proxy (so its pid is the proxy's).
fn on_a_small_disk(data: &std::path::Path, size: &str) -> Vec<String> {
    vec![
        "unshare".into(),
        "--user".into(),
        "--map-root-user".into(),
        "--mount".into(),
        "sh".into(),
        "-c".into(),
        format!("mount -t tmpfs -o size={size} gatehouse-full \"$0\" && exec \"$@\""),
        data.display().to_string(),
    ]
}

#[tokio::test]
async fn a_full_disk_answers_507_keeps_the_last_revision_and_leaves_no_temp_file() {
    let dir = TempDir::new("depot-disk-full");
    let manifests = dir.join("manifests");
    let data = dir.join("data");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(manifests.join("depot.yaml"), depot_yaml("small")).unwrap();
    let proxy = ProxyProcess::builder()
        .wrapped_in(on_a_small_disk(&data, "512k"))
        .arg("--manifests")
        .arg(&manifests)
        .arg("--data-dir")
        .arg(&data)
        .start()
        .await;
    // 512 KiB leave no room for the 16 MiB write-ahead log: the proxy says
    // so and fsyncs each check-in where it lies.
    let said = proxy
        .wait_for_log_line(
            &["no room for the depot's write-ahead log"],
            Duration::from_secs(5),
        )
        .await;
    assert!(said.contains("free some space and restart"), "{said}");
    // The repository's folder as the proxy sees it.
    let folder: PathBuf =
        format!("/proc/{}/root{}/default/small", proxy.pid(), data.display()).into();
    let put = async |path: &str, body: Vec<u8>| {
        let response = proxy
            .client()
            .put(proxy.url(path))
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };

    let (status, body) = put("/depot/small/a.bin", vec![b'a'; 200 * 1024]).await;
    assert_eq!(status, StatusCode::OK, "{body}\n{}", proxy.stderr());
    let (status, body) = put("/depot/small/a.bin", vec![b'b'; 200 * 1024]).await;
    assert_eq!(status, StatusCode::OK, "{body}\n{}", proxy.stderr());
    // A third 200 KiB cannot fit in 512 KiB.
    let (status, body) = put("/depot/small/a.bin", vec![b'c'; 200 * 1024]).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = error["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("disk is full") && message.contains("nothing was stored"),
        "the message says what happened and what to do: {body}"
    );

    // Nothing half-written: the file is still revision 2, whole.
    let current = proxy
        .client()
        .get(proxy.url("/depot/small/a.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(current.headers()["etag"], "\"2\"");
    assert_eq!(current.bytes().await.unwrap(), vec![b'b'; 200 * 1024]);
    let mut entries: Vec<String> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "a.bin",
            "a.bin~1",
            "a.bin~2",
            "a.bin~current",
            "a.bin~latest"
        ],
        "no third revision and no temp file"
    );

    // Space freed (revision 1 deleted), the same PUT goes through.
    let deleted = proxy
        .client()
        .delete(proxy.url("/depot/small/a.bin?revision=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, body) = put("/depot/small/a.bin", vec![b'c'; 200 * 1024]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let latest = proxy
        .client()
        .get(proxy.url("/depot/small/a.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(latest.headers()["etag"], "\"3\"");
}
