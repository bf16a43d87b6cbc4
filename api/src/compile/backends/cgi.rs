//! The `cgi` kind: a program run once a request (RFC 3875), and the
//! process limits it shares with `git` (which runs `git http-backend` as
//! a CGI). Paths are absolute here: local mode has made a relative one
//! absolute from the manifest's folder before compiling.

use crate::compile::findings::Findings;
use crate::config::{BackendTarget, ProcessLimits};
use crate::duration::parse_duration;
use crate::route::{CgiBackend, EnvVar, MAX_CGI_ENV};

/// Processes at once per backend when `maxProcesses` is unset.
pub(super) const DEFAULT_MAX_PROCESSES: u32 = 16;
/// The most `maxProcesses` may say.
pub(super) const MAX_PROCESSES: u32 = 1024;
/// A CGI program's time when `timeout` is unset.
const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// Variables the proxy sets for every request: a backend's `env` may not
/// set them (they would be overwritten, or lie about the request).
const RESERVED: &[&str] = &[
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "GIT_PROTOCOL",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

pub(super) fn lower(
    cgi: &CgiBackend,
    field: &str,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let before = findings.error_count();
    let limits = lower_limits(
        cgi.max_processes,
        cgi.timeout.as_deref(),
        DEFAULT_TIMEOUT_MS,
        field,
        findings,
    );
    if cgi.env.len() > MAX_CGI_ENV {
        findings.error(
            format!("{field}.env"),
            "InvalidBackend",
            format!(
                "{} variables are more than the {MAX_CGI_ENV} a backend may set: pass the rest in a file the program reads",
                cgi.env.len()
            ),
        );
    }
    check(
        &cgi.script,
        &cgi.env,
        cgi.working_dir.as_deref(),
        &limits,
        field,
        findings,
    );
    (findings.error_count() == before).then(|| BackendTarget::Cgi {
        script: cgi.script.clone(),
        env: cgi.env.clone(),
        working_dir: cgi.working_dir.clone(),
        limits,
    })
}

/// A lowered (or pushed) cgi target's fields; `field` names the backend's
/// `cgi` (or, pushed, its `target`).
pub(super) fn check(
    script: &str,
    env: &[EnvVar],
    working_dir: Option<&str>,
    limits: &ProcessLimits,
    field: &str,
    findings: &mut Findings,
) {
    absolute(script, &format!("{field}.script"), "script", findings);
    if let Some(dir) = working_dir {
        absolute(dir, &format!("{field}.workingDir"), "workingDir", findings);
    }
    for (i, var) in env.iter().enumerate() {
        if let Some(why) = env_problem(var, &env[..i]) {
            findings.error(format!("{field}.env[{i}]"), "InvalidBackend", why);
        }
    }
    check_limits(limits, field, findings);
}

/// Why a path given for a field is not usable, if it is not: it must be
/// absolute and free of NUL.
pub(super) fn absolute(path: &str, field: &str, what: &str, findings: &mut Findings) {
    if !path.starts_with('/') || path.contains('\0') {
        findings.error(
            field.to_owned(),
            "InvalidBackend",
            format!("{what} `{path}` is not an absolute path: give its full path on the proxy (in local mode, a relative path is taken from the manifest's folder)"),
        );
    }
}

fn env_problem(var: &EnvVar, earlier: &[EnvVar]) -> Option<String> {
    let name = var.name.as_str();
    let well_formed = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 256;
    if !well_formed {
        return Some(format!(
            "`{name}` is not an environment variable name: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if RESERVED.contains(&name) || name.starts_with("HTTP_") {
        return Some(format!(
            "`{name}` is set by the proxy for each request (RFC 3875's variables and `HTTP_*` request headers): choose another name"
        ));
    }
    if var.value.contains('\0') || var.value.len() > 4096 {
        return Some(format!(
            "the value of `{name}` holds NUL or is longer than 4096 bytes"
        ));
    }
    if earlier.iter().any(|e| e.name == var.name) {
        return Some(format!("`{name}` is set twice: set each variable once"));
    }
    None
}

/// `maxProcesses` and `timeout` of a `git` or `cgi` backend.
pub(super) fn lower_limits(
    max_processes: Option<u32>,
    timeout: Option<&str>,
    default_timeout_ms: u64,
    field: &str,
    findings: &mut Findings,
) -> ProcessLimits {
    let timeout_ms = match timeout.map(parse_duration) {
        None => default_timeout_ms,
        Some(Ok(limit)) if !limit.is_zero() => limit.as_millis() as u64,
        Some(Ok(_)) => {
            findings.error(
                format!("{field}.timeout"),
                "InvalidBackend",
                "a timeout of 0 would kill every process at once: give a duration such as `10m`",
            );
            default_timeout_ms
        }
        Some(Err(why)) => {
            findings.error(format!("{field}.timeout"), "InvalidBackend", why);
            default_timeout_ms
        }
    };
    ProcessLimits {
        max_processes: max_processes.unwrap_or(DEFAULT_MAX_PROCESSES),
        timeout_ms,
    }
}

pub(super) fn check_limits(limits: &ProcessLimits, field: &str, findings: &mut Findings) {
    if !(1..=MAX_PROCESSES).contains(&limits.max_processes) {
        findings.error(
            format!("{field}.maxProcesses"),
            "InvalidBackend",
            format!(
                "maxProcesses {} is not between 1 and {MAX_PROCESSES}",
                limits.max_processes
            ),
        );
    }
    if limits.timeout_ms == 0 {
        findings.error(
            format!("{field}.timeout"),
            "InvalidBackend",
            "a timeout of 0 would kill every process at once: give a duration such as `10m`",
        );
    }
}
