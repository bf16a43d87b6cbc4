use clap::Parser;
use gatehouse_proxy::Settings;
use gatehouse_proxy::cli::LogFormat;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: gatehouse_proxy::allocator::MiMalloc = gatehouse_proxy::allocator::MiMalloc;

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    init_logging(&settings);
    // This thread runs the admin API, the config watcher and signals; the
    // traffic has worker threads of its own (see `workers`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let running = gatehouse_proxy::start(&settings).await?;
        wait_for_signal(&running).await?;
        tracing::info!("shutting down");
        running.shutdown();
        running.wait().await;
        Ok(())
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

/// Until SIGTERM or SIGINT; each SIGHUP reloads the config source, as
/// nginx and systemd's `ExecReload` expect, instead of killing the process.
async fn wait_for_signal(running: &gatehouse_proxy::Running) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reading the config source again");
                running.reload();
            }
        }
    }
}
