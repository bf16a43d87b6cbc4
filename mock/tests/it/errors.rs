//! Refusals: every problem found, each with its line and field path.

use crate::support::{assert_problems, errors, refused};

#[test]
fn a_syntax_error_has_its_line() {
    let out = refused("rules:\n  - request:\n      path: /a\n     response: {}\n");
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("test.yaml:4: not valid YAML: "),
        "{}",
        out[0]
    );
    assert!(
        out[0].ends_with(" — check the indentation and quoting near this line"),
        "{}",
        out[0]
    );
}

#[test]
fn an_empty_provision_is_refused() {
    for text in ["", "# only a comment\n", "{}"] {
        let out = refused(text);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].contains("the provision is empty")
                || out[0].contains("no `rules`, `collections` or `default`"),
            "{out:?}"
        );
    }
}

#[test]
fn an_empty_rules_list_is_refused() {
    assert_eq!(
        refused("rules: []\n"),
        [
            "test.yaml:1: rules: an empty list matches nothing — add a rule, or remove `rules` and keep only `default`"
        ]
    );
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let yaml = "\
rules:
  - name: a
    request:
      path: {regex: '(unclosed'}
    response:
      status: 999
  - request:
      path: {template: '/users/{id'}
      headers: {'bad header': {equals: x}}
    response:
      headers: {x-ok: fine, 'bad header': x}
  - name: a
    request:
      method: [GET, 'NOT A METHOD']
      query: {page: {equals: 1, contains: 2}}
      cookies: {s: {present: maybe}}
      body: {jsonPath: {path: 'user.id', equals: 7}}
    response: {body: {base64: '!!!'}}
  - request: {path: relative}
    respnse: {}
default:
  status: 204
  body: not allowed
";
    let out = refused(yaml);
    let expect = [
        "test.yaml:4: rules[0].request.path.regex: not a valid regex:",
        "test.yaml:6: rules[0].response.status: expected a status from 200 to 599, found 999 — a mock answers with a final status, such as 200 or 404",
        "test.yaml:8: rules[1].request.path.template: unbalanced or partial `{`/`}` in the segment `{id`",
        "test.yaml:9: rules[1].request.headers.bad header: `bad header` is not a valid header name",
        "test.yaml:11: rules[1].response.headers.bad header: `bad header` is not a valid header name",
        "test.yaml:14: rules[2].request.method[1]: `NOT A METHOD` is not an HTTP method",
        "test.yaml:15: rules[2].request.query.page: give exactly one of equals, contains, regex, present, found 2",
        "test.yaml:16: rules[2].request.cookies.s.present: expected true or false, found a string",
        "test.yaml:17: rules[2].request.body.jsonPath.path: `user.id` is not a supported JSON path: a JSON path starts with `$`",
        "test.yaml:18: rules[2].response.body.base64: not valid base64",
        "test.yaml:19: rules[3].request.path: `relative` does not start with `/` — write `/relative`",
        "test.yaml:20: rules[3].respnse: unknown field `respnse` — expected one of: name, priority, scenario, whenState, newState, request, response",
        "test.yaml:19: rules[3].response: a rule needs a `response`",
        "test.yaml:12: rules[2].name: `a` is also the name of rules[0]",
        "test.yaml:23: default.body: a 204 No Content response has no body",
    ];
    assert_problems(&out, &expect);
}

#[test]
fn errors_carry_their_parts() {
    let errs = errors("rules:\n  - response: {status: 42}\n");
    assert_eq!(errs.len(), 1);
    let e = &errs[0];
    assert_eq!(e.source, "test.yaml");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.field, "rules[0].response.status");
    assert_eq!(e.message, "expected a status from 200 to 599, found 42");
    assert!(e.fix.is_some());
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let out = refused(
        "rules:\n  - request: {pathh: /a}\n    response: {status: 200, bdy: x}\ndefualt: {}\n",
    );
    assert_eq!(
        out,
        [
            "test.yaml:4: defualt: unknown field `defualt` — expected one of: rules, collections, default",
            "test.yaml:2: rules[0].request.pathh: unknown field `pathh` — expected one of: method, path, headers, query, cookies, body",
            "test.yaml:3: rules[0].response.bdy: unknown field `bdy` — expected one of: status, headers, body, template, delay, fault, script",
        ]
    );
}

#[test]
fn types_are_checked() {
    let out = refused(
        "rules:\n  - priority: -1\n    request: {method: [], headers: [x], body: {json: !tag 1}}\n    response: {status: '200', headers: {x: [1]}}\n  - response: {body: [1]}\n",
    );
    let want = [
        "test.yaml:2: rules[0].priority: expected a whole number from 0 to 4294967295, found -1",
        "test.yaml:3: rules[0].request.method: an empty list matches no method",
        "test.yaml:3: rules[0].request.headers: expected a map, found a list",
        "test.yaml:3: rules[0].request.body.json: YAML tags have no JSON form",
        "test.yaml:4: rules[0].response.status: expected a status from 200 to 599, found \"200\"",
        "test.yaml:4: rules[0].response.headers.x: expected text, found a list",
        "test.yaml:5: rules[1].response.body: expected a map with text, json, base64, found a list",
    ];
    assert_problems(&out, &want);
}

#[test]
fn templates_are_checked() {
    for (template, message) in [
        ("/users/{id", "unbalanced or partial"),
        ("/users/id}", "unbalanced or partial"),
        ("/users/x{id}", "unbalanced or partial"),
        ("/users/{}", "`{}` is not a parameter name"),
        ("/users/{a-b}", "`{a-b}` is not a parameter name"),
        ("/a/{id}/b/{id}", "the parameter `{id}` appears twice"),
        ("users/{id}", "does not start with `/`"),
    ] {
        let out = refused(&format!(
            "rules:\n  - request: {{path: {{template: '{template}'}}}}\n    response: {{}}\n"
        ));
        assert_eq!(out.len(), 1, "{template}: {out:?}");
        assert!(
            out[0].starts_with("test.yaml:2: rules[0].request.path.template: ")
                && out[0].contains(message),
            "{template}: {out:?}"
        );
    }
}

#[test]
fn response_headers_the_proxy_sets_are_refused() {
    let out =
        refused("default:\n  headers:\n    Content-Length: 3\n    transfer-encoding: chunked\n");
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with(
        "test.yaml:3: default.headers.Content-Length: `Content-Length` is set by the proxy"
    ));
    assert!(out[1].starts_with("test.yaml:4: default.headers.transfer-encoding: "));
}

#[test]
fn bad_regexes_everywhere_are_found() {
    let out = refused(
        "rules:\n  - request:\n      headers: {a: {regex: '['}}\n      body: [{regex: '('}, {jsonPath: {path: $.a, regex: ')'}}]\n    response: {}\n",
    );
    let fields: Vec<_> = errors(
        "rules:\n  - request:\n      headers: {a: {regex: '['}}\n      body: [{regex: '('}, {jsonPath: {path: $.a, regex: ')'}}]\n    response: {}\n",
    )
    .into_iter()
    .map(|e| (e.line, e.field))
    .collect();
    assert_eq!(
        fields,
        [
            (Some(3), "rules[0].request.headers.a.regex".to_owned()),
            (Some(4), "rules[0].request.body[0].regex".to_owned()),
            (
                Some(4),
                "rules[0].request.body[1].jsonPath.regex".to_owned()
            ),
        ],
        "{out:?}"
    );
    assert!(
        out.iter().all(|l| !l.contains('\n')),
        "one line each: {out:?}"
    );
}

#[test]
fn a_resource_name_works_as_the_source() {
    let errs =
        gatehouse_mock::Provision::parse("MockProvision default/orders", "rules: 3\n").unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "MockProvision default/orders:1: rules: expected a list of rules, found a number — write each rule as a `- ` item"
    );
}
