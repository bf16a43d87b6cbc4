//! `gatehouse-operator`: the Kubernetes side of Gatehouse.
//!
//! Built so far: `crds` (the CRD YAML) and `check` (offline compile of
//! manifests). The controller (`run`) that watches Routes and programs the
//! proxies is not built yet, so it is not offered.

mod check;
mod crds;

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
    /// Print the CustomResourceDefinitions as YAML (`kubectl apply -f -`).
    Crds,
    /// Compile manifests offline and print every finding with file and line;
    /// exit 1 when any is an error.
    Check {
        /// A manifest file or a folder of them; repeat for more.
        #[arg(short = 'f', long = "filename", required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crds => {
            print!("{}", crds::yaml());
            ExitCode::SUCCESS
        }
        Command::Check { paths } => {
            let report = check::check(&paths);
            for line in &report.lines {
                println!("{line}");
            }
            println!(
                "{} Route(s) checked: {} error(s), {} warning(s)",
                report.routes, report.errors, report.warnings
            );
            if report.errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
