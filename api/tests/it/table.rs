//! The route table as a request meets it: Routes written as users write them,
//! compiled, then asked which rule serves a host, method, path, headers and
//! query. Precedence follows Gateway API's HTTPRoute.

use gatehouse_api::config::RuleConfig;
use gatehouse_api::manifest::Manifests;
use gatehouse_api::route::{Route, ValueMatch};
use gatehouse_api::table::{RequestView, RouteTable, RuleRef, pick_backend};
use gatehouse_api::{ProxyConfig, Resources, compile};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A Route with one rule. `hosts` is a YAML flow list; `matches` a YAML flow
/// list of matches (`[]` for the default `PathPrefix /`).
fn route(name: &str, hosts: &str, matches: &str) -> String {
    dated(name, "", hosts, matches)
}

/// Like `route`, created at `created` (RFC 3339) unless it is empty.
fn dated(name: &str, created: &str, hosts: &str, matches: &str) -> String {
    let created = if created.is_empty() {
        String::new()
    } else {
        format!(", creationTimestamp: '{created}'")
    };
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}{created}}}\nspec:\n  hostnames: {hosts}\n  rules:\n  - matches: {matches}\n    backends: [{{url: 'http://127.0.0.1:1'}}]\n"
    )
}

/// A Route with several rules, each a YAML flow list of matches.
fn multi(name: &str, hosts: &str, rules: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  hostnames: {hosts}\n  rules:\n"
    );
    for matches in rules {
        text.push_str(&format!(
            "  - matches: {matches}\n    backends: [{{url: 'http://127.0.0.1:1'}}]\n"
        ));
    }
    text
}

struct Table {
    config: ProxyConfig,
    table: RouteTable,
}

fn table(docs: &[String]) -> Table {
    let mut manifests = Manifests::default();
    manifests.read("routes.yaml", &docs.join("---\n"));
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    let routes: Vec<Route> = manifests.routes().map(|r| r.value.clone()).collect();
    let compiled = compile(Resources::routes(&routes));
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    assert_eq!(compiled.config.routes.len(), routes.len());
    let table = RouteTable::build(&compiled.config).expect("a compiled config builds");
    Table {
        config: compiled.config,
        table,
    }
}

/// A request: `target` is the path and query as sent.
struct Req<'a> {
    method: &'a str,
    host: &'a str,
    target: &'a str,
    headers: &'a [(&'a str, &'a str)],
}

fn get<'a>(host: &'a str, target: &'a str) -> Req<'a> {
    Req {
        method: "GET",
        host,
        target,
        headers: &[],
    }
}

fn req<'a>(method: &'a str, target: &'a str, headers: &'a [(&'a str, &'a str)]) -> Req<'a> {
    Req {
        method,
        host: "h",
        target,
        headers,
    }
}

impl Table {
    fn hit(&self, req: &Req<'_>) -> Option<RuleRef> {
        let method = Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in req.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let (path, query) = match req.target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (req.target, None),
        };
        self.table.find(&RequestView {
            host: req.host,
            path,
            query,
            method: &method,
            headers: &headers,
        })
    }

    /// The name of the Route that serves the request, `-` when none does.
    fn route(&self, req: &Req<'_>) -> String {
        self.hit(req).map_or_else(
            || "-".to_owned(),
            |r| {
                self.config.routes[r.route]
                    .id
                    .trim_start_matches("default/")
                    .to_owned()
            },
        )
    }

    /// `name` for rule 0, `name/rule` otherwise.
    fn rule(&self, req: &Req<'_>) -> String {
        match self.hit(req) {
            None => "-".to_owned(),
            Some(r) if r.rule == 0 => self.route(req),
            Some(r) => format!("{}/{}", self.route(req), r.rule),
        }
    }

    #[track_caller]
    fn expect(&self, cases: &[(Req<'_>, &str)]) {
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(req, want)| {
                let got = self.rule(req);
                (got != *want).then(|| {
                    format!(
                        "{} {}{} {:?}: want {want}, got {got}",
                        req.method, req.host, req.target, req.headers
                    )
                })
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}

// ---- hosts ----

#[test]
fn an_exact_host_beats_a_wildcard_and_a_wildcard_needs_a_label() {
    let t = table(&[
        route("exact", "[app.example.com]", "[]"),
        route("wild", "['*.example.com']", "[]"),
        route("any", "[]", "[]"),
    ]);
    t.expect(&[
        (get("app.example.com", "/"), "exact"),
        (get("shop.example.com", "/x"), "wild"),
        (get("a.b.example.com", "/"), "wild"),
        (get("example.com", "/"), "any"),
        (get("badexample.com", "/"), "any"),
        (get("app.example.com.evil.org", "/"), "any"),
        (get("other.org", "/"), "any"),
        (get("", "/"), "any"),
    ]);

    let t = table(&[route("wild", "['*.example.com']", "[]")]);
    t.expect(&[
        (get("example.com", "/"), "-"),
        (get("a.example.com", "/"), "wild"),
        // Empty labels are no labels.
        (get(".example.com", "/"), "-"),
        (get("a..example.com", "/"), "-"),
        (get("a.b.example.com", "/"), "wild"),
    ]);
}

#[test]
fn the_longest_wildcard_suffix_wins() {
    let t = table(&[
        route("short", "['*.example.com']", "[]"),
        route("long", "['*.api.example.com']", "[]"),
    ]);
    t.expect(&[
        (get("v1.api.example.com", "/"), "long"),
        (get("a.v1.api.example.com", "/"), "long"),
        (get("api.example.com", "/"), "short"),
        (get("www.example.com", "/"), "short"),
    ]);
}

#[test]
fn the_host_port_case_and_trailing_dot_are_ignored() {
    let t = table(&[
        route("exact", "[app.example.com]", "[]"),
        route("wild", "['*.example.org']", "[]"),
    ]);
    t.expect(&[
        (get("app.example.com:8080", "/"), "exact"),
        (get("APP.Example.COM", "/"), "exact"),
        (get("App.Example.Com:443", "/"), "exact"),
        (get("app.example.com.", "/"), "exact"),
        (get("WWW.EXAMPLE.ORG:8443", "/"), "wild"),
        (get("[::1]:8080", "/"), "-"),
    ]);
}

#[test]
fn routes_without_hostnames_serve_every_other_host() {
    let t = table(&[
        route("any", "[]", "[]"),
        route("named", "[a.example.com]", "[{path: {value: /a}}]"),
    ]);
    t.expect(&[
        (get("a.example.com", "/a"), "named"),
        (get("a.example.com", "/b"), "any"),
        (get("b.example.com", "/a"), "any"),
        (get("127.0.0.1:8080", "/"), "any"),
    ]);
}

#[test]
fn an_exact_host_without_a_matching_rule_falls_through() {
    let t = table(&[
        route("exact", "[app.example.com]", "[{path: {value: /admin}}]"),
        route("wild", "['*.example.com']", "[{path: {value: /api}}]"),
        route("any", "[]", "[{path: {value: /static}}]"),
    ]);
    t.expect(&[
        (get("app.example.com", "/admin/users"), "exact"),
        (get("app.example.com", "/api/v1"), "wild"),
        (get("app.example.com", "/static/app.css"), "any"),
        (get("app.example.com", "/other"), "-"),
        (get("b.example.com", "/admin"), "-"),
        (get("b.example.com", "/static/x"), "any"),
    ]);
}

#[test]
fn host_specificity_comes_before_path_specificity() {
    // The exact host's catch-all serves `/api/v1` even though the wildcard
    // Route states a longer prefix: hosts are chosen first.
    let t = table(&[
        route("exact", "[app.example.com]", "[]"),
        route("wild", "['*.example.com']", "[{path: {value: /api/v1}}]"),
    ]);
    t.expect(&[
        (get("app.example.com", "/api/v1"), "exact"),
        (get("b.example.com", "/api/v1"), "wild"),
    ]);
}

#[test]
fn a_route_with_several_hostnames_serves_each() {
    let t = table(&[route("both", "[a.example.com, '*.example.org']", "[]")]);
    t.expect(&[
        (get("a.example.com", "/"), "both"),
        (get("x.example.org", "/"), "both"),
        (get("b.example.com", "/"), "-"),
    ]);
}

// ---- paths ----

#[test]
fn exact_beats_regex_beats_prefix_whatever_the_age() {
    // The newest Route states the exact path, the oldest the prefix.
    let t = table(&[
        dated(
            "prefix",
            "2020-01-01T00:00:00Z",
            "[]",
            "[{path: {type: PathPrefix, value: /api/users}}]",
        ),
        dated(
            "regex",
            "2021-01-01T00:00:00Z",
            "[]",
            "[{path: {type: RegularExpression, value: '/api/users(/.*)?'}}]",
        ),
        dated(
            "exact",
            "2022-01-01T00:00:00Z",
            "[]",
            "[{path: {type: Exact, value: /api/users}}]",
        ),
    ]);
    t.expect(&[
        (get("h", "/api/users"), "exact"),
        (get("h", "/api/users/7"), "regex"),
        (get("h", "/api/users/"), "regex"),
        (get("h", "/api/usersx"), "-"),
    ]);
    let t = table(&[
        route("prefix", "[]", "[{path: {value: /api}}]"),
        route(
            "regex",
            "[]",
            "[{path: {type: RegularExpression, value: '/api/v[0-9]+/.*'}}]",
        ),
    ]);
    t.expect(&[
        (get("h", "/api/v2/items"), "regex"),
        (get("h", "/api/vx/items"), "prefix"),
    ]);
}

#[test]
fn the_longest_prefix_wins() {
    let t = table(&[
        route("root", "[]", "[{path: {value: /}}]"),
        route("api", "[]", "[{path: {value: /api}}]"),
        route("v1", "[]", "[{path: {value: /api/v1}}]"),
        route("deep", "[]", "[{path: {value: /api/v1/users/admin}}]"),
    ]);
    t.expect(&[
        (get("h", "/api/v1/users"), "v1"),
        (get("h", "/api/v1/users/admin/x"), "deep"),
        (get("h", "/api/v1"), "v1"),
        (get("h", "/api/v2"), "api"),
        (get("h", "/api"), "api"),
        (get("h", "/"), "root"),
        (get("h", "/other"), "root"),
    ]);
}

#[test]
fn a_prefix_matches_whole_segments() {
    let t = table(&[route("api", "[]", "[{path: {value: /api}}]")]);
    t.expect(&[
        (get("h", "/api"), "api"),
        (get("h", "/api/"), "api"),
        (get("h", "/api/x"), "api"),
        (get("h", "/api/x/y?z=1"), "api"),
        (get("h", "/apix"), "-"),
        (get("h", "/ap"), "-"),
        (get("h", "/"), "-"),
        (get("h", "/v1/api"), "-"),
    ]);
}

#[test]
fn a_trailing_slash_in_the_prefix_is_ignored() {
    let t = table(&[route("api", "[]", "[{path: {value: /api/}}]")]);
    t.expect(&[
        (get("h", "/api"), "api"),
        (get("h", "/api/"), "api"),
        (get("h", "/api/x"), "api"),
        (get("h", "/apix"), "-"),
    ]);
}

#[test]
fn an_exact_path_matches_only_itself() {
    let t = table(&[route(
        "exact",
        "[]",
        "[{path: {type: Exact, value: /cart}}]",
    )]);
    t.expect(&[
        (get("h", "/cart"), "exact"),
        (get("h", "/cart?x=1"), "exact"),
        (get("h", "/cart/"), "-"),
        (get("h", "/cart/x"), "-"),
        (get("h", "/Cart"), "-"),
    ]);
}

#[test]
fn a_regex_must_match_the_whole_path() {
    let t = table(&[route(
        "regex",
        "[]",
        "[{path: {type: RegularExpression, value: '/v[0-9]+'}}]",
    )]);
    t.expect(&[
        (get("h", "/v1"), "regex"),
        (get("h", "/v123"), "regex"),
        (get("h", "/v1/x"), "-"),
        (get("h", "/x/v1"), "-"),
        (get("h", "/v"), "-"),
    ]);
    // An alternation is anchored as a whole, not only its ends.
    let t = table(&[route(
        "alt",
        "[]",
        "[{path: {type: RegularExpression, value: '/a|/b'}}]",
    )]);
    t.expect(&[
        (get("h", "/a"), "alt"),
        (get("h", "/b"), "alt"),
        (get("h", "/ab"), "-"),
        (get("h", "/a/x"), "-"),
    ]);
}

// ---- method, headers, query ----

#[test]
fn methods_select_rules_and_name_the_match_that_selected() {
    let t = table(&[multi(
        "app",
        "[]",
        &[
            "[{path: {value: /items}, method: GET}, {path: {value: /items}, method: HEAD}]",
            "[{path: {value: /items}, method: POST}]",
            "[{path: {value: /}}]",
        ],
    )]);
    t.expect(&[
        (get("h", "/items"), "app"),
        (
            Req {
                method: "HEAD",
                ..get("h", "/items")
            },
            "app",
        ),
        (
            Req {
                method: "POST",
                ..get("h", "/items/1")
            },
            "app/1",
        ),
        (
            Req {
                method: "DELETE",
                ..get("h", "/items")
            },
            "app/2",
        ),
    ]);
    assert_eq!(
        t.hit(&Req {
            method: "HEAD",
            ..get("h", "/items")
        })
        .unwrap()
        .matched,
        1
    );
    assert_eq!(
        t.hit(&get("h", "/items")).unwrap(),
        RuleRef {
            route: 0,
            rule: 0,
            matched: 0
        }
    );
}

#[test]
fn header_names_are_case_insensitive_and_values_exact() {
    let t = table(&[
        route(
            "canary",
            "[]",
            "[{headers: [{name: X-Env, value: canary}]}]",
        ),
        route(
            "user",
            "[]",
            "[{headers: [{type: RegularExpression, name: x-user, value: 'u[0-9]+'}]}]",
        ),
    ]);
    let with = |headers| req("GET", "/", headers);
    t.expect(&[
        (with(&[("x-env", "canary")]), "canary"),
        (with(&[("X-ENV", "canary")]), "canary"),
        (with(&[("x-env", "Canary")]), "-"),
        (with(&[("x-env", "canary-2")]), "-"),
        (with(&[("x-env-2", "canary")]), "-"),
        (with(&[("x-user", "u42")]), "user"),
        (with(&[("x-user", "u42x")]), "-"),
        (with(&[]), "-"),
    ]);
}

/// Repeated header lines are one value joined with `,` (RFC 9110 §5.3), as
/// Envoy matches them: the order of a client's lines cannot pick the route.
#[test]
fn repeated_header_lines_are_matched_as_one_joined_value() {
    let t = table(&[
        route(
            "canary",
            "[]",
            "[{headers: [{name: X-Env, value: canary}]}]",
        ),
        route("two", "[]", "[{headers: [{name: X-Env, value: 'a,b'}]}]"),
        route(
            "cookie",
            "[]",
            "[{headers: [{type: RegularExpression, name: cookie, value: '.*; id=7(;.*)?'}]}]",
        ),
    ]);
    let with = |headers| req("GET", "/", headers);
    t.expect(&[
        (with(&[("x-env", "canary")]), "canary"),
        (with(&[("x-env", "canary"), ("x-env", "other")]), "-"),
        (with(&[("x-env", "other"), ("x-env", "canary")]), "-"),
        (with(&[("x-env", "a"), ("x-env", "b")]), "two"),
        (with(&[("x-env", "a,b")]), "two"),
        // HTTP/2 clients may send each cookie on a line of its own.
        (with(&[("cookie", "a=1"), ("cookie", "id=7")]), "cookie"),
    ]);
}

/// A pushed config is not compiled from Routes: the table itself keeps
/// only the first of two entries with one name.
#[test]
fn a_pushed_match_naming_a_header_twice_is_decided_by_the_first() {
    let mut t = table(&[route(
        "canary",
        "[]",
        "[{headers: [{name: X-Env, value: canary}]}]",
    )]);
    let matched = &mut t.config.routes[0].rules[0].matches[0];
    let mut second = matched.headers[0].clone();
    second.name = "x-env".into();
    second.value = "other".into();
    matched.headers.push(second);
    let mut query = matched.headers[0].clone();
    query.name = "q".into();
    query.value = "1".into();
    matched.query_params = vec![
        query.clone(),
        ValueMatch {
            value: "2".into(),
            ..query
        },
    ];
    t.table = RouteTable::build(&t.config).unwrap();
    t.expect(&[
        (req("GET", "/?q=1", &[("x-env", "canary")]), "canary"),
        (req("GET", "/?q=2", &[("x-env", "canary")]), "-"),
        (req("GET", "/?q=1", &[("x-env", "other")]), "-"),
    ]);
}

#[test]
fn query_params_are_matched_percent_decoded() {
    let t = table(&[
        route(
            "decoded",
            "[]",
            "[{queryParams: [{name: env, value: canary blue}]}]",
        ),
        route(
            "plain",
            "[]",
            "[{path: {value: /p}, queryParams: [{name: v, value: '2'}]}]",
        ),
        route(
            "regex",
            "[]",
            "[{path: {value: /r}, queryParams: [{type: RegularExpression, name: page, value: '[0-9]+'}]}]",
        ),
    ]);
    t.expect(&[
        (get("h", "/?env=canary%20blue"), "decoded"),
        (get("h", "/?env=canary+blue"), "decoded"),
        (get("h", "/?%65nv=canary%20blue"), "decoded"),
        (get("h", "/?a=1&env=canary%20blue&b"), "decoded"),
        (get("h", "/?env=canary"), "-"),
        (get("h", "/?ENV=canary%20blue"), "-"),
        (get("h", "/p?v=2"), "plain"),
        (get("h", "/p?v=%32"), "plain"),
        (get("h", "/p?v=22"), "-"),
        (get("h", "/p"), "-"),
        (get("h", "/r?page=12"), "regex"),
        (get("h", "/r?page=1x"), "-"),
    ]);
}

#[test]
fn ties_go_to_method_then_headers_then_query_params_then_age() {
    let h1 = "{name: x-a, value: '1'}";
    let h2 = "{name: x-b, value: '2'}";
    let q1 = "{name: q, value: '1'}";
    let q2 = "{name: r, value: '2'}";
    let t = table(&[
        // Written least specific first, and the newest Routes first.
        dated(
            "older",
            "2020-01-01T00:00:00Z",
            "[]",
            &format!("[{{headers: [{h1}]}}]"),
        ),
        dated(
            "newer",
            "2024-01-01T00:00:00Z",
            "[]",
            &format!("[{{headers: [{h1}]}}]"),
        ),
        dated(
            "one-query",
            "2024-01-01T00:00:00Z",
            "[]",
            &format!("[{{headers: [{h1}], queryParams: [{q1}]}}]"),
        ),
        dated(
            "two-queries",
            "2024-01-01T00:00:00Z",
            "[]",
            &format!("[{{headers: [{h1}], queryParams: [{q1}, {q2}]}}]"),
        ),
        dated(
            "two-headers",
            "2024-01-01T00:00:00Z",
            "[]",
            &format!("[{{headers: [{h1}, {h2}]}}]"),
        ),
        dated("method", "2024-01-01T00:00:00Z", "[]", "[{method: GET}]"),
        dated(
            "longer-prefix",
            "2024-01-01T00:00:00Z",
            "[]",
            "[{path: {value: /long}}]",
        ),
    ]);
    let all = [("x-a", "1"), ("x-b", "2")];
    t.expect(&[
        (req("GET", "/?q=1&r=2", &all), "method"),
        (req("POST", "/?q=1&r=2", &all), "two-headers"),
        (req("POST", "/?q=1&r=2", &all[..1]), "two-queries"),
        (req("POST", "/?q=1", &all[..1]), "one-query"),
        (req("POST", "/", &all[..1]), "older"),
        (req("POST", "/", &[]), "-"),
        // A longer prefix comes before every tie-break.
        (req("GET", "/long?q=1&r=2", &all), "longer-prefix"),
    ]);
}

#[test]
fn equal_matches_go_to_the_older_route_then_the_first_name() {
    let m = "[{path: {type: Exact, value: /x}}]";
    for docs in [
        [
            dated("young", "2024-01-01T00:00:00Z", "[]", m),
            dated("old", "2020-01-01T00:00:00Z", "[]", m),
        ],
        [
            dated("old", "2020-01-01T00:00:00Z", "[]", m),
            dated("young", "2024-01-01T00:00:00Z", "[]", m),
        ],
    ] {
        table(&docs).expect(&[(get("h", "/x"), "old")]);
    }
    table(&[route("b", "[]", m), route("a", "[]", m)]).expect(&[(get("h", "/x"), "a")]);
}

// ---- building ----

#[test]
fn a_pushed_config_with_bad_patterns_is_refused_with_every_error() {
    // Configs pushed to the admin API skip `compile`: the table checks again.
    let config: ProxyConfig = serde_json::from_value(serde_json::json!({
        "revision": "x",
        "routes": [{
            "id": "default/bad",
            "rules": [{
                "matches": [
                    {"path": {"type": "RegularExpression", "value": "("}},
                    {"path": {"type": "PathPrefix", "value": "/"}, "headers": [{"name": "x-a", "type": "RegularExpression", "value": "["}]},
                    {"path": {"type": "PathPrefix", "value": "/"}, "method": "BAD METHOD"}
                ]
            }]
        }]
    }))
    .unwrap();
    let errors = RouteTable::build(&config).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with("route default/bad rule 0 match 0: path regex `(`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("route default/bad rule 0 match 1: regex `[`"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("match 2: `BAD METHOD` is not a method"),
        "{}",
        errors[2]
    );
}

#[test]
fn an_empty_config_serves_nothing() {
    let table = RouteTable::build(&ProxyConfig::new(Vec::new())).unwrap();
    let headers = HeaderMap::new();
    let req = RequestView {
        host: "h",
        path: "/",
        query: None,
        method: &Method::GET,
        headers: &headers,
    };
    assert_eq!(table.find(&req), None);
}

// ---- weights ----

fn weighted(weights: &[u32]) -> RuleConfig {
    let backends: Vec<String> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "{{name: b{i}, url: 'http://127.0.0.1:{}', weight: {w}}}",
                8000 + i
            )
        })
        .collect();
    let text = format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: w}}\nspec:\n  rules:\n  - backends: [{}]\n",
        backends.join(", ")
    );
    let mut manifests = Manifests::default();
    manifests.read("w.yaml", &text);
    let routes: Vec<Route> = manifests.routes().map(|r| r.value.clone()).collect();
    let compiled = compile(Resources::routes(&routes));
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.config.routes[0].rules[0].clone()
}

fn tally(rule: &RuleConfig, rolls: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut counts = vec![0; rule.backends.len()];
    for roll in rolls {
        counts[pick_backend(rule, roll).expect("a backend")] += 1;
    }
    counts
}

#[test]
fn a_90_10_split_is_exact_over_every_hundred_rolls() {
    let rule = weighted(&[90, 10]);
    assert_eq!(tally(&rule, 0..100), [90, 10]);
    assert_eq!(tally(&rule, 0..10_000), [9_000, 1_000]);
    assert_eq!(
        tally(&rule, (0..100).map(|i| u64::MAX - i)),
        [90, 10],
        "any u64 is a roll"
    );
    // Weights are relative: 9/1 is the same split.
    assert_eq!(tally(&weighted(&[9, 1]), 0..100), [90, 10]);
    // Large weights still split exactly.
    assert_eq!(
        tally(&weighted(&[1_000_000, 1]), 0..1_000_001),
        [1_000_000, 1]
    );
}

#[test]
fn weight_zero_is_never_picked() {
    let rule = weighted(&[0, 3, 0, 1, 0]);
    assert_eq!(tally(&rule, 0..4_000), [0, 3_000, 0, 1_000, 0]);
    let rule = weighted(&[5, 0]);
    assert_eq!(tally(&rule, 0..1_000), [1_000, 0]);
}

#[test]
fn all_zero_or_no_backends_pick_none() {
    let rule = weighted(&[0, 0]);
    assert!((0..100).all(|roll| pick_backend(&rule, roll).is_none()));
    assert_eq!(pick_backend(&RuleConfig::default(), 7), None);
}
