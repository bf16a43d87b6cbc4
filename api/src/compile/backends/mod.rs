//! Lowers `rules[].backends`: one kind each, weights in range, names unique,
//! references resolved to something a proxy can serve.
//!
//! Each backend kind is one module here (`lower` from the Route's field,
//! `check` of the lowered target, which `verify` reuses on pushed
//! configs); this file is the compiler's only match on kinds.

mod cgi;
mod depot;
mod git;
mod mock;
mod static_files;
mod upstream;

use super::Refs;
use super::findings::Findings;
use crate::config::{BackendConfig, BackendTarget};
use crate::route::{Backend, RouteRule};

pub(super) const MAX_WEIGHT: u32 = 1_000_000;

pub(super) fn lower(
    rule: &RouteRule,
    rule_field: &str,
    namespace: &str,
    refs: &Refs<'_>,
    findings: &mut Findings,
) -> Vec<BackendConfig> {
    let errors_before = findings.error_count();
    let mut out: Vec<BackendConfig> = Vec::new();
    // The index in `rule.backends` of each entry of `out` (invalid ones are skipped).
    let mut written_at: Vec<usize> = Vec::new();
    for (i, backend) in rule.backends.iter().enumerate() {
        let field = format!("{rule_field}.backends[{i}]");
        let weight = backend.weight.unwrap_or(1);
        if let Some(problem) = weight_problem(weight) {
            findings.error(format!("{field}.weight"), "InvalidWeight", problem);
        }
        let Some(target) = lower_target(backend, rule, &field, namespace, refs, findings) else {
            continue;
        };
        let name = backend
            .name
            .clone()
            .unwrap_or_else(|| default_name(backend));
        if let Some(first) = out
            .iter()
            .position(|b| b.name == name)
            .map(|p| written_at[p])
        {
            findings.error(
                format!("{field}.name"),
                "DuplicateBackend",
                duplicate_name(&name, first),
            );
        }
        out.push(BackendConfig {
            name,
            weight,
            target,
        });
        written_at.push(i);
    }
    // A backend that failed its own check adds no warning about its rule.
    let all_passed = findings.error_count() == errors_before;
    if all_passed && !out.is_empty() && out.iter().all(|b| b.weight == 0) {
        findings.warn(
            format!("{rule_field}.backends"),
            "AllWeightsZero",
            "every backend has weight 0, so the rule's requests are answered 500: give at least one backend a weight above 0",
        );
    }
    out
}

fn default_name(backend: &Backend) -> String {
    if backend.git.is_some() {
        return "git".to_owned();
    }
    if backend.cgi.is_some() {
        return "cgi".to_owned();
    }
    match (
        &backend.service,
        &backend.url,
        &backend.depot,
        &backend.mock,
    ) {
        (Some(s), ..) => format!("{}:{}", s.name, s.port),
        (None, Some(url), ..) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        (None, None, Some(_), _) => "depot".to_owned(),
        (None, None, None, Some(_)) => "mock".to_owned(),
        (None, None, None, None) => "static".to_owned(),
    }
}

/// The kind a backend names, checked to be exactly one.
fn lower_target(
    backend: &Backend,
    rule: &RouteRule,
    field: &str,
    namespace: &str,
    refs: &Refs<'_>,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let kinds = [
        backend.service.is_some(),
        backend.url.is_some(),
        backend.static_files.is_some(),
        backend.depot.is_some(),
        backend.mock.is_some(),
        backend.git.is_some(),
        backend.cgi.is_some(),
    ];
    if kinds.iter().filter(|set| **set).count() != 1 {
        findings.error(
            field.to_owned(),
            "InvalidBackend",
            "a backend needs exactly one of `service: {name, port}`, `url: http://host:port`, `static: {root}`, `depot: {repos}`, `mock: {provision}`, `git: {root}` or `cgi: {script}`",
        );
        return None;
    }
    if let Some(service) = &backend.service {
        return Some(upstream::lower_service(
            service,
            field,
            namespace,
            refs.services,
            findings,
        ));
    }
    if let Some(depot) = &backend.depot {
        return depot::lower(depot, rule, field, namespace, refs.depots, findings);
    }
    if let Some(mock) = &backend.mock {
        return mock::lower(mock, field, namespace, refs.mocks, findings);
    }
    if let Some(git) = &backend.git {
        return git::lower(git, rule, field, findings);
    }
    if let Some(program) = &backend.cgi {
        return cgi::lower(program, &format!("{field}.cgi"), findings);
    }
    if let Some(url) = &backend.url {
        return upstream::lower_url(url, field, findings);
    }
    let files = backend.static_files.as_ref()?;
    static_files::lower(files, &format!("{field}.static"), findings)
}

/// Checks a lowered target; `field` names the backend (or its `static`).
/// Also used on pushed configs, whose repositories are `depots` and
/// provisions `mocks`.
pub(super) fn check_target(
    target: &BackendTarget,
    refs: &Refs<'_>,
    field: &str,
    findings: &mut Findings,
) {
    match target {
        BackendTarget::Depot { repos } => depot::check(repos, refs.depots, field, findings),
        BackendTarget::Mock { provision } => {
            mock::check(provision.as_deref(), refs.mocks, field, findings)
        }
        BackendTarget::Upstream { authority } => upstream::check(authority, field, findings),
        BackendTarget::Static {
            root,
            index,
            cache_control,
            ..
        } => static_files::check(root, index, cache_control.as_deref(), field, findings),
        BackendTarget::Git { root, limits, .. } => {
            git::check(root.as_deref(), limits, field, findings)
        }
        BackendTarget::Cgi {
            script,
            env,
            working_dir,
            limits,
        } => cgi::check(script, env, working_dir.as_deref(), limits, field, findings),
        BackendTarget::Unresolved { .. } => {}
    }
}

/// Why `weight` is out of range, if it is.
pub(super) fn weight_problem(weight: u32) -> Option<String> {
    (weight > MAX_WEIGHT).then(|| format!("weight {weight} is above {MAX_WEIGHT}: weights are relative, so scale them down (90 and 10 make a 90/10 split)"))
}

/// What to say of a backend name used twice in a rule.
pub(super) fn duplicate_name(name: &str, first: usize) -> String {
    format!(
        "backend name `{name}` is already used by backends[{first}]: give each backend of a rule its own `name`"
    )
}
