//! The `static` kind: a folder on the proxy's disk.

use crate::compile::findings::Findings;
use crate::config::BackendTarget;
use crate::route::StaticFiles;

pub(super) fn lower(
    files: &StaticFiles,
    field: &str,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let index = files
        .index
        .clone()
        .unwrap_or_else(|| vec!["index.html".to_owned()]);
    let before = findings.error_count();
    check(
        &files.root,
        &index,
        files.cache_control.as_deref(),
        field,
        findings,
    );
    (findings.error_count() == before).then(|| BackendTarget::Static {
        root: files.root.clone(),
        index,
        listing: files.listing.unwrap_or(false),
        precompressed: files.precompressed.unwrap_or(false),
        cache_control: files.cache_control.clone(),
    })
}

/// A lowered (or pushed) static target's fields.
pub(super) fn check(
    root: &str,
    index: &[String],
    cache_control: Option<&str>,
    field: &str,
    findings: &mut Findings,
) {
    if !root.starts_with('/') {
        findings.error(
            format!("{field}.root"),
            "InvalidBackend",
            format!("root `{root}` is not an absolute path: give the folder's full path on the proxy (in local mode, a relative root is taken from the manifest's folder)"),
        );
    }
    for (i, name) in index.iter().enumerate() {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            findings.error(
                format!("{field}.index[{i}]"),
                "InvalidBackend",
                format!(
                    "index `{name}` is not a file name: give names like `index.html`, without `/`"
                ),
            );
        }
    }
    if let Some(value) = cache_control
        && let Err(why) = crate::compile::names::check_header_value(value)
    {
        findings.error(format!("{field}.cacheControl"), "InvalidBackend", why);
    }
}
