//! Lowers `rules[].filters`, checking each against Gateway API's rules.

use super::findings::Findings;
use super::names::{check_header_name, check_header_value, check_hostname, check_path};
use crate::config::{FilterConfig, MatchConfig};
use crate::route::{
    HeaderModifier, PathMatchType, PathModifier, PathModifierType, RequestRedirect, RouteFilter,
    RouteRule,
};

const TYPES: &str = "RequestHeaderModifier, ResponseHeaderModifier, URLRewrite, RequestRedirect";
const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];

/// What to say of a rule with both URLRewrite and RequestRedirect.
pub(super) const REWRITE_WITH_REDIRECT: &str = "URLRewrite and RequestRedirect cannot both be set on one rule: a redirect answers without a backend, so keep one";

pub(super) fn lower(
    rule: &RouteRule,
    matches: &[MatchConfig],
    rule_field: &str,
    findings: &mut Findings,
) -> Vec<FilterConfig> {
    let mut out: Vec<FilterConfig> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, filter) in rule.filters.iter().enumerate() {
        let field = format!("{rule_field}.filters[{i}]");
        if seen.contains(&filter.kind.as_str()) {
            findings.error(
                format!("{field}.type"),
                "DuplicateFilter",
                format!(
                    "a rule may have one {} filter: merge the two into one",
                    filter.kind
                ),
            );
        }
        seen.push(&filter.kind);
        if let Some(lowered) = lower_one(filter, matches, &field, findings) {
            out.push(lowered);
        }
    }
    if seen.contains(&"URLRewrite") && seen.contains(&"RequestRedirect") {
        findings.error(
            format!("{rule_field}.filters"),
            "IncompatibleFilters",
            REWRITE_WITH_REDIRECT,
        );
    }
    out
}

fn lower_one(
    filter: &RouteFilter,
    matches: &[MatchConfig],
    field: &str,
    findings: &mut Findings,
) -> Option<FilterConfig> {
    let set = [
        (
            "requestHeaderModifier",
            filter.request_header_modifier.is_some(),
        ),
        (
            "responseHeaderModifier",
            filter.response_header_modifier.is_some(),
        ),
        ("urlRewrite", filter.url_rewrite.is_some()),
        ("requestRedirect", filter.request_redirect.is_some()),
    ];
    let wanted = match filter.kind.as_str() {
        "RequestHeaderModifier" => "requestHeaderModifier",
        "ResponseHeaderModifier" => "responseHeaderModifier",
        "URLRewrite" => "urlRewrite",
        "RequestRedirect" => "requestRedirect",
        other => {
            findings.error(
                format!("{field}.type"),
                "UnsupportedFilter",
                format!("unknown filter type `{other}`: the types are {TYPES}"),
            );
            return None;
        }
    };
    for (name, present) in set {
        if present && name != wanted {
            findings.error(
                format!("{field}.{name}"),
                "InvalidFilter",
                format!("`{name}` does not go with type {}: move it to a filter of its own type or remove it", filter.kind),
            );
        }
    }
    if !set
        .iter()
        .any(|(name, present)| *name == wanted && *present)
    {
        findings.error(
            format!("{field}.{wanted}"),
            "InvalidFilter",
            format!("a {} filter needs its `{wanted}` field", filter.kind),
        );
        return None;
    }
    let lowered = if let Some(m) = &filter.request_header_modifier {
        FilterConfig::RequestHeaderModifier(m.clone())
    } else if let Some(m) = &filter.response_header_modifier {
        FilterConfig::ResponseHeaderModifier(m.clone())
    } else if let Some(rewrite) = &filter.url_rewrite {
        let mut rewrite = rewrite.clone();
        empty_prefix_is_slash(&mut rewrite.path);
        FilterConfig::UrlRewrite(rewrite)
    } else {
        let mut redirect = filter.request_redirect.clone()?;
        empty_prefix_is_slash(&mut redirect.path);
        FilterConfig::RequestRedirect(redirect)
    };
    check(&lowered, matches, field, findings);
    Some(lowered)
}

/// Gateway API's table gives an empty `replacePrefixMatch` the meaning of `/`.
fn empty_prefix_is_slash(path: &mut Option<PathModifier>) {
    if let Some(path) = path
        && path.kind == PathModifierType::ReplacePrefixMatch
        && path.replace_prefix_match.as_deref() == Some("")
    {
        path.replace_prefix_match = Some("/".into());
    }
}

/// Checks one filter of a rule whose matches are `matches`; `field` names
/// the filter. Also used on pushed configs, which no `compile` has checked.
pub(super) fn check(
    filter: &FilterConfig,
    matches: &[MatchConfig],
    field: &str,
    findings: &mut Findings,
) {
    match filter {
        FilterConfig::RequestHeaderModifier(m) => {
            check_modifier(m, true, &format!("{field}.requestHeaderModifier"), findings)
        }
        FilterConfig::ResponseHeaderModifier(m) => check_modifier(
            m,
            false,
            &format!("{field}.responseHeaderModifier"),
            findings,
        ),
        FilterConfig::UrlRewrite(rewrite) => {
            let at = format!("{field}.urlRewrite");
            if let Some(host) = &rewrite.hostname
                && let Err(why) = check_hostname(host, false)
            {
                findings.error(format!("{at}.hostname"), "InvalidHostname", why);
            }
            if let Some(path) = &rewrite.path {
                check_path_modifier(path, matches, &format!("{at}.path"), findings);
            }
        }
        FilterConfig::RequestRedirect(redirect) => check_redirect(
            redirect,
            matches,
            &format!("{field}.requestRedirect"),
            findings,
        ),
    }
}

fn check_redirect(
    redirect: &RequestRedirect,
    matches: &[MatchConfig],
    at: &str,
    findings: &mut Findings,
) {
    if let Some(scheme) = &redirect.scheme
        && scheme != "http"
        && scheme != "https"
    {
        findings.error(
            format!("{at}.scheme"),
            "InvalidRedirect",
            format!("scheme `{scheme}` is not allowed: use `http` or `https`"),
        );
    }
    if let Some(host) = &redirect.hostname
        && let Err(why) = check_hostname(host, false)
    {
        findings.error(format!("{at}.hostname"), "InvalidHostname", why);
    }
    if redirect.port == Some(0) {
        findings.error(
            format!("{at}.port"),
            "InvalidRedirect",
            "port 0 is not a port: give 1-65535 or leave it out",
        );
    }
    if let Some(code) = redirect.status_code
        && !REDIRECT_CODES.contains(&code)
    {
        findings.error(
            format!("{at}.statusCode"),
            "InvalidRedirect",
            format!("{code} is not a redirect status: use 301, 302, 303, 307 or 308"),
        );
    }
    if let Some(path) = &redirect.path {
        check_path_modifier(path, matches, &format!("{at}.path"), findings);
    }
}

fn check_modifier(m: &HeaderModifier, request: bool, field: &str, findings: &mut Findings) {
    // Gateway API: one action per header name, whatever its case.
    let mut named: Vec<(String, String)> = Vec::new();
    let actions = m
        .set
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("set[{i}]"), &h.name));
    let actions = actions
        .chain(
            m.add
                .iter()
                .enumerate()
                .map(|(i, h)| (format!("add[{i}]"), &h.name)),
        )
        .chain(
            m.remove
                .iter()
                .enumerate()
                .map(|(i, name)| (format!("remove[{i}]"), name)),
        );
    for (at, name) in actions {
        let lower = name.to_ascii_lowercase();
        if request && lower == "host" {
            findings.error(
                format!("{field}.{at}"),
                "InvalidFilter",
                "a RequestHeaderModifier cannot change Host (the proxy forwards the request's own): use a URLRewrite filter's `hostname`",
            );
        }
        if let Some((first, _)) = named.iter().find(|(_, seen)| *seen == lower) {
            findings.error(
                format!("{field}.{at}"),
                "InvalidFilter",
                format!("header `{name}` already has an action at {first}: give each header one of set, add or remove"),
            );
        } else {
            named.push((at, lower));
        }
    }
    for (list, values) in [("set", &m.set), ("add", &m.add)] {
        for (i, h) in values.iter().enumerate() {
            if let Err(why) = check_header_name(&h.name) {
                findings.error(
                    format!("{field}.{list}[{i}].name"),
                    "InvalidHeaderName",
                    why,
                );
            }
            if let Err(why) = check_header_value(&h.value) {
                findings.error(
                    format!("{field}.{list}[{i}].value"),
                    "InvalidHeaderValue",
                    why,
                );
            }
        }
    }
    for (i, name) in m.remove.iter().enumerate() {
        if let Err(why) = check_header_name(name) {
            findings.error(format!("{field}.remove[{i}]"), "InvalidHeaderName", why);
        }
    }
}

fn check_path_modifier(
    path: &PathModifier,
    matches: &[MatchConfig],
    field: &str,
    findings: &mut Findings,
) {
    let (value, name) = match path.kind {
        PathModifierType::ReplaceFullPath => (&path.replace_full_path, "replaceFullPath"),
        PathModifierType::ReplacePrefixMatch => (&path.replace_prefix_match, "replacePrefixMatch"),
    };
    match value {
        None => findings.error(
            format!("{field}.{name}"),
            "InvalidFilter",
            format!("type {:?} needs `{name}`", path.kind),
        ),
        Some(v) => {
            if let Err(why) = check_path(v) {
                findings.error(format!("{field}.{name}"), "InvalidPath", why);
            }
        }
    }
    if path.kind == PathModifierType::ReplacePrefixMatch
        && matches
            .iter()
            .any(|m| m.path.kind != PathMatchType::PathPrefix)
    {
        findings.error(
            format!("{field}.type"),
            "InvalidFilter",
            "ReplacePrefixMatch needs every match of the rule to be a PathPrefix match: change the matches or use ReplaceFullPath",
        );
    }
}
