//! The `gatehouse-proxy` binary as a child process: found or built, started
//! on free loopback ports, watched through its admin API and its stderr,
//! killed on drop.

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use gatehouse_testkit::{TempDir, client, free_port, scaled, wait_for};
use serde_json::Value;

use crate::metrics::Metrics;

/// How long a started proxy may take to answer its `/healthz`.
const START_WITHIN: Duration = Duration::from_secs(30);

/// The `gatehouse-proxy` binary under test: `GATEHOUSE_PROXY_BIN` when set,
/// else `<target>/<profile>/gatehouse-proxy` beside this test executable,
/// built with `cargo build -p gatehouse-proxy` when it is missing or older
/// than its sources. Found once per test process.
pub fn proxy_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| find_or_build(&PROXY)).clone()
}

/// The `gatehouse-operator` binary, found or built as `proxy_binary` is
/// (`GATEHOUSE_OPERATOR_BIN` overrides).
pub fn operator_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| find_or_build(&OPERATOR)).clone()
}

/// A binary of the workspace and what it is built from.
struct Binary {
    package: &'static str,
    env: &'static str,
    sources: &'static [&'static str],
}

const PROXY: Binary = Binary {
    package: "gatehouse-proxy",
    env: "GATEHOUSE_PROXY_BIN",
    sources: &[
        "Cargo.toml",
        "Cargo.lock",
        "proxy/Cargo.toml",
        "proxy/src",
        "api/Cargo.toml",
        "api/src",
        "depot/Cargo.toml",
        "depot/src",
        "mock/Cargo.toml",
        "mock/src",
        "auth/Cargo.toml",
        "auth/src",
        "yaml-locate/Cargo.toml",
        "yaml-locate/src",
        "examples/local",
    ],
};

const OPERATOR: Binary = Binary {
    package: "gatehouse-operator",
    env: "GATEHOUSE_OPERATOR_BIN",
    sources: &[
        "Cargo.toml",
        "Cargo.lock",
        "operator/Cargo.toml",
        "operator/src",
        "api/Cargo.toml",
        "api/src",
        "mock/Cargo.toml",
        "mock/src",
        "auth/Cargo.toml",
        "auth/src",
        "yaml-locate/Cargo.toml",
        "yaml-locate/src",
    ],
};

fn find_or_build(bin: &Binary) -> PathBuf {
    if let Some(path) = std::env::var_os(bin.env) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{}={} is not a file",
            bin.env,
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps")
        .to_path_buf();
    let binary = profile_dir.join(format!("{}{}", bin.package, std::env::consts::EXE_SUFFIX));
    let why = if !binary.is_file() {
        Some("it is missing")
    } else if is_stale(&binary, bin.sources) {
        Some("it is older than its sources")
    } else {
        None
    };
    if let Some(why) = why {
        build(bin, &profile_dir, why);
        assert!(
            binary.is_file(),
            "`cargo build -p {}` succeeded but {} is not there; set {} to the binary",
            bin.package,
            binary.display(),
            bin.env
        );
    }
    binary
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ct/ sits in the workspace")
        .to_path_buf()
}

/// True when a file the binary is built from changed after the binary.
fn is_stale(binary: &Path, sources: &[&str]) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let root = workspace_root();
    sources
        .iter()
        .filter_map(|s| newest_mtime(&root.join(s)))
        .any(|modified| modified > built)
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = path.metadata().ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

fn build(bin: &Binary, profile_dir: &Path, why: &str) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-p", bin.package, "--bin", bin.package])
        .current_dir(workspace_root());
    if profile_dir.file_name() == Some(OsStr::new("release")) {
        command.arg("--release");
    }
    eprintln!(
        "gatehouse-ct: building {} ({why}): {:?}",
        bin.package, command
    );
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
    assert!(
        output.status.success(),
        "`cargo build -p {}` failed ({}):\n{}",
        bin.package,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An HTTP answer, read whole.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn read_reply(response: reqwest::Response) -> Result<Reply, String> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .map_err(|e| format!("reading the body: {}", error_chain(&e)))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// An error with its causes, `a: b: c`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addresses {
    /// `--listen` and `--admin-listen`.
    Flags,
    /// `GATEHOUSE_LISTEN` and `GATEHOUSE_ADMIN_LISTEN`.
    Env,
}

/// How to start one proxy: its arguments and environment.
#[derive(Clone, Debug)]
pub struct ProxyBuilder {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    addresses: Addresses,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    no_color: bool,
    current_dir: Option<PathBuf>,
    wrapper: Vec<OsString>,
}

impl ProxyBuilder {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable in the proxy's environment (which starts with no `GATEHOUSE_*`).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Serves traffic on `addr` instead of a free port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Serves the admin API on `addr` instead of a free port.
    pub fn admin_listen(mut self, addr: SocketAddr) -> Self {
        self.admin_listen = Some(addr);
        self
    }

    /// Runs the proxy in `dir` (by default: a fresh empty folder, so nothing
    /// depends on where the tests run).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Starts the proxy through `program` (with its arguments first, then
    /// the proxy's path and arguments), which must `exec` it, so that the
    /// pid is the proxy's: e.g. `unshare` to give it a mount of its own.
    pub fn wrapped_in<I, S>(mut self, program: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper = program.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Leaves `NO_COLOR` unset (by default it is set, so logs read as plain text).
    pub fn without_no_color(mut self) -> Self {
        self.no_color = false;
        self
    }

    /// Gives the addresses as `GATEHOUSE_LISTEN`/`GATEHOUSE_ADMIN_LISTEN`, not flags.
    pub fn addresses_in_env(mut self) -> Self {
        self.addresses = Addresses::Env;
        self
    }

    /// Starts the process without waiting for it (for processes expected to fail).
    pub fn spawn(&self) -> ProxyProcess {
        let listen = self.listen.unwrap_or_else(free_port);
        let admin = self.admin_listen.unwrap_or_else(free_port);
        let logs = TempDir::new("proxy-logs");
        let home = logs.join("cwd");
        std::fs::create_dir_all(&home).expect("the proxy's working folder");
        let stderr_path = logs.join("stderr.log");
        let stdout_path = logs.join("stdout.log");
        let open = |path: &Path| {
            std::fs::File::create(path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
        };
        let binary = proxy_binary();
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GATEHOUSE_") {
                command.env_remove(key);
            }
        }
        if self.no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        match self.addresses {
            Addresses::Flags => {
                command
                    .arg("--listen")
                    .arg(listen.to_string())
                    .arg("--admin-listen")
                    .arg(admin.to_string());
            }
            Addresses::Env => {
                command
                    .env("GATEHOUSE_LISTEN", listen.to_string())
                    .env("GATEHOUSE_ADMIN_LISTEN", admin.to_string());
            }
        }
        command
            .args(&self.args)
            .current_dir(self.current_dir.as_deref().unwrap_or(&home))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(open(&stdout_path))
            .stderr(open(&stderr_path));
        let description = format!("{command:?}");
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        ProxyProcess {
            child,
            addr: listen,
            admin_addr: admin,
            stderr_path,
            stdout_path,
            description,
            client: client(),
            _logs: logs,
        }
    }

    /// Starts the process and waits until its admin `/healthz` answers 200.
    /// Ports picked here that another process took meanwhile are picked again.
    pub async fn start(&self) -> ProxyProcess {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut proxy = self.spawn();
            match proxy.wait_healthy(scaled(START_WITHIN)).await {
                Ok(()) => return proxy,
                Err(why) => {
                    let lost_a_port = proxy.stderr().contains("cannot bind")
                        && self.listen.is_none()
                        && self.admin_listen.is_none();
                    if lost_a_port && attempt < 5 {
                        continue;
                    }
                    proxy.fail(why);
                }
            }
        }
    }
}

/// A running `gatehouse-proxy`; killed (SIGKILL) when dropped.
pub struct ProxyProcess {
    child: Child,
    /// The traffic listener.
    pub addr: SocketAddr,
    /// The admin API.
    pub admin_addr: SocketAddr,
    stderr_path: PathBuf,
    stdout_path: PathBuf,
    description: String,
    client: reqwest::Client,
    _logs: TempDir,
}

impl ProxyProcess {
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder {
            args: Vec::new(),
            env: Vec::new(),
            addresses: Addresses::Flags,
            listen: None,
            admin_listen: None,
            no_color: true,
            current_dir: None,
            wrapper: Vec::new(),
        }
    }

    /// Starts the proxy with `args` (besides `--listen`/`--admin-listen`) and waits for it.
    pub async fn start<I, S>(args: I) -> ProxyProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        ProxyProcess::builder().args(args).start().await
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// `http://<traffic address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://<admin address><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin_addr)
    }

    /// The pooled client the helpers use (no redirects, no proxy variables).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Panics with `message`, the command line and the process's output.
    pub fn fail(&self, message: impl Display) -> ! {
        let stdout = std::fs::read_to_string(&self.stdout_path).unwrap_or_default();
        panic!(
            "{message}\n--- proxy: {}\n--- stderr:\n{}--- stdout:\n{stdout}---",
            self.description,
            self.stderr()
        )
    }

    async fn wait_healthy(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the proxy exited before it was healthy: {status}"));
            }
            let last = match self.try_admin_get("/healthz").await {
                Ok(reply) if reply.status == 200 => return Ok(()),
                Ok(reply) => format!("{} {}", reply.status, reply.body),
                Err(err) => err,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "the proxy's /healthz did not answer 200 within {within:?}: {last}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET url` with optional headers; transport errors as text.
    pub async fn try_request(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, String> {
        let mut request = self.client.request(method.clone(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {}", error_chain(&e)))?;
        read_reply(response).await
    }

    /// `GET path` on the traffic port.
    pub async fn try_get(&self, path: &str) -> Result<Reply, String> {
        self.try_request(reqwest::Method::GET, &self.url(path), &[], None)
            .await
    }

    /// `GET path` on the traffic port; panics (with the proxy's stderr) on a transport error.
    pub async fn get(&self, path: &str) -> Reply {
        self.try_get(path).await.unwrap_or_else(|e| self.fail(e))
    }

    /// `GET path` on the traffic port with `Host: host`.
    pub async fn get_host(&self, host: &str, path: &str) -> Reply {
        self.try_request(
            reqwest::Method::GET,
            &self.url(path),
            &[("host", host)],
            None,
        )
        .await
        .unwrap_or_else(|e| self.fail(e))
    }

    pub async fn try_admin_get(&self, path: &str) -> Result<Reply, String> {
        self.try_request(reqwest::Method::GET, &self.admin_url(path), &[], None)
            .await
    }

    /// `GET path` on the admin port.
    pub async fn admin_get(&self, path: &str) -> Reply {
        self.try_admin_get(path)
            .await
            .unwrap_or_else(|e| self.fail(e))
    }

    /// `PUT /config` with `body`, and `Authorization: Bearer token` when given.
    pub async fn put_config(&self, body: impl Into<String>, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a), ("content-type", "application/json")])
            .unwrap_or_else(|| vec![("content-type", "application/json")]);
        self.try_request(
            reqwest::Method::PUT,
            &self.admin_url("/config"),
            &headers,
            Some(body.into()),
        )
        .await
        .unwrap_or_else(|e| self.fail(e))
    }

    /// One scrape of the admin `/metrics`.
    pub async fn metrics(&self) -> Metrics {
        let reply = self.admin_get("/metrics").await;
        if reply.status != 200 {
            self.fail(format!(
                "/metrics answered {}: {}",
                reply.status, reply.body
            ));
        }
        Metrics::parse(&reply.body)
    }

    /// Waits until `GET path` is answered 200 by the upstream named `upstream`
    /// (its `x-upstream` header); returns how long that took.
    pub async fn wait_served_by(&self, path: &str, upstream: &str, within: Duration) -> Duration {
        let proxy = self;
        let what = format!("GET {path} served by upstream {upstream}");
        wait_for(&what, within, || async move {
            let reply = proxy.try_get(path).await?;
            match reply.header("x-upstream") {
                Some(name) if reply.status == 200 && name == upstream => Ok(()),
                _ => Err(format!(
                    "{} x-upstream={:?} {:?}",
                    reply.status,
                    reply.header("x-upstream"),
                    reply.body
                )),
            }
        })
        .await
        .map(|((), took)| took)
        .unwrap_or_else(|e| self.fail(e))
    }

    /// Waits until `gatehouse_config_generation` is at least `generation`.
    pub async fn wait_generation(&self, generation: u64, within: Duration) -> Duration {
        let proxy = self;
        let what = format!("config generation {generation}");
        wait_for(&what, within, || async move {
            let reply = proxy.try_admin_get("/metrics").await?;
            let now = Metrics::parse(&reply.body)
                .get("gatehouse_config_generation", &[])
                .unwrap_or(0.0);
            if now >= generation as f64 {
                Ok(())
            } else {
                Err(format!("generation {now}"))
            }
        })
        .await
        .map(|((), took)| took)
        .unwrap_or_else(|e| self.fail(e))
    }

    /// Waits until `GET path` answers `status`.
    pub async fn wait_status(&self, path: &str, status: u16, within: Duration) -> Reply {
        let proxy = self;
        let what = format!("GET {path} answered {status}");
        wait_for(&what, within, || async move {
            let reply = proxy.try_get(path).await?;
            if reply.status == status {
                Ok(reply)
            } else {
                Err(format!("{} {:?}", reply.status, reply.body))
            }
        })
        .await
        .map(|(reply, _)| reply)
        .unwrap_or_else(|e| self.fail(e))
    }

    /// Waits until stderr holds a line containing every one of `needles`; returns that line.
    pub async fn wait_for_log_line(&self, needles: &[&str], within: Duration) -> String {
        let proxy = self;
        let what = format!("a stderr line containing all of {needles:?}");
        wait_for(&what, within, || async move {
            proxy
                .stderr()
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
                .map(str::to_owned)
                .ok_or_else(|| "no such line yet".to_owned())
        })
        .await
        .map(|(line, _)| line)
        .unwrap_or_else(|e| self.fail(e))
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(
            status.success(),
            "kill -{name} {} failed: {status}",
            self.pid()
        );
    }

    /// Waits up to `within` for the process to exit; `None` if it is still running.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on the proxy") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The exit status, if the process has exited.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait on the proxy")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- proxy {} (pid {}) stderr:\n{}---",
                self.description,
                self.child.id(),
                self.stderr()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
