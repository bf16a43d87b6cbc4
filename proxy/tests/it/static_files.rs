//! The `static` backend against real files: validators, ranges,
//! precompressed siblings, listings, symlinks, and large files.

use std::path::{Path, PathBuf};

use crate::support::*;
use gatehouse_proxy::Running;
use gatehouse_testkit::client;

/// A fresh folder with a small site in it.
fn site(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-static-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("docs/empty")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("docs/guide.html"), "<p>guide</p>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("data.bin"), (0..=255u8).collect::<Vec<_>>()).unwrap();
    dir
}

async fn serve(root: &Path, extra: &str) -> Running {
    let proxy = start_proxy(|_| {}).await;
    apply_yaml(
        &proxy,
        &format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: site}}\nspec:\n  rules:\n  - backends: [{{static: {{root: '{}'{extra}}}}}]\n",
            root.display()
        ),
    );
    proxy
}

#[tokio::test]
async fn serves_files_indexes_and_folder_redirects() {
    let root = site("basic");
    let proxy = serve(&root, "").await;
    let client = client();
    let r = client.get(url(&proxy, "/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.headers()["server"], "gatehouse");
    assert_eq!(r.headers()["connection"], "keep-alive");
    assert!(r.headers().contains_key("date"));
    assert_eq!(r.text().await.unwrap(), "<h1>home</h1>");

    let r = client.get(url(&proxy, "/docs?x=1")).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/docs/?x=1");
    assert_eq!(
        client
            .get(url(&proxy, "/docs/"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "no index, no listing"
    );
    assert_eq!(
        client
            .get(url(&proxy, "/docs/guide.html/"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .get(url(&proxy, "/docs/guide.html?v=2"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(url(&proxy, "/missing.html"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let r = client
        .post(url(&proxy, "/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");

    let r = client.head(url(&proxy, "/app.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        "14",
        "HEAD sends the real length"
    );
    assert_eq!(r.headers()["content-type"], "text/javascript");
    assert_eq!(r.bytes().await.unwrap().len(), 0);
}

#[tokio::test]
async fn answers_304_for_current_copies() {
    let root = site("validators");
    let proxy = serve(&root, ", cacheControl: 'public, max-age=60'").await;
    let client = client();
    let first = client.get(url(&proxy, "/app.js")).send().await.unwrap();
    assert_eq!(first.headers()["cache-control"], "public, max-age=60");
    let etag = first.headers()["etag"].clone();
    let modified = first.headers()["last-modified"].clone();
    assert!(etag.to_str().unwrap().starts_with('"'), "a strong ETag");
    let r = client
        .get(url(&proxy, "/app.js"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag);
    assert_eq!(r.bytes().await.unwrap().len(), 0);
    let r = client
        .get(url(&proxy, "/app.js"))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client
        .get(url(&proxy, "/app.js"))
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn serves_single_ranges() {
    let root = site("ranges");
    let proxy = serve(&root, "").await;
    let client = client();
    let r = client
        .get(url(&proxy, "/data.bin"))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 10-19/256");
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        (10..20u8).collect::<Vec<_>>()
    );
    let r = client
        .get(url(&proxy, "/data.bin"))
        .header("range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), vec![253, 254, 255]);
    let r = client
        .get(url(&proxy, "/data.bin"))
        .header("range", "bytes=300-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */256");
}

#[tokio::test]
async fn sends_precompressed_siblings_to_clients_that_accept_them() {
    let root = site("precompressed");
    std::fs::write(root.join("app.js.gz"), b"gzip-bytes").unwrap();
    std::fs::write(root.join("app.js.br"), b"br-bytes").unwrap();
    let proxy = serve(&root, ", precompressed: true").await;
    let client = client();
    let r = client
        .get(url(&proxy, "/app.js"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["content-type"], "text/javascript");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"br-bytes");
    let r = client
        .get(url(&proxy, "/app.js"))
        .header("accept-encoding", "gzip, br;q=0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = client.get(url(&proxy, "/app.js")).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
}

#[tokio::test]
async fn lists_folders_only_when_asked() {
    let root = site("listing");
    std::fs::write(root.join("docs/empty/<b>&.txt"), "x").unwrap();
    let proxy = serve(&root, ", listing: true").await;
    let r = client()
        .get(url(&proxy, "/docs/empty/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let html = r.text().await.unwrap();
    assert!(html.contains("&lt;b&gt;&amp;.txt"), "{html}");
    assert!(!html.contains("<b>&"));
}

#[tokio::test]
async fn never_serves_outside_the_root() {
    let root = site("escape");
    let outside = root.with_extension("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("leakdir")).unwrap();
    std::os::unix::fs::symlink("app.js", root.join("inside.js")).unwrap();
    std::os::unix::fs::symlink("../app.js", root.join("docs/up.js")).unwrap();
    let proxy = serve(&root, "").await;
    let get = async |raw: &str| {
        // A raw socket, so no client normalises the path first.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        s.write_all(
            format!("GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    for raw in [
        "/../escape.outside/secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2fetc/passwd",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/app.js%00.html",
    ] {
        let answer = get(raw).await;
        let status = &answer[9..12];
        assert!(status == "403" || status == "404", "{raw}: {answer}");
        assert!(!answer.contains("secret"), "{raw} leaked: {answer}");
    }
    assert!(
        get("/inside.js").await.starts_with("HTTP/1.1 200"),
        "a symlink inside the root is fine"
    );
}

#[tokio::test]
async fn a_missing_root_is_a_config_error() {
    let proxy = start_proxy(|_| {}).await;
    let yaml = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: site}\nspec:\n  rules:\n  - backends: [{static: {root: /no/such/folder}}]\n";
    let errors = proxy
        .state
        .apply(config_from_yaml(yaml), "test")
        .unwrap_err();
    assert!(
        errors[0].contains("/no/such/folder") && errors[0].contains("give an existing folder"),
        "{errors:?}"
    );
}

/// Small files are kept in memory once settled (see `files/cache.rs`); every
/// change to the file, or to what its path names, must still be seen.
#[tokio::test]
async fn a_kept_small_file_follows_every_change() {
    let root = site("kept");
    let outside = root.with_extension("outside");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::fs::write(root.join("note.txt"), "first").unwrap();
    std::fs::write(root.join("other.txt"), "other").unwrap();
    // Only files whose last change is 2 s old are kept.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let proxy = serve(&root, "").await;
    let client = client();
    let get = |path: &'static str| {
        let request = client.get(url(&proxy, path));
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for _ in 0..3 {
        assert_eq!(get("/note.txt").await, (200, "first".into()));
    }
    std::fs::write(root.join("note.txt"), "again").unwrap();
    assert_eq!(
        get("/note.txt").await,
        (200, "again".into()),
        "same size, new content"
    );
    std::fs::write(root.join("note.txt"), "longer now").unwrap();
    assert_eq!(get("/note.txt").await, (200, "longer now".into()));
    std::fs::rename(root.join("other.txt"), root.join("note.txt")).unwrap();
    assert_eq!(
        get("/note.txt").await,
        (200, "other".into()),
        "renamed over"
    );
    std::fs::remove_file(root.join("note.txt")).unwrap();
    assert_eq!(get("/note.txt").await.0, 404, "deleted");
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("note.txt")).unwrap();
    assert_eq!(
        get("/note.txt").await.0,
        403,
        "now a symlink out of the root"
    );
    std::fs::remove_file(root.join("note.txt")).unwrap();
    std::fs::write(root.join("note.txt"), "fresh").unwrap();
    assert_eq!(
        get("/note.txt").await,
        (200, "fresh".into()),
        "a file again"
    );
}
