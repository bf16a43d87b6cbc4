//! `compile`: resources in, one `ProxyConfig` and every finding out. Pure and
//! deterministic: the same input gives the same config and revision, whether
//! it came from the Kubernetes API or from a folder of YAML.

mod access;
mod backends;
mod bounds;
mod conflicts;
mod depot_repos;
mod filters;
mod findings;
mod matches;
mod mock_provisions;
mod names;
mod tls;
mod verify;

use std::cmp::Ordering;

use crate::config::{CertificateConfig, ProxyConfig, RouteConfig, RuleConfig};
use crate::depot_repo::DepotRepo;
use crate::diagnostic::Diagnostic;
use crate::duration::parse_duration;
use crate::mock_provision::MockProvision;
use crate::resource::{Kind, ResourceId};
use crate::route::{DEFAULT_CLASS, Route, RouteRule};
use crate::secret::KnownSecret;
pub use access::SecretHistory;
use findings::Findings;
pub use verify::verify;

/// A Service the cluster has, for checking `service` backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownService {
    pub namespace: String,
    pub name: String,
    pub ports: Vec<u16>,
}

/// Everything `compile` reads.
#[derive(Clone, Copy, Debug)]
pub struct Resources<'a> {
    pub routes: &'a [Route],
    /// Repositories of versioned files (`depot_repos.rs`).
    pub depot_repos: &'a [DepotRepo],
    /// Provisions for mock servers (`mock_provisions.rs`).
    pub mock_provisions: &'a [MockProvision],
    /// The cluster's Services; `None` when unknown (local mode), in which case
    /// service backends are sent to `name.namespace.svc:port` unchecked.
    pub services: Option<&'a [KnownService]>,
    /// The Secrets access rules may name (`access.rs`): the cluster's, or
    /// local mode's `kind: Secret` documents.
    pub secrets: &'a [KnownSecret],
    /// The ConfigMaps client CA bundles may come from (`tls.rs`), read as
    /// Secrets are (`KnownSecret::from_config_map`).
    pub config_maps: &'a [KnownSecret],
    /// Only Routes of this class are served (`spec.className`, default `gatehouse`).
    pub class: &'a str,
}

impl<'a> Resources<'a> {
    pub fn routes(routes: &'a [Route]) -> Self {
        Resources {
            routes,
            depot_repos: &[],
            mock_provisions: &[],
            services: None,
            secrets: &[],
            config_maps: &[],
            class: DEFAULT_CLASS,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Compiled {
    pub config: ProxyConfig,
    /// Errors (the resource was left out) and warnings, in input order.
    pub diagnostics: Vec<Diagnostic>,
    /// Every resource accepted into the config: Routes of our class, then
    /// DepotRepos, then MockProvisions.
    pub accepted: Vec<ResourceId>,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

pub fn compile(resources: Resources<'_>) -> Compiled {
    let mut routes: Vec<&Route> = resources
        .routes
        .iter()
        .filter(|r| r.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) == resources.class)
        .collect();
    routes.sort_by(|a, b| precedence(a, b));

    let mut diagnostics = Vec::new();
    // Repositories first: the Routes' `depot` backends name them.
    let depot_repos: Vec<&DepotRepo> = resources
        .depot_repos
        .iter()
        .filter(|r| r.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) == resources.class)
        .collect();
    let depots = depot_repos::lower_all(&depot_repos, &mut diagnostics);
    let depot_ids: Vec<String> = depots.iter().map(|d| d.id.clone()).collect();
    let mock_provisions: Vec<&MockProvision> = resources
        .mock_provisions
        .iter()
        .filter(|m| m.spec.class_name.as_deref().unwrap_or(DEFAULT_CLASS) == resources.class)
        .collect();
    let mocks = mock_provisions::lower_all(&mock_provisions, &mut diagnostics);
    let mock_ids: Vec<String> = mocks.iter().map(|m| m.id.clone()).collect();
    let refs = Refs {
        services: resources.services,
        depots: &depot_ids,
        mocks: &mock_ids,
        secrets: resources.secrets,
        config_maps: resources.config_maps,
    };
    let mut accepted = Vec::new();
    for route in &routes {
        let mut findings = Findings::new(ResourceId::route(route));
        let lowered = lower_route(route, &refs, &mut findings);
        let rejected = findings.has_errors();
        diagnostics.extend(findings.into_diagnostics());
        if !rejected {
            accepted.push(lowered);
        }
    }
    let (certificates, conflicted) = tls::certificates(&accepted);
    diagnostics.extend(conflicted);
    let accepted: Vec<RouteConfig> = accepted.into_iter().map(|(route, _)| route).collect();
    diagnostics.extend(conflicts::find(&accepted));

    let mut accepted_ids: Vec<ResourceId> = accepted
        .iter()
        .map(|r| ResourceId::from_key(Kind::Route, &r.id))
        .collect();
    accepted_ids.extend(
        depots
            .iter()
            .map(|d| ResourceId::from_key(Kind::DepotRepo, &d.id)),
    );
    accepted_ids.extend(
        mocks
            .iter()
            .map(|m| ResourceId::from_key(Kind::MockProvision, &m.id)),
    );
    let secrets = access::secret_entries(&accepted, &certificates, resources.secrets);
    let mut config = ProxyConfig::new(accepted);
    config.secrets = secrets;
    config.certificates = certificates;
    config.depots = depots;
    config.mocks = mocks;
    config.revision = config.content_revision();
    Compiled {
        accepted: accepted_ids,
        config,
        diagnostics,
    }
}

/// `namespace/name`, the key of a Route in the config and in `accepted`.
pub fn route_id(route: &Route) -> String {
    ResourceId::route(route).key()
}

/// Older Routes first, then by `namespace/name`: the tie-break Gateway API asks for.
/// Routes without a creation timestamp (local mode) come after dated ones, so
/// the order stays total when the two are mixed.
fn precedence(a: &Route, b: &Route) -> Ordering {
    let age = |r: &Route| {
        let created = r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (created.is_none(), created)
    };
    age(a)
        .cmp(&age(b))
        .then_with(|| route_id(a).cmp(&route_id(b)))
}

/// What a Route's backends may refer to.
pub(super) struct Refs<'a> {
    /// The cluster's Services; `None` when unknown (local mode).
    pub(super) services: Option<&'a [KnownService]>,
    /// The config's repositories, by `namespace/name`.
    pub(super) depots: &'a [String],
    /// The config's mock provisions, by `namespace/name`.
    pub(super) mocks: &'a [String],
    /// The Secrets access rules may name.
    pub(super) secrets: &'a [KnownSecret],
    /// The ConfigMaps client CA bundles may come from.
    pub(super) config_maps: &'a [KnownSecret],
}

/// The Route as served, and the certificate it names when that loads.
fn lower_route(
    route: &Route,
    refs: &Refs<'_>,
    findings: &mut Findings,
) -> (RouteConfig, Option<CertificateConfig>) {
    let namespace = route.metadata.namespace.as_deref().unwrap_or("default");
    bounds::check(route, findings);
    for (i, host) in route.spec.hostnames.iter().enumerate() {
        if let Err(why) = names::check_hostname(host, true) {
            findings.error(format!("spec.hostnames[{i}]"), "InvalidHostname", why);
        }
    }
    if route.spec.rules.is_empty() {
        findings.warn(
            "spec.rules",
            "NoRules",
            "the Route has no rules, so it serves nothing: add a rule with `backends`",
        );
    }
    let rules = route
        .spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let field = format!("spec.rules[{i}]");
            lower_rule(rule, &field, namespace, refs, findings)
        })
        .collect();
    let (tls, certificate) = match &route.spec.tls {
        Some(tls) => {
            let (behaviour, certificate) = tls::lower(
                tls,
                &route.spec.hostnames,
                namespace,
                (refs.secrets, refs.config_maps),
                findings,
            );
            (Some(behaviour), certificate)
        }
        None => (None, None),
    };
    let config = RouteConfig {
        id: route_id(route),
        hostnames: route.spec.hostnames.clone(),
        rules,
        tls,
    };
    (config, certificate)
}

fn lower_rule(
    rule: &RouteRule,
    field: &str,
    namespace: &str,
    refs: &Refs<'_>,
    findings: &mut Findings,
) -> RuleConfig {
    let matches = matches::lower(&rule.matches, field, findings);
    let filters = filters::lower(rule, &matches, field, findings);
    let errors_before = findings.error_count();
    let backends = backends::lower(rule, field, namespace, refs, findings);
    // A backend left out for its own error already names the problem; a
    // warning that the rule then has none would only mislead.
    let backends_failed = findings.error_count() > errors_before;
    let redirects = filters
        .iter()
        .any(|f| matches!(f, crate::config::FilterConfig::RequestRedirect(_)));
    if !backends_failed && redirects && !backends.is_empty() {
        findings.warn(
            format!("{field}.backends"),
            "BackendsUnused",
            "the rule redirects, so its backends are never used: remove them or the RequestRedirect filter",
        );
    } else if !backends_failed && !redirects && backends.is_empty() {
        findings.warn(
            format!("{field}.backends"),
            "NoBackends",
            "the rule has no backends, so its requests are answered 500: add a backend or a RequestRedirect filter",
        );
    }
    let (request_timeout_ms, backend_timeout_ms) = lower_timeouts(rule, field, findings);
    let access = rule
        .access
        .as_ref()
        .map(|a| access::lower(a, field, namespace, refs.secrets, findings));
    RuleConfig {
        access,
        matches,
        filters,
        backends,
        request_timeout_ms,
        backend_timeout_ms,
    }
}

/// `0s` disables a timeout, as in Gateway API.
fn lower_timeouts(
    rule: &RouteRule,
    field: &str,
    findings: &mut Findings,
) -> (Option<u64>, Option<u64>) {
    let Some(timeouts) = &rule.timeouts else {
        return (None, None);
    };
    let mut parse = |name: &str, value: &Option<String>| {
        let value = value.as_ref()?;
        match parse_duration(value) {
            Ok(d) if d.is_zero() => None,
            Ok(d) => Some(d.as_millis() as u64),
            Err(why) => {
                findings.error(format!("{field}.timeouts.{name}"), "InvalidTimeout", why);
                None
            }
        }
    };
    let request = parse("request", &timeouts.request);
    let backend = parse("backendRequest", &timeouts.backend_request);
    if let (Some(r), Some(b)) = (request, backend)
        && b > r
    {
        findings.error(
            format!("{field}.timeouts.backendRequest"),
            "InvalidTimeout",
            format!("backendRequest ({b}ms) is longer than request ({r}ms): make it at most the request timeout"),
        );
    }
    (request, backend)
}
