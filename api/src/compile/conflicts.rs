//! Finds matches that two Routes state identically. The Route first in
//! precedence order (the older; between Routes as old, the first by
//! namespace/name) wins; the other is told which Route took it.

use std::collections::HashMap;

use crate::config::{MatchConfig, RouteConfig};
use crate::diagnostic::{ConditionKind, Diagnostic, Severity};
use crate::resource::{Kind, ResourceId};

pub(super) fn find(routes: &[RouteConfig]) -> Vec<Diagnostic> {
    let mut owners: HashMap<String, &str> = HashMap::new();
    let mut out = Vec::new();
    for route in routes {
        let any_host = [String::new()];
        let hosts = if route.hostnames.is_empty() {
            &any_host[..]
        } else {
            &route.hostnames[..]
        };
        for (r, rule) in route.rules.iter().enumerate() {
            for (m, matched) in rule.matches.iter().enumerate() {
                for host in hosts {
                    let key = format!("{host} {}", signature(matched));
                    let owner = *owners.entry(key).or_insert(&route.id);
                    if owner != route.id {
                        out.push(Diagnostic {
                            severity: Severity::Warning,
                            resource: ResourceId::from_key(Kind::Route, &route.id),
                            field: format!("spec.rules[{r}].matches[{m}]"),
                            reason: "Conflicted",
                            condition: ConditionKind::Accepted,
                            message: format!(
                                "this match{} is the same as one in Route {owner}, which comes first (it is older, or as old and first by namespace/name) and wins: change the path, method, headers, query parameters or hostnames to make it distinct",
                                if host.is_empty() { String::new() } else { format!(" for host {host}") }
                            ),
                            origin: None,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Equal for matches that select exactly the same requests as written.
fn signature(m: &MatchConfig) -> String {
    let mut headers: Vec<String> = m
        .headers
        .iter()
        .map(|h| format!("{:?}:{}={}", h.kind, h.name.to_ascii_lowercase(), h.value))
        .collect();
    headers.sort();
    let mut query: Vec<String> = m
        .query_params
        .iter()
        .map(|q| format!("{:?}:{}={}", q.kind, q.name, q.value))
        .collect();
    query.sort();
    let path = match m.path.kind {
        crate::route::PathMatchType::PathPrefix => {
            crate::table::normalize_prefix(&m.path.value).to_owned()
        }
        _ => m.path.value.clone(),
    };
    format!(
        "{:?}:{path} {} [{}] [{}]",
        m.path.kind,
        m.method.as_deref().unwrap_or("*"),
        headers.join(","),
        query.join(",")
    )
}
