//! Local mode: the Route YAML in a folder is compiled with the same
//! `api::compile` the operator uses, and reloaded whenever a file changes.
//! A file with an error is reported with `file:line` and the resource, and
//! the last good config keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::support::locks::lock;
use gatehouse_api::compile::SecretHistory;
use gatehouse_api::manifest::{Manifests, Resource};
use gatehouse_api::route::{Backend, RouteRule, StaticFiles};
use gatehouse_api::{ProxyConfig, Resources, Route, RouteSpec, compile};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::state::{Applied, State};

/// Changes closer together than this are read as one.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// A folder's manifests compiled, or every error that stops them.
pub(crate) struct Loaded {
    pub config: ProxyConfig,
    pub warnings: Vec<String>,
}

/// Compiles `(name, text)` manifests; errors carry `file:line` and the resource.
pub(crate) fn compile_manifests(
    files: &[(String, String)],
    history: &mut SecretHistory,
) -> Result<Loaded, Vec<String>> {
    let mut manifests = Manifests::default();
    let mut secret_folders = Vec::new();
    for (name, text) in files {
        let first_new = manifests.resources.len();
        manifests.read(name, text);
        let base = manifest_folder(name);
        for resource in &mut manifests.resources[first_new..] {
            if let Resource::Route(route) = &mut resource.value {
                resolve_static_roots(route, &base);
                secret_folders.extend(tls_secret_names(route).map(|secret| (secret, base.clone())));
            }
        }
    }
    read_secret_folders(&mut manifests, secret_folders);
    let mut errors: Vec<String> = manifests.errors.iter().map(ToString::to_string).collect();
    let compiled = manifests.compile_keeping(history);
    let mut warnings = manifests.hints.clone();
    for diagnostic in compiled.diagnostics {
        if diagnostic.is_error() {
            errors.push(diagnostic.to_string());
        } else {
            warnings.push(diagnostic.to_string());
        }
    }
    if errors.is_empty() {
        Ok(Loaded {
            config: compiled.config,
            warnings,
        })
    } else {
        Err(errors)
    }
}

/// `(namespace, name)` of each Secret a Route's `tls` names.
fn tls_secret_names(route: &Route) -> impl Iterator<Item = (String, String)> + '_ {
    let namespace = route.metadata.namespace.as_deref().unwrap_or("default");
    route
        .tls_secret_names()
        .map(move |name| (namespace.to_owned(), name.to_owned()))
}

/// A Secret that no `kind: Secret` document defines may be a folder of
/// its name beside the Route's manifest, holding its keys as files
/// (`tls.crt`, `tls.key`, `ca.crt`): the layout of a Secret mounted in a
/// Pod, and how certificate files from elsewhere (certbot's, say) are
/// given to local mode. The folder is watched with the manifests, so a
/// renewed certificate is served as an edited manifest is.
fn read_secret_folders(manifests: &mut Manifests, wanted: Vec<((String, String), PathBuf)>) {
    use gatehouse_api::certificate::{CA_KEY, CHAIN_KEY, KEY_KEY};
    use gatehouse_api::secret::{KnownSecret, SecretValue};
    for ((namespace, name), base) in wanted {
        let defined = manifests
            .secrets
            .iter()
            .any(|s| s.value.namespace == namespace && s.value.name == name);
        let folder = base.join(&name);
        if defined || !folder.is_dir() {
            continue;
        }
        let mut secret = KnownSecret {
            namespace,
            name,
            kind: KnownSecret::TLS.into(),
            ..KnownSecret::default()
        };
        for key in [CHAIN_KEY, KEY_KEY, CA_KEY] {
            match std::fs::read(folder.join(key)) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        secret.data.insert(key.into(), SecretValue::new(text));
                    }
                    Err(_) => secret.not_text.push(key.into()),
                },
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                // Unreadable (permissions): said with its error, rather
                // than as a missing Secret.
                Err(err) => {
                    secret.unreadable.insert(key.into(), err.to_string());
                }
            }
        }
        manifests.secrets.push(gatehouse_api::manifest::Sourced {
            value: secret,
            origin: folder.display().to_string(),
        });
    }
}

/// `--static-root DIR`: one Route serving `dir` at `/` on every host.
pub(crate) fn static_site_config(dir: &Path) -> ProxyConfig {
    let root = std::env::current_dir()
        .map(|cwd| cwd.join(dir))
        .unwrap_or_else(|_| dir.to_owned());
    let backend = Backend {
        name: Some("static-root".into()),
        static_files: Some(StaticFiles {
            root: root.display().to_string(),
            ..StaticFiles::default()
        }),
        ..Backend::default()
    };
    let rule = RouteRule {
        backends: vec![backend],
        ..RouteRule::default()
    };
    let route = Route::new(
        "static-root",
        RouteSpec {
            rules: vec![rule],
            ..RouteSpec::default()
        },
    );
    compile(Resources::routes(&[route])).config
}

/// The folder a manifest was read from, absolute; relative static roots
/// (and git roots, CGI scripts and their working folders) start there.
fn manifest_folder(name: &str) -> PathBuf {
    let folder = Path::new(name).parent().unwrap_or(Path::new("."));
    std::env::current_dir()
        .map(|cwd| cwd.join(folder))
        .unwrap_or_else(|_| folder.to_owned())
}

fn resolve_static_roots(route: &mut Route, base: &Path) {
    let backends = route
        .spec
        .rules
        .iter_mut()
        .flat_map(|rule| rule.backends.iter_mut());
    let from_base = |path: &mut String| {
        if !path.starts_with('/') {
            *path = base.join(&*path).display().to_string();
        }
    };
    for backend in backends {
        if let Some(files) = &mut backend.static_files {
            from_base(&mut files.root);
        }
        if let Some(root) = backend.git.as_mut().and_then(|git| git.root.as_mut()) {
            from_base(root);
        }
        if let Some(cgi) = &mut backend.cgi {
            from_base(&mut cgi.script);
            if let Some(dir) = &mut cgi.working_dir {
                from_base(dir);
            }
        }
    }
}

/// Reads every `.yaml`/`.yml` below `dir` (hidden entries skipped, as
/// ConfigMap volumes keep their `..data` there), sorted by path.
pub(crate) fn read_folder(dir: &Path) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut paths = Vec::new();
    collect_yaml(dir, &mut paths)
        .map_err(|e| vec![format!("{}: cannot read the folder: {e}", dir.display())])?;
    paths.sort();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((path.display().to_string(), text)),
            Err(e) => errors.push(format!("{}: cannot read: {e}", path.display())),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// What loading a folder's manifests came to.
pub(crate) struct Outcome {
    /// Findings that do not stop the config (only known once it compiles).
    pub warnings: Vec<String>,
    /// What the compiled config serves (`4 Route(s)`).
    pub served: String,
    /// Swapped in, or every error that rejected the config whole.
    pub applied: Result<Applied, Vec<String>>,
}

/// Compiles `files` and builds the result into `state`; logs nothing, so
/// `--check` and the watcher report the same findings each their own way.
pub(crate) fn load(
    state: &State,
    files: Result<Vec<(String, String)>, Vec<String>>,
    source: &str,
) -> Outcome {
    let mut history = lock(&state.secret_history);
    match files.and_then(|files| compile_manifests(&files, &mut history)) {
        Ok(loaded) => Outcome {
            warnings: loaded.warnings,
            served: loaded.config.served(),
            applied: state.apply(loaded.config, source),
        },
        Err(errors) => {
            state.metrics.config_applied(source, false);
            Outcome {
                warnings: Vec::new(),
                served: String::new(),
                applied: Err(errors),
            }
        }
    }
}

/// Loads `files` into `state`, logging what happened; false when rejected.
pub(crate) fn apply(
    state: &State,
    files: Result<Vec<(String, String)>, Vec<String>>,
    source: &str,
) -> bool {
    let outcome = load(state, files, source);
    for warning in &outcome.warnings {
        tracing::warn!("{warning}");
    }
    match outcome.applied {
        Ok(applied) if applied.unchanged => true,
        Ok(applied) => {
            let served = outcome.served;
            tracing::info!(revision = %applied.revision, generation = applied.generation, %served, source, "config applied");
            true
        }
        Err(errors) => {
            report(state, &errors);
            false
        }
    }
}

fn report(state: &State, errors: &[String]) {
    for error in errors {
        tracing::error!("{error}");
    }
    if state.current().is_some() {
        tracing::error!(
            count = errors.len(),
            "config rejected; the last good config keeps serving"
        );
    } else {
        tracing::error!(
            count = errors.len(),
            "config rejected; there is no earlier config, so requests get 503 until it is fixed"
        );
    }
}

/// `--manifests` must name a folder: the proxy refuses to start on anything else.
pub(crate) fn require_folder(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "--manifests {}: no such folder; give a folder of Route YAML files",
            dir.display()
        );
    }
    Ok(())
}

/// Asks the watcher to read its folder again now (SIGHUP).
#[derive(Clone)]
pub(crate) struct Reload(mpsc::UnboundedSender<()>);

impl Reload {
    pub(crate) fn now(&self) {
        let _ = self.0.send(());
    }
}

/// Which folder `path` is: replaced (deleted and made again, or a symlink
/// moved to another release), it is another, and must be watched anew.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Loads `dir` now, then reloads it on every change until the process ends.
/// The folder's parent is watched too, so a folder that is replaced is
/// followed, not lost.
pub(crate) fn watch(dir: PathBuf, state: Arc<State>) -> anyhow::Result<Reload> {
    require_folder(&dir)?;
    apply(&state, read_folder(&dir), "manifests");
    let (changed, mut changes) = mpsc::unbounded_channel();
    let reload = Reload(changed.clone());
    let watched = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
    let parent = watched.parent().map(Path::to_owned);
    let mine = watched.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // The parent's other entries are none of our business.
        let ours = event
            .paths
            .iter()
            .any(|p| p.starts_with(&mine) || parent.as_deref() == Some(p.as_path()));
        if ours && !event.kind.is_access() {
            let _ = changed.send(());
        }
    })?;
    watcher.watch(&watched, RecursiveMode::Recursive)?;
    // Best effort: a parent the proxy may not list (mode 0711) only costs
    // following a replaced folder.
    if let Some(parent) = watched.parent()
        && let Err(err) = watcher.watch(parent, RecursiveMode::NonRecursive)
    {
        tracing::debug!(%err, "the manifests folder's parent is not watched");
    }
    let mut folder = identity(&watched);
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // Editors write in several steps: wait for the burst to settle.
            loop {
                tokio::select! {
                    more = changes.recv() => if more.is_none() { return },
                    _ = tokio::time::sleep(DEBOUNCE) => break,
                }
            }
            let now = identity(&watched);
            if now != folder {
                let _ = watcher.unwatch(&watched);
                if now.is_some() && watcher.watch(&watched, RecursiveMode::Recursive).is_ok() {
                    tracing::info!(folder = %dir.display(), "the manifests folder was replaced; watching the new one");
                }
                folder = now;
            }
            apply(&state, read_folder(&dir), "manifests");
        }
    });
    Ok(reload)
}
