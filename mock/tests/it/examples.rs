//! The provisions in `examples/mock/`, loaded from their files and
//! answering as h1mock's component checks expect (h1mock's three,
//! rewritten), or as their comments say (OTUServer's API, the to-do
//! scenario).

use std::path::PathBuf;

use gatehouse_mock::{Matched, Provision};

use crate::support::{Req, send};

fn load(name: &str) -> Provision {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mock")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Provision::parse(name, &text).unwrap_or_else(|errors| {
        panic!(
            "{name}:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[test]
fn foo_bar_answers_get_and_post() {
    let p = load("foo-bar.yaml");
    let get = Req::get("/app/v1/foo/bar");
    let answer = p.answer(&get.lend());
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.matched.to_string(), "get-foo-bar");
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"resultData": "answering a get"})
    );

    let post = Req::new("POST", "/app/v1/foo/bar").body(r#"{"any": "thing"}"#);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer = p.answer(&post.lend());
        assert_eq!(answer.status.as_u16(), 201);
        assert_eq!(answer.matched.to_string(), "post-foo-bar");
        assert_eq!(answer.headers["x-version"], "1.0");
        let location = answer.headers["location"].to_str().unwrap();
        let id = location
            .strip_prefix("/app/v1/foo/bar/")
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let body = json(&answer.body);
        assert_eq!(body["resultData"], "answering a post");
        assert_eq!(body["id"], id.as_str(), "the header and the body agree");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "each POST gets a new id");

    let other = Req::get("/app/v1/foo");
    assert_eq!(p.answer(&other.lend()).matched, Matched::Builtin);
}

#[test]
fn template_renders_the_request() {
    let p = load("template.yaml");
    let answer = p.answer(&Req::get("/users/7?fields=name").lend());
    let body = json(&answer.body);
    assert_eq!(body["id"], "7");
    assert_eq!(body["fields"], "name");
    assert_eq!(answer.headers["x-request-id"].len(), 36);

    let post = Req::new("POST", "/users").body(r#"{"name": "Ada"}"#);
    let first = json(&p.answer(&post.lend()).body);
    let second = json(&p.answer(&post.lend()).body);
    assert_eq!(
        (first["name"].as_str(), first["number"].as_str()),
        (Some("Ada"), Some("1"))
    );
    assert_eq!(second["number"], "2");

    let greet = Req::get("/greet?name=ada+lovelace").header("accept-language", "en");
    let answer = p.answer(&greet.lend());
    let text = std::str::from_utf8(&answer.body).unwrap();
    assert!(
        text.starts_with("Hello, Ada Lovelace!\nYou speak en.\nYour lucky number is "),
        "{text}"
    );
    assert!(answer.headers["date"].to_str().unwrap().ends_with(" GMT"));

    let total = Req::new("POST", "/orders/total").body(r#"{"items": [1, 2, 3]}"#);
    assert_eq!(
        json(&p.answer(&total.lend()).body),
        serde_json::json!({"items": 3, "echo": {"items": [1, 2, 3]}})
    );
}

#[test]
fn faults_are_described() {
    use gatehouse_mock::Fault;
    use std::time::Duration;
    let p = load("faults.yaml");
    let get = |path: &str| p.answer(&Req::get(path).lend());
    assert_eq!(get("/slow").delay, Some(Duration::from_secs(2)));
    assert_eq!(get("/reset").fault, Some(Fault::Reset));
    assert_eq!(get("/close").fault, Some(Fault::Close));
    assert!(matches!(
        get("/trickle").fault,
        Some(Fault::SlowBody { chunk_bytes: 4, .. })
    ));
}

#[test]
fn script_keeps_todos() {
    let p = load("script.yaml");
    let run = |req: Req| {
        p.answer(&req.lend())
            .script
            .expect("a script")
            .run()
            .into_response()
    };
    let added = run(Req::new("POST", "/todos").body(r#"{"title": "milk"}"#));
    assert_eq!(added.status.as_u16(), 201);
    assert_eq!(added.headers["location"], "/todos/1");
    run(Req::new("POST", "/todos").body(r#"{"title": "eggs"}"#));
    assert_eq!(
        run(Req::new("POST", "/todos").body("nope")).status.as_u16(),
        400
    );
    let one = run(Req::get("/todos/1"));
    assert_eq!(
        json(&one.body),
        serde_json::json!({"id": 1, "title": "milk", "done": false})
    );
    assert_eq!(run(Req::get("/todos/9")).status.as_u16(), 404);
    let all = json(&run(Req::get("/todos")).body);
    assert_eq!(all[1]["title"], "eggs");
    assert_eq!(
        json(&run(Req::get("/todos?done=true")).body),
        serde_json::json!([])
    );
}

#[test]
fn healthz_answers_200() {
    let p = load("healthz.yaml");
    let req = Req::get("/healthz");
    let answer = p.answer(&req.lend());
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_ref()),
        (200, &b"ok"[..])
    );
    assert_eq!(
        p.answer(&Req::new("POST", "/healthz").lend())
            .status
            .as_u16(),
        404
    );
}

#[test]
fn default_answers_everything_with_the_help_page() {
    let p = load("default.yaml");
    for (method, target) in [
        ("GET", "/"),
        ("GET", "/app/v1/foo/bar"),
        ("DELETE", "/x?y=1"),
    ] {
        let req = Req::new(method, target);
        let answer = p.answer(&req.lend());
        assert_eq!(answer.matched, Matched::Default);
        assert_eq!(answer.status.as_u16(), 404);
        assert_eq!(answer.headers["content-type"], "text/html; charset=utf-8");
        assert!(
            std::str::from_utf8(&answer.body)
                .unwrap()
                .contains("docs/mock.md")
        );
    }
}

#[test]
fn otuserver_serves_interests_and_scores() {
    let p = load("otuserver.yaml");
    let list = send(&p, "GET", "/api/v1/interests", "");
    assert_eq!(
        (list.status, list.who.as_str()),
        (200, "collections.interests")
    );
    assert_eq!(
        list.json()[0],
        serde_json::json!({"client_id": 1, "interests": ["books", "hi-tech"]})
    );
    let created = send(
        &p,
        "POST",
        "/api/v1/interests",
        r#"{"client_id": 4, "interests": ["tv"]}"#,
    );
    assert_eq!(
        (created.status, created.header("location")),
        (201, "/api/v1/interests/4")
    );
    assert_eq!(
        send(&p, "POST", "/api/v1/interests", r#"{"client_id": 4}"#).status,
        409
    );
    let patched = send(
        &p,
        "PATCH",
        "/api/v1/interests/4",
        r#"{"interests": ["tv", "cinema"]}"#,
    );
    assert_eq!(
        patched.json()["interests"],
        serde_json::json!(["tv", "cinema"])
    );
    assert_eq!(send(&p, "DELETE", "/api/v1/interests/4", "").status, 204);

    let score = send(&p, "GET", "/api/v1/scores/2", "");
    assert_eq!(score.json()["score"], 3.5);
    assert_eq!(
        send(&p, "PUT", "/api/v1/scores/2", r#"{"score": 4}"#).status,
        200
    );
    assert_eq!(
        send(&p, "GET", "/api/v1/scores/2", "").json(),
        serde_json::json!({"client_id": 2, "score": 4})
    );
    // The rule goes before the collection.
    let refused = send(&p, "DELETE", "/api/v1/scores/2", "");
    assert_eq!(
        (refused.status, refused.who.as_str()),
        (403, "scores-are-kept")
    );

    p.reset_state();
    assert_eq!(send(&p, "GET", "/api/v1/scores/2", "").json()["score"], 3.5);
    assert_eq!(send(&p, "GET", "/api/v1/nothing", "").status, 404);
}

#[test]
fn scenario_moves_the_todo_item_to_done() {
    let p = load("scenario.yaml");
    let get = |p: &Provision| send(p, "GET", "/todo/items/1", "");
    assert_eq!(get(&p).json()["done"], false);
    assert_eq!(get(&p).who, "item-open");
    let done = send(&p, "POST", "/todo/items/1/done", "");
    assert_eq!((done.status, done.who.as_str()), (200, "mark-done"));
    assert_eq!(get(&p).json()["done"], true);
    assert_eq!(send(&p, "POST", "/todo/items/1/done", "").status, 409);
    p.reset_state();
    assert_eq!(get(&p).json()["done"], false);
}

#[test]
fn the_yaml_in_docs_mock_md_is_accepted() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/mock.md");
    let text = std::fs::read_to_string(path).unwrap();
    let blocks: Vec<&str> = text
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2);
    // Manifests (a MockProvision and its Route) are the api crate's to read.
    for block in blocks.iter().filter(|b| !b.starts_with("apiVersion:")) {
        crate::support::provision(block);
    }
}
