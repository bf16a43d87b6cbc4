//! Route matching and compiling at 10,000 Routes.
//!
//! Targets (issue 2): one match ≤ 2 µs median against 10,000 Routes;
//! `compile` of 10,000 Routes ≤ 200 ms.
//!
//! Run: `cargo bench -p gatehouse-api --bench routing`. Medians are in
//! `target/criterion/<group>/<bench>/new/estimates.json`.
//!
//! The fleet: 10,000 Routes, each on its own host (every tenth a wildcard),
//! 4-7 rules each (~58,000 matches); every fifth Route has two regex paths
//! (4,000 regexes in all), every fourth a header-matched canary, every
//! seventh a method and query match. Plus one Route without hostnames.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_api::manifest::Manifests;
use gatehouse_api::route::{PathMatchType, Route};
use gatehouse_api::table::{RequestView, RouteTable};
use gatehouse_api::{ProxyConfig, Resources, compile};
use http::{HeaderMap, HeaderValue, Method};

const ROUTES: usize = 10_000;

/// One Route of a realistic fleet: its own host (every tenth a wildcard),
/// several prefixes, an exact health check, a header-matched canary on some,
/// a regex on some, a method and query match on some, and a catch-all.
fn fleet_route(i: usize) -> String {
    let host = if i.is_multiple_of(10) {
        format!("'*.w{i}.example.com'")
    } else {
        format!("svc{i}.example.com")
    };
    let mut rules = String::new();
    let backend = |port: usize| {
        format!(
            "    backends: [{{name: blue, url: 'http://10.0.{}.{}:{port}', weight: 90}}, {{name: green, url: 'http://10.1.{}.{}:{port}', weight: 10}}]\n",
            i / 250,
            i % 250,
            i / 250,
            i % 250
        )
    };
    if i.is_multiple_of(4) {
        rules.push_str(
            "  - matches: [{path: {value: /api/v1}, headers: [{name: x-canary, value: 'true'}]}]\n",
        );
        rules.push_str(&backend(8081));
    }
    rules.push_str("  - matches: [{path: {value: /api/v1}}, {path: {value: /api/v1beta}}]\n");
    rules.push_str(&backend(8080));
    rules.push_str("  - matches: [{path: {value: /api}}]\n");
    rules.push_str(&backend(8079));
    rules.push_str("  - matches: [{path: {type: Exact, value: /healthz}}]\n");
    rules.push_str(&backend(8078));
    if i.is_multiple_of(5) {
        rules.push_str(&format!("  - matches: [{{path: {{type: RegularExpression, value: '/users/[0-9]+/orders(/[a-z0-9-]+)?'}}}}, {{path: {{type: RegularExpression, value: '/r{i}/.*\\.json'}}}}]\n"));
        rules.push_str(&backend(8077));
    }
    if i.is_multiple_of(7) {
        rules.push_str("  - matches: [{path: {value: /static}, method: GET, queryParams: [{name: v, value: '2'}]}]\n");
        rules.push_str(&backend(8076));
    }
    rules.push_str("  - matches: [{path: {value: /}}]\n");
    rules.push_str(&backend(8075));
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: app-{i}, namespace: team-{}, creationTimestamp: '2024-01-01T{:02}:{:02}:{:02}Z'}}\nspec:\n  hostnames: [{host}]\n  rules:\n{rules}",
        i % 40,
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    )
}

/// Another 10,000 Routes on one host, each with its own prefix.
fn one_host_route(i: usize) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: tenant-{i}}}\nspec:\n  hostnames: [one.example.com]\n  rules:\n  - matches: [{{path: {{value: /tenants/t{i}/api}}}}]\n    backends: [{{url: 'http://10.2.{}.{}:8080'}}]\n",
        i / 250,
        i % 250
    )
}

fn read(docs: impl Iterator<Item = String>) -> Vec<Route> {
    let text: Vec<String> = docs.collect();
    let mut manifests = Manifests::default();
    manifests.read("bench.yaml", &text.join("---\n"));
    assert!(
        manifests.errors.is_empty(),
        "{:?}",
        manifests.errors.first()
    );
    manifests.routes().map(|r| r.value.clone()).collect()
}

fn fleet() -> Vec<Route> {
    // Plus one Route without hostnames: the fallback every miss reaches.
    let fallback = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: fallback}\nspec:\n  rules:\n  - backends: [{url: 'http://10.9.9.9:80'}]\n".to_owned();
    read((0..ROUTES).map(fleet_route).chain([fallback]))
}

fn config(routes: &[Route]) -> ProxyConfig {
    let compiled = compile(Resources::routes(routes));
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics.first());
    compiled.config
}

struct Request {
    host: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    method: Method,
    headers: HeaderMap,
}

impl Request {
    fn new(
        host: &'static str,
        target: &'static str,
        headers: &[(&'static str, &'static str)],
    ) -> Request {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let mut map = HeaderMap::new();
        // Headers a browser or client library sends anyway.
        for (name, value) in [
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
            ("accept", "application/json"),
            ("accept-encoding", "gzip, br"),
            ("cookie", "session=0123456789abcdef"),
        ]
        .iter()
        .chain(headers)
        {
            map.append(*name, HeaderValue::from_static(value));
        }
        Request {
            host,
            path,
            query,
            method: Method::GET,
            headers: map,
        }
    }

    fn view(&self) -> RequestView<'_> {
        RequestView {
            host: self.host,
            path: self.path,
            query: self.query,
            method: &self.method,
            headers: &self.headers,
        }
    }
}

fn bench_match(c: &mut Criterion) {
    let fleet_config = config(&fleet());
    let fleet_table = RouteTable::build(&fleet_config).expect("table builds");
    let one_host_config = config(&read((0..ROUTES).map(one_host_route)));
    let one_host_table = RouteTable::build(&one_host_config).expect("table builds");

    let cases: [(&str, &RouteTable, &ProxyConfig, Request, &str); 7] = [
        (
            "exact_host_prefix",
            &fleet_table,
            &fleet_config,
            Request::new("svc4321.example.com:443", "/api/v1/orders/42", &[]),
            "team-1/app-4321",
        ),
        (
            "exact_host_header_canary",
            &fleet_table,
            &fleet_config,
            Request::new(
                "svc4324.example.com",
                "/api/v1/orders/42",
                &[("x-canary", "true")],
            ),
            "team-4/app-4324",
        ),
        (
            "wildcard_host_regex",
            &fleet_table,
            &fleet_config,
            Request::new("shop.w5000.example.com", "/users/1234/orders/abc-9", &[]),
            "team-0/app-5000",
        ),
        (
            "exact_host_query_method",
            &fleet_table,
            &fleet_config,
            Request::new("svc7007.example.com", "/static/js/app.js?v=2&cache=1", &[]),
            "team-7/app-7007",
        ),
        (
            "unknown_host_fallback",
            &fleet_table,
            &fleet_config,
            Request::new("Unknown.Example.ORG", "/some/deep/path/index.html", &[]),
            "default/fallback",
        ),
        (
            "one_host_10k_prefixes",
            &one_host_table,
            &one_host_config,
            Request::new("one.example.com", "/tenants/t9876/api/v1/items/42", &[]),
            "default/tenant-9876",
        ),
        (
            "one_host_10k_prefixes_miss",
            &one_host_table,
            &one_host_config,
            Request::new(
                "one.example.com",
                "/tenants/t10001/api/v1/items/42/a/b/c/d",
                &[],
            ),
            "-",
        ),
    ];

    let mut group = c.benchmark_group("match_10k_routes");
    for (name, table, config, request, expected) in &cases {
        // Each case must select the Route it is named for, or it measures nothing.
        let found = table
            .find(&request.view())
            .map_or("-", |r| config.routes[r.route].id.as_str());
        assert_eq!(found, *expected, "{name}");
        group.bench_function(*name, |b| b.iter(|| table.find(black_box(&request.view()))));
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let routes = fleet();
    let mut group = c.benchmark_group("compile_10k_routes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    // The result is dropped outside the timing (dropping it costs ~25 ms more).
    group.bench_function("compile", |b| {
        b.iter_with_large_drop(|| compile(Resources::routes(black_box(&routes))))
    });
    // The same fleet without its 4,000 regex path matches: what regex checks cost.
    let without_regex: Vec<Route> = routes
        .iter()
        .cloned()
        .map(|mut route| {
            route.spec.rules.retain(|rule| {
                !rule.matches.iter().any(|m| {
                    m.path
                        .as_ref()
                        .is_some_and(|p| p.kind == PathMatchType::RegularExpression)
                })
            });
            route
        })
        .collect();
    group.bench_function("compile_without_regex", |b| {
        b.iter_with_large_drop(|| compile(Resources::routes(black_box(&without_regex))))
    });
    let compiled = config(&routes);
    group.bench_function("table_build", |b| {
        b.iter(|| RouteTable::build(black_box(&compiled)).expect("builds"))
    });
    group.bench_function("config_to_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&compiled)).expect("serialises"))
    });
    group.finish();
}

criterion_group!(benches, bench_match, bench_compile);
criterion_main!(benches);
