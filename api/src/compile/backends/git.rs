//! The `git` kind: bare repositories below a root, served by the real
//! `git http-backend` at the rule's path prefix. The repository is the
//! path below the prefix, so the rule matches by `PathPrefix` and keeps
//! the path as the client sent it (no URLRewrite).

use super::cgi::{absolute, check_limits, lower_limits};
use crate::compile::findings::Findings;
use crate::config::{BackendTarget, ProcessLimits};
use crate::route::{GitBackend, PathMatchType, RouteRule};

/// A clone of a large repository takes minutes: ten of them by default.
const DEFAULT_TIMEOUT_MS: u64 = 10 * 60_000;

pub(super) fn lower(
    git: &GitBackend,
    rule: &RouteRule,
    field: &str,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let before = findings.error_count();
    check_rule(rule, field, findings);
    let git_field = format!("{field}.git");
    let limits = lower_limits(
        git.max_processes,
        git.timeout.as_deref(),
        DEFAULT_TIMEOUT_MS,
        &git_field,
        findings,
    );
    check(git.root.as_deref(), &limits, &git_field, findings);
    (findings.error_count() == before).then(|| BackendTarget::Git {
        root: git.root.clone(),
        create_on_push: git.create_on_push,
        limits,
    })
}

/// A lowered (or pushed) git target's fields.
pub(super) fn check(
    root: Option<&str>,
    limits: &ProcessLimits,
    field: &str,
    findings: &mut Findings,
) {
    if let Some(root) = root {
        absolute(root, &format!("{field}.root"), "root", findings);
    }
    check_limits(limits, field, findings);
}

/// Git answers below a path prefix (`<prefix>/<repo>/info/refs`): its rule
/// matches by `PathPrefix` and does not rewrite the path.
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
                "a git backend serves repositories below a path prefix (`<prefix>/<repo>`): match with `type: PathPrefix`",
            );
        }
    }
    for (i, filter) in rule.filters.iter().enumerate() {
        if filter.kind == "URLRewrite" {
            findings.error(
                format!("{rule_field}.filters[{i}]"),
                "InvalidBackend",
                "a git backend reads the repository from the path below the matched prefix itself: drop the URLRewrite filter",
            );
        }
    }
}
