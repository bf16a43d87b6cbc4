//! A `ProxyConfig` made ready to serve: the route table, and each rule's
//! filters, backends and metric handles parsed once, so requests only read.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_api::config::{BackendTarget, FilterConfig, ProxyConfig, RuleConfig};
use gatehouse_api::route::{HeaderModifier, PathModifier, RequestRedirect};
use gatehouse_api::table::RouteTable;
use http::{HeaderName, HeaderValue};
use prometheus::Histogram;

use crate::access::Access;
use crate::backends::Backend;
use crate::backends::Bindings;
use crate::observe::metrics::{Metrics, RequestCounters};
use crate::route::https::Https;
use crate::server::tls::Certificates;

/// The config being served. Each request takes one `Arc<Active>` and
/// finishes on it, so a swap never disturbs a request in flight.
pub struct Active {
    pub config: ProxyConfig,
    pub table: RouteTable,
    /// Indexed like `config.routes[route].rules[rule]`.
    pub rules: Vec<Vec<RuleRuntime>>,
    pub generation: u64,
    /// Certificates for `--listen-tls`, by server name.
    pub(crate) certificates: Certificates,
}

pub struct RuleRuntime {
    pub route: Arc<str>,
    /// Who may use the rule; checked before anything else.
    pub(crate) access: Option<Access>,
    /// Whether the rule serves git: a push is its write, whatever the
    /// method (`access::is_write`).
    pub(crate) git: bool,
    /// `--data-writer`, on a rule that needs the data dir (a depot, or
    /// git without a root) in a proxy that keeps none: the rule's
    /// requests go there whole, after its `tls` and `access` checks and
    /// before its filters, and the writer's copy of the rule serves them.
    pub(crate) writer: Option<http::uri::Authority>,
    /// The Route's `tls`, shared by its rules.
    pub(crate) https: Option<Arc<Https>>,
    pub request_headers: Option<HeaderEdits>,
    pub response_headers: Option<HeaderEdits>,
    pub rewrite_host: Option<HeaderValue>,
    pub rewrite_path: Option<PathModifier>,
    pub redirect: Option<RequestRedirect>,
    pub backends: Vec<BackendRuntime>,
    pub request_timeout: Option<Duration>,
    pub backend_timeout: Option<Duration>,
    pub duration: Histogram,
    /// Requests the rule answered without a backend (redirects, 500s).
    pub own_answers: RequestCounters,
    /// The rule's config, for weights and matches.
    pub config: RuleConfig,
}

pub struct BackendRuntime {
    pub name: Arc<str>,
    pub target: Backend,
    pub counters: RequestCounters,
}

#[derive(Default)]
pub struct HeaderEdits {
    pub set: Vec<(HeaderName, HeaderValue)>,
    pub add: Vec<(HeaderName, HeaderValue)>,
    pub remove: Vec<HeaderName>,
}

impl HeaderEdits {
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

impl Active {
    /// Prepares a config; every problem found is returned, nothing is half-built.
    pub(crate) fn build(
        config: ProxyConfig,
        generation: u64,
        metrics: &Metrics,
        bound: &Bindings<'_>,
    ) -> Result<Active, Vec<String>> {
        // Configs from `compile` pass; hand-made pushes are held to the same
        // rules, and what they break is said in the Route's own terms.
        let mut errors = gatehouse_api::compile::verify(&config);
        let computed = config.content_revision();
        if !config.revision.is_empty() && config.revision != computed {
            errors.push(format!(
                "revision `{}` does not match the config's content ({computed}): send the revision ProxyConfig::new computes, or leave it empty",
                config.revision
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let table = RouteTable::build(&config).unwrap_or_else(|e| {
            errors.extend(e);
            RouteTable::default()
        });
        let secrets = &config.secrets;
        let certificates = Certificates::build(&config.certificates, secrets, bound.tls)
            .unwrap_or_else(|e| {
                errors.extend(e);
                Certificates::default()
            });
        let rules = config
            .routes
            .iter()
            .map(|route| {
                let id: Arc<str> = route.id.as_str().into();
                let https = route.tls.as_ref().map(|tls| Arc::new(Https::new(tls)));
                route
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| {
                        let at = format!("route {} rule {i}", route.id);
                        let mut runtime =
                            RuleRuntime::build(id.clone(), rule, &at, metrics, bound, &mut errors);
                        runtime.https = https.clone();
                        if let Some(access) = &rule.access {
                            match Access::prepare(access, secrets, bound.access) {
                                Ok(access) => runtime.access = Some(access),
                                Err(why) => errors.push(format!("{at}: access: {why}")),
                            }
                        }
                        runtime
                    })
                    .collect()
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let config = ProxyConfig {
            revision: computed,
            ..config
        };
        Ok(Active {
            config,
            table,
            rules,
            generation,
            certificates,
        })
    }
}

impl RuleRuntime {
    fn build(
        route: Arc<str>,
        rule: &RuleConfig,
        at: &str,
        metrics: &Metrics,
        bound: &Bindings<'_>,
        errors: &mut Vec<String>,
    ) -> RuleRuntime {
        let mut runtime = RuleRuntime {
            duration: metrics.duration(&route),
            own_answers: metrics.request_counters(&route, ""),
            route: route.clone(),
            access: None,
            git: rule.backends.iter().any(|b| b.target.is_git()),
            writer: match (bound.data_dir, bound.data_writer) {
                (None, Some(writer)) if rule.backends.iter().any(|b| needs_data_dir(&b.target)) => {
                    Some(writer.clone())
                }
                _ => None,
            },
            https: None,
            request_headers: None,
            response_headers: None,
            rewrite_host: None,
            rewrite_path: None,
            redirect: None,
            backends: Vec::new(),
            request_timeout: rule.request_timeout_ms.map(Duration::from_millis),
            backend_timeout: rule.backend_timeout_ms.map(Duration::from_millis),
            config: rule.clone(),
        };
        for filter in &rule.filters {
            match filter {
                FilterConfig::RequestHeaderModifier(m) => {
                    runtime.request_headers = Some(header_edits(m, at, errors));
                }
                FilterConfig::ResponseHeaderModifier(m) => {
                    runtime.response_headers = Some(header_edits(m, at, errors));
                }
                FilterConfig::UrlRewrite(rewrite) => {
                    runtime.rewrite_host = rewrite.hostname.as_deref().and_then(|h| {
                        HeaderValue::from_str(h)
                            .map_err(|_| {
                                errors.push(format!(
                                    "{at}: rewrite hostname `{h}` is not a valid Host"
                                ))
                            })
                            .ok()
                    });
                    runtime.rewrite_path = rewrite.path.clone();
                }
                FilterConfig::RequestRedirect(redirect) => {
                    runtime.redirect = Some(redirect.clone())
                }
            }
        }
        for backend in &rule.backends {
            let target = match Backend::prepare(&backend.target, bound) {
                Ok(target) => target,
                Err(why) => {
                    errors.push(format!("{at}: backend {}: {why}", backend.name));
                    continue;
                }
            };
            runtime.backends.push(BackendRuntime {
                counters: metrics.request_counters(&route, &backend.name),
                name: backend.name.as_str().into(),
                target,
            });
        }
        runtime
    }
}

/// A backend whose files are the data dir's: a depot, or git without a root.
pub(crate) fn needs_data_dir(target: &BackendTarget) -> bool {
    matches!(
        target,
        BackendTarget::Depot { .. } | BackendTarget::Git { root: None, .. }
    )
}

fn header_edits(m: &HeaderModifier, at: &str, errors: &mut Vec<String>) -> HeaderEdits {
    let mut parse_name = |name: &str| {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| errors.push(format!("{at}: `{name}` is not a header name")))
            .ok()
    };
    let remove = m.remove.iter().filter_map(|n| parse_name(n)).collect();
    let mut pairs = |list: &[gatehouse_api::route::HeaderValue]| {
        list.iter()
            .filter_map(|h| {
                let name = HeaderName::from_bytes(h.name.as_bytes());
                let value = HeaderValue::from_str(&h.value);
                match (name, value) {
                    (Ok(n), Ok(v)) => Some((n, v)),
                    _ => {
                        errors.push(format!(
                            "{at}: header `{}: {}` is not valid",
                            h.name, h.value
                        ));
                        None
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    let set = pairs(&m.set);
    let add = pairs(&m.add);
    HeaderEdits { set, add, remove }
}
