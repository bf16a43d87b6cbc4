//! Command-line flags; each also reads a `GATEHOUSE_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::route::client_headers::Underscores;
use crate::route::forwarded::TrustedProxies;
use crate::route::target::EscapedSlashes;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "gatehouse-proxy",
    version,
    about = "Gatehouse's proxy: one HTTP entry point, routed by Route resources and hot-swapped without dropping connections",
    after_help = "With none of --manifests, --config-file and --static-root, the proxy serves its embedded example Routes (local mode)."
)]
pub struct Settings {
    /// Address the proxy serves traffic on.
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address to serve HTTPS on (off unless set): certificates come from
    /// the Routes' `tls` sections; HTTP/2 by ALPN, HTTP/1.1 otherwise.
    #[arg(long, env = "GATEHOUSE_LISTEN_TLS")]
    pub listen_tls: Option<SocketAddr>,

    /// The HTTPS port clients see, for redirects from plain HTTP (when a
    /// load balancer maps 443 to `--listen-tls`'s port). Default: the port
    /// of `--listen-tls`.
    #[arg(long, env = "GATEHOUSE_HTTPS_PORT", requires = "listen_tls")]
    pub https_port: Option<u16>,

    /// Address of the admin API (config pushes, health, metrics). Beyond
    /// loopback only with --admin-token-file or --admin-client-ca.
    #[arg(long, env = "GATEHOUSE_ADMIN_LISTEN", default_value = "127.0.0.1:9901")]
    pub admin_listen: SocketAddr,

    /// Local mode: serve the Route YAML in this folder, reloading on every change.
    #[arg(long, env = "GATEHOUSE_MANIFESTS", conflicts_with = "config_file")]
    pub manifests: Option<PathBuf>,

    /// Serve one folder as a static site at `/`, with no manifests at all.
    #[arg(long, short = 'r', env = "GATEHOUSE_STATIC_ROOT", conflicts_with_all = ["manifests", "config_file"])]
    pub static_root: Option<PathBuf>,

    /// Where DepotRepos keep their files: `DIR/<namespace>/<name>`, made on
    /// demand. With `--manifests FOLDER` the default is `FOLDER.data` beside
    /// it; with the embedded examples, a folder removed at exit. Otherwise
    /// (a config file, admin pushes) there is none, and depot routes answer
    /// 503 until the proxy is started with it.
    #[arg(long, env = "GATEHOUSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The proxy that keeps the depot and git data (the one started with
    /// --data-dir), as `http://host:port`: this proxy keeps none, and
    /// forwards every request of a depot rule, and of a git rule without
    /// `git.root`, to it as to an upstream (the same Route serves it
    /// there). Not with --data-dir: a proxy either keeps the data or
    /// forwards to the one that does.
    #[arg(long, env = "GATEHOUSE_DATA_WRITER", conflicts_with = "data_dir", value_parser = data_writer)]
    pub data_writer: Option<http::uri::Authority>,

    /// Sidecar mode: the app beside the proxy in its Pod, as
    /// `http://127.0.0.1:PORT`. Requests no Route matches go to it,
    /// as to an upstream, instead of a 404; Routes still apply first.
    #[arg(long, env = "GATEHOUSE_LOCAL_APP", value_parser = local_app)]
    pub local_app: Option<http::uri::Authority>,

    /// A folder of mock provisions, loaded as h1mock loads them: `initial`
    /// is active at start, then the file last copied in, written or
    /// touched (`kubectl cp`), or loaded with the admin API's `POST
    /// /app/v1/provision/<name>`. Routes answer with it through a
    /// `mock: {provisionsDir: true}` backend. Made when missing.
    #[arg(long, env = "GATEHOUSE_PROVISIONS_DIR")]
    pub provisions_dir: Option<PathBuf>,

    /// A folder whose provision files are copied into --provisions-dir at
    /// start, replacing files of the same name, before `initial` is
    /// activated (h1mock's chart: a ConfigMap mounted read-only, copied
    /// into the writable watched folder, so `kubectl cp` and the admin
    /// API still add provisions). Hidden entries (a ConfigMap mount's
    /// `..data`) and names that are no provision names are skipped.
    #[arg(long, env = "GATEHOUSE_PROVISIONS_FROM", requires = "provisions_dir")]
    pub provisions_from: Option<PathBuf>,

    /// Check the config source as the proxy loads it at start (relative
    /// static roots included), print every finding and exit: 0 when it
    /// would be served, 1 when not. Binds no port (nginx's `-t`). No
    /// environment variable: one left set would stop every start.
    #[arg(long, short = 't')]
    pub check: bool,

    /// Serve this ProxyConfig JSON at start (as the operator's ConfigMap holds it).
    #[arg(long, env = "GATEHOUSE_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// With --config-file: a missing file is no error. The proxy starts
    /// with no routes, `/readyz` answers 503 (waiting for its first
    /// config) until the operator pushes one or SIGHUP finds the file, as
    /// in a Pod whose ConfigMap the operator has not written yet.
    #[arg(long, env = "GATEHOUSE_AWAIT_CONFIG", requires = "config_file")]
    pub await_config: bool,

    /// File holding the bearer token the admin API requires for /config.
    #[arg(long, env = "GATEHOUSE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// PEM certificate (chain) for the admin API: with it (and
    /// --admin-tls-key) the admin port speaks TLS only.
    #[arg(long, env = "GATEHOUSE_ADMIN_TLS_CERT", requires = "admin_tls_key")]
    pub admin_tls_cert: Option<PathBuf>,

    /// PEM private key of --admin-tls-cert.
    #[arg(long, env = "GATEHOUSE_ADMIN_TLS_KEY", requires = "admin_tls_cert")]
    pub admin_tls_key: Option<PathBuf>,

    /// PEM CA certificates: the admin port then requires a client
    /// certificate signed by one of them (mTLS), which stands in for the
    /// token. Needs --admin-tls-cert and --admin-tls-key.
    #[arg(long, env = "GATEHOUSE_ADMIN_CLIENT_CA", requires = "admin_tls_cert")]
    pub admin_client_ca: Option<PathBuf>,

    /// Runtime worker threads (default: one per core).
    #[arg(long, short = 'w', env = "GATEHOUSE_WORKERS", value_parser = at_least_one)]
    pub workers: Option<usize>,

    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Largest request head (request line and headers) accepted, in bytes.
    #[arg(long, env = "GATEHOUSE_MAX_HEADER_BYTES", default_value_t = 64 * 1024, value_parser = header_bytes)]
    pub max_header_bytes: usize,

    /// Time a client has to send its request head (slowloris guard).
    #[arg(long, env = "GATEHOUSE_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,

    /// How long an HTTP/1.1 client connection may idle between requests
    /// before it is closed (nginx's `keepalive_timeout`).
    #[arg(long, env = "GATEHOUSE_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_parser = positive_duration)]
    pub keep_alive_timeout: Duration,

    /// Client connections served at once; more wait to be accepted.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = at_least_one)]
    pub max_connections: usize,

    /// Time to connect to a backend before answering 502.
    #[arg(long, env = "GATEHOUSE_CONNECT_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub connect_timeout: Duration,

    /// Longest wait for a backend's next bytes, head or body, where its
    /// rule sets no timeout (nginx's `proxy_read_timeout`): 504 before the
    /// head, the response cut off after it. A WebSocket tunnel that
    /// carries nothing either way for this long is closed.
    #[arg(long, env = "GATEHOUSE_BACKEND_READ_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    pub backend_read_timeout: Duration,

    /// Longest pause while a client sends a request body, then 408
    /// (nginx's `client_body_timeout`).
    #[arg(long, env = "GATEHOUSE_CLIENT_BODY_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    pub client_body_timeout: Duration,

    /// Longest a client may take none of a response being sent to it
    /// before its connection is closed (nginx's `send_timeout`).
    #[arg(long, env = "GATEHOUSE_SEND_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    pub send_timeout: Duration,

    /// What an encoded slash (`%2F`) in a request path becomes: `keep` it
    /// (part of its segment, forwarded as sent), `decode` it to `/` (for
    /// backends that would read it so anyway), or `reject` it with 400.
    #[arg(long, env = "GATEHOUSE_ESCAPED_SLASHES", value_enum, default_value_t = EscapedSlashes::Keep)]
    pub escaped_slashes: EscapedSlashes,

    /// Peers whose `X-Forwarded-Proto` and `-Host` are passed on (a load
    /// balancer that terminates TLS): IPs and CIDR networks, comma-separated.
    /// Once given, other peers' `X-Forwarded-For` is replaced, not extended.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", default_value = "", hide_default_value = true, value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,

    /// Pass on request headers whose names have `_` (dropped by default, as
    /// nginx's `underscores_in_headers off`: CGI, Rack and uWSGI backends
    /// read `X_Forwarded_For` as `X-Forwarded-For`).
    #[arg(long, env = "GATEHOUSE_ALLOW_UNDERSCORES_IN_HEADERS")]
    pub allow_underscores_in_headers: bool,

    /// A line per request: `off`, `stdout`, or a file to append to (opened
    /// again on SIGUSR1, for log rotation). nginx's `combined` format plus
    /// the time taken, Route and backend; JSON with `--log-format json`.
    #[arg(long, env = "GATEHOUSE_ACCESS_LOG", default_value = "off", value_parser = crate::observe::access_log::Destination::parse)]
    pub access_log: crate::observe::access_log::Destination,

    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `gatehouse_proxy=debug`.
    #[arg(long, env = "GATEHOUSE_LOG", default_value = "info", value_parser = log_filter)]
    pub log: String,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Gateway API style durations (`30s`, `1m30s`, `500ms`), as Routes use.
fn parse_duration(text: &str) -> Result<Duration, String> {
    gatehouse_api::duration::parse_duration(text)
}

/// A duration above zero: a zero timeout would cut off every connection.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => {
            Err("0 would time out at once: give a duration above zero, e.g. `10s`".into())
        }
        d => Ok(d),
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would serve nothing: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

/// `--data-writer`: the writer's address as its Service names it.
fn data_writer(text: &str) -> Result<http::uri::Authority, String> {
    http_authority(
        text,
        "give the writer's address as `http://host:port`, e.g. `http://gatehouse-depot:8080`",
    )
}

/// `--local-app`: the app's port in the Pod.
fn local_app(text: &str) -> Result<http::uri::Authority, String> {
    http_authority(
        text,
        "give the app's address as `http://127.0.0.1:PORT`, e.g. `http://127.0.0.1:3000`",
    )
}

/// `http://host[:port][/]`, an upstream's address; the port defaults to
/// 80. `fix` says what to give instead.
fn http_authority(text: &str, fix: &str) -> Result<http::uri::Authority, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| format!("`{text}` is not a URL: {fix}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "`{text}`: it is reached over plain HTTP, not `{other}`: {fix}"
            ));
        }
        None => return Err(format!("`{text}` has no scheme: {fix}")),
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(format!(
            "`{text}`: requests keep their own path, so the writer's URL takes none: {fix}"
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("`{text}` names no host: {fix}"))?;
    if authority.as_str().contains('@') {
        return Err(format!("`{text}`: no user or password in the URL: {fix}"));
    }
    match authority.port_u16() {
        Some(_) => Ok(authority.clone()),
        None => format!("{}:80", authority.host())
            .parse()
            .map_err(|_| format!("`{text}`: the host is not valid: {fix}")),
    }
}

/// hyper's HTTP/1 reader needs room for at least 8 KiB.
const MIN_HEADER_BYTES: usize = 8 * 1024;

fn header_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= MIN_HEADER_BYTES => Ok(n),
        Ok(n) => Err(format!(
            "{n} is below the smallest limit, {MIN_HEADER_BYTES} bytes (8 KiB, as nginx's default buffer)"
        )),
        Err(_) => Err(format!("`{text}` is not a number of bytes")),
    }
}

/// A `tracing` filter, checked here so a typo stops the start instead of
/// silently logging at `info`.
fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|err| format!("{err}: write a level (`info`) or `target=level` pairs (`gatehouse_proxy=debug,info`)"))
}

impl Settings {
    /// What happens to request header names with `_`.
    pub fn underscores(&self) -> Underscores {
        match self.allow_underscores_in_headers {
            true => Underscores::Allow,
            false => Underscores::Drop,
        }
    }

    /// Settings for tests and embedding: loopback ports picked by the OS.
    pub fn for_tests() -> Settings {
        Settings::parse_from([
            "gatehouse-proxy",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
    }
}
