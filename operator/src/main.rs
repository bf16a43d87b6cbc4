//! `gatehouse-operator`: the Kubernetes side of Gatehouse.
//!
//! `run` (the controller), `crds` (the CRD YAML), `check` (offline
//! compile of manifests) and `users` (an htpasswd Secret's users).

mod check;
mod crds;
mod run;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse-operator",
    version,
    about = "Gatehouse's Kubernetes operator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch Routes and program the proxies (in a Pod, or locally with a kubeconfig).
    Run(Box<run::RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (`kubectl apply -f -`).
    Crds {
        /// Write each CRD to its own file in this folder instead
        /// (`route.yaml`, `depotrepo.yaml`), as `crds/` holds them.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Compile manifests offline, as for a cluster, and print every finding
    /// with file and line; exit 1 when any is an error. (Local mode's
    /// manifests: `gatehouse-proxy --check --manifests DIR`.)
    Check {
        /// A manifest file or a folder of them; repeat for more.
        #[arg(short = 'f', long = "filename", required = true)]
        paths: Vec<PathBuf>,
    },
    /// Add, remove and list the users of an htpasswd Secret (bcrypt), for
    /// access control on Route rules.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => {
            init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a runtime starts");
            match runtime.block_on(run::run(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Crds { out_dir: None } => {
            print!("{}", crds::yaml());
            ExitCode::SUCCESS
        }
        Command::Crds { out_dir: Some(dir) } => match crds::write_files(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: --out-dir {}: cannot write: {err}", dir.display());
                ExitCode::from(2)
            }
        },
        Command::Check { paths } => {
            let report = check::check(&paths);
            for line in &report.lines {
                println!("{line}");
            }
            for folder in &report.local_mode {
                println!(
                    "note: {folder} has a relative static root, which only local mode serves (from the manifest's folder): check it as the proxy serves it with `gatehouse-proxy --check --manifests {folder}`"
                );
            }
            println!(
                "{} checked as the operator compiles them for a cluster: {} error(s), {} warning(s)",
                report.read, report.errors, report.warnings
            );
            if report.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Users { command } => users_command(command),
    }
}

fn users_command(command: users::UsersCommand) -> ExitCode {
    match users::run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}
