//! Which rule answers: priority, then file order; then `default`; then the
//! built-in help page.

use gatehouse_mock::{HELP_PAGE, Matched, Provision};

use crate::support::{Req, provision, who};

#[test]
fn file_order_breaks_ties() {
    let p = provision(
        "rules:
  - name: first
    request: {path: {prefix: /a}}
    response: {status: 200}
  - name: second
    request: {path: /a/b}
    response: {status: 201}
",
    );
    assert_eq!(who(&p, &Req::get("/a/b")), "first");
}

#[test]
fn lower_priority_is_tried_first() {
    let p = provision(
        "rules:
  - name: catch-all
    priority: 10
    response: {status: 404}
  - name: unprioritised
    request: {path: {prefix: /a}}
    response: {status: 200}
  - name: specific
    priority: 1
    request: {path: /a/b}
    response: {status: 201}
  - name: also-one
    priority: 1
    request: {path: {prefix: /a/b}}
    response: {status: 202}
",
    );
    assert_eq!(who(&p, &Req::get("/a/b")), "specific");
    assert_eq!(who(&p, &Req::get("/a/b/c")), "also-one");
    assert_eq!(who(&p, &Req::get("/a/x")), "unprioritised");
    assert_eq!(who(&p, &Req::get("/z")), "catch-all");
    assert_eq!(
        p.rule_labels().collect::<Vec<_>>(),
        ["specific", "also-one", "unprioritised", "catch-all"]
    );
    assert_eq!(p.rule_count(), 4);
}

#[test]
fn the_match_names_the_rule_by_file_position() {
    let p = provision(
        "rules:
  - priority: 9
    request: {path: /late}
    response: {}
  - priority: 1
    request: {path: /early}
    response: {}
",
    );
    let req = Req::get("/late");
    assert_eq!(
        p.answer(&req.lend()).matched,
        Matched::Rule {
            index: 0,
            name: None
        }
    );
    assert_eq!(who(&p, &Req::get("/early")), "rules[1]");
}

#[test]
fn answerers_name_every_rule_collection_and_the_fallback() {
    let p = provision(
        "rules:
  - priority: 9
    request: {path: /late}
    response: {}
  - name: early
    priority: 1
    request: {path: /early}
    response: {}
collections:
  - {name: people, path: /api/people, key: id}
",
    );
    let named = |p: &gatehouse_mock::Provision| {
        p.answerers()
            .map(|answerer| answerer.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        named(&p),
        ["early", "rules[0]", "collections.people", "none"]
    );
    let with_default = provision("default: {status: 418}\n");
    assert_eq!(named(&with_default), ["default"]);
}

#[test]
fn an_unmatched_request_gets_the_default() {
    let p = provision(
        "rules:
  - request: {path: /a}
    response: {}
default:
  status: 418
  body: {json: {error: no stub}}
",
    );
    let req = Req::get("/b");
    let answer = p.answer(&req.lend());
    assert_eq!(answer.matched, Matched::Default);
    assert_eq!(answer.status.as_u16(), 418);
    assert_eq!(answer.body.as_ref(), br#"{"error":"no stub"}"#);
    assert_eq!(answer.headers["content-type"], "application/json");
}

#[test]
fn without_a_default_the_help_page_answers() {
    let p = provision("rules:\n  - request: {path: /a}\n    response: {}\n");
    for provision in [p, Provision::empty(), Provision::default()] {
        let req = Req::new("POST", "/nothing/here?x");
        let answer = provision.answer(&req.lend());
        assert_eq!(answer.matched, Matched::Builtin);
        assert_eq!(answer.matched.to_string(), "none");
        assert_eq!(answer.status.as_u16(), 404);
        assert_eq!(answer.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(answer.body.as_ref(), HELP_PAGE.as_bytes());
        assert!(answer.params.is_empty());
    }
    assert!(HELP_PAGE.contains("docs/mock.md"));
}

#[test]
fn a_default_only_provision_answers_everything() {
    let p = provision("default: {status: 503, body: down}\n");
    assert_eq!(p.rule_count(), 0);
    let req = Req::new("PATCH", "/x");
    let answer = p.answer(&req.lend());
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_ref()),
        (503, &b"down"[..])
    );
}

#[test]
fn a_provision_is_shared_across_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Provision>();
}
