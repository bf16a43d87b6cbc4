//! MockProvision manifests as a user writes them: the spec is the
//! provision, checked by the mock engine; a bad one is refused with every
//! error at its field and line, the same when a config is pushed by hand;
//! a Route's `mock` backend names one, or the proxy's provisions folder.

use gatehouse_api::config::BackendTarget;
use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::manifest::Manifests;
use gatehouse_api::{Compiled, Kind, ResourceId};

fn mock(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: MockProvision\nmetadata: {{name: {name}, namespace: qa}}\nspec:\n{}\n",
        spec.trim_matches('\n')
    )
}

fn route(name: &str, backend: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}, namespace: qa}}\nspec:\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /}}}}]\n    backends: [{backend}]\n"
    )
}

fn compile(docs: &[String]) -> Compiled {
    crate::support::compile_file("mock.yaml", docs)
}

const STUB: &str = "  rules:\n    - request: {method: GET, path: /hello}\n      response: {body: {json: {hi: there}}}";

#[test]
fn a_mock_provision_is_lowered_and_a_route_names_it() {
    let compiled = compile(&[
        mock("stub", STUB),
        route("api", "{mock: {provision: stub}}"),
        route("dir", "{mock: {provisionsDir: true}}"),
    ]);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    assert_eq!(compiled.config.mocks.len(), 1);
    assert_eq!(compiled.config.mocks[0].id, "qa/stub");
    assert_eq!(
        compiled.config.mocks[0].provision["rules"][0]["request"]["path"],
        "/hello"
    );
    assert!(
        compiled
            .accepted
            .contains(&ResourceId::new(Kind::MockProvision, "qa", "stub"))
    );
    let target = |id: &str| {
        let route = compiled.config.routes.iter().find(|r| r.id == id).unwrap();
        route.rules[0].backends[0].target.clone()
    };
    assert_eq!(
        target("qa/api"),
        BackendTarget::Mock {
            provision: Some("qa/stub".into())
        }
    );
    assert_eq!(target("qa/dir"), BackendTarget::Mock { provision: None });
    assert_eq!(
        compiled.config.served(),
        "2 Route(s) and 1 MockProvision(s)"
    );
}

#[test]
fn a_bad_provision_is_refused_with_every_error_at_its_field_and_line() {
    let compiled = compile(&[mock(
        "broken",
        "  rules:\n    - request: {path: {regex: '('}}\n      response: {status: 99}\n    - respnse: {}",
    )]);
    assert!(
        compiled.config.mocks.is_empty(),
        "a bad provision is left out"
    );
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    let expect = [
        ("mock.yaml:6", "spec.rules[0].request.path.regex"),
        ("mock.yaml:7", "spec.rules[0].response.status"),
        ("mock.yaml:8", "spec.rules[1].respnse"),
        ("mock.yaml:8", "spec.rules[1].response"),
    ];
    for (error, (line, field)) in errors.iter().zip(expect) {
        assert!(error.starts_with(line), "{error}");
        assert!(error.contains("MockProvision qa/broken"), "{error}");
        assert!(error.contains(field), "{error}");
    }
    assert!(errors[2].contains("expected one of"), "{}", errors[2]);
}

#[test]
fn a_route_naming_a_missing_provision_is_unresolved_and_answers_500() {
    let mut manifests = Manifests::default();
    manifests.read("mock.yaml", &route("api", "{mock: {provision: gone}}"));
    let compiled = manifests.compile();
    assert!(
        !compiled.has_errors(),
        "still served: {:?}",
        compiled.diagnostics
    );
    let finding = &compiled.diagnostics[0];
    assert_eq!(finding.condition, ConditionKind::ResolvedRefs);
    assert_eq!(finding.field, "spec.rules[0].backends[0].mock.provision");
    assert!(
        finding
            .message
            .contains("MockProvision qa/gone does not exist"),
        "{finding}"
    );
    let backend = &compiled.config.routes[0].rules[0].backends[0];
    assert!(
        matches!(&backend.target, BackendTarget::Unresolved { reason } if reason.contains("qa/gone")),
        "{backend:?}"
    );
}

#[test]
fn a_mock_backend_names_exactly_one_source() {
    for backend in [
        "{mock: {}}",
        "{mock: {provision: a, provisionsDir: true}}",
        "{mock: {provisionsDir: false}}",
    ] {
        let mut manifests = Manifests::default();
        manifests.read("mock.yaml", &route("api", backend));
        let compiled = manifests.compile();
        let error = compiled
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .unwrap_or_else(|| panic!("{backend} was accepted"));
        assert!(error.field.contains(".mock"), "{backend}: {error}");
        assert!(
            error.message.contains("provisionsDir"),
            "{backend}: {error}"
        );
    }
}

#[test]
fn a_pushed_config_with_a_bad_mock_is_refused_naming_each_field() {
    let compiled = compile(&[
        mock("stub", STUB),
        route("api", "{mock: {provision: stub}}"),
    ]);
    let mut config = compiled.config;
    config.mocks[0].provision["rules"][0]["response"]["status"] = serde_json::json!(1000);
    config.mocks.push(config.mocks[0].clone());
    config.routes[0].rules[0].backends[0].target = BackendTarget::Mock {
        provision: Some("qa/other".into()),
    };
    let errors = gatehouse_api::compile::verify(&config);
    let joined = errors.join("\n");
    assert!(
        joined.contains("mocks[0].provision.rules[0].response.status"),
        "{joined}"
    );
    assert!(
        joined.contains("mocks[1].id") && joined.contains("each MockProvision appears once"),
        "{joined}"
    );
    assert!(
        joined.contains("`qa/other` is not one of the config's `mocks`"),
        "{joined}"
    );
}

#[test]
fn a_changed_provision_changes_the_revision() {
    let one = compile(&[mock("stub", STUB)]).config.revision;
    let two = compile(&[mock("stub", &STUB.replace("there", "you"))])
        .config
        .revision;
    assert_ne!(one, two);
}

#[test]
fn the_manifests_in_docs_mock_md_compile() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mock.md");
    let text = std::fs::read_to_string(path).unwrap();
    let manifests: Vec<&str> = text
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .filter(|b| b.starts_with("apiVersion:"))
        .collect();
    assert!(!manifests.is_empty());
    for block in manifests {
        let compiled = compile(&[block.to_owned()]);
        assert!(
            !compiled.has_errors(),
            "{block}\n{:?}",
            compiled.diagnostics
        );
        assert!(!compiled.config.mocks.is_empty(), "{block}");
    }
}
