//! The example manifests built into the binary, served when the proxy is
//! started with no config source, so a newcomer sees it work at once.

/// `(name, YAML)` pairs, read exactly as files from a folder would be.
pub fn example_manifests() -> Vec<(String, String)> {
    vec![(
        "embedded:examples/local/demo.yaml".to_owned(),
        include_str!("../../examples/local/demo.yaml").to_owned(),
    )]
}
