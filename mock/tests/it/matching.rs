//! Each condition a rule can set, alone.

use crate::support::{Req, provision, who};

/// A provision with one rule of `request` and nothing else matching.
fn rule(request: &str) -> gatehouse_mock::Provision {
    provision(&format!(
        "rules:\n  - request: {request}\n    response: {{status: 200}}\n"
    ))
}

fn hits(p: &gatehouse_mock::Provision, req: Req) -> bool {
    who(p, &req) == "rules[0]"
}

#[test]
fn a_rule_without_request_matches_everything() {
    let p = provision("rules:\n  - response: {status: 200}\n");
    assert!(hits(&p, Req::new("DELETE", "/anything?x=1")));
}

#[test]
fn method_one_or_a_list() {
    let p = rule("{method: post}");
    assert!(hits(&p, Req::new("POST", "/")));
    assert!(!hits(&p, Req::get("/")));
    let p = rule("{method: [GET, PUT]}");
    assert!(hits(&p, Req::get("/")));
    assert!(hits(&p, Req::new("PUT", "/")));
    assert!(!hits(&p, Req::new("POST", "/")));
}

#[test]
fn exact_path_ignores_the_query() {
    let p = rule("{path: /app/v1/foo/bar}");
    assert!(hits(&p, Req::get("/app/v1/foo/bar")));
    assert!(hits(&p, Req::get("/app/v1/foo/bar?x=1")));
    assert!(!hits(&p, Req::get("/app/v1/foo/bar/")));
    assert!(!hits(&p, Req::get("/app/v1/foo")));
    let p = rule("{path: {exact: /a}}");
    assert!(hits(&p, Req::get("/a")));
}

#[test]
fn prefix_path_is_by_segment() {
    let p = rule("{path: {prefix: /app}}");
    for yes in ["/app", "/app/", "/app/x/y", "/app?q"] {
        assert!(hits(&p, Req::get(yes)), "{yes}");
    }
    for no in ["/apple", "/ap", "/"] {
        assert!(!hits(&p, Req::get(no)), "{no}");
    }
    let p = rule("{path: {prefix: /app/}}");
    assert!(hits(&p, Req::get("/app")));
    assert!(!hits(&p, Req::get("/apple")));
    let p = rule("{path: {prefix: /}}");
    assert!(hits(&p, Req::get("/")));
    assert!(hits(&p, Req::get("/anything")));
}

#[test]
fn template_path_gives_parameters() {
    let p = rule("{path: {template: '/users/{id}/orders/{order_id}'}}");
    let req = Req::get("/users/42/orders/a%20b?x=1");
    let answer = p.answer(&req.lend());
    assert_eq!(answer.matched.to_string(), "rules[0]");
    assert_eq!(answer.params.get("id"), Some("42"));
    assert_eq!(answer.params.get("order_id"), Some("a%20b"));
    assert_eq!(
        answer.params.iter().collect::<Vec<_>>(),
        [("id", "42"), ("order_id", "a%20b")]
    );
    for no in [
        "/users/42/orders",
        "/users/42/orders/7/x",
        "/users//orders/7",
        "/users/42/order/7",
    ] {
        assert!(!hits(&p, Req::get(no)), "{no}");
    }
}

#[test]
fn a_rule_that_fails_after_its_path_leaves_no_parameters() {
    let p = provision(
        "rules:
  - request: {path: {template: '/users/{id}'}, method: POST}
    response: {status: 201}
  - request: {path: {template: '/users/{user}'}}
    response: {status: 200}
",
    );
    let req = Req::get("/users/7");
    let answer = p.answer(&req.lend());
    assert_eq!(answer.matched.to_string(), "rules[1]");
    assert_eq!(answer.params.iter().collect::<Vec<_>>(), [("user", "7")]);
}

#[test]
fn regex_path_and_its_named_groups() {
    let p = rule(r"{path: {regex: '^/x/\d+$'}}");
    assert!(hits(&p, Req::get("/x/123")));
    assert!(!hits(&p, Req::get("/x/12a")));
    let p = rule(r"{path: {regex: '^/files/(?P<name>[^/]+)\.(?P<ext>\w+)$'}}");
    let req = Req::get("/files/report.pdf");
    let answer = p.answer(&req.lend());
    assert_eq!(answer.params.get("name"), Some("report"));
    assert_eq!(answer.params.get("ext"), Some("pdf"));
}

#[test]
fn header_conditions() {
    let p = rule("{headers: {X-Api-Key: {equals: abc}}}");
    assert!(hits(&p, Req::get("/").header("x-api-key", "abc")));
    assert!(hits(
        &p,
        Req::get("/")
            .header("x-api-key", "zzz")
            .header("x-api-key", "abc")
    ));
    assert!(!hits(&p, Req::get("/").header("x-api-key", "abcd")));
    assert!(!hits(&p, Req::get("/")));
    let p = rule("{headers: {x-api-key: abc}}");
    assert!(hits(&p, Req::get("/").header("x-api-key", "abc")));

    let p = rule("{headers: {accept: {contains: json}}}");
    assert!(hits(
        &p,
        Req::get("/").header("accept", "text/html, application/json")
    ));
    assert!(!hits(&p, Req::get("/").header("accept", "text/html")));

    let p = rule("{headers: {authorization: {regex: '^Bearer [a-z]+$'}}}");
    assert!(hits(
        &p,
        Req::get("/").header("authorization", "Bearer abc")
    ));
    assert!(!hits(
        &p,
        Req::get("/").header("authorization", "Basic abc")
    ));

    let p = rule("{headers: {x-debug: {present: true}}}");
    assert!(hits(&p, Req::get("/").header("x-debug", "")));
    assert!(!hits(&p, Req::get("/")));
    let p = rule("{headers: {x-debug: {present: false}}}");
    assert!(hits(&p, Req::get("/")));
    assert!(!hits(&p, Req::get("/").header("x-debug", "1")));
}

#[test]
fn query_conditions() {
    let p = rule("{query: {page: {equals: 1}, q: {equals: 'a b'}}}");
    assert!(hits(&p, Req::get("/?page=1&q=a+b")));
    assert!(hits(&p, Req::get("/?q=a%20b&page=1")));
    assert!(!hits(&p, Req::get("/?page=2&q=a+b")));
    assert!(!hits(&p, Req::get("/?page=1")));
    let p = rule("{query: {debug: {present: true}}}");
    assert!(hits(&p, Req::get("/?debug")));
    assert!(!hits(&p, Req::get("/?nodebug=1")));
    let p = rule("{query: {debug: {present: false}}}");
    assert!(hits(&p, Req::get("/")));
    let p = rule("{query: {id: {regex: '^\\d+$'}}}");
    assert!(hits(&p, Req::get("/?id=77")));
    assert!(!hits(&p, Req::get("/?id=7x")));
}

#[test]
fn cookie_conditions() {
    let p = rule("{cookies: {session: {present: true}, theme: {equals: dark}}}");
    assert!(hits(
        &p,
        Req::get("/").header("cookie", "session=abc; theme=dark")
    ));
    assert!(hits(
        &p,
        Req::get("/")
            .header("cookie", "theme=dark")
            .header("cookie", "session=1")
    ));
    assert!(!hits(&p, Req::get("/").header("cookie", "theme=dark")));
    assert!(!hits(
        &p,
        Req::get("/").header("cookie", "session=abc; theme=light")
    ));
    let p = rule("{cookies: {session: {contains: adm}}}");
    assert!(hits(
        &p,
        Req::get("/").header("cookie", "session=\"xadmx\"")
    ));
}

#[test]
fn body_json_equality() {
    let p = rule("{body: {json: {a: 1, b: [true, null, x]}}}");
    assert!(hits(
        &p,
        Req::new("POST", "/").body(r#"{"b": [true, null, "x"], "a": 1.0}"#)
    ));
    assert!(!hits(&p, Req::new("POST", "/").body(r#"{"a": 1}"#)));
    assert!(!hits(&p, Req::new("POST", "/").body("not json")));
    assert!(!hits(&p, Req::new("POST", "/")));
}

#[test]
fn body_contains_and_regex_work_on_bytes() {
    let p = rule("{body: {contains: needle}}");
    assert!(hits(
        &p,
        Req::new("POST", "/").body(b"hay\xffneedle\x00".to_vec())
    ));
    assert!(!hits(&p, Req::new("POST", "/").body("hay")));
    let p = rule("{body: {contains: 'a.b'}}");
    assert!(
        !hits(&p, Req::new("POST", "/").body("axb")),
        "contains is literal"
    );
    let p = rule("{body: {regex: '^id=\\d+$'}}");
    assert!(hits(&p, Req::new("POST", "/").body("id=12")));
    assert!(!hits(&p, Req::new("POST", "/").body("id=1x")));
}

#[test]
fn body_json_path_conditions() {
    let body = r#"{"user": {"id": 7, "name": "Ada Lovelace", "roles": ["admin", "dev"]}}"#;
    let post = || Req::new("POST", "/").body(body);
    for (cond, want) in [
        ("{path: $.user.id, equals: 7}", true),
        ("{path: $.user.id, equals: 8}", false),
        ("{path: $.user.id, equals: '7'}", false),
        ("{path: '$.user.roles[1]', equals: dev}", true),
        ("{path: '$.user.roles', equals: [admin, dev]}", true),
        ("{path: $.user.name, contains: Love}", true),
        ("{path: $.user.name, regex: '^Ada '}", true),
        ("{path: $.user.id, regex: '^7$'}", true),
        ("{path: $.user.email, present: false}", true),
        ("{path: $.user.email, present: true}", false),
        ("{path: $.user.name}", true),
        ("{path: $.user.email}", false),
        ("{path: $.user.email, contains: x}", false),
    ] {
        let p = rule(&format!("{{body: {{jsonPath: {cond}}}}}"));
        assert_eq!(hits(&p, post()), want, "{cond}");
    }
}

#[test]
fn several_body_conditions_must_all_hold() {
    let p = rule("{body: [{contains: alpha}, {jsonPath: {path: $.n, equals: 2}}]}");
    assert!(hits(
        &p,
        Req::new("POST", "/").body(r#"{"n": 2, "s": "alpha"}"#)
    ));
    assert!(!hits(
        &p,
        Req::new("POST", "/").body(r#"{"n": 3, "s": "alpha"}"#)
    ));
    assert!(!hits(
        &p,
        Req::new("POST", "/").body(r#"{"n": 2, "s": "beta"}"#)
    ));
}

#[test]
fn all_conditions_together() {
    let p = rule(
        "{method: PUT, path: {template: '/items/{id}'}, headers: {x-k: k}, query: {v: '2'}, cookies: {c: {present: true}}, body: {jsonPath: {path: $.ok, equals: true}}}",
    );
    let full = || {
        Req::new("PUT", "/items/9?v=2")
            .header("x-k", "k")
            .header("cookie", "c=1")
            .body(r#"{"ok": true}"#)
    };
    assert!(hits(&p, full()));
    assert!(!hits(
        &p,
        Req {
            method: http::Method::POST,
            ..full()
        }
    ));
    assert!(!hits(
        &p,
        Req {
            target: "/items/9?v=3".into(),
            ..full()
        }
    ));
    assert!(!hits(
        &p,
        Req {
            headers: http::HeaderMap::new(),
            ..full()
        }
    ));
    assert!(!hits(&p, full().body(r#"{"ok": false}"#)));
}

#[test]
fn responses_are_encoded_once_with_a_content_type() {
    let p = provision(
        "rules:
  - request: {path: /text}
    response: {body: hello}
  - request: {path: /json}
    response: {status: 201, body: {json: {a: [1, 2]}}}
  - request: {path: /bin}
    response: {body: {base64: 'AAEC/w=='}}
  - request: {path: /typed}
    response: {headers: {Content-Type: application/problem+json, x-n: 3}, body: {json: {}}}
  - request: {path: /empty}
    response: {status: 204}
",
    );
    let check = |path: &str, status: u16, ctype: Option<&str>, body: &[u8]| {
        let req = Req::get(path);
        let a = p.answer(&req.lend());
        assert_eq!(a.status.as_u16(), status, "{path}");
        assert_eq!(
            a.headers.get("content-type").map(|v| v.to_str().unwrap()),
            ctype,
            "{path}"
        );
        assert_eq!(a.body.as_ref(), body, "{path}");
        a.headers.clone()
    };
    check("/text", 200, Some("text/plain; charset=utf-8"), b"hello");
    check("/json", 201, Some("application/json"), br#"{"a":[1,2]}"#);
    check(
        "/bin",
        200,
        Some("application/octet-stream"),
        &[0, 1, 2, 255],
    );
    let typed = check("/typed", 200, Some("application/problem+json"), b"{}");
    assert_eq!(typed.get("x-n").unwrap(), "3");
    assert_eq!(typed.len(), 2);
    check("/empty", 204, None, b"");
}
