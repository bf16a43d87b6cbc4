//! Response templates: what a template sees, what it can call, how a bad
//! one is refused at check time and how a failing one answers (a 500 that
//! names the rule).

use std::borrow::Cow;

use crate::support::{Req, assert_problems, provision, refused};

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).unwrap()
}

#[test]
fn the_request_is_in_the_context() {
    let p = provision(
        r#"
rules:
  - name: echo
    request: {path: {template: '/users/{id}/{tab}'}}
    response:
      template: true
      body: |
        {{ request.method }} {{ request.path }} id={{ request.params.id }} tab={{ request.params.tab }}
        page={{ request.query.page }} q={{ request.query.q }}
        agent={{ request.headers["user-agent"] }} session={{ request.cookies.session }}
        body={{ request.body }} name={{ request.json.user.name }} first={{ request.json.tags[0] }}
"#,
    );
    let req = Req::new("PUT", "/users/7/orders?page=2&q=a%20b&page=3")
        .header("User-Agent", "curl/8")
        .header("cookie", "a=1; session=xyz")
        .body(r#"{"user": {"name": "Ada"}, "tags": ["x", "y"]}"#);
    let answer = p.answer(&req.lend());
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(
        text(&answer.body),
        "PUT /users/7/orders id=7 tab=orders\npage=2 q=a b\nagent=curl/8 session=xyz\nbody={\"user\": {\"name\": \"Ada\"}, \"tags\": [\"x\", \"y\"]} name=Ada first=x\n"
    );
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
}

#[test]
fn regex_groups_are_params() {
    let p = provision(
        r#"
rules:
  - request: {path: {regex: '^/orders/(?P<order>\d+)$'}}
    response: {template: true, body: 'order {{ request.params.order }}'}
"#,
    );
    let answer = p.answer(&Req::get("/orders/42").lend());
    assert_eq!(text(&answer.body), "order 42");
}

#[test]
fn missing_values_render_empty() {
    let p = provision(
        r#"
default:
  template: true
  body: '[{{ request.query.nope }}|{{ request.json.a.b }}|{{ request.params.id }}|{{ request.headers.nope }}]{% if request.json is defined %}json{% endif %}'
"#,
    );
    let answer = p.answer(&Req::get("/").body("not json").lend());
    assert_eq!(text(&answer.body), "[|||]");
    let answer = p.answer(&Req::get("/").body("{}").lend());
    assert_eq!(text(&answer.body), "[|||]json");
}

#[test]
fn header_values_are_templates_and_the_rest_stays_fixed() {
    let p = provision(
        r#"
rules:
  - request: {path: {template: '/items/{id}'}}
    response:
      status: 201
      template: true
      headers:
        location: '/items/{{ request.params.id }}'
        x-fixed: '1.0'
      body: {json: {id: '{{ request.params.id }}', quote: '{{ request.query.q }}', n: 1, list: ['{{ request.method }}', plain]}}
  - request: {path: /fixed}
    response: {headers: {x-a: '{{ not.rendered }}'}, body: '{{ not.rendered }}'}
"#,
    );
    let req = Req::new("POST", "/items/9?q=say+%22hi%22");
    let answer = p.answer(&req.lend());
    assert_eq!(answer.status.as_u16(), 201);
    assert!(matches!(answer.headers, Cow::Owned(_)));
    assert_eq!(answer.headers["location"], "/items/9");
    assert_eq!(answer.headers["x-fixed"], "1.0");
    assert_eq!(answer.headers["content-type"], "application/json");
    // String leaves render to JSON strings: a quote in a value cannot
    // break the document.
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": "9", "quote": "say \"hi\"", "n": 1, "list": ["POST", "plain"]})
    );

    // Without `template: true`, braces are text, and the answer borrows.
    let answer = p.answer(&Req::get("/fixed").lend());
    assert!(matches!(answer.headers, Cow::Borrowed(_)));
    assert_eq!(answer.headers["x-a"], "{{ not.rendered }}");
    assert_eq!(text(&answer.body), "{{ not.rendered }}");
}

#[test]
fn a_fixed_response_shares_the_provision_buffer() {
    let p = provision(
        "rules:\n  - request: {path: /a}\n    response: {body: fixed}\n  - response: {template: true, body: '{{ request.path }}'}\n",
    );
    let one = p.answer(&Req::get("/a").lend());
    let two = p.answer(&Req::get("/a").lend());
    assert!(matches!(one.headers, Cow::Borrowed(_)));
    assert_eq!(one.body.as_ptr(), two.body.as_ptr());
    assert_eq!(text(&p.answer(&Req::get("/b").lend()).body), "/b");
}

#[test]
fn trailing_newlines_are_kept() {
    let p = provision("default:\n  template: true\n  body: |\n    a {{ 1 + 1 }}\n");
    assert_eq!(text(&p.answer(&Req::get("/").lend()).body), "a 2\n");
}

#[test]
fn functions_give_ids_times_and_random_values() {
    let p = provision(
        r#"
default:
  template: true
  body: '{{ uuid() }}|{{ request.id }}|{{ random_int(3, 5) }}|{{ random_string(12) }}|{{ random_hex(8) }}|{{ now }}|{{ now("%Y") }}|{{ now("unix") }}'
"#,
    );
    let body = p.answer(&Req::get("/").lend()).body;
    let parts: Vec<&str> = text(&body).split('|').collect();
    let uuid =
        regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    assert!(uuid.is_match(parts[0]), "{parts:?}");
    assert!(uuid.is_match(parts[1]), "{parts:?}");
    assert_ne!(parts[0], parts[1]);
    assert!(["3", "4", "5"].contains(&parts[2]), "{parts:?}");
    assert!(
        regex::Regex::new("^[A-Za-z0-9]{12}$")
            .unwrap()
            .is_match(parts[3])
    );
    assert!(
        regex::Regex::new("^[0-9a-f]{8}$")
            .unwrap()
            .is_match(parts[4])
    );
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            .unwrap()
            .is_match(parts[5]),
        "{parts:?}"
    );
    assert_eq!(parts[6], &parts[5][..4]);
    assert!(parts[7].parse::<u64>().unwrap() > 1_700_000_000);

    let again = p.answer(&Req::get("/").lend()).body;
    assert_ne!(body, again, "random values change between requests");
}

#[test]
fn one_request_id_is_shared_by_headers_and_body() {
    let p = provision(
        "default:\n  template: true\n  headers: {location: '/x/{{ request.id }}'}\n  body: {json: {id: '{{ request.id }}'}}\n",
    );
    let answer = p.answer(&Req::get("/").lend());
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        answer.headers["location"].to_str().unwrap(),
        format!("/x/{}", body["id"].as_str().unwrap())
    );
}

#[test]
fn counters_count_per_provision_from_one() {
    let yaml = "rules:\n  - request: {path: /a}\n    response: {template: true, body: 'a{{ counter(\"a\") }}'}\n  - response: {template: true, headers: {x-n: '{{ counter(\"b\") }}'}}\n";
    let p = provision(yaml);
    let get = |path: &str| p.answer(&Req::get(path).lend());
    assert_eq!(text(&get("/a").body), "a1");
    assert_eq!(text(&get("/a").body), "a2");
    assert_eq!(get("/b").headers["x-n"], "1");
    assert_eq!(text(&get("/a").body), "a3");

    // Many threads at once: every number is given once.
    let p = std::sync::Arc::new(provision(yaml));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|_| text(&p.answer(&Req::get("/a").lend()).body).to_owned())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200);

    // A provision built again starts again.
    let rebuilt = provision(yaml);
    assert_eq!(text(&rebuilt.answer(&Req::get("/a").lend()).body), "a1");
}

#[test]
fn a_render_error_answers_500_naming_the_rule() {
    let p = provision(
        r#"
rules:
  - name: bad-range
    request: {path: /range}
    response: {template: true, body: '{{ random_int(5, 1) }}'}
  - request: {path: /header}
    response: {template: true, headers: {x-a: "{{ '\n' }}"}}
  - request: {path: /unknown}
    response: {template: true, body: {json: {a: '{{ nothing_like_this() }}'}}}
default:
  template: true
  body: '{{ now("%Q") }}'
"#,
    );
    for (path, want) in [
        (
            "/range",
            "gatehouse mock: rule `bad-range` could not make its response: rules[0].response.body: invalid operation: random_int(5, 1): the minimum is above the maximum (line 1 of the template)\n",
        ),
        (
            "/header",
            "gatehouse mock: rule `rules[1]` could not make its response: rules[1].response.headers.x-a: the value rendered is not a valid header value",
        ),
        (
            "/unknown",
            "gatehouse mock: rule `rules[2]` could not make its response: rules[2].response.body.json.a: unknown function",
        ),
        (
            "/other",
            "gatehouse mock: rule `default` could not make its response: default.body: invalid operation: now(\"%Q\"): unknown format",
        ),
    ] {
        let answer = p.answer(&Req::get(path).lend());
        assert_eq!(answer.status.as_u16(), 500, "{path}");
        assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
        assert!(
            text(&answer.body).starts_with(want),
            "{path}: {}",
            text(&answer.body)
        );
    }
}

#[test]
fn runaway_templates_run_out_of_fuel() {
    let p = provision(
        "default:\n  template: true\n  body: '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}'\n",
    );
    let started = std::time::Instant::now();
    let answer = p.answer(&Req::get("/").lend());
    assert_eq!(answer.status.as_u16(), 500);
    assert!(
        text(&answer.body).contains("fuel"),
        "{}",
        text(&answer.body)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let p = provision("default:\n  template: true\n  body: '{{ \"x\" * 100000000 }}'\n");
    assert_eq!(p.answer(&Req::get("/").lend()).status.as_u16(), 500);
    let p = provision("default:\n  template: true\n  body: '{{ random_string(100000) }}'\n");
    assert_eq!(p.answer(&Req::get("/").lend()).status.as_u16(), 500);
}

#[test]
fn no_template_can_reach_a_file() {
    for source in [
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as x %}",
        "{% extends '/etc/passwd' %}",
    ] {
        let yaml = format!("default:\n  template: true\n  body: \"{source}\"\n");
        match gatehouse_mock::Provision::parse("test.yaml", &yaml) {
            // Refused at check time (the statement does not exist here)…
            Err(errors) => assert!(
                errors[0].message.contains("not a valid template"),
                "{errors:?}"
            ),
            // …or failing at request time: never the file.
            Ok(p) => {
                let answer = p.answer(&Req::get("/").lend());
                assert_eq!(answer.status.as_u16(), 500, "{source}");
                assert!(!text(&answer.body).contains("root:"), "{source}");
            }
        }
    }
}

#[test]
fn syntax_errors_are_check_errors_with_their_lines() {
    let out = refused(
        r#"rules:
  - request: {path: /a}
    response:
      template: true
      headers:
        location: '/a/{{ request.params.id'
      body: |
        line one
        {% if request.query.x %}
        never closed
  - response:
      template: true
      body: {json: {a: {b: ['{{ }}']}}}
default:
  template: maybe
"#,
    );
    let want = [
        "test.yaml:6: rules[0].response.headers.location: not a valid template: syntax error: unexpected end of input, expected end of variable block (line 1 of the template) — templates use Jinja syntax",
        "test.yaml:7: rules[0].response.body: not a valid template: syntax error: unexpected end of input, expected end of block (line 2 of the template)",
        "test.yaml:13: rules[1].response.body.json.a.b[0]: not a valid template: syntax error: unexpected end of variable block",
        "test.yaml:15: default.template: expected true or false, found a string",
    ];
    assert_problems(&out, &want);
}
