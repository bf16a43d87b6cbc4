//! Scripts: `answer()` packs a `ScriptCall`, which runs (as the proxy will,
//! off its workers) into a response or a failure naming the rule; limits
//! end runaway scripts; the sandbox refuses `eval` and `import`.

use std::time::{Duration, Instant};

use gatehouse_mock::{Provision, ScriptCall, ScriptOutcome, ScriptResponse};

use crate::support::{Req, assert_problems, provision, refused};

/// Answers `req` and runs its script.
fn run(p: &Provision, req: &Req) -> ScriptOutcome {
    let answer = p.answer(&req.lend());
    let call = answer.script.expect("a script answer");
    call.run()
}

fn ok(outcome: ScriptOutcome) -> ScriptResponse {
    match outcome {
        ScriptOutcome::Response(r) => r,
        ScriptOutcome::Failed(why) => panic!("failed: {why}"),
    }
}

fn failed(outcome: ScriptOutcome) -> String {
    match outcome {
        ScriptOutcome::Response(r) => panic!("answered {r:?}"),
        ScriptOutcome::Failed(why) => why,
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[test]
fn a_script_makes_the_response_from_the_request() {
    let p = provision(
        r#"
rules:
  - name: echo
    request: {path: {template: '/users/{id}'}}
    response:
      script: |
        let total = 0;
        for n in request.json.items { total += n; }
        #{
          status: 201,
          headers: #{"x-user": request.params.id, "x-n": 3},
          json: #{
            method: request.method, path: request.path, page: request.query.page,
            agent: request.headers["user-agent"], session: request.cookies.session,
            total: total, nothing: request.json.nope,
          },
        }
"#,
    );
    let req = Req::new("POST", "/users/7?page=2")
        .header("user-agent", "curl")
        .header("cookie", "session=s1")
        .body(r#"{"items": [1, 2, 3]}"#);
    let r = ok(run(&p, &req));
    assert_eq!(r.status.as_u16(), 201);
    assert_eq!(r.headers["x-user"], "7");
    assert_eq!(r.headers["x-n"], "3");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        json(&r.body),
        serde_json::json!({"method": "POST", "path": "/users/7", "page": "2", "agent": "curl",
            "session": "s1", "total": 6, "nothing": null})
    );
}

#[test]
fn a_string_is_a_200_text_body_and_body_is_text() {
    let p = provision(
        "rules:\n  - request: {path: /a}\n    response: {script: '\"hello \" + request.body'}\n  - response:\n      script: '#{status: 404, body: `no ${request.path}`}'\n",
    );
    let r = ok(run(&p, &Req::get("/a").body("you")));
    assert_eq!(
        (r.status.as_u16(), r.body.as_ref()),
        (200, &b"hello you"[..])
    );
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    let r = ok(run(&p, &Req::get("/b")));
    assert_eq!((r.status.as_u16(), r.body.as_ref()), (404, &b"no /b"[..]));
}

#[test]
fn state_persists_between_requests_of_a_provision() {
    let yaml = r#"
rules:
  - request: {path: /add}
    response:
      script: |
        state.count = (state.count ?? 0) + 1;
        state.names = state.names ?? [];
        state.names.push(request.query.name);
        #{json: #{count: state.count, names: state.names}}
  - request: {path: /peek}
    response: {script: '#{json: state}'}
"#;
    let p = provision(yaml);
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let r = ok(run(&p, &Req::get(&format!("/add?name={name}"))));
        assert_eq!(json(&r.body)["count"], i + 1);
    }
    let r = ok(run(&p, &Req::get("/peek")));
    assert_eq!(
        json(&r.body),
        serde_json::json!({"count": 3, "names": ["a", "b", "c"]})
    );
    // Read again, the provision starts with an empty state.
    let p = provision(yaml);
    assert_eq!(
        json(&ok(run(&p, &Req::get("/add?name=z"))).body)["count"],
        1
    );
}

#[test]
fn calls_from_many_threads_never_lose_an_update() {
    let p = std::sync::Arc::new(provision(
        "default:\n  script: 'state.n = (state.n ?? 0) + 1; `${state.n}`'\n",
    ));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    ok(run(&p, &Req::get("/")));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ok(run(&p, &Req::get("/"))).body.as_ref(), b"101");
}

#[test]
fn a_failed_run_leaves_the_state_as_it_was() {
    let p = provision(
        r#"
rules:
  - request: {path: /boom}
    response: {script: 'state.n = 99; throw "boom"'}
  - response: {script: 'state.n = (state.n ?? 0) + 1; `${state.n}`'}
"#,
    );
    assert_eq!(ok(run(&p, &Req::get("/"))).body.as_ref(), b"1");
    let why = failed(run(&p, &Req::get("/boom")));
    assert!(
        why.starts_with("gatehouse mock: rule `rules[0]`: the script failed: ")
            && why.contains("boom"),
        "{why}"
    );
    assert_eq!(ok(run(&p, &Req::get("/"))).body.as_ref(), b"2");
}

#[test]
fn a_script_that_loops_forever_stops_at_its_time_limit() {
    let p = provision(
        r#"
rules:
  - name: forever
    request: {path: /default}
    response:
      script: {source: 'loop {}', maxOperations: 1000000000}
  - name: short
    response:
      script: {source: 'let x = 0; while true { x += 1; }', timeout: 200ms, maxOperations: 1000000000}
"#,
    );
    let started = Instant::now();
    let why = failed(run(&p, &Req::get("/default")));
    let took = started.elapsed();
    assert!(
        why.starts_with(
            "gatehouse mock: rule `forever`: the script failed: it ran past its time limit of 1s"
        ),
        "{why}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );

    let started = Instant::now();
    let why = failed(run(&p, &Req::get("/other")));
    assert!(why.contains("time limit of 200ms"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_script_stops_at_its_operations_limit() {
    let p = provision(
        "default:\n  script: {source: 'let x = 0; for i in 0..1000000 { x += i; } x', maxOperations: 1000}\n",
    );
    let why = failed(run(&p, &Req::get("/")));
    assert!(
        why.contains("it went past its limit of 1000 operations"),
        "{why}"
    );
}

#[test]
fn deep_recursion_and_big_data_are_errors_not_crashes() {
    let p = provision(
        r#"
rules:
  - request: {path: /deep}
    response: {script: 'fn f(n) { f(n + 1) } f(0)'}
  - request: {path: /string}
    response: {script: 'let s = "x"; for i in 0..30 { s += s; } s'}
  - request: {path: /array}
    response: {script: 'let a = []; a.pad(20000, 0); a.len()'}
  - request: {path: /state}
    response: {script: 'let s = "x"; for i in 0..20 { s += s; } state.big = s; "ok"'}
"#,
    );
    for (path, want) in [
        ("/deep", "Stack overflow"),
        ("/string", "too large"),
        ("/array", "too large"),
        ("/state", "over the limit of 1048576"),
    ] {
        let why = failed(run(&p, &Req::get(path)));
        assert!(why.contains(want), "{path}: {why}");
    }
}

#[test]
fn bad_return_values_fail_naming_the_rule() {
    let p = provision(
        r#"
rules:
  - {name: number, request: {path: /1}, response: {script: '42'}}
  - {name: status, request: {path: /2}, response: {script: '#{status: 99}'}}
  - {name: both, request: {path: /3}, response: {script: '#{body: "a", json: 1}'}}
  - {name: key, request: {path: /4}, response: {script: '#{stauts: 200}'}}
  - {name: header, request: {path: /5}, response: {script: '#{headers: #{"content-length": "1"}}'}}
  - {name: map, request: {path: /6}, response: {script: 'state = 1; ""'}}
"#,
    );
    for (path, want) in [
        (
            "/1",
            "rule `number`: the script failed: a script returns a map",
        ),
        (
            "/2",
            "rule `status`: the script failed: `status` must be a number from 200 to 599",
        ),
        (
            "/3",
            "rule `both`: the script failed: give `body` or `json`, not both",
        ),
        ("/4", "rule `key`: the script failed: unknown key `stauts`"),
        (
            "/5",
            "rule `header`: the script failed: `content-length` is set by the proxy",
        ),
        (
            "/6",
            "rule `map`: the script failed: `state` must stay a map",
        ),
    ] {
        let why = failed(run(&p, &Req::get(path)));
        assert!(why.contains(want), "{path}: {why}");
    }
    // What the proxy sends for a failure.
    let r = run(&p, &Req::get("/1")).into_response();
    assert_eq!(r.status.as_u16(), 500);
    assert_eq!(r.headers["content-type"], "text/plain; charset=utf-8");
    assert!(
        std::str::from_utf8(&r.body)
            .unwrap()
            .contains("rule `number`")
    );
}

#[test]
fn eval_and_import_are_refused_and_print_goes_nowhere() {
    let out = refused(
        r#"
rules:
  - response: {script: 'eval("40 + 2")'}
  - response: {script: 'import "fs" as fs; 1'}
  - response:
      script: |
        let x = 1;
        let y = ;
"#,
    );
    let want = [
        "test.yaml:3: rules[0].response.script: not a valid script:",
        "test.yaml:4: rules[1].response.script: not a valid script:",
        "test.yaml:6: rules[2].response.script: not a valid script:",
    ];
    assert_problems(&out, &want);
    assert!(out[2].contains("(line 2 of the script)"), "{}", out[2]);

    let p = provision("default: {script: 'print(\"hi\"); debug(\"hi\"); \"ok\"'}\n");
    assert_eq!(ok(run(&p, &Req::get("/"))).body.as_ref(), b"ok");
}

#[test]
fn script_options_and_conflicts_are_checked() {
    let out = refused(
        r#"
rules:
  - response: {script: {source: '1', timeout: 11s, maxOperations: 0}}
  - response: {script: {timeout: 1s}}
  - response: {status: 201, body: x, script: '1'}
"#,
    );
    let want = [
        "test.yaml:3: rules[0].response.script.timeout: expected a duration from 1ms to 10s, found \"11s\"",
        "test.yaml:3: rules[0].response.script.maxOperations: expected a whole number from 1 to 1000000000, found 0",
        "test.yaml:4: rules[1].response.script.source: a script needs its `source`",
        "test.yaml:5: rules[2].response.status: a response with a `script` cannot have `status`",
        "test.yaml:5: rules[2].response.body: a response with a `script` cannot have `body`",
    ];
    assert_problems(&out, &want);
}

#[test]
fn the_answer_carries_the_call_delay_and_fault() {
    fn send_static<T: Send + 'static>(_: &T) {}
    let p = provision("default: {script: '\"x\"', delay: 10ms}\n");
    let answer = p.answer(&Req::get("/").lend());
    assert_eq!(answer.delay, Some(Duration::from_millis(10)));
    // Unrun, the answer says so as a 500.
    assert_eq!(answer.status.as_u16(), 500);
    assert!(
        std::str::from_utf8(&answer.body)
            .unwrap()
            .contains("answers with a script, and this server did not run it")
    );
    let call: ScriptCall = answer.script.unwrap();
    send_static(&call);
    // It runs on another thread, as the proxy will run it.
    let r = std::thread::spawn(move || call.run().into_response())
        .join()
        .unwrap();
    assert_eq!(r.body.as_ref(), b"x");
}
