//! What the manifest tests share.

use gatehouse_api::Compiled;
use gatehouse_api::manifest::Manifests;

/// `docs` read as one file named `file` and compiled; the manifests must
/// read cleanly, and `verify` must take the config `compile` made (a push
/// of it would be served).
pub(crate) fn compile_file(file: &str, docs: &[String]) -> Compiled {
    let mut manifests = Manifests::default();
    manifests.read(file, &docs.join("---\n"));
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let compiled = manifests.compile();
    let refused = gatehouse_api::compile::verify(&compiled.config);
    assert!(
        refused.is_empty(),
        "compile made a config verify refuses: {refused:?}"
    );
    compiled
}
