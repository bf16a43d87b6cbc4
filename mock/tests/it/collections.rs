//! Collections: a REST API over JSON items, every status it answers, its
//! limits, its place after the rules, reset, and concurrent writers.

use std::sync::Arc;

use serde_json::json;

use crate::support::{errors, provision, send};

const PEOPLE: &str = "
collections:
  - name: people
    path: /api/people
    key: id
    seed:
      - {id: 1, name: Ann}
      - {id: b, name: Bob}
";

#[test]
fn lists_in_insertion_order() {
    let p = provision(PEOPLE);
    let got = send(&p, "GET", "/api/people", "");
    assert_eq!(got.status, 200);
    assert_eq!(got.who, "collections.people");
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(
        got.json(),
        json!([{"id": 1, "name": "Ann"}, {"id": "b", "name": "Bob"}])
    );
    assert_eq!(send(&p, "GET", "/api/people/", "").status, 200);
    assert_eq!(send(&p, "HEAD", "/api/people", "").status, 200);
}

#[test]
fn post_creates_once() {
    let p = provision(PEOPLE);
    let got = send(&p, "POST", "/api/people", r#"{"id": "c d", "name": "Cy"}"#);
    assert_eq!(got.status, 201);
    assert_eq!(got.header("location"), "/api/people/c%20d");
    assert_eq!(got.json(), json!({"id": "c d", "name": "Cy"}));
    let again = send(&p, "POST", "/api/people", r#"{"id": "c d"}"#);
    assert_eq!(again.status, 409);
    assert!(
        again.error().contains("PUT /api/people/c%20d replaces it"),
        "{}",
        again.error()
    );
    let list = send(&p, "GET", "/api/people", "").json();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[2]["name"], "Cy");
}

#[test]
fn bad_bodies_get_400_saying_why() {
    let p = provision(PEOPLE);
    for (body, says) in [
        ("{not json", "the body is not valid JSON"),
        ("[1]", "the body is a list, not a JSON object"),
        (r#"{"name": "x"}"#, "the item has no `id`"),
        (r#"{"id": true}"#, "`id` in the item is a boolean"),
        (r#"{"id": ""}"#, "`id` in the item is an empty string"),
        (r#"{"id": {"a": 1}}"#, "`id` in the item is an object"),
    ] {
        let got = send(&p, "POST", "/api/people", body);
        assert_eq!(got.status, 400, "{body}");
        assert_eq!(got.header("content-type"), "application/json");
        assert!(got.error().starts_with(says), "{body}: {}", got.error());
        assert!(
            got.error().contains(" — "),
            "says how to fix: {}",
            got.error()
        );
    }
}

#[test]
fn reads_one_item_by_its_percent_decoded_key() {
    let p = provision(PEOPLE);
    let got = send(&p, "GET", "/api/people/1", "");
    assert_eq!(
        (got.status, got.json()),
        (200, json!({"id": 1, "name": "Ann"}))
    );
    assert_eq!(send(&p, "GET", "/api/people/%62", "").json()["name"], "Bob");
    let missing = send(&p, "GET", "/api/people/2", "");
    assert_eq!(missing.status, 404);
    assert!(missing.error().starts_with("people has no item with id 2"));
    assert_eq!(send(&p, "GET", "/api/people/%FF", "").status, 400);
    send(&p, "POST", "/api/people", r#"{"id": "a/b"}"#);
    assert_eq!(send(&p, "GET", "/api/people/a%2Fb", "").status, 200);
}

#[test]
fn numbers_and_strings_are_the_same_key_when_their_text_is() {
    let p = provision(PEOPLE);
    assert_eq!(
        send(&p, "POST", "/api/people", r#"{"id": "1"}"#).status,
        409
    );
    assert_eq!(
        send(&p, "POST", "/api/people", r#"{"id": 1.0}"#).status,
        201
    );
    assert_eq!(send(&p, "GET", "/api/people/1.0", "").status, 200);
}

#[test]
fn put_replaces_or_creates() {
    let p = provision(PEOPLE);
    let got = send(&p, "PUT", "/api/people/1", r#"{"id": 1, "name": "Anna"}"#);
    assert_eq!(
        (got.status, got.json()),
        (200, json!({"id": 1, "name": "Anna"}))
    );
    // No key in the body: the URL's, keeping the item's type.
    let got = send(&p, "PUT", "/api/people/1", r#"{"name": "Annie"}"#);
    assert_eq!(got.json(), json!({"id": 1, "name": "Annie"}));
    let got = send(&p, "PUT", "/api/people/7", r#"{"name": "Gus"}"#);
    assert_eq!(got.status, 201);
    assert_eq!(got.header("location"), "/api/people/7");
    assert_eq!(got.json(), json!({"id": 7, "name": "Gus"}));
    let got = send(&p, "PUT", "/api/people/x", r#"{"name": "X"}"#);
    assert_eq!(got.json(), json!({"id": "x", "name": "X"}));
    // Replacing keeps the place in the list.
    let names: Vec<_> = send(&p, "GET", "/api/people", "")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Annie", "Bob", "Gus", "X"]);
    let got = send(&p, "PUT", "/api/people/1", r#"{"id": 2}"#);
    assert_eq!(got.status, 400);
    assert!(
        got.error()
            .starts_with("the body's id is 2 but the URL's key is 1")
    );
    assert_eq!(send(&p, "PUT", "/api/people/1", "[]").status, 400);
}

#[test]
fn patch_merges_as_rfc_7396() {
    let p = provision(
        "
collections:
  - name: things
    path: /things
    seed: [{id: 1, a: {b: 1, c: 2}, d: 3}]
",
    );
    let got = send(
        &p,
        "PATCH",
        "/things/1",
        r#"{"a": {"c": null, "e": 5}, "d": null}"#,
    );
    assert_eq!(
        (got.status, got.json()),
        (200, json!({"id": 1, "a": {"b": 1, "e": 5}}))
    );
    assert_eq!(send(&p, "GET", "/things/1", "").json(), got.json());
    assert_eq!(send(&p, "PATCH", "/things/2", "{}").status, 404);
    let changes = send(&p, "PATCH", "/things/1", r#"{"id": 2}"#);
    assert_eq!(changes.status, 400);
    assert!(
        changes
            .error()
            .starts_with("the patch changes id from 1 to 2")
    );
    let removes = send(&p, "PATCH", "/things/1", r#"{"id": null}"#);
    assert_eq!(removes.status, 400);
    assert!(removes.error().starts_with("the patched item has no `id`"));
    assert_eq!(send(&p, "PATCH", "/things/1", r#""x""#).status, 400);
    assert_eq!(send(&p, "PATCH", "/things/1", r#"{"id": 1}"#).status, 200);
}

#[test]
fn delete_removes() {
    let p = provision(PEOPLE);
    let got = send(&p, "DELETE", "/api/people/1", "");
    assert_eq!((got.status, got.body.len()), (204, 0));
    assert_eq!(send(&p, "DELETE", "/api/people/1", "").status, 404);
    assert_eq!(send(&p, "GET", "/api/people/1", "").status, 404);
    // Created again, it comes last.
    send(&p, "POST", "/api/people", r#"{"id": 1}"#);
    assert_eq!(
        send(&p, "GET", "/api/people", "").json(),
        json!([{"id": "b", "name": "Bob"}, {"id": 1}])
    );
}

#[test]
fn other_methods_get_405_with_allow() {
    let p = provision(PEOPLE);
    let got = send(&p, "DELETE", "/api/people", "");
    assert_eq!(got.status, 405);
    assert_eq!(got.header("allow"), "GET, HEAD, POST, OPTIONS");
    assert!(
        got.error()
            .starts_with("DELETE is not allowed on /api/people")
    );
    let got = send(&p, "POST", "/api/people/1", "{}");
    assert_eq!(got.status, 405);
    assert_eq!(
        got.header("allow"),
        "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
    );
    let got = send(&p, "OPTIONS", "/api/people/1", "");
    assert_eq!(
        (got.status, got.header("allow")),
        (204, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
}

#[test]
fn limits_give_413_and_507() {
    let p = provision(
        "
collections:
  - name: small
    path: /s
    maxItems: 2
    maxBodyBytes: 32
    seed: [{id: 1}]
",
    );
    let big = format!(r#"{{"id": 9, "x": "{}"}}"#, "a".repeat(40));
    let got = send(&p, "POST", "/s", &big);
    assert_eq!(got.status, 413);
    assert!(got.error().contains("raise the collection's maxBodyBytes"));
    assert_eq!(send(&p, "PUT", "/s/1", &big).status, 413);
    let grows = format!(r#"{{"x": "{}"}}"#, "a".repeat(12));
    assert_eq!(send(&p, "PATCH", "/s/1", &grows).status, 200);
    assert_eq!(
        send(&p, "PATCH", "/s/1", &grows.replace("\"x\"", "\"y\"")).status,
        413
    );
    assert_eq!(send(&p, "POST", "/s", r#"{"id": 2}"#).status, 201);
    let full = send(&p, "POST", "/s", r#"{"id": 3}"#);
    assert_eq!(full.status, 507);
    assert!(full.error().starts_with("small is full (2 items)"));
    assert_eq!(send(&p, "PUT", "/s/3", "{}").status, 507);
    // Replacing needs no room.
    assert_eq!(send(&p, "PUT", "/s/2", "{}").status, 200);
    assert_eq!(send(&p, "DELETE", "/s/2", "").status, 204);
    assert_eq!(send(&p, "PUT", "/s/3", "{}").status, 201);
}

#[test]
fn rules_come_first_then_collections_then_default() {
    let p = provision(
        "
rules:
  - name: no-deletes
    request: {method: DELETE, path: {prefix: /api/people}}
    response: {status: 403}
collections:
  - name: people
    path: /api/people
    seed: [{id: 1}]
default: {status: 418}
",
    );
    assert_eq!(send(&p, "DELETE", "/api/people/1", "").who, "no-deletes");
    assert_eq!(send(&p, "GET", "/api/people/1", "").status, 200);
    for target in ["/api/people/1/x", "/api/peoplex", "/api", "/other"] {
        let got = send(&p, "GET", target, "");
        assert_eq!((got.status, got.who.as_str()), (418, "default"), "{target}");
    }
}

#[test]
fn reset_brings_back_the_seed() {
    let p = provision(PEOPLE);
    send(&p, "DELETE", "/api/people/1", "");
    send(&p, "POST", "/api/people", r#"{"id": 5}"#);
    send(&p, "PATCH", "/api/people/b", r#"{"name": "Rob"}"#);
    p.reset_state();
    assert_eq!(
        send(&p, "GET", "/api/people", "").json(),
        json!([{"id": 1, "name": "Ann"}, {"id": "b", "name": "Bob"}])
    );
    assert_eq!(p.collection_names().collect::<Vec<_>>(), ["people"]);
}

#[test]
fn concurrent_posts_create_each_key_once() {
    let p = Arc::new(provision(
        "collections: [{name: c, path: /c, maxItems: 10000}]",
    ));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                let mut created = Vec::new();
                for i in 0..200 {
                    // Keys 0..100 every thread races for; then its own.
                    let key = if i < 100 { i } else { 1000 * (t + 1) + i };
                    let got = send(&p, "POST", "/c", &format!(r#"{{"id": {key}}}"#));
                    match got.status {
                        201 => created.push(key),
                        409 => assert!(i < 100, "a distinct key conflicted"),
                        s => panic!("{s}"),
                    }
                }
                created
            })
        })
        .collect();
    let mut created: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(created.len(), 100 + 8 * 100);
    created.sort_unstable();
    created.dedup();
    assert_eq!(created.len(), 900, "each key created once");
    let list = send(&p, "GET", "/c", "").json();
    assert_eq!(list.as_array().unwrap().len(), 900);
}

#[test]
fn collections_are_checked() {
    let yaml = "
collections:
  - name: a
    path: /api/a
    key: client_id
    seed:
      - {client_id: 1}
      - {client_id: '1'}
      - {name: no key}
      - {client_id: [1]}
      - just text
  - name: a
    path: /api/a/b
  - path: api
    maxItems: 0
    colour: red
  - name: d
    path: /d
    maxItems: 1
    seed: [{id: 1}, {id: 2}]
";
    let got: Vec<_> = errors(yaml)
        .into_iter()
        .map(|e| (e.line, e.field, e.message))
        .collect();
    let want = [
        (
            8,
            "collections[0].seed[1].client_id",
            "another seed item has the key 1",
        ),
        (
            9,
            "collections[0].seed[2]",
            "the item has no `client_id`, the collection's key",
        ),
        (
            10,
            "collections[0].seed[3].client_id",
            "a key is a number or a non-empty string, found a list",
        ),
        (
            11,
            "collections[0].seed[4]",
            "expected a map, found a string",
        ),
        (
            12,
            "collections[1].name",
            "`a` is also the name of collections[0]",
        ),
        (
            13,
            "collections[1].path",
            "`/api/a/b` overlaps `/api/a`, the path of collections[0]",
        ),
        (14, "collections[2].name", "a collection needs a `name`"),
        (14, "collections[2].path", "`api` does not start with `/`"),
        (
            15,
            "collections[2].maxItems",
            "expected a whole number above 0, found 0",
        ),
        (16, "collections[2].colour", "unknown field `colour`"),
        (20, "collections[3].seed", "2 items, more than maxItems (1)"),
    ];
    for (line, field, message) in want {
        assert!(
            got.iter()
                .any(|(l, f, m)| *l == Some(line) && f == field && m == message),
            "missing {line} {field}: {message} in\n{got:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
}

#[test]
fn collections_alone_make_a_provision_and_empty_ones_are_refused() {
    let p = provision("collections: [{name: c, path: /c}]");
    assert_eq!(send(&p, "GET", "/elsewhere", "").who, "none");
    let out = errors("collections: []");
    assert_eq!(out[0].field, "collections");
    assert_eq!(out[0].message, "an empty list serves nothing");
}
