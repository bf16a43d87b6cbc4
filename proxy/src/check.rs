//! `--check` (`-t`, as `nginx -t`): the config source loaded and built
//! exactly as `start` would, relative static roots included, every finding
//! printed, and nothing served: no port is bound.

use std::process::ExitCode;

use gatehouse_api::resource::{Kind, tally};

use crate::config::{embedded, local};
use crate::{Settings, Source, State, load_static_root, read_config_file};

/// What loading the config source found.
pub struct Report {
    /// The source as the flags named it.
    pub source: String,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// What the proxy would serve (`4 Route(s)`); nothing when refused.
    pub served: String,
}

impl Report {
    fn new(source: String) -> Report {
        Report {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
            served: tally([]),
        }
    }

    /// One line: the source, and what the proxy would do with it.
    pub fn summary(&self) -> String {
        let counts = format!(
            "{} error(s), {} warning(s)",
            self.errors.len(),
            self.warnings.len()
        );
        if self.errors.is_empty() {
            format!(
                "{}: {} checked as the proxy loads them at start: {counts}",
                self.source, self.served
            )
        } else {
            format!(
                "{}: checked as the proxy loads it at start: {counts}; the config is refused whole",
                self.source
            )
        }
    }
}

/// Loads the flags' config source into a state nothing serves.
pub fn check(settings: &Settings) -> Report {
    let state = State::new();
    match Source::of(settings) {
        Source::ConfigFile(path) => {
            let mut report = Report::new(format!("--config-file {}", path.display()));
            if settings.await_config && !path.exists() {
                report.warnings.push(format!(
                    "--config-file {}: no such file yet; with --await-config the proxy starts with no routes and waits for a push",
                    path.display()
                ));
                return report;
            }
            match read_config_file(path) {
                Ok(config) => {
                    let served = config.served();
                    match state.apply(config, "file") {
                        Ok(_) => report.served = served,
                        Err(errors) => report.errors = errors,
                    }
                }
                Err(err) => report.errors.push(format!("{err:#}")),
            }
            report
        }
        Source::StaticRoot(root) => {
            let mut report = Report::new(format!("--static-root {}", root.display()));
            match load_static_root(root, &state) {
                Ok(()) => report.served = tally([Kind::Route]),
                Err(errors) => report.errors = errors,
            }
            report
        }
        Source::Manifests(dir) => {
            let mut report = Report::new(format!("--manifests {}", dir.display()));
            match local::require_folder(dir) {
                Ok(()) => folder(&mut report, &state, dir),
                Err(err) => report.errors.push(format!("{err:#}")),
            }
            report
        }
        Source::Embedded => {
            let mut report = Report::new("the embedded example Routes".into());
            match embedded::write_examples(embedded::scratch_dir()) {
                Ok(dir) => {
                    folder(&mut report, &state, &dir);
                    let _ = std::fs::remove_dir_all(dir);
                }
                Err(err) => report.errors.push(format!(
                    "cannot write the embedded examples to a temporary folder: {err}"
                )),
            }
            report
        }
    }
}

fn folder(report: &mut Report, state: &State, dir: &std::path::Path) {
    let outcome = local::load(state, local::read_folder(dir), "check");
    report.warnings = outcome.warnings;
    match outcome.applied {
        Ok(_) => report.served = outcome.served,
        Err(errors) => report.errors = errors,
    }
}

/// Prints the findings, then the summary; 0 when the proxy would serve
/// the config, 1 when it would refuse it.
pub fn run(settings: &Settings) -> ExitCode {
    let report = check(settings);
    for line in report.errors.iter().chain(&report.warnings) {
        println!("{line}");
    }
    println!("{}", report.summary());
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
