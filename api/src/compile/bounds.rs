//! The list bounds the CRD declares (`maxItems`, Gateway API's), checked
//! on manifests that never met an API server (local mode, `check`, a
//! hand-made push): a Route over them would be refused by `kubectl apply`,
//! so it is refused here too, with the field named.

use super::findings::Findings;
use crate::route::{
    MAX_BACKENDS, MAX_FILTERS, MAX_HOSTNAMES, MAX_MATCHES, MAX_RULES, MAX_VALUE_MATCHES, Route,
};

pub(super) fn check(route: &Route, findings: &mut Findings) {
    let spec = &route.spec;
    let mut bound = |field: String, len: usize, max: usize| {
        if len > max {
            findings.error(
                field,
                "TooManyItems",
                format!(
                    "{len} items, over the limit of {max} (Gateway API's): split the Route in two"
                ),
            );
        }
    };
    bound("spec.hostnames".into(), spec.hostnames.len(), MAX_HOSTNAMES);
    bound("spec.rules".into(), spec.rules.len(), MAX_RULES);
    for (r, rule) in spec.rules.iter().enumerate() {
        let at = format!("spec.rules[{r}]");
        bound(format!("{at}.matches"), rule.matches.len(), MAX_MATCHES);
        bound(format!("{at}.filters"), rule.filters.len(), MAX_FILTERS);
        bound(format!("{at}.backends"), rule.backends.len(), MAX_BACKENDS);
        for (m, entry) in rule.matches.iter().enumerate() {
            let at = format!("{at}.matches[{m}]");
            bound(
                format!("{at}.headers"),
                entry.headers.len(),
                MAX_VALUE_MATCHES,
            );
            let params = entry.query_params.len();
            bound(format!("{at}.queryParams"), params, MAX_VALUE_MATCHES);
        }
    }
}
