//! The `git` backend: bare repositories below a root, served over smart
//! HTTP by the real `git http-backend`, run as a CGI program
//! (`backends/cgi/`), as Apache's `ScriptAlias` to it does.
//!
//! Before a process starts, the repository the URL names is checked
//! (`repo.rs`: no `..`, no empty segment; then on disk, canonicalised,
//! inside the root), so a bad name is 400 and a missing repository 404
//! with a message. `createOnPush` makes a missing one (`git init --bare`)
//! for a push by a user, whom the rule's access check has already let in
//! as a writer (`access::is_write`); an anonymous push makes nothing
//! (`git http-backend` refuses pushes without `REMOTE_USER` anyway).
//!
//! Gzip request bodies (git gzips a large fetch's) pass through as sent:
//! http-backend inflates them itself (`HTTP_CONTENT_ENCODING`).

mod found;
mod repo;

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_api::config::ProcessLimits;
use http::{Request, Response, StatusCode};

use self::repo::{RepoName, repo_of};
use super::Call;
use super::cgi::process::{Program, no_slot, retry_later};
use super::cgi::request_env;
use super::upstream::RequestBody;
use crate::access::is_git_write;
use crate::observe::metrics::UpstreamError;
use crate::route::client_headers::X_FORWARDED_USER;
use crate::support::blocking::BlockingKind;
use crate::support::body::{self, Body};

/// A prepared `git` backend.
pub enum Git {
    /// No root was given and the proxy has no data dir: 503.
    NoDataDir,
    Serving(Arc<Repos>),
}

/// The repositories of one backend, ready to serve.
pub struct Repos {
    /// Canonical.
    root: PathBuf,
    create_on_push: bool,
    /// The `git` command, for `git init --bare`.
    git: PathBuf,
    /// `git http-backend`.
    program: Program,
}

impl Git {
    /// Finds git, and the root (`root`, or `<data_dir>/git`, made if
    /// missing), at the swap.
    pub(crate) fn prepare(
        root: Option<&str>,
        create_on_push: bool,
        limits: &ProcessLimits,
        data_dir: Option<&Path>,
    ) -> Result<Git, String> {
        let found = found::git()?;
        let root = match (root, data_dir) {
            (Some(root), _) => PathBuf::from(root),
            (None, Some(data)) => {
                let root = data.join("git");
                std::fs::create_dir_all(&root).map_err(|err| {
                    format!("git root `{}` cannot be made: {err}", root.display())
                })?;
                root
            }
            (None, None) => return Ok(Git::NoDataDir),
        };
        let root = root.canonicalize().map_err(|err| {
            format!(
                "git root `{}` cannot be used: {err}; make the folder, or fix `git.root`",
                root.display()
            )
        })?;
        if !root.is_dir() {
            return Err(format!("git root `{}` is not a folder", root.display()));
        }
        let env = vec![
            (
                OsString::from("GIT_PROJECT_ROOT"),
                root.clone().into_os_string(),
            ),
            (OsString::from("GIT_HTTP_EXPORT_ALL"), OsString::from("1")),
        ];
        let program = Program::new(
            found.http_backend.clone(),
            Vec::new(),
            root.clone(),
            env,
            limits,
        );
        Ok(Git::Serving(Arc::new(Repos {
            root,
            create_on_push,
            git: found.git.clone(),
            program,
        })))
    }

    pub(crate) async fn serve<B: RequestBody>(
        &self,
        req: Request<B>,
        call: Call<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        let repos = match self {
            Git::NoDataDir => {
                return Ok(body::plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this proxy keeps no git repositories: give the backend `git.root`, or start the proxy with --data-dir DIR (or GATEHOUSE_DATA_DIR), or with --data-writer URL (GATEHOUSE_DATA_WRITER) to forward them to the proxy that keeps them",
                ));
            }
            Git::Serving(repos) => repos,
        };
        let Some(mount) = call.mount else {
            return Ok(body::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a git backend serves a path prefix: match its rule with `type: PathPrefix`",
            ));
        };
        let below = req
            .uri()
            .path()
            .strip_prefix(mount.trim_end_matches('/'))
            .unwrap_or("");
        let name = match repo_of(below) {
            Ok(name) => name,
            Err(why) => return Ok(body::plain(StatusCode::BAD_REQUEST, &why)),
        };
        let Some(slot) = repos.program.slot() else {
            return Ok(no_slot());
        };
        if let Some(name) = name {
            // Made only for a user the rule's access check let in as a
            // writer: `X-Forwarded-User` is set by that check alone (a
            // client's own is always removed), and a push is its write.
            let push = is_git_write(req.uri().path(), req.uri().query())
                && req.headers().contains_key(&X_FORWARDED_USER);
            if let Err(refused) = repos.find_or_create(&name, push, &call).await {
                return Ok(refused);
            }
        }
        let (parts, body) = req.into_parts();
        let env = match request_env(&parts, &call) {
            Ok(env) => env,
            Err(why) => return Ok(body::plain(StatusCode::BAD_REQUEST, why)),
        };
        repos.program.run(slot, env, body, &call).await
    }
}

impl Repos {
    /// The repository exists inside the root, or is made for a push
    /// (`createOnPush`); else the answer to give.
    async fn find_or_create(
        &self,
        name: &RepoName,
        push: bool,
        call: &Call<'_>,
    ) -> Result<(), Response<Body>> {
        let path = self.root.join(&name.0);
        let missing = || {
            body::plain(
                StatusCode::NOT_FOUND,
                &format!("there is no repository `{}` here", name.0),
            )
        };
        match path.canonicalize() {
            Ok(real) if real.starts_with(&self.root) && real.is_dir() => return Ok(()),
            // A symlink out of the root is not served: as if it were not there.
            Ok(_) => return Err(missing()),
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(_) => return Err(missing()),
        }
        if !(push && self.create_on_push) {
            return Err(missing());
        }
        // The nearest folder that exists must be inside the root too.
        let mut existing = path.parent();
        while let Some(dir) = existing {
            if dir.exists() {
                break;
            }
            existing = dir.parent();
        }
        let inside = existing
            .and_then(|dir| dir.canonicalize().ok())
            .is_some_and(|dir| dir.starts_with(&self.root));
        if !inside {
            return Err(missing());
        }
        let (git, root) = (self.git.clone(), self.root.clone());
        let made = call
            .blocking
            .run(BlockingKind::Process, move || {
                std::process::Command::new(&git)
                    .args(["init", "--quiet", "--bare"])
                    .arg(&path)
                    .env_clear()
                    .env("PATH", super::cgi::env::SAFE_PATH)
                    .current_dir(&root)
                    .stdin(std::process::Stdio::null())
                    .output()
            })
            .await;
        match made {
            Err(busy) => Err(retry_later(&busy.to_string())),
            Ok(Ok(out)) if out.status.success() => {
                tracing::info!(route = %call.route, backend = %call.backend, repo = %name.0, "git: a repository was made for its first push");
                Ok(())
            }
            Ok(Ok(out)) => {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                tracing::warn!(route = %call.route, backend = %call.backend, repo = %name.0, %why, "git: init failed");
                Err(body::plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("repository `{}` could not be made: {why}", name.0),
                ))
            }
            Ok(Err(err)) => Err(body::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("repository `{}` could not be made: {err}", name.0),
            )),
        }
    }
}
