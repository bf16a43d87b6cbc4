//! Gatehouse's proxy: serves a `ProxyConfig`, swapped atomically whether it
//! comes from the operator (admin API), a config file, or a folder of YAML.

// The proxy by stage, in the order a request meets them: `server`
// (listeners, workers, our HTTP/1.1 lane and the hand-off to hyper),
// `route` (the request's phases, from its head to its answer), `backends`
// (what answers: an upstream, a folder, …), with `config` (what is served,
// swapped whole), `admin`, `observe` (metrics, access log), `proto` (HTTP
// pieces both sides share) and `support` beside them. docs/DESIGN.md has
// the table and the chain.

#[macro_use]
mod support;

mod access;
mod admin;
mod backends;
pub mod check;
pub mod cli;
mod config;
mod observe;
mod proto;
mod route;
mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

// What the binary and the integration tests use; everything else is
// `pub(crate)`, so the compiler reports code nothing calls.
pub use cli::Settings;
pub use config::active::Active;
pub use config::state::State;
pub use observe::access_log::Destination;
pub use observe::metrics::Metrics;
pub use route::forwarded::TrustedProxies;
pub use route::target::EscapedSlashes;
pub use support::allocator::MiMalloc;
pub use support::blocking::BlockingKind;

use crate::config::{embedded, local};
use crate::observe::access_log;
use crate::server::workers;

/// A started proxy: its bound addresses, state, and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// `--listen-tls`'s bound address, when set.
    pub tls_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub state: Arc<State>,
    stop: watch::Sender<bool>,
    traffic: workers::Workers,
    admin_stop: watch::Sender<bool>,
    admin: JoinHandle<()>,
    /// A folder this process wrote (the embedded examples), removed at exit.
    scratch: Option<PathBuf>,
    reload: Option<Reload>,
    access_log: Option<Arc<access_log::AccessLog>>,
    /// Watches `--provisions-dir` while the proxy runs.
    _provisions_watcher: Option<notify::RecommendedWatcher>,
}

impl Running {
    /// Reads the config source again (SIGHUP): the manifests folder or the
    /// config file. A source that fails keeps the last good config serving.
    pub fn reload(&self) {
        match &self.reload {
            Some(Reload::Manifests(reload)) => reload.now(),
            Some(Reload::ConfigFile(path)) => match load_config_file(path, &self.state) {
                Ok(()) => tracing::info!(file = %path.display(), "config file read again"),
                Err(err) => tracing::error!("{err:#}; the last good config keeps serving"),
            },
            None => tracing::info!("SIGHUP: this config source has nothing to read again"),
        }
    }

    /// Opens the access log file again (SIGUSR1, after log rotation).
    pub fn reopen_logs(&self) {
        match &self.access_log {
            Some(log) => log.reopen(),
            None => tracing::info!("SIGUSR1: no access log to open again"),
        }
    }

    /// Stops accepting, reports not-ready, and lets open requests finish.
    pub fn shutdown(&self) {
        self.state.start_draining();
        let _ = self.stop.send(true);
    }

    /// Waits until traffic has drained, then stops the admin API (which
    /// answers `/readyz` 503 meanwhile, so load balancers move away).
    pub async fn wait(self) {
        self.traffic.wait().await;
        if let Some(log) = self.access_log {
            let finished = tokio::task::spawn_blocking(move || {
                log.finish(std::time::Duration::from_secs(5));
            });
            let _ = finished.await;
        }
        let _ = self.admin_stop.send(true);
        let _ = self.admin.await;
        self.state.depots.checkpoint();
        if let Some(scratch) = self.scratch {
            let _ = std::fs::remove_dir_all(scratch);
        }
    }
}

/// Binds the listeners, loads the config source and starts serving.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    // The embedded examples' own folder, when they are the config source.
    let scratch = matches!(Source::of(settings), Source::Embedded).then(embedded::scratch_dir);
    let data_dir = data_dir(settings, scratch.as_deref());
    match (&data_dir, &settings.data_writer) {
        (Some(dir), _) => {
            tracing::info!(data_dir = %dir.display(), "DepotRepos and git repositories keep their files here")
        }
        (None, Some(writer)) => tracing::info!(
            data_writer = %writer,
            "no data dir: depot requests, and git requests without a root, are forwarded to the data writer"
        ),
        (None, None) => tracing::info!(
            "no --data-dir or --data-writer: depot routes, and git routes without a root, answer 503"
        ),
    }
    let provisions = match &settings.provisions_dir {
        Some(folder) => Some(backends::mock::dir::ProvisionsDir::open(
            folder,
            settings.provisions_from.as_deref(),
        )?),
        None => None,
    };
    let provisions_watcher = match &provisions {
        Some(dir) => {
            tracing::info!(folder = %dir.folder().display(), active = ?dir.active_name(), "mock provisions folder watched");
            Some(dir.watch().with_context(|| {
                format!("--provisions-dir {}: cannot watch", dir.folder().display())
            })?)
        }
        None => None,
    };
    let state = State::with_data(data_dir, settings.data_writer.clone(), provisions);
    // Before anything is served: what a crash left in the depot log is
    // put in place, and a second proxy on the same data dir stops here.
    if let Some(Err(why)) = state.depots.log() {
        anyhow::bail!("--data-dir: {why}");
    }
    let token = match &settings.admin_token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    let admin_tls = match (&settings.admin_tls_cert, &settings.admin_tls_key) {
        (Some(cert), Some(key)) => Some(admin::tls::load(
            cert,
            key,
            settings.admin_client_ca.as_deref(),
        )?),
        _ => None,
    };
    admin::guarded(settings.admin_listen, token.is_some(), admin_tls.as_ref())?;
    let (scratch, reload) = load_config_source(settings, &state, scratch)?;

    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    anyhow::ensure!(workers > 0, "--workers must be at least 1");
    let (addr, listeners) = workers::bind(settings.listen, workers)
        .with_context(|| format!("--listen {}: cannot bind", settings.listen))?;
    let (tls_addr, tls_listeners) = match settings.listen_tls {
        Some(listen_tls) => {
            let (bound, listeners) = workers::bind(listen_tls, workers)
                .with_context(|| format!("--listen-tls {listen_tls}: cannot bind"))?;
            (Some(bound), listeners)
        }
        None => (None, Vec::new()),
    };
    let admin_listener = TcpListener::bind(settings.admin_listen)
        .await
        .with_context(|| format!("--admin-listen {}: cannot bind", settings.admin_listen))?;
    let admin_addr = admin_listener.local_addr()?;

    let json = settings.log_format == cli::LogFormat::Json;
    let dropped = state.metrics.access_log_dropped.clone();
    let access_log = access_log::AccessLog::start(settings.access_log.clone(), json, dropped)
        .context("--access-log: cannot open the log")?
        .map(Arc::new);

    let (stop, stopped) = watch::channel(false);
    let worker_settings = workers::WorkerSettings {
        limits: server::Limits {
            max_header_bytes: settings.max_header_bytes,
            header_read_timeout: settings.header_read_timeout,
            keep_alive_timeout: settings.keep_alive_timeout,
            send_timeout: settings.send_timeout,
            max_connections: settings.max_connections,
        },
        backend: backends::upstream::BackendTimeouts {
            connect: settings.connect_timeout,
            read: settings.backend_read_timeout,
            client_body: settings.client_body_timeout,
        },
        shutdown_grace: settings.shutdown_grace,
        access_log: access_log.clone(),
        escaped_slashes: settings.escaped_slashes,
        trusted_proxies: settings.trusted_proxies.clone(),
        underscores: settings.underscores(),
        https_port: settings.https_port.or(tls_addr.map(|addr| addr.port())),
        local_app: settings.local_app.clone(),
    };
    let traffic = workers::Workers::spawn(
        listeners,
        tls_listeners,
        state.clone(),
        worker_settings,
        stopped,
    )?;
    let admin = Arc::new(admin::Admin {
        state: state.clone(),
        token,
        tls: admin_tls,
    });
    let (admin_stop, admin_stopped) = watch::channel(false);
    let admin = tokio::spawn(admin::serve(admin_listener, admin, admin_stopped));
    match tls_addr {
        Some(tls_addr) => {
            tracing::info!(%addr, %tls_addr, %admin_addr, workers, "gatehouse proxy serving")
        }
        None => tracing::info!(%addr, %admin_addr, workers, "gatehouse proxy serving"),
    }
    Ok(Running {
        addr,
        tls_addr,
        admin_addr,
        state,
        stop,
        traffic,
        admin_stop,
        admin,
        scratch,
        reload,
        access_log,
        _provisions_watcher: provisions_watcher,
    })
}

/// `--data-dir`, or its default for the config source: `FOLDER.data`
/// beside `--manifests FOLDER`, a folder inside the embedded examples'
/// scratch folder; none for a config file or a static root, or with
/// `--data-writer`.
fn data_dir(settings: &Settings, scratch: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = &settings.data_dir {
        return Some(dir.clone());
    }
    // A proxy that forwards its data keeps none, not even local mode's.
    if settings.data_writer.is_some() {
        return None;
    }
    match Source::of(settings) {
        Source::Manifests(dir) => Some(beside(dir)),
        Source::Embedded => scratch.map(embedded::data_dir),
        Source::ConfigFile(_) | Source::StaticRoot(_) => None,
    }
}

/// `examples/local` → `examples/local.data`.
fn beside(folder: &Path) -> PathBuf {
    let absolute = std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned());
    match absolute.file_name() {
        Some(name) => {
            let mut name = name.to_owned();
            name.push(".data");
            absolute.with_file_name(name)
        }
        None => absolute.join(".data"),
    }
}

/// What SIGHUP reads again, as nginx rereads its config on HUP.
enum Reload {
    Manifests(local::Reload),
    ConfigFile(PathBuf),
}

/// Reads `--config-file` into `state`.
fn load_config_file(path: &Path, state: &State) -> anyhow::Result<()> {
    if let Err(errors) = state.apply(read_config_file(path)?, "file") {
        anyhow::bail!(
            "--config-file {}: rejected:\n  {}",
            path.display(),
            errors.join("\n  ")
        );
    }
    Ok(())
}

/// `--config-file` read and parsed, not yet checked.
fn read_config_file(path: &Path) -> anyhow::Result<gatehouse_api::ProxyConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--config-file {}: cannot read", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("--config-file {}: not a ProxyConfig", path.display()))
}

/// The one config source the flags name (clap keeps them exclusive).
enum Source<'a> {
    ConfigFile(&'a Path),
    StaticRoot(&'a Path),
    Manifests(&'a Path),
    /// No source given: the example Routes built into the binary.
    Embedded,
}

impl<'a> Source<'a> {
    fn of(settings: &'a Settings) -> Source<'a> {
        match (
            &settings.config_file,
            &settings.static_root,
            &settings.manifests,
        ) {
            (Some(path), _, _) => Source::ConfigFile(path),
            (_, Some(root), _) => Source::StaticRoot(root),
            (_, _, Some(dir)) => Source::Manifests(dir),
            (None, None, None) => Source::Embedded,
        }
    }
}

/// `--static-root DIR` as the config served.
fn load_static_root(root: &Path, state: &State) -> Result<(), Vec<String>> {
    state
        .apply(local::static_site_config(root), "static-root")
        .map(drop)
}

/// Loads the config source the flags name; returns a scratch folder to
/// remove at exit, and what a SIGHUP reloads.
fn load_config_source(
    settings: &Settings,
    state: &Arc<State>,
    scratch: Option<PathBuf>,
) -> anyhow::Result<(Option<PathBuf>, Option<Reload>)> {
    match Source::of(settings) {
        Source::ConfigFile(path) if settings.await_config && !path.exists() => {
            tracing::info!(
                file = %path.display(),
                "--await-config: no config file yet; serving no routes (/readyz 503) until a config is pushed (PUT /config) or SIGHUP finds the file"
            );
            Ok((None, Some(Reload::ConfigFile(path.to_owned()))))
        }
        Source::ConfigFile(path) => {
            load_config_file(path, state)?;
            Ok((None, Some(Reload::ConfigFile(path.to_owned()))))
        }
        Source::StaticRoot(root) => {
            if let Err(errors) = load_static_root(root, state) {
                anyhow::bail!("--static-root {}: {}", root.display(), errors.join("; "));
            }
            Ok((None, None))
        }
        Source::Manifests(dir) => {
            let reload = local::watch(dir.to_owned(), state.clone())?;
            Ok((None, Some(Reload::Manifests(reload))))
        }
        Source::Embedded => {
            let dir = embedded::write_examples(scratch.unwrap_or_else(embedded::scratch_dir))
                .context("cannot write the embedded examples to a temporary folder")?;
            tracing::info!(folder = %dir.display(), "no config source given: serving the embedded example Routes");
            if !local::apply(state, local::read_folder(&dir), "embedded") {
                anyhow::bail!("the embedded example manifests do not compile");
            }
            Ok((Some(dir), None))
        }
    }
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("--admin-token-file {}: cannot read", path.display()))?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        anyhow::bail!(
            "--admin-token-file {}: the file is empty; put the token in it",
            path.display()
        );
    }
    Ok(token)
}
