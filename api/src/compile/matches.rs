//! Lowers `rules[].matches`: defaults filled in, every pattern checked.

use super::findings::Findings;
use super::names::{check_header_name, check_path};
use crate::config::MatchConfig;
use crate::route::{PathMatch, PathMatchType, RouteMatch, ValueMatch, ValueMatchType};
use crate::table::{REGEX_SIZE_LIMIT, anchored_regex};

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

pub(super) fn lower(
    matches: &[RouteMatch],
    rule: &str,
    findings: &mut Findings,
) -> Vec<MatchConfig> {
    if matches.is_empty() {
        return vec![MatchConfig::any_path()];
    }
    matches
        .iter()
        .enumerate()
        .map(|(i, m)| lower_one(m, &format!("{rule}.matches[{i}]"), findings))
        .collect()
}

fn lower_one(m: &RouteMatch, field: &str, findings: &mut Findings) -> MatchConfig {
    let mut lowered = MatchConfig {
        path: m.path.clone().unwrap_or(PathMatch {
            kind: PathMatchType::PathPrefix,
            value: "/".into(),
        }),
        method: m.method.clone(),
        headers: m.headers.clone(),
        query_params: m.query_params.clone(),
    };
    check(&lowered, field, findings);
    // HTTPRoute: of entries with the same name, only the first counts.
    lowered.headers = first_of_each_name(lowered.headers, true);
    lowered.query_params = first_of_each_name(lowered.query_params, false);
    lowered
}

/// `values` without the later entries of a name already seen; header names
/// are compared case-insensitively, query parameter names exactly.
pub(super) fn first_of_each_name(values: Vec<ValueMatch>, headers: bool) -> Vec<ValueMatch> {
    let mut kept: Vec<ValueMatch> = Vec::with_capacity(values.len());
    for value in values {
        let seen = kept.iter().any(|k| match headers {
            true => k.name.eq_ignore_ascii_case(&value.name),
            false => k.name == value.name,
        });
        if !seen {
            kept.push(value);
        }
    }
    kept
}

/// Checks one match; `field` names it. Also used on pushed configs.
pub(super) fn check(m: &MatchConfig, field: &str, findings: &mut Findings) {
    let path_field = format!("{field}.path.value");
    match m.path.kind {
        PathMatchType::Exact | PathMatchType::PathPrefix => {
            if let Err(why) = check_path(&m.path.value) {
                findings.error(path_field, "InvalidPath", why);
            }
        }
        PathMatchType::RegularExpression => check_regex(&m.path.value, &path_field, findings),
    }
    if let Some(method) = &m.method
        && !METHODS.contains(&method.as_str())
    {
        findings.error(
            format!("{field}.method"),
            "InvalidMethod",
            format!(
                "`{method}` is not a method a Route can match: use one of {}",
                METHODS.join(", ")
            ),
        );
    }
    check_values(&m.headers, &format!("{field}.headers"), true, findings);
    check_values(
        &m.query_params,
        &format!("{field}.queryParams"),
        false,
        findings,
    );
}

fn check_values(values: &[ValueMatch], field: &str, headers: bool, findings: &mut Findings) {
    let mut seen: Vec<String> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let at = format!("{field}[{i}]");
        // Header names are case-insensitive; query parameter names are not.
        let key = if headers {
            v.name.to_ascii_lowercase()
        } else {
            v.name.clone()
        };
        if seen.contains(&key) {
            let case = if headers {
                " (names are case-insensitive)"
            } else {
                ""
            };
            findings.warn(
                format!("{at}.name"),
                "DuplicateMatch",
                format!(
                    "`{}` is matched by an earlier entry of this match{case}; as HTTPRoute says, only the first entry of a name counts and this one is ignored: remove it",
                    v.name
                ),
            );
        }
        seen.push(key);
        if headers && let Err(why) = check_header_name(&v.name) {
            findings.error(format!("{at}.name"), "InvalidHeaderName", why);
        }
        if !headers && v.name.is_empty() {
            findings.error(
                format!("{at}.name"),
                "InvalidQueryParam",
                "the query parameter name is empty: give the name to match",
            );
        }
        if v.value.is_empty() {
            findings.error(
                format!("{at}.value"),
                "InvalidMatch",
                "the value is empty, which no request carries: give the value to match (a RegularExpression `.*` matches any value)",
            );
        } else if v.kind == ValueMatchType::RegularExpression {
            check_regex(&v.value, &format!("{at}.value"), findings);
        }
    }
}

/// The syntax check is ten times cheaper than compiling and keeps
/// `compile` of 10,000 Routes fast. Only a pattern that could grow past the
/// proxy's size limit is also compiled, as the proxy will compile it: then
/// a Route the proxy would refuse is left out here, with a finding, rather
/// than failing every config pushed after it.
fn check_regex(pattern: &str, field: &str, findings: &mut Findings) {
    if let Err(err) = regex_syntax::Parser::new().parse(pattern) {
        let detail = err
            .to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned();
        findings.error(
            field.to_owned(),
            "InvalidRegex",
            format!("`{pattern}` is not a valid regular expression ({detail}): fix it in RE2 syntax; it must match the whole value"),
        );
        return;
    }
    if could_be_large(pattern) && anchored_regex(pattern).is_err() {
        findings.error(
            field.to_owned(),
            "InvalidRegex",
            format!("`{pattern}` compiles to more than the {REGEX_SIZE_LIMIT} bytes a proxy allows a regular expression: use smaller repetition counts (`{{n}}`) or fewer Unicode classes (`\\w`, `\\p{{..}}`; `[a-z0-9_]` is far smaller)"),
        );
    }
}

/// Whether a pattern may compile to a large program: counted repetitions
/// multiply, Unicode classes hold hundreds of ranges each. A short pattern
/// without either compiles to a few kilobytes at most.
fn could_be_large(pattern: &str) -> bool {
    pattern.len() > 64
        || pattern.contains('{')
        || pattern
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'\\' && b"pPwWdDsSbB".contains(&w[1]))
}
