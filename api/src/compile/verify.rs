//! Checks a `ProxyConfig` that no `compile` made: one pushed to a proxy's
//! admin API by hand or by a script. It must be a config `compile` could
//! have made, so a mistyped push is refused with every error, never served.

use super::backends::{check_target, duplicate_name, weight_problem};
use super::findings::Findings;
use super::names::check_hostname;
use super::{Refs, access, depot_repos, filters, matches, mock_provisions, tls};
use crate::config::{BackendConfig, BackendTarget, FilterConfig, ProxyConfig, RuleConfig};
use crate::resource::{Kind, ResourceId};

/// Every error in `config`, each naming its field (`routes[0].rules[1]…`).
pub fn verify(config: &ProxyConfig) -> Vec<String> {
    let mut errors = Vec::new();
    let depot_ids: Vec<String> = config.depots.iter().map(|d| d.id.clone()).collect();
    let mock_ids: Vec<String> = config.mocks.iter().map(|m| m.id.clone()).collect();
    let refs = Refs {
        services: None,
        depots: &depot_ids,
        mocks: &mock_ids,
        secrets: &[],
        config_maps: &[],
    };
    for (r, route) in config.routes.iter().enumerate() {
        let at = format!("routes[{r}]");
        let mut findings = Findings::new(ResourceId::from_key(Kind::Route, &route.id));
        if !is_namespaced_name(&route.id) {
            findings.error(
                format!("{at}.id"),
                "InvalidRoute",
                format!(
                    "`{}` is not `namespace/name`: give each Route its namespace and name",
                    route.id
                ),
            );
        }
        if let Some(first) = config.routes[..r].iter().position(|o| o.id == route.id) {
            findings.error(
                format!("{at}.id"),
                "DuplicateRoute",
                format!("routes[{first}] has the same id: each Route appears once"),
            );
        }
        for (h, host) in route.hostnames.iter().enumerate() {
            if let Err(why) = check_hostname(host, true) {
                findings.error(format!("{at}.hostnames[{h}]"), "InvalidHostname", why);
            }
        }
        for (i, rule) in route.rules.iter().enumerate() {
            let field = format!("{at}.rules[{i}]");
            verify_rule(rule, &field, &refs, &mut findings);
            if let Some(access) = &rule.access {
                access::check(access, &field, &config.secrets, &mut findings);
            }
        }
        errors.extend(findings.into_diagnostics().iter().map(ToString::to_string));
    }
    for (i, depot) in config.depots.iter().enumerate() {
        let mut findings = Findings::new(ResourceId::from_key(Kind::DepotRepo, &depot.id));
        if !is_namespaced_name(&depot.id) {
            findings.error(
                format!("depots[{i}].id"),
                "InvalidDepotRepo",
                format!(
                    "`{}` is not `namespace/name`: give each DepotRepo its namespace and name",
                    depot.id
                ),
            );
        }
        if let Some(first) = config.depots[..i].iter().position(|o| o.id == depot.id) {
            findings.error(
                format!("depots[{i}].id"),
                "DuplicateDepotRepo",
                format!("depots[{first}] has the same id: each DepotRepo appears once"),
            );
        }
        depot_repos::check(depot, &depot_repos::Fields::Config(i), &mut findings);
        errors.extend(findings.into_diagnostics().iter().map(ToString::to_string));
    }
    for (i, mock) in config.mocks.iter().enumerate() {
        let mut findings = Findings::new(ResourceId::from_key(Kind::MockProvision, &mock.id));
        if !is_namespaced_name(&mock.id) {
            findings.error(
                format!("mocks[{i}].id"),
                "InvalidMockProvision",
                format!(
                    "`{}` is not `namespace/name`: give each MockProvision its namespace and name",
                    mock.id
                ),
            );
        }
        if let Some(first) = config.mocks[..i].iter().position(|o| o.id == mock.id) {
            findings.error(
                format!("mocks[{i}].id"),
                "DuplicateMockProvision",
                format!("mocks[{first}] has the same id: each MockProvision appears once"),
            );
        }
        mock_provisions::check(mock, &mock_provisions::Fields::Config(i), &mut findings);
        errors.extend(findings.into_diagnostics().iter().map(ToString::to_string));
    }
    for (i, certificate) in config.certificates.iter().enumerate() {
        let mut findings = Findings::new(ResourceId::from_key(Kind::Route, &certificate.route));
        tls::check(config, i, &mut findings);
        errors.extend(findings.into_diagnostics().iter().map(ToString::to_string));
    }
    for (i, secret) in config.secrets.iter().enumerate() {
        if let Some(problem) = secret.problem() {
            errors.push(format!("error: secrets[{i}]: {problem}"));
        }
        if let Some(first) = config.secrets[..i]
            .iter()
            .position(|o| o.source == secret.source)
        {
            errors.push(format!(
                "error: secrets[{i}]: secrets[{first}] is {} too: each Secret key appears once",
                secret.source
            ));
        }
    }
    errors
}

/// `namespace/name`, both parts non-empty.
fn is_namespaced_name(id: &str) -> bool {
    id.split_once('/')
        .is_some_and(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
}

fn verify_rule(rule: &RuleConfig, field: &str, refs: &Refs<'_>, findings: &mut Findings) {
    if rule.matches.is_empty() {
        findings.error(
            format!("{field}.matches"),
            "InvalidRule",
            "`matches` is empty, so nothing reaches the rule: give `[{path: {type: PathPrefix, value: /}}]` to match every request",
        );
    }
    for (m, one) in rule.matches.iter().enumerate() {
        matches::check(one, &format!("{field}.matches[{m}]"), findings);
    }
    let mut kinds: Vec<std::mem::Discriminant<FilterConfig>> = Vec::new();
    for (f, filter) in rule.filters.iter().enumerate() {
        let at = format!("{field}.filters[{f}]");
        let kind = std::mem::discriminant(filter);
        if kinds.contains(&kind) {
            findings.error(
                format!("{at}.type"),
                "DuplicateFilter",
                "a rule may have one filter of each type: merge the two into one",
            );
        }
        kinds.push(kind);
        filters::check(filter, &rule.matches, &at, findings);
    }
    let rewrites = rule
        .filters
        .iter()
        .any(|f| matches!(f, FilterConfig::UrlRewrite(_)));
    let redirects = rule
        .filters
        .iter()
        .any(|f| matches!(f, FilterConfig::RequestRedirect(_)));
    if rewrites && redirects {
        findings.error(
            format!("{field}.filters"),
            "IncompatibleFilters",
            filters::REWRITE_WITH_REDIRECT,
        );
    }
    if let (Some(request), Some(backend)) = (rule.request_timeout_ms, rule.backend_timeout_ms)
        && backend > request
    {
        findings.error(
            format!("{field}.backendTimeoutMs"),
            "InvalidTimeout",
            format!("{backend} ms is longer than requestTimeoutMs ({request} ms): make it at most the request timeout"),
        );
    }
    verify_backends(&rule.backends, field, refs, findings);
    for (name, timeout) in [
        ("requestTimeoutMs", rule.request_timeout_ms),
        ("backendTimeoutMs", rule.backend_timeout_ms),
    ] {
        if timeout == Some(0) {
            findings.error(
                format!("{field}.{name}"),
                "InvalidTimeout",
                "0 would time every request out: leave the field out for no timeout",
            );
        }
    }
}

fn verify_backends(
    backends: &[BackendConfig],
    rule_field: &str,
    refs: &Refs<'_>,
    findings: &mut Findings,
) {
    for (i, backend) in backends.iter().enumerate() {
        let field = format!("{rule_field}.backends[{i}]");
        if backend.name.is_empty() {
            findings.error(
                format!("{field}.name"),
                "InvalidBackend",
                "the name is empty: name each backend (it is the `backend` label of the metrics)",
            );
        }
        if let Some(first) = backends[..i].iter().position(|b| b.name == backend.name) {
            findings.error(
                format!("{field}.name"),
                "DuplicateBackend",
                duplicate_name(&backend.name, first),
            );
        }
        if let Some(problem) = weight_problem(backend.weight) {
            findings.error(format!("{field}.weight"), "InvalidWeight", problem);
        }
        if !matches!(backend.target, BackendTarget::Unresolved { .. }) {
            check_target(&backend.target, refs, &format!("{field}.target"), findings);
        }
    }
}
