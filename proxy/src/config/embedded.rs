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

/// The temporary folder the examples are written to, removed at exit.
pub(crate) fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("gatehouse-examples-{}", std::process::id()))
}

/// Where the examples' DepotRepos keep their files: inside the scratch
/// folder (hidden, so it is never read as manifests), gone with it.
pub(crate) fn data_dir() -> PathBuf {
    scratch_dir().join(".data")
}

/// Writes the examples to a fresh temporary folder and returns it, so they
/// load exactly as `--manifests examples/local` would.
pub(crate) fn write_examples() -> std::io::Result<PathBuf> {
    let dir = scratch_dir();
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files sit in a folder"))?;
        std::fs::write(path, text)?;
    }
    Ok(dir)
}
