//! `compile` as a user meets it: Route YAML in, a `ProxyConfig` and
//! diagnostics out. Every rule is checked on what the user sees: the field
//! path, the reason, and a message that names the fix.

use gatehouse_api::config::{BackendTarget, FilterConfig};
use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::manifest::Manifests;
use gatehouse_api::route::{PathMatchType, Route};
use gatehouse_api::{
    Compiled, Diagnostic, Kind, KnownService, ProxyConfig, ResourceId, Resources, Severity, compile,
};

/// One Route document; `spec` is YAML indented by two spaces.
fn doc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n{}\n",
        spec.trim_matches('\n')
    )
}

/// Like `doc`, with a namespace and a creation timestamp.
fn doc_at(namespace: &str, name: &str, created: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}, namespace: {namespace}, creationTimestamp: \"{created}\"}}\nspec:\n{}\n",
        spec.trim_matches('\n')
    )
}

/// Reads documents the way local mode does; the manifests themselves must be valid.
fn read(docs: &[String]) -> Vec<Route> {
    let mut manifests = Manifests::default();
    manifests.read("routes.yaml", &docs.join("---\n"));
    assert!(
        manifests.errors.is_empty(),
        "manifest errors: {:?}",
        manifests.errors
    );
    manifests.routes().map(|r| r.value.clone()).collect()
}

/// Compiles, and checks that the config is one a proxy accepts when it is
/// pushed by hand (`verify`): the two must never disagree.
fn compile_routes(routes: &[Route]) -> Compiled {
    let compiled = compile(Resources::routes(routes));
    let refused = gatehouse_api::compile::verify(&compiled.config);
    assert!(
        refused.is_empty(),
        "compile made a config verify refuses: {refused:?}"
    );
    compiled
}

fn compile_docs(docs: &[String]) -> Compiled {
    compile_routes(&read(docs))
}

/// Compiles one Route named `demo` in namespace `default`.
fn compile_one(spec: &str) -> Compiled {
    compile_docs(&[doc("demo", spec)])
}

fn listing(c: &Compiled) -> String {
    c.diagnostics
        .iter()
        .map(|d| {
            format!(
                "  {:?} {} {} [{}]: {}",
                d.severity, d.resource, d.field, d.reason, d.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one diagnostic at `field` with `reason`; fails listing every diagnostic otherwise.
#[track_caller]
fn find<'a>(c: &'a Compiled, severity: Severity, field: &str, reason: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = c
        .diagnostics
        .iter()
        .filter(|d| d.field == field && d.reason == reason)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {reason} at {field}, got:\n{}",
        listing(c)
    );
    assert_eq!(found[0].severity, severity, "{}", found[0]);
    found[0]
}

/// An error that rejects the only Route: the config serves nothing.
#[track_caller]
fn rejected<'a>(c: &'a Compiled, field: &str, reason: &str) -> &'a Diagnostic {
    let d = find(c, Severity::Error, field, reason);
    assert_eq!(d.resource.to_string(), "Route default/demo");
    assert_eq!(d.condition, ConditionKind::Accepted);
    assert!(
        c.config.routes.is_empty(),
        "a Route with an error is left out: {:?}",
        c.config.routes
    );
    assert!(c.has_errors());
    d
}

#[track_caller]
fn says(d: &Diagnostic, parts: &[&str]) {
    for part in parts {
        assert!(
            d.message.contains(part),
            "message of {} {} lacks {part:?}: {}",
            d.resource,
            d.field,
            d.message
        );
    }
}

#[track_caller]
fn clean(c: &Compiled) {
    assert!(
        c.diagnostics.is_empty(),
        "expected no diagnostics, got:\n{}",
        listing(c)
    );
}

const BACKEND: &str = "    backends: [{url: 'http://127.0.0.1:8081'}]";

fn one_rule(rule_fields: &str) -> String {
    format!("  rules:\n  - {}\n{BACKEND}", rule_fields.trim())
}

// ---- matches ----

#[test]
fn a_valid_route_compiles_without_diagnostics() {
    let c = compile_one(
        r#"
  hostnames: [app.example.com, "*.example.org"]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /api}
      method: GET
      headers: [{name: X-Env, value: canary}, {type: RegularExpression, name: x-user, value: "u[0-9]+"}]
      queryParams: [{name: debug, value: "1"}, {type: RegularExpression, name: v, value: "[0-9]"}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-a, value: b}], remove: [x-c]}
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v1}}
    backends:
    - {name: blue, url: 'http://127.0.0.1:8081', weight: 90}
    - {name: green, service: {name: green, port: 80}, weight: 10}
    timeouts: {request: 10s, backendRequest: 2s}
"#,
    );
    clean(&c);
    assert_eq!(
        c.accepted,
        [ResourceId::new(Kind::Route, "default", "demo")]
    );
    let route = &c.config.routes[0];
    assert_eq!(route.id, "default/demo");
    assert_eq!(route.hostnames, ["app.example.com", "*.example.org"]);
    let rule = &route.rules[0];
    assert_eq!(rule.request_timeout_ms, Some(10_000));
    assert_eq!(rule.backend_timeout_ms, Some(2_000));
    assert_eq!(rule.filters.len(), 2);
    assert!(matches!(rule.filters[1], FilterConfig::UrlRewrite(_)));
    assert_eq!(
        rule.backends[0].target,
        BackendTarget::Upstream {
            authority: "127.0.0.1:8081".into()
        }
    );
    assert_eq!(
        rule.backends[1].target,
        BackendTarget::Upstream {
            authority: "green.default.svc:80".into()
        }
    );
    assert_eq!((rule.backends[0].weight, rule.backends[1].weight), (90, 10));
}

#[test]
fn invalid_path_regex_is_rejected_at_the_path_value() {
    let c = compile_one(&one_rule(
        "matches: [{path: {type: RegularExpression, value: '/v[0-9+'}}]",
    ));
    let d = rejected(&c, "spec.rules[0].matches[0].path.value", "InvalidRegex");
    says(
        d,
        &[
            "`/v[0-9+`",
            "not a valid regular expression",
            "RE2 syntax",
            "whole value",
        ],
    );
}

#[test]
fn invalid_header_regex_is_rejected_at_the_header_value() {
    let c = compile_one(&one_rule(
        "matches: [{headers: [{name: x-a, value: a}, {type: RegularExpression, name: x-env, value: '(canary'}]}]",
    ));
    let d = rejected(
        &c,
        "spec.rules[0].matches[0].headers[1].value",
        "InvalidRegex",
    );
    says(d, &["`(canary`", "RE2 syntax"]);
}

#[test]
fn invalid_query_regex_is_rejected_at_the_query_value() {
    let c = compile_one(
        r#"
  rules:
  - matches: [{path: {value: /}}]
    backends: [{url: 'http://127.0.0.1:8081'}]
  - matches: [{queryParams: [{type: RegularExpression, name: page, value: '*'}]}]
    backends: [{url: 'http://127.0.0.1:8081'}]
"#,
    );
    let d = rejected(
        &c,
        "spec.rules[1].matches[0].queryParams[0].value",
        "InvalidRegex",
    );
    says(d, &["`*`", "RE2 syntax"]);
}

#[test]
fn a_regex_too_large_for_a_proxy_is_rejected_here() {
    let c = compile_one(&one_rule(
        "matches: [{path: {type: RegularExpression, value: '/(a{1000}){1000}'}}]",
    ));
    let d = rejected(&c, "spec.rules[0].matches[0].path.value", "InvalidRegex");
    says(
        d,
        &[
            "`/(a{1000}){1000}`",
            "1048576 bytes",
            "smaller repetition counts",
        ],
    );
    // Counted repetitions of a sensible size still compile.
    let c = compile_one(&one_rule(
        "matches: [{path: {type: RegularExpression, value: '/v[0-9]{1,3}/\\w{2,8}'}}]",
    ));
    assert!(!c.has_errors(), "{}", listing(&c));
}

#[test]
fn an_empty_match_value_is_rejected() {
    let c = compile_one(&one_rule(
        "matches: [{headers: [{name: x-env, value: ''}]}]",
    ));
    let d = rejected(
        &c,
        "spec.rules[0].matches[0].headers[0].value",
        "InvalidMatch",
    );
    says(d, &["empty", "`.*`"]);
}

#[test]
fn an_exact_value_is_not_read_as_a_regex() {
    let c = compile_one(&one_rule(
        "matches: [{headers: [{name: x-a, value: '(['}], queryParams: [{name: q, value: '(['}]}]",
    ));
    clean(&c);
}

#[test]
fn paths_methods_and_header_names_are_checked() {
    let c = compile_one(&one_rule(
        "matches: [{path: {type: Exact, value: api}}, {method: get}, {headers: [{name: 'bad header', value: x}]}]",
    ));
    says(
        rejected(&c, "spec.rules[0].matches[0].path.value", "InvalidPath"),
        &["must start with `/`"],
    );
    says(
        rejected(&c, "spec.rules[0].matches[1].method", "InvalidMethod"),
        &["`get`", "use one of GET"],
    );
    says(
        rejected(
            &c,
            "spec.rules[0].matches[2].headers[0].name",
            "InvalidHeaderName",
        ),
        &["letters, digits and `-`"],
    );
}

/// HTTPRoute: "only the first entry with an equivalent name MUST be
/// considered for a match"; header names are equivalent whatever their case.
#[test]
fn of_two_entries_with_one_name_the_first_counts_and_the_other_is_a_warning() {
    let c = compile_one(&one_rule(
        "matches: [{headers: [{name: X-A, value: a}, {name: x-a, value: b}], queryParams: [{name: q, value: '1'}, {name: Q, value: '2'}, {name: q, value: '3'}]}]",
    ));
    let warned = find(
        &c,
        Severity::Warning,
        "spec.rules[0].matches[0].headers[1].name",
        "DuplicateMatch",
    );
    says(
        warned,
        &["`x-a`", "case-insensitive", "only the first entry"],
    );
    find(
        &c,
        Severity::Warning,
        "spec.rules[0].matches[0].queryParams[2].name",
        "DuplicateMatch",
    );
    assert_eq!(c.config.routes.len(), 1, "{}", listing(&c));
    let m = &c.config.routes[0].rules[0].matches[0];
    let headers: Vec<_> = m.headers.iter().map(|h| (&*h.name, &*h.value)).collect();
    assert_eq!(headers, [("X-A", "a")]);
    let query: Vec<_> = m
        .query_params
        .iter()
        .map(|q| (&*q.name, &*q.value))
        .collect();
    assert_eq!(
        query,
        [("q", "1"), ("Q", "2")],
        "query names are case-sensitive"
    );
}

#[test]
fn an_empty_match_list_becomes_path_prefix_root() {
    let c = compile_one("  rules:\n  - backends: [{url: 'http://127.0.0.1:8081'}]");
    clean(&c);
    let matches = &c.config.routes[0].rules[0].matches;
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0].path.kind, PathMatchType::PathPrefix);
    assert_eq!(matches[0].path.value, "/");
    assert_eq!(matches[0].method, None);
    assert!(matches[0].headers.is_empty() && matches[0].query_params.is_empty());

    // A match that gives only a method gets the same default path.
    let c = compile_one(&one_rule("matches: [{method: POST}]"));
    clean(&c);
    let m = &c.config.routes[0].rules[0].matches[0];
    assert_eq!(
        (m.path.kind, m.path.value.as_str(), m.method.as_deref()),
        (PathMatchType::PathPrefix, "/", Some("POST"))
    );
}

// ---- backends ----

#[test]
fn all_weights_zero_is_a_warning_and_the_route_is_served() {
    let c = compile_one(
        r#"
  rules:
  - backends:
    - {name: blue, url: 'http://127.0.0.1:8081', weight: 0}
    - {name: green, url: 'http://127.0.0.1:8082', weight: 0}
"#,
    );
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].backends",
        "AllWeightsZero",
    );
    says(
        d,
        &["answered 500", "give at least one backend a weight above 0"],
    );
    assert!(!c.has_errors());
    assert_eq!(
        c.config.routes.len(),
        1,
        "a warning does not take the Route out"
    );
}

#[test]
fn one_weight_zero_drains_without_a_warning() {
    let c = compile_one(
        r#"
  rules:
  - backends:
    - {name: blue, url: 'http://127.0.0.1:8081', weight: 0}
    - {name: green, url: 'http://127.0.0.1:8082'}
"#,
    );
    clean(&c);
    let backends = &c.config.routes[0].rules[0].backends;
    assert_eq!(
        (backends[0].weight, backends[1].weight),
        (0, 1),
        "weight defaults to 1"
    );
}

#[test]
fn a_weight_above_one_million_is_rejected() {
    let c =
        compile_one("  rules:\n  - backends: [{url: 'http://127.0.0.1:8081', weight: 1000000}]");
    clean(&c);
    let c =
        compile_one("  rules:\n  - backends: [{url: 'http://127.0.0.1:8081', weight: 1000001}]");
    let d = rejected(&c, "spec.rules[0].backends[0].weight", "InvalidWeight");
    says(d, &["1000001", "above 1000000", "scale them down"]);
}

#[test]
fn duplicate_backend_names_are_rejected() {
    let c = compile_one(
        r#"
  rules:
  - backends:
    - {name: app, url: 'http://127.0.0.1:8081'}
    - {name: app, url: 'http://127.0.0.1:8082'}
"#,
    );
    let d = rejected(&c, "spec.rules[0].backends[1].name", "DuplicateBackend");
    says(
        d,
        &[
            "`app`",
            "backends[0]",
            "give each backend of a rule its own `name`",
        ],
    );
}

#[test]
fn derived_backend_names_can_collide_too() {
    let c = compile_one(
        r#"
  rules:
  - backends:
    - url: 'http://127.0.0.1:8081'
    - url: 'http://127.0.0.1:8081/'
"#,
    );
    says(
        rejected(&c, "spec.rules[0].backends[1].name", "DuplicateBackend"),
        &["`127.0.0.1:8081`"],
    );

    // Distinct targets get distinct derived names.
    let c = compile_one(
        r#"
  rules:
  - backends:
    - url: 'http://127.0.0.1:8081'
    - service: {name: app, port: 80}
"#,
    );
    clean(&c);
    let names: Vec<&str> = c.config.routes[0].rules[0]
        .backends
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(names, ["127.0.0.1:8081", "app:80"]);
}

#[test]
fn a_duplicate_name_points_at_the_backend_that_has_it_first() {
    // backends[0] is invalid (so left out of the lowered list); the name
    // clash is between backends[1] and backends[2] as the user wrote them.
    let c = compile_one(
        r#"
  rules:
  - backends:
    - {name: broken}
    - {name: app, url: 'http://127.0.0.1:8081'}
    - {name: app, url: 'http://127.0.0.1:8082'}
"#,
    );
    find(
        &c,
        Severity::Error,
        "spec.rules[0].backends[0]",
        "InvalidBackend",
    );
    let d = find(
        &c,
        Severity::Error,
        "spec.rules[0].backends[2].name",
        "DuplicateBackend",
    );
    says(d, &["already used by backends[1]"]);
}

#[test]
fn a_backend_needs_exactly_one_kind() {
    let c = compile_one("  rules:\n  - backends: [{name: nothing, weight: 1}]");
    says(
        rejected(&c, "spec.rules[0].backends[0]", "InvalidBackend"),
        &[
            "exactly one of",
            "`service: {name, port}`",
            "`url: http://host:port`",
        ],
    );

    let c = compile_one(
        "  rules:\n  - backends: [{url: 'http://127.0.0.1:8081', service: {name: app, port: 80}}]",
    );
    says(
        rejected(&c, "spec.rules[0].backends[0]", "InvalidBackend"),
        &["exactly one of"],
    );
}

#[test]
fn https_and_malformed_urls_are_rejected_with_the_form_to_use() {
    let c = compile_one("  rules:\n  - backends: [{url: 'https://app.example.com'}]");
    says(
        rejected(&c, "spec.rules[0].backends[0].url", "InvalidBackend"),
        &["https upstreams are not supported yet", "use `http://`"],
    );

    for (url, fix) in [
        ("127.0.0.1:8081", "write `http://host:port`"),
        ("http://app/v1", "use a URLRewrite filter"),
        ("http://user:pw@app", "remove `user@`"),
    ] {
        let c = compile_one(&format!("  rules:\n  - backends: [{{url: '{url}'}}]"));
        says(
            rejected(&c, "spec.rules[0].backends[0].url", "InvalidBackend"),
            &[url, fix],
        );
    }
}

#[test]
fn a_url_without_a_port_dials_port_80() {
    let c = compile_one("  rules:\n  - backends: [{url: 'http://app.internal'}]");
    clean(&c);
    assert_eq!(
        c.config.routes[0].rules[0].backends[0].target,
        BackendTarget::Upstream {
            authority: "app.internal:80".into()
        }
    );
}

#[test]
fn a_rule_without_backends_warns() {
    let c = compile_one("  rules:\n  - matches: [{path: {value: /x}}]");
    says(
        find(
            &c,
            Severity::Warning,
            "spec.rules[0].backends",
            "NoBackends",
        ),
        &["answered 500", "add a backend"],
    );
    assert_eq!(c.config.routes.len(), 1);

    let c = compile_one("  hostnames: [a.example.com]");
    says(
        find(&c, Severity::Warning, "spec.rules", "NoRules"),
        &["add a rule"],
    );
    assert_eq!(c.config.routes.len(), 1);
}

#[test]
fn a_backend_that_failed_its_own_check_adds_no_warning_about_its_rule() {
    // examples/local/site.yaml checked for a cluster: the relative root is
    // the one problem, not also "the rule has no backends".
    let c = compile_one("  rules:\n  - backends: [{name: site, static: {root: site}}]");
    says(
        rejected(
            &c,
            "spec.rules[0].backends[0].static.root",
            "InvalidBackend",
        ),
        &["root `site` is not an absolute path"],
    );
    assert_eq!(c.diagnostics.len(), 1, "got:\n{}", listing(&c));

    // The backend left out is not counted as a weight either.
    let c = compile_one(
        r#"
  rules:
  - backends:
    - {name: blue, url: 'http://127.0.0.1:8081', weight: 0}
    - {name: green, url: 'https://127.0.0.1:8082'}
"#,
    );
    rejected(&c, "spec.rules[0].backends[1].url", "InvalidBackend");
    assert_eq!(c.diagnostics.len(), 1, "got:\n{}", listing(&c));

    // Nor does a redirecting rule whose backend failed hear its backends are unused.
    let c = compile_one(
        r#"
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301, hostname: b.example}}]
    backends:
    - {name: one, url: 'http://127.0.0.1:8081'}
    - {name: two}
"#,
    );
    rejected(&c, "spec.rules[0].backends[1]", "InvalidBackend");
    assert_eq!(c.diagnostics.len(), 1, "got:\n{}", listing(&c));
}

// ---- services ----

fn services() -> Vec<KnownService> {
    vec![
        KnownService {
            namespace: "default".into(),
            name: "app".into(),
            ports: vec![80, 8080],
        },
        KnownService {
            namespace: "other".into(),
            name: "elsewhere".into(),
            ports: vec![80],
        },
    ]
}

fn compile_with_services(spec: &str) -> Compiled {
    let routes = read(&[doc("demo", spec)]);
    let known = services();
    compile(Resources {
        routes: &routes,
        depot_repos: &[],
        mock_provisions: &[],
        services: Some(&known),
        secrets: &[],
        config_maps: &[],
        class: "gatehouse",
    })
}

#[test]
fn a_known_service_resolves_to_its_cluster_name() {
    let c = compile_with_services("  rules:\n  - backends: [{service: {name: app, port: 8080}}]");
    clean(&c);
    assert_eq!(
        c.config.routes[0].rules[0].backends[0].target,
        BackendTarget::Upstream {
            authority: "app.default.svc:8080".into()
        }
    );
}

#[test]
fn a_missing_service_is_unresolved_and_the_route_still_served() {
    let c = compile_with_services(
        r#"
  rules:
  - backends:
    - {name: live, service: {name: app, port: 80}, weight: 9}
    - {name: gone, service: {name: missing, port: 80}, weight: 1}
"#,
    );
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].backends[1].service",
        "BackendNotFound",
    );
    assert_eq!(d.condition, ConditionKind::ResolvedRefs);
    says(
        d,
        &[
            "Service default/missing does not exist",
            "create it or fix `service.name`",
            "answered 500",
        ],
    );
    assert!(!c.has_errors());
    let backends = &c.config.routes[0].rules[0].backends;
    assert_eq!(
        backends[0].target,
        BackendTarget::Upstream {
            authority: "app.default.svc:80".into()
        }
    );
    match &backends[1].target {
        BackendTarget::Unresolved { reason } => {
            assert!(reason.contains("default/missing"), "{reason}")
        }
        other => panic!("expected Unresolved, got {other:?}"),
    }
    assert_eq!(backends[1].weight, 1, "the share stays, answered 500");
}

#[test]
fn a_service_in_another_namespace_is_not_found() {
    let c =
        compile_with_services("  rules:\n  - backends: [{service: {name: elsewhere, port: 80}}]");
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].backends[0].service",
        "BackendNotFound",
    );
    says(d, &["Service default/elsewhere does not exist"]);
    assert_eq!(c.config.routes.len(), 1);
}

#[test]
fn a_missing_port_is_unresolved_and_names_the_ports_there_are() {
    let c = compile_with_services("  rules:\n  - backends: [{service: {name: app, port: 9090}}]");
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].backends[0].service",
        "BackendNotFound",
    );
    assert_eq!(d.condition, ConditionKind::ResolvedRefs);
    says(d, &["has no port 9090", "[80, 8080]", "fix `service.port`"]);
    assert!(matches!(
        c.config.routes[0].rules[0].backends[0].target,
        BackendTarget::Unresolved { .. }
    ));
}

#[test]
fn without_a_service_list_service_backends_are_not_checked() {
    let c = compile_one("  rules:\n  - backends: [{service: {name: missing, port: 80}}]");
    clean(&c);
    assert_eq!(
        c.config.routes[0].rules[0].backends[0].target,
        BackendTarget::Upstream {
            authority: "missing.default.svc:80".into()
        }
    );
}

// ---- filters ----

#[test]
fn an_unknown_filter_type_lists_the_known_ones() {
    let c = compile_one(&one_rule("filters: [{type: RequestMirror}]"));
    let d = rejected(&c, "spec.rules[0].filters[0].type", "UnsupportedFilter");
    says(
        d,
        &[
            "`RequestMirror`",
            "RequestHeaderModifier, ResponseHeaderModifier, URLRewrite, RequestRedirect",
        ],
    );
}

#[test]
fn a_filter_with_another_types_field_is_rejected() {
    let c = compile_one(&one_rule(
        "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [x-a]}, urlRewrite: {hostname: a.example.com}}]",
    ));
    let d = rejected(&c, "spec.rules[0].filters[0].urlRewrite", "InvalidFilter");
    says(
        d,
        &[
            "`urlRewrite` does not go with type RequestHeaderModifier",
            "remove it",
        ],
    );
}

#[test]
fn a_filter_without_its_own_field_is_rejected() {
    let c = compile_one(&one_rule(
        "filters: [{type: ResponseHeaderModifier, requestHeaderModifier: {remove: [x-a]}}]",
    ));
    find(
        &c,
        Severity::Error,
        "spec.rules[0].filters[0].requestHeaderModifier",
        "InvalidFilter",
    );
    let d = rejected(
        &c,
        "spec.rules[0].filters[0].responseHeaderModifier",
        "InvalidFilter",
    );
    says(d, &["needs its `responseHeaderModifier` field"]);
}

#[test]
fn header_modifier_names_and_values_are_checked() {
    let c = compile_one(&one_rule(
        "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: 'a b', value: x}], add: [{name: x-ok, value: \"a\\nb\"}], remove: ['bad:']}}]",
    ));
    let at = "spec.rules[0].filters[0].requestHeaderModifier";
    find(
        &c,
        Severity::Error,
        &format!("{at}.set[0].name"),
        "InvalidHeaderName",
    );
    says(
        find(
            &c,
            Severity::Error,
            &format!("{at}.add[0].value"),
            "InvalidHeaderValue",
        ),
        &["remove control characters"],
    );
    rejected(&c, &format!("{at}.remove[0]"), "InvalidHeaderName");
}

#[test]
fn an_empty_replace_prefix_match_means_slash_as_gateway_api_says() {
    let c = compile_one(&one_rule(
        "matches: [{path: {value: /foo}}]\n    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: ''}}}]",
    ));
    assert!(!c.has_errors(), "{}", listing(&c));
    let FilterConfig::UrlRewrite(rewrite) = &c.config.routes[0].rules[0].filters[0] else {
        panic!("{:?}", c.config.routes[0].rules[0].filters);
    };
    assert_eq!(
        rewrite
            .path
            .as_ref()
            .unwrap()
            .replace_prefix_match
            .as_deref(),
        Some("/")
    );
}

#[test]
fn a_request_header_modifier_cannot_touch_host() {
    let c = compile_one(&one_rule(
        "filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: Host, value: other.test}]}}]",
    ));
    let d = rejected(
        &c,
        "spec.rules[0].filters[0].requestHeaderModifier.set[0]",
        "InvalidFilter",
    );
    says(d, &["cannot change Host", "URLRewrite", "`hostname`"]);
    // A response may carry any header, Host included.
    let c = compile_one(&one_rule(
        "filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: Host, value: x}]}}]",
    ));
    assert!(!c.has_errors(), "{}", listing(&c));
}

#[test]
fn a_header_takes_one_action_per_modifier() {
    let c = compile_one(&one_rule(
        "filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-A, value: '1'}], add: [{name: x-b, value: '2'}], remove: [x-a]}}]",
    ));
    let d = rejected(
        &c,
        "spec.rules[0].filters[0].responseHeaderModifier.remove[0]",
        "InvalidFilter",
    );
    says(
        d,
        &[
            "`x-a`",
            "already has an action at set[0]",
            "one of set, add or remove",
        ],
    );
}

#[test]
fn a_filter_type_may_appear_once_per_rule() {
    let c = compile_one(&one_rule(
        r#"filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [x-a]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [x-b]}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [x-c]}}"#,
    ));
    let d = rejected(&c, "spec.rules[0].filters[2].type", "DuplicateFilter");
    says(
        d,
        &["one RequestHeaderModifier filter", "merge the two into one"],
    );
}

#[test]
fn url_rewrite_and_request_redirect_cannot_share_a_rule() {
    let c = compile_one(
        r#"
  rules:
  - filters:
    - {type: URLRewrite, urlRewrite: {hostname: a.example.com}}
    - {type: RequestRedirect, requestRedirect: {scheme: https}}
"#,
    );
    let d = rejected(&c, "spec.rules[0].filters", "IncompatibleFilters");
    says(d, &["URLRewrite and RequestRedirect", "keep one"]);
}

#[test]
fn a_redirect_rule_needs_no_backend_and_warns_about_unused_ones() {
    let c = compile_one(
        "  rules:\n  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]",
    );
    clean(&c);
    assert!(matches!(
        c.config.routes[0].rules[0].filters[0],
        FilterConfig::RequestRedirect(_)
    ));

    let c = compile_one(&one_rule(
        "filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]",
    ));
    says(
        find(
            &c,
            Severity::Warning,
            "spec.rules[0].backends",
            "BackendsUnused",
        ),
        &["remove them or the RequestRedirect filter"],
    );
    assert_eq!(c.config.routes.len(), 1);
}

#[test]
fn replace_prefix_match_needs_path_prefix_matches() {
    let spec = |path_type: &str| {
        one_rule(&format!(
            "matches: [{{path: {{type: {path_type}, value: /api}}}}]\n    filters: [{{type: URLRewrite, urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /v1}}}}}}]"
        ))
    };
    clean(&compile_one(&spec("PathPrefix")));
    for path_type in ["Exact", "RegularExpression"] {
        let c = compile_one(&spec(path_type));
        let d = rejected(
            &c,
            "spec.rules[0].filters[0].urlRewrite.path.type",
            "InvalidFilter",
        );
        says(
            d,
            &[
                "ReplacePrefixMatch needs every match of the rule to be a PathPrefix match",
                "use ReplaceFullPath",
            ],
        );
    }

    // The default match (`PathPrefix /`) counts as a prefix match.
    clean(&compile_one(&one_rule(
        "filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]",
    )));

    // Redirects follow the same rule.
    let c = compile_one(
        "  rules:\n  - matches: [{path: {type: Exact, value: /old}}]\n    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]",
    );
    rejected(
        &c,
        "spec.rules[0].filters[0].requestRedirect.path.type",
        "InvalidFilter",
    );
}

#[test]
fn a_path_modifier_needs_its_value() {
    let c = compile_one(&one_rule(
        "filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replacePrefixMatch: /x}}}]",
    ));
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath",
            "InvalidFilter",
        ),
        &["needs `replaceFullPath`"],
    );

    let c = compile_one(&one_rule(
        "filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: 'x/y'}}}]",
    ));
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath",
            "InvalidPath",
        ),
        &["must start with `/`"],
    );
}

#[test]
fn redirect_status_scheme_and_port_are_checked() {
    let redirect = |fields: &str| {
        compile_one(&format!(
            "  rules:\n  - filters: [{{type: RequestRedirect, requestRedirect: {{{fields}}}}}]"
        ))
    };
    for code in [301, 302, 303, 307, 308] {
        clean(&redirect(&format!("statusCode: {code}")));
    }
    for code in [200, 304, 404] {
        let c = redirect(&format!("statusCode: {code}"));
        let d = rejected(
            &c,
            "spec.rules[0].filters[0].requestRedirect.statusCode",
            "InvalidRedirect",
        );
        says(
            d,
            &[
                &format!("{code} is not a redirect status"),
                "use 301, 302, 303, 307 or 308",
            ],
        );
    }
    let c = redirect("scheme: ftp");
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].requestRedirect.scheme",
            "InvalidRedirect",
        ),
        &["`ftp`", "use `http` or `https`"],
    );
    let c = redirect("port: 0");
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].requestRedirect.port",
            "InvalidRedirect",
        ),
        &["give 1-65535"],
    );
    clean(&redirect(
        "scheme: https, hostname: www.example.com, port: 8443",
    ));
}

// ---- hostnames ----

#[test]
fn invalid_hostnames_are_rejected_with_the_fix() {
    for (host, fix) in [
        (
            "App.Example.com",
            "write hostnames in lower case (`app.example.com`)",
        ),
        ("app.example.com:8080", "drop `:8080`"),
        ("foo.*.example.com", "a wildcard is only a leading `*.`"),
        ("a..example.com", "separated by single dots"),
        ("*", "a wildcard is only a leading `*.`"),
        ("-app.example.com", "inner `-`"),
    ] {
        let c = compile_one(&format!(
            "  hostnames: [good.example.com, '{host}']\n{}",
            one_rule("")
        ));
        let d = rejected(&c, "spec.hostnames[1]", "InvalidHostname");
        says(d, &[&format!("`{host}`"), fix]);
    }
    clean(&compile_one(&format!(
        "  hostnames: ['*.example.com', localhost, a-1.example.com]\n{}",
        one_rule("")
    )));
}

#[test]
fn filter_hostnames_may_not_be_wildcards() {
    let c = compile_one(&one_rule(
        "filters: [{type: URLRewrite, urlRewrite: {hostname: '*.example.com'}}]",
    ));
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].urlRewrite.hostname",
            "InvalidHostname",
        ),
        &["wildcard is not allowed here"],
    );
    let c = compile_one(
        "  rules:\n  - filters: [{type: RequestRedirect, requestRedirect: {hostname: 'Www.example.com'}}]",
    );
    says(
        rejected(
            &c,
            "spec.rules[0].filters[0].requestRedirect.hostname",
            "InvalidHostname",
        ),
        &["lower case"],
    );
}

// ---- timeouts ----

#[test]
fn timeouts_are_parsed_and_zero_disables() {
    let c = compile_one(&one_rule(
        "timeouts: {request: 1m30s, backendRequest: 500ms}",
    ));
    clean(&c);
    let rule = &c.config.routes[0].rules[0];
    assert_eq!(
        (rule.request_timeout_ms, rule.backend_timeout_ms),
        (Some(90_000), Some(500))
    );

    let c = compile_one(&one_rule("timeouts: {request: 0s, backendRequest: 5s}"));
    clean(&c);
    let rule = &c.config.routes[0].rules[0];
    assert_eq!(
        (rule.request_timeout_ms, rule.backend_timeout_ms),
        (None, Some(5_000))
    );
}

#[test]
fn bad_timeouts_are_rejected_with_examples() {
    for (field, value) in [
        ("request", "10"),
        ("request", "1.5s"),
        ("backendRequest", "1d"),
    ] {
        let c = compile_one(&one_rule(&format!("timeouts: {{{field}: '{value}'}}")));
        let d = rejected(
            &c,
            &format!("spec.rules[0].timeouts.{field}"),
            "InvalidTimeout",
        );
        says(
            d,
            &[
                &format!("`{value}` is not a duration"),
                "`10s`, `1m30s` or `500ms`",
            ],
        );
    }
}

#[test]
fn a_backend_timeout_longer_than_the_request_timeout_is_rejected() {
    let c = compile_one(&one_rule("timeouts: {request: 5s, backendRequest: 10s}"));
    let d = rejected(
        &c,
        "spec.rules[0].timeouts.backendRequest",
        "InvalidTimeout",
    );
    says(
        d,
        &[
            "backendRequest (10000ms) is longer than request (5000ms)",
            "make it at most the request timeout",
        ],
    );
    clean(&compile_one(&one_rule(
        "timeouts: {request: 5s, backendRequest: 5s}",
    )));
}

// ---- classes ----

#[test]
fn only_routes_of_our_class_are_compiled() {
    let routes = read(&[
        doc(
            "plain",
            "  hostnames: [a.example.com]\n  rules:\n  - backends: [{url: 'http://127.0.0.1:1'}]",
        ),
        doc(
            "ours",
            "  className: gatehouse\n  hostnames: [b.example.com]\n  rules:\n  - backends: [{url: 'http://127.0.0.1:1'}]",
        ),
        doc(
            "branch",
            "  className: feature-x\n  hostnames: [c.example.com]\n  rules:\n  - backends: [{url: 'http://127.0.0.1:1'}]",
        ),
        // Another class's errors are not ours to report.
        doc(
            "broken-branch",
            "  className: feature-x\n  rules:\n  - backends: [{url: 'https://x'}]",
        ),
    ]);
    let c = compile_routes(&routes);
    clean(&c);
    let ids: Vec<&str> = c.config.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["default/ours", "default/plain"]);

    let c = compile(Resources {
        routes: &routes,
        depot_repos: &[],
        mock_provisions: &[],
        services: None,
        secrets: &[],
        config_maps: &[],
        class: "feature-x",
    });
    let ids: Vec<&str> = c.config.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["default/branch"]);
    find(
        &c,
        Severity::Error,
        "spec.rules[0].backends[0].url",
        "InvalidBackend",
    );
}

// ---- rejection is per Route ----

#[test]
fn an_erroring_route_is_left_out_and_the_others_stay() {
    let c = compile_docs(&[
        doc(
            "first",
            "  hostnames: [a.example.com]\n  rules:\n  - backends: [{url: 'http://127.0.0.1:1'}]",
        ),
        doc(
            "broken",
            r#"
  hostnames: [b.example.com]
  rules:
  - matches: [{path: {type: RegularExpression, value: '('}}]
    backends: [{url: 'http://127.0.0.1:1'}]
  - backends: [{url: 'https://x'}]
"#,
        ),
        doc(
            "last",
            "  hostnames: [c.example.com]\n  rules:\n  - backends: [{url: 'http://127.0.0.1:1'}]",
        ),
    ]);
    let ids: Vec<&str> = c.config.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["default/first", "default/last"]);
    // Every error of the broken Route is reported at once, each on its own field.
    let resources: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| d.resource.to_string())
        .collect();
    let errors: Vec<(&str, &str, &str)> = c
        .diagnostics
        .iter()
        .zip(&resources)
        .filter(|(d, _)| d.is_error())
        .map(|(d, resource)| (resource.as_str(), d.field.as_str(), d.reason))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "Route default/broken",
                "spec.rules[0].matches[0].path.value",
                "InvalidRegex"
            ),
            (
                "Route default/broken",
                "spec.rules[1].backends[0].url",
                "InvalidBackend"
            ),
        ]
    );
    // The Display form a user reads in logs names the resource, field and fix.
    let shown = c.diagnostics[0].to_string();
    assert!(
        shown.starts_with("error: Route default/broken spec.rules[0].matches[0].path.value: "),
        "{shown}"
    );
}

// ---- conflicts ----

const SAME_MATCH: &str = r#"
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /cart}, method: GET}]
    backends: [{url: 'http://127.0.0.1:1'}]
"#;

#[test]
fn the_older_route_wins_an_exact_match_conflict() {
    // `aaa` sorts first by name but is newer: age decides.
    let c = compile_docs(&[
        doc_at("shop", "aaa", "2024-06-01T00:00:00Z", SAME_MATCH),
        doc_at("shop", "zzz", "2024-01-01T00:00:00Z", SAME_MATCH),
    ]);
    let ids: Vec<&str> = c.config.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["shop/zzz", "shop/aaa"],
        "older first: the table's tie-break order"
    );
    assert_eq!(c.diagnostics.len(), 1, "{}", listing(&c));
    let d = &c.diagnostics[0];
    assert_eq!(
        (d.severity, d.condition),
        (Severity::Warning, ConditionKind::Accepted)
    );
    assert_eq!(d.resource.to_string(), "Route shop/aaa");
    assert_eq!(d.field, "spec.rules[0].matches[0]");
    assert_eq!(d.reason, "Conflicted");
    says(
        d,
        &[
            "for host shop.example.com",
            "Route shop/zzz, which comes first (it is older",
            "make it distinct",
        ],
    );
    assert_eq!(
        c.config.routes.len(),
        2,
        "the loser is still served for its other matches"
    );
}

#[test]
fn without_timestamps_the_first_name_wins() {
    let c = compile_docs(&[doc("zzz", SAME_MATCH), doc("aaa", SAME_MATCH)]);
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].matches[0]",
        "Conflicted",
    );
    assert_eq!(d.resource.to_string(), "Route default/zzz");
    says(
        d,
        &[
            "Route default/aaa, which comes first",
            "first by namespace/name",
        ],
    );

    // Equal timestamps fall back to the name as well.
    let c = compile_docs(&[
        doc_at("default", "zzz", "2024-01-01T00:00:00Z", SAME_MATCH),
        doc_at("default", "aaa", "2024-01-01T00:00:00Z", SAME_MATCH),
    ]);
    assert_eq!(
        find(
            &c,
            Severity::Warning,
            "spec.rules[0].matches[0]",
            "Conflicted"
        )
        .resource
        .to_string(),
        "Route default/zzz"
    );
}

#[test]
fn matches_that_differ_do_not_conflict() {
    let variants = [
        // another host
        SAME_MATCH.replace("shop.example.com", "other.example.com"),
        // another method
        SAME_MATCH.replace("method: GET", "method: POST"),
        // a prefix rather than an exact path
        SAME_MATCH.replace("type: Exact", "type: PathPrefix"),
        // an extra header
        SAME_MATCH.replace(
            "method: GET}",
            "method: GET, headers: [{name: x-a, value: b}]}",
        ),
        // no hostnames: a fallback, not the same host
        SAME_MATCH.replace("  hostnames: [shop.example.com]\n", ""),
        // a wildcard is another host name than an exact one
        SAME_MATCH.replace("shop.example.com", "'*.example.com'"),
    ];
    for variant in variants {
        let c = compile_docs(&[doc("a", SAME_MATCH), doc("b", &variant)]);
        clean(&c);
    }
}

#[test]
fn matches_written_differently_but_equal_conflict() {
    // Header names are case-insensitive, header order does not matter, and a
    // prefix's trailing slash is ignored.
    let a = r#"
  hostnames: [x.example.com, shop.example.com]
  rules:
  - matches: [{path: {value: /api/}, headers: [{name: X-A, value: "1"}, {name: x-b, value: "2"}]}]
    backends: [{url: 'http://127.0.0.1:1'}]
"#;
    let b = r#"
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {value: /other}}, {path: {value: /api}, headers: [{name: x-b, value: "2"}, {name: x-a, value: "1"}]}]
    backends: [{url: 'http://127.0.0.1:1'}]
"#;
    let c = compile_docs(&[doc("b", b), doc("a", a)]);
    let d = find(
        &c,
        Severity::Warning,
        "spec.rules[0].matches[1]",
        "Conflicted",
    );
    assert_eq!(d.resource.to_string(), "Route default/b");
    says(d, &["host shop.example.com", "Route default/a"]);
    assert_eq!(c.diagnostics.len(), 1, "{}", listing(&c));
}

#[test]
fn a_rejected_route_wins_no_conflict() {
    let broken = format!("{SAME_MATCH}  - backends: [{{url: 'https://x'}}]\n");
    let c = compile_docs(&[
        doc_at("default", "old", "2020-01-01T00:00:00Z", &broken),
        doc("new", SAME_MATCH),
    ]);
    assert!(
        c.diagnostics.iter().all(|d| d.reason != "Conflicted"),
        "{}",
        listing(&c)
    );
    assert_eq!(c.config.routes.len(), 1);
    assert_eq!(c.config.routes[0].id, "default/new");
}

// ---- determinism ----

fn mixed_routes() -> Vec<String> {
    vec![
        doc_at("shop", "cart", "2024-03-01T00:00:00Z", SAME_MATCH),
        doc_at("shop", "old-cart", "2023-03-01T00:00:00Z", SAME_MATCH),
        doc_at(
            "web",
            "site",
            "2024-03-01T00:00:00Z",
            "  rules:\n  - backends: [{url: 'http://127.0.0.1:2', weight: 3}, {url: 'http://127.0.0.1:3'}]",
        ),
        doc_at(
            "web",
            "api",
            "2024-03-01T00:00:00Z",
            "  hostnames: ['*.example.com']\n  rules:\n  - matches: [{path: {value: /api}}]\n    backends: [{service: {name: api, port: 80}}]",
        ),
        doc_at(
            "web",
            "broken",
            "2022-03-01T00:00:00Z",
            "  rules:\n  - backends: [{url: 'https://x'}]",
        ),
    ]
}

#[test]
fn the_same_routes_in_any_order_give_the_same_config_and_revision() {
    let docs = mixed_routes();
    let first = compile_docs(&docs);
    assert!(!first.config.revision.is_empty());
    assert_eq!(first.config.revision, first.config.content_revision());
    let orders: [[usize; 5]; 4] = [
        [4, 3, 2, 1, 0],
        [2, 0, 4, 1, 3],
        [1, 4, 0, 3, 2],
        [3, 1, 2, 0, 4],
    ];
    for order in orders {
        let shuffled: Vec<String> = order.iter().map(|&i| docs[i].clone()).collect();
        let again = compile_docs(&shuffled);
        assert_eq!(again.config, first.config, "order {order:?}");
        assert_eq!(again.config.revision, first.config.revision);
        assert_eq!(
            again.diagnostics, first.diagnostics,
            "diagnostics are in a stable order too"
        );
        assert_eq!(
            serde_json::to_string(&again.config).unwrap(),
            serde_json::to_string(&first.config).unwrap(),
            "the bytes pushed to proxies are identical"
        );
    }
}

#[test]
fn routes_with_and_without_timestamps_sort_the_same_in_any_order() {
    // Local-mode YAML may give some Routes a creationTimestamp and not others.
    let docs = [
        doc_at("default", "a", "2024-02-01T00:00:00Z", SAME_MATCH),
        doc("b", SAME_MATCH),
        doc_at("default", "c", "2024-01-01T00:00:00Z", SAME_MATCH),
    ];
    let first = compile_docs(&docs);
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let shuffled: Vec<String> = order.iter().map(|&i| docs[i].clone()).collect();
        let again = compile_docs(&shuffled);
        assert_eq!(again.config, first.config, "order {order:?}");
        assert_eq!(again.diagnostics, first.diagnostics, "order {order:?}");
    }
    let ids: Vec<&str> = first.config.routes.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["default/c", "default/a", "default/b"],
        "dated Routes by age, then undated ones by name"
    );
}

#[test]
fn a_change_gives_a_new_revision() {
    let docs = mixed_routes();
    let base = compile_docs(&docs).config.revision;
    let mut changed = docs.clone();
    changed[2] = changed[2].replace("weight: 3", "weight: 4");
    assert_ne!(
        compile_docs(&changed).config.revision,
        base,
        "a weight flip is a new revision"
    );
    let mut changed = docs.clone();
    changed[3] = changed[3].replace("/api", "/apis");
    assert_ne!(compile_docs(&changed).config.revision, base);
    let mut fewer = docs.clone();
    fewer.remove(0);
    assert_ne!(compile_docs(&fewer).config.revision, base);
    // A change to a rejected Route does not change what is served.
    let mut changed = docs;
    changed[4] = changed[4].replace("https://x", "https://y");
    assert_eq!(compile_docs(&changed).config.revision, base);
}

#[test]
fn the_config_round_trips_through_json() {
    let c = compile_docs(&mixed_routes());
    let json = serde_json::to_string(&c.config).unwrap();
    let back: ProxyConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c.config);
    assert_eq!(back.content_revision(), c.config.revision);
}

#[test]
fn lists_over_gateway_apis_bounds_are_refused_naming_the_field() {
    let backends: Vec<String> = (0..17)
        .map(|i| format!("{{name: b{i}, url: 'http://127.0.0.1:{}'}}", 8000 + i))
        .collect();
    let spec = format!("  rules:\n  - backends: [{}]", backends.join(", "));
    let c = compile_one(&spec);
    let d = rejected(&c, "spec.rules[0].backends", "TooManyItems");
    says(d, &["17 items", "limit of 16", "split"]);

    let headers: Vec<String> = (0..17)
        .map(|i| format!("{{name: x-{i}, value: v}}"))
        .collect();
    let spec = one_rule(&format!("matches: [{{headers: [{}]}}]", headers.join(", ")));
    let c = compile_one(&spec);
    rejected(&c, "spec.rules[0].matches[0].headers", "TooManyItems");

    let rules = "  - backends: [{url: 'http://127.0.0.1:8081'}]\n".repeat(16);
    clean(&compile_one(&format!("  rules:\n{rules}")));
}

#[test]
fn a_pushed_secret_must_be_the_value_hashed_and_appear_once() {
    use gatehouse_api::secret::{SecretEntry, SecretRef, SecretValue};
    let source = SecretRef {
        namespace: "git".into(),
        name: "users".into(),
        key: "htpasswd".into(),
    };
    let mut config = ProxyConfig::new(Vec::new());
    config.secrets = vec![SecretEntry::new(source.clone(), SecretValue::new("a"))];
    assert!(gatehouse_api::compile::verify(&config).is_empty());
    let mut tampered = SecretEntry::new(source, SecretValue::new("b"));
    tampered.value = Some(SecretValue::new("c"));
    config.secrets.push(tampered);
    let errors = gatehouse_api::compile::verify(&config);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("error: secrets[1]: the value of Secret git/users key `htpasswd` does not have the sha256 given"), "{errors:?}");
    assert!(
        errors[1].contains("secrets[0] is Secret git/users key `htpasswd` too"),
        "{errors:?}"
    );
}
