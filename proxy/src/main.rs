use std::process::ExitCode;

use clap::Parser;
use gatehouse_proxy::Settings;
use gatehouse_proxy::cli::LogFormat;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: gatehouse_proxy::MiMalloc = gatehouse_proxy::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    let settings = Settings::parse();
    init_logging(&settings);
    if settings.check {
        return Ok(gatehouse_proxy::check::run(&settings));
    }
    // This thread runs the admin API, the config watcher and signals; the
    // traffic has worker threads of its own (see `workers`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Registered before the start, so a HUP during it is not fatal.
        let signals = Signals::new()?;
        let running = gatehouse_proxy::start(&settings).await?;
        signals.wait(&running).await;
        tracing::info!("shutting down");
        running.shutdown();
        running.wait().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn init_logging(settings: &Settings) {
    // `--log` was checked when the flags were read.
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: files, pipes and `kubectl logs` get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// SIGTERM, SIGINT, SIGHUP and SIGUSR1, taken over from their default (exit).
struct Signals {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    user1: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
        })
    }

    /// Until SIGTERM or SIGINT; each SIGHUP reloads the config source, as
    /// nginx and systemd's `ExecReload` expect, instead of killing, and
    /// each SIGUSR1 opens the access log again, as nginx does for logrotate.
    async fn wait(mut self, running: &gatehouse_proxy::Running) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.interrupt.recv() => return,
                _ = self.hangup.recv() => {
                    tracing::info!("SIGHUP: reading the config source again");
                    running.reload();
                }
                _ = self.user1.recv() => running.reopen_logs(),
            }
        }
    }
}
