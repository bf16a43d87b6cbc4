//! The static backend as OTUServer's httptest suite and a browser see it:
//! the built binary with `--static-root ../shared/httptest-data`, driven
//! over real sockets.

use std::path::PathBuf;
use std::time::Duration;

use gatehouse_ct::process::ProxyProcess;
use gatehouse_testkit::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The shared test document root, or `None` (with a notice) where it is absent.
fn httptest_root() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/httptest-data");
    if root.join("httptest").is_dir() {
        Some(root.canonicalize().unwrap())
    } else {
        eprintln!(
            "skipped: {} is missing (it sits beside the project in CI)",
            root.display()
        );
        None
    }
}

async fn otuserver() -> Option<ProxyProcess> {
    let root = httptest_root()?;
    Some(ProxyProcess::start([std::ffi::OsStr::new("--static-root"), root.as_os_str()]).await)
}

/// Sends `request` as written and reads until the server closes or `within` passes.
async fn raw(proxy: &ProxyProcess, request: &str, within: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut out))
        .await
        .is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

fn head_of(response: &str) -> (u16, String) {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = response
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    (status, head)
}

#[tokio::test]
async fn the_httptest_suite() {
    let Some(proxy) = otuserver().await else {
        return;
    };
    let get = async |path: &str| {
        let r = proxy.try_get(path).await.unwrap();
        let length = r
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0u64);
        (
            r.status,
            r.header("content-type").unwrap_or("").to_owned(),
            length,
        )
    };
    // Directory index, and a directory without one.
    assert_eq!(get("/httptest/dir2/").await, (200, "text/html".into(), 34));
    assert_eq!(get("/httptest/dir1/").await.0, 404);
    assert_eq!(
        get("/httptest/dir2").await.0,
        301,
        "a folder without its slash redirects"
    );
    assert_eq!(
        get("/httptest/smdklcdsmvdfjnvdfjvdfvdfvdfvdf.html").await.0,
        404
    );
    assert_eq!(get("/httptest/dir1/dir12/dir123/deep.txt").await.0, 200);
    assert_eq!(
        get("/httptest/dir2/page.html/").await.0,
        404,
        "a slash after a file name"
    );
    assert_eq!(
        get("/httptest/dir2/page.html?arg1=value&arg2=value")
            .await
            .0,
        200
    );
    assert_eq!(get("/httptest/space%20in%20name.txt").await.0, 200);
    assert_eq!(
        get("/httptest/dir2/%70%61%67%65%2e%68%74%6d%6c").await.0,
        200
    );
    assert_eq!(
        get("/httptest/wikipedia_russia.html").await,
        (200, "text/html".into(), 954_824)
    );
    let dots = proxy.try_get("/httptest/text..txt").await.unwrap();
    assert_eq!((dots.status, dots.body.as_str()), (200, "hello"));
    for (file, ctype) in [
        ("splash.css", "text/css"),
        ("jquery-1.9.1.js", "text/javascript"),
        ("160313.jpg", "image/jpeg"),
        ("ef35c.jpeg", "image/jpeg"),
        ("logo.v2.png", "image/png"),
        ("pic_ask.gif", "image/gif"),
        ("b16261023.swf", "application/x-shockwave-flash"),
    ] {
        assert_eq!(get(&format!("/httptest/{file}")).await.1, ctype, "{file}");
    }

    // What a plain socket sees: escaping the root, methods, HEAD, headers.
    let (status, _) = head_of(&raw(&proxy, "GET /httptest/../../../../../../../../../../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(5)).await.0);
    assert!(
        [400, 403, 404].contains(&status),
        "escaping the root got {status}"
    );
    let (status, head) = head_of(&raw(&proxy, "POST /httptest/dir2/page.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", Duration::from_secs(5)).await.0);
    assert_eq!(status, 405);
    assert!(head.contains("allow: get, head"), "{head}");
    let (response, _) = raw(
        &proxy,
        "HEAD /httptest/dir2/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let (status, head) = head_of(&response);
    assert_eq!(status, 200);
    let length = std::fs::metadata(httptest_root().unwrap().join("httptest/dir2/page.html"))
        .unwrap()
        .len();
    assert!(
        head.contains(&format!("content-length: {length}")),
        "{head}"
    );
    assert!(
        response.ends_with("\r\n\r\n"),
        "HEAD sends no body: {response:?}"
    );
    for header in [
        "date:",
        "server:",
        "content-length:",
        "content-type:",
        "connection:",
    ] {
        assert!(head.contains(header), "{header} missing from {head}");
    }
}

#[tokio::test]
async fn http_1_0_closes_unless_keep_alive_is_asked() {
    let Some(proxy) = otuserver().await else {
        return;
    };
    let (response, closed) = raw(
        &proxy,
        "GET /httptest/text..txt HTTP/1.0\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    let (status, head) = head_of(&response);
    assert_eq!(status, 200);
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        closed && response.ends_with("hello"),
        "HTTP/1.0 closes after the response: {response:?}"
    );

    let (response, closed) = raw(
        &proxy,
        "GET /httptest/text..txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        Duration::from_millis(500),
    )
    .await;
    assert!(
        head_of(&response).1.contains("connection: keep-alive"),
        "{response}"
    );
    assert!(!closed, "a keep-alive HTTP/1.0 connection stays open");

    let (response, closed) = raw(
        &proxy,
        "GET /httptest/text..txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    )
    .await;
    assert!(head_of(&response).1.contains("connection: close") && closed);
}

/// Every image, style and script the page references is served with 200 and
/// its type, so a browser shows the page whole.
#[tokio::test]
async fn the_wikipedia_page_loads_every_resource() {
    let Some(proxy) = otuserver().await else {
        return;
    };
    let page = proxy
        .try_get("/httptest/wikipedia_russia.html")
        .await
        .unwrap();
    let mut references: Vec<String> = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in page.body.split(attribute).skip(1) {
            let value = piece.split('"').next().unwrap_or("").replace("&amp;", "&");
            let external = ["http:", "https:", "//", "#", "mailto:", "javascript:"]
                .iter()
                .any(|p| value.starts_with(p));
            if !value.is_empty() && !external && !references.contains(&value) {
                references.push(value);
            }
        }
    }
    assert!(
        references.len() > 150,
        "the page references {} local files",
        references.len()
    );
    let mut failures = Vec::new();
    for reference in &references {
        let reply = proxy
            .try_get(&format!("/httptest/{reference}"))
            .await
            .unwrap();
        let extension = reference
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let expected = match extension.as_str() {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "css" => "text/css",
            "js" => "text/javascript",
            other => panic!("unexpected reference type {other}: {reference}"),
        };
        let ctype = reply.header("content-type").unwrap_or("");
        if reply.status != 200 || ctype != expected {
            failures.push(format!("{reference}: {} {ctype}", reply.status));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} resources failed: {failures:#?}",
        failures.len(),
        references.len()
    );
}

#[tokio::test]
async fn a_1_gib_file_streams_in_bounded_memory() {
    let dir = TempDir::new("large-file");
    let file = std::fs::File::create(dir.join("large.bin")).unwrap();
    file.set_len(1 << 30).unwrap(); // sparse: no disk used, reads as zeros
    let proxy = ProxyProcess::start([
        std::ffi::OsStr::new("--static-root"),
        dir.path().as_os_str(),
    ])
    .await;
    let before = proxy.peak_rss_kib();
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET /large.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    let grown_mib = (proxy.peak_rss_kib() - before) / 1024;
    assert!(
        received > 1 << 30,
        "the whole file and its head arrived ({received} bytes)"
    );
    assert!(
        grown_mib < 16,
        "serving 1 GiB grew the proxy's peak memory by {grown_mib} MiB"
    );
}
