//! The example manifests built into the binary, served when the proxy is
//! started with no config source, so a newcomer sees it work at once.

/// Names of embedded manifests start with this; relative paths in them are
/// taken from the working directory (the repository root, for `cargo run`).
pub const EMBEDDED_PREFIX: &str = "embedded:";

/// `(name, YAML)` pairs, read exactly as files from a folder would be.
pub fn example_manifests() -> Vec<(String, String)> {
    vec![(
        format!("{EMBEDDED_PREFIX}examples/local/demo.yaml"),
        include_str!("../../examples/local/demo.yaml").to_owned(),
    )]
}
