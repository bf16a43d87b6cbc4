//! Where git is: the `git` command on the proxy's `PATH`, and
//! `git http-backend` in its `--exec-path`, found at the first swap that
//! serves a git backend and kept (a config with git is refused, with the
//! reason, on a proxy without git).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::support::locks::lock;

#[derive(Clone)]
pub(super) struct Found {
    pub(super) git: PathBuf,
    pub(super) http_backend: PathBuf,
}

/// Found once; a failure is tried again at the next swap.
static FOUND: Mutex<Option<Found>> = Mutex::new(None);

pub(super) fn git() -> Result<Found, String> {
    let mut found = lock(&FOUND);
    if let Some(found) = &*found {
        return Ok(found.clone());
    }
    let git = on_path("git").ok_or(
        "git is not installed (no `git` on the proxy's PATH): install git to serve git backends",
    )?;
    let out = std::process::Command::new(&git)
        .arg("--exec-path")
        .output()
        .map_err(|err| format!("`{} --exec-path` failed: {err}", git.display()))?;
    let exec_path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let http_backend = Path::new(&exec_path).join("git-http-backend");
    if !out.status.success() || !http_backend.is_file() {
        return Err(format!(
            "git is installed without `git-http-backend` (looked in `{exec_path}`): install git's full package"
        ));
    }
    let new = Found { git, http_backend };
    *found = Some(new.clone());
    Ok(new)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
