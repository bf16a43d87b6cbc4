//! The example manifests and site built into the binary, served when the
//! proxy is started with no config source, so a newcomer sees it work at once
//! from any folder.

use std::path::PathBuf;

/// `(path below examples/local, contents)`.
const FILES: [(&str, &str); 6] = [
    (
        "demo.yaml",
        include_str!("../../../examples/local/demo.yaml"),
    ),
    (
        "depot.yaml",
        include_str!("../../../examples/local/depot.yaml"),
    ),
    (
        "mock.yaml",
        include_str!("../../../examples/local/mock.yaml"),
    ),
    (
        "site.yaml",
        include_str!("../../../examples/local/site.yaml"),
    ),
    (
        "site/index.html",
        include_str!("../../../examples/local/site/index.html"),
    ),
    (
        "site/style.css",
        include_str!("../../../examples/local/site/style.css"),
    ),
];

/// A temporary folder of its own for one start's examples, removed at
/// exit: each start gets another, so proxies started side by side (tests)
/// never share their examples nor their depot data (and its lock).
pub(crate) fn scratch_dir() -> PathBuf {
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("gatehouse-examples-{}-{n}", std::process::id()))
}

/// Where the examples' DepotRepos keep their files: inside the scratch
/// folder (hidden, so it is never read as manifests), gone with it.
pub(crate) fn data_dir(scratch: &std::path::Path) -> PathBuf {
    scratch.join(".data")
}

/// Writes the examples to `dir` and returns it, so they load exactly as
/// `--manifests examples/local` would.
pub(crate) fn write_examples(dir: PathBuf) -> std::io::Result<PathBuf> {
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files sit in a folder"))?;
        std::fs::write(path, text)?;
    }
    Ok(dir)
}
