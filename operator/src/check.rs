//! `check -f PATH…`: compiles manifests offline, as the cluster will, and
//! prints every finding with `file:line` — for a user's CI, before
//! `kubectl apply`.

use std::path::{Path, PathBuf};

use gatehouse_api::Route;
use gatehouse_api::manifest::{Manifests, Resource};

/// What a check found; `errors > 0` fails it.
pub(crate) struct Report {
    pub lines: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    /// `3 Route(s)`, `3 Route(s) and 1 DepotRepo(s)`: what was read.
    pub read: String,
    /// Folders (as given) with a relative static root: local mode's
    /// manifests, which `gatehouse-proxy --check` checks as they are served.
    pub local_mode: Vec<String>,
}

pub(crate) fn check(paths: &[PathBuf]) -> Report {
    let mut manifests = Manifests::default();
    let mut lines = Vec::new();
    let mut unreadable = 0;
    let mut local_mode: Vec<String> = Vec::new();
    for path in paths {
        match yaml_files(path) {
            Ok(files) => {
                for file in files {
                    match std::fs::read_to_string(&file) {
                        Ok(text) => {
                            let first_new = manifests.resources.len();
                            manifests.read(&file.display().to_string(), &text);
                            let folder = local_mode_folder(path, &file);
                            let relative = manifests.resources[first_new..].iter().any(
                                |r| matches!(&r.value, Resource::Route(route) if has_relative_root(route)),
                            );
                            if relative && !local_mode.contains(&folder) {
                                local_mode.push(folder);
                            }
                        }
                        Err(err) => {
                            lines.push(format!("{}: error: cannot read: {err}", file.display()));
                            unreadable += 1;
                        }
                    }
                }
            }
            Err(err) => {
                lines.push(format!("{}: error: {err}", path.display()));
                unreadable += 1;
            }
        }
    }
    lines.extend(manifests.errors.iter().map(ToString::to_string));
    let compiled = manifests.compile();
    lines.extend(compiled.diagnostics.iter().map(ToString::to_string));
    let compile_errors = compiled.diagnostics.iter().filter(|d| d.is_error()).count();
    Report {
        errors: unreadable + manifests.errors.len() + compile_errors,
        warnings: compiled.diagnostics.len() - compile_errors,
        read: gatehouse_api::resource::tally(manifests.resources.iter().map(|r| r.value.id().kind)),
        lines,
        local_mode,
    }
}

/// A static root (or git root, CGI script or folder) not starting at `/`: one local mode takes from the
/// manifest's folder, and a cluster's proxy cannot serve.
fn has_relative_root(route: &Route) -> bool {
    route
        .spec
        .rules
        .iter()
        .flat_map(|rule| &rule.backends)
        .flat_map(|backend| {
            let cgi = backend.cgi.as_ref();
            [
                backend.static_files.as_ref().map(|files| &files.root),
                backend.git.as_ref().and_then(|git| git.root.as_ref()),
                cgi.map(|cgi| &cgi.script),
                cgi.and_then(|cgi| cgi.working_dir.as_ref()),
            ]
        })
        .flatten()
        .any(|path| !path.starts_with('/'))
}

/// The folder to give `gatehouse-proxy --manifests`: the one given to
/// `check`, or the file's own.
fn local_mode_folder(given: &Path, file: &Path) -> String {
    let folder = if given.is_dir() {
        given
    } else {
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    folder.display().to_string()
}

/// A file as given, or every `.yaml`/`.yml` below a folder (sorted, hidden entries skipped).
fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut folders = vec![path.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'))
            {
                continue;
            }
            if path.is_dir() {
                folders.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
