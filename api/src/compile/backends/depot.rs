//! The `depot` kind: DepotRepos served with HouseDepot's API at the rule's
//! path prefix. The repositories it names must be in the config's
//! `depots`; one that is not is an unresolved reference (500 meanwhile),
//! as a missing Service is. Naming none serves every DepotRepo of the
//! Route's namespace, which may be none at all.

use crate::compile::findings::Findings;
use crate::config::BackendTarget;
use crate::route::{DepotBackend, PathMatchType, RouteRule};

pub(super) fn lower(
    depot: &DepotBackend,
    rule: &RouteRule,
    field: &str,
    namespace: &str,
    depots: &[String],
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let before = findings.error_count();
    check_rule(rule, field, findings);
    let repos: Vec<String> = match &depot.repos {
        Some(names) => names
            .iter()
            .map(|name| format!("{namespace}/{name}"))
            .collect(),
        None => depots
            .iter()
            .filter(|id| id.split_once('/').is_some_and(|(ns, _)| ns == namespace))
            .cloned()
            .collect(),
    };
    if let Some(names) = &depot.repos {
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() || name.contains('/') {
                findings.error(
                    format!("{field}.depot.repos[{i}]"),
                    "InvalidBackend",
                    format!("`{name}` is not a DepotRepo name: name one of the Route's namespace, without `/`"),
                );
            } else if names[..i].contains(name) {
                findings.error(
                    format!("{field}.depot.repos[{i}]"),
                    "InvalidBackend",
                    format!("`{name}` is listed twice: name each DepotRepo once"),
                );
            }
        }
    }
    if findings.error_count() != before {
        return None;
    }
    let missing: Vec<&String> = repos.iter().filter(|id| !depots.contains(id)).collect();
    if let Some(first) = missing.first() {
        let at = depot
            .repos
            .as_ref()
            .and_then(|names| repos.iter().position(|id| id == *first).map(|i| (names, i)))
            .map_or(format!("{field}.depot"), |(_, i)| {
                format!("{field}.depot.repos[{i}]")
            });
        let reason = format!(
            "DepotRepo {first} does not exist or is not valid (see its status): apply it, or take it out of `repos`"
        );
        findings.unresolved(at, "DepotRepoNotFound", reason.clone());
        return Some(BackendTarget::Unresolved { reason });
    }
    // `depot: {}` in a namespace with no DepotRepo (yet, or any more)
    // serves an empty depot: `<mount>/all` lists none and a repository's
    // paths answer 404, as for a DepotRepo just deleted, not 500.
    Some(BackendTarget::Depot { repos })
}

/// A depot answers at a path prefix (`<prefix>/all`, `<prefix>/<repo>/…`):
/// its rule matches by `PathPrefix` only and does not rewrite the path.
fn check_rule(rule: &RouteRule, field: &str, findings: &mut Findings) {
    let rule_field = field
        .rsplit_once(".backends")
        .map_or(field, |(rule, _)| rule);
    for (i, m) in rule.matches.iter().enumerate() {
        if m.path
            .as_ref()
            .is_some_and(|p| p.kind != PathMatchType::PathPrefix)
        {
            findings.error(
                format!("{rule_field}.matches[{i}].path"),
                "InvalidBackend",
                "a depot backend serves a path prefix (its URLs are `<prefix>/all`, `<prefix>/<repo>/<file>`): match with `type: PathPrefix`",
            );
        }
    }
    for (i, filter) in rule.filters.iter().enumerate() {
        if filter.kind == "URLRewrite" {
            findings.error(
                format!("{rule_field}.filters[{i}]"),
                "InvalidBackend",
                "a depot backend reads its URLs below the matched prefix itself: drop the URLRewrite filter",
            );
        }
    }
}

/// A lowered (or pushed) depot target: it names repositories the config
/// has (none is an empty depot, see `lower`).
pub(super) fn check(repos: &[String], depots: &[String], field: &str, findings: &mut Findings) {
    for (i, id) in repos.iter().enumerate() {
        if !depots.contains(id) {
            findings.error(
                format!("{field}.repos[{i}]"),
                "InvalidBackend",
                format!("`{id}` is not one of the config's `depots`: add it there, or take it out"),
            );
        }
    }
}
