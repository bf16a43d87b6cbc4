//! DepotRepo manifests as a user writes them: read from a folder, lowered
//! into the config's `depots`, and every bad option refused with its field
//! and its line, the same when a config is pushed by hand.

use gatehouse_api::config::{BackendTarget, DepotConfig, GroupFilter};
use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::manifest::Manifests;
use gatehouse_api::{Compiled, Kind, ResourceId};

fn repo(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n{}\n",
        spec.trim_matches('\n')
    )
}

fn compile(docs: &[String]) -> Compiled {
    crate::support::compile_file("depot.yaml", docs)
}

/// The one error of a DepotRepo, as `check` prints it.
fn error_of(spec: &str) -> String {
    let compiled = compile(&[repo("configs", spec)]);
    assert!(
        compiled.config.depots.is_empty(),
        "a bad DepotRepo is left out"
    );
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].clone()
}

#[test]
fn a_depot_repo_is_read_and_lowered_with_its_options_and_defaults() {
    let compiled = compile(&[
        repo(
            "configs",
            "  depth: 5\n  groups: {allow: [rail., signals]}\n  maxFileSize: 1Mi\n  corsWriteOrigins: ['https://admin.example.com']",
        ),
        repo("assets", "  {}"),
    ]);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    assert_eq!(
        compiled.config.depots,
        [
            DepotConfig {
                id: "ops/assets".into(),
                depth: None,
                groups: None,
                max_file_size: 64 * 1024 * 1024,
                cors_write_origins: vec![],
            },
            DepotConfig {
                id: "ops/configs".into(),
                depth: Some(5),
                groups: Some(GroupFilter::Allow(vec!["rail.".into(), "signals".into()])),
                max_file_size: 1024 * 1024,
                cors_write_origins: vec!["https://admin.example.com".into()],
            },
        ]
    );
    assert!(
        compiled
            .accepted
            .contains(&ResourceId::new(Kind::DepotRepo, "ops", "configs"))
    );
}

#[test]
fn a_depot_repo_changes_the_revision() {
    let one = compile(&[repo("configs", "  depth: 5")]);
    let other = compile(&[repo("configs", "  depth: 6")]);
    assert_ne!(one.config.revision, other.config.revision);
}

#[test]
fn each_bad_option_is_refused_with_its_field_line_and_fix() {
    let cases = [
        ("  depth: 0", "depot.yaml:5", "spec.depth", "set 1 or more"),
        (
            "  groups: {allow: [a], deny: [b]}",
            "depot.yaml:5",
            "spec.groups",
            "exactly one of `allow` or `deny`",
        ),
        (
            "  groups: {deny: [a/b]}",
            "depot.yaml:5",
            "spec.groups.deny[0]",
            "one folder deep",
        ),
        (
            "  maxFileSize: 64MB",
            "depot.yaml:5",
            "spec.maxFileSize",
            "e.g. `64Mi`",
        ),
        (
            "  maxFileSize: '0'",
            "depot.yaml:5",
            "spec.maxFileSize",
            "refuses every check-in",
        ),
        (
            "  corsWriteOrigins: ['*']",
            "depot.yaml:5",
            "spec.corsWriteOrigins[0]",
            "list the origins",
        ),
        (
            "  corsWriteOrigins: ['https://a.test/']",
            "depot.yaml:5",
            "spec.corsWriteOrigins[0]",
            "no path or trailing `/`",
        ),
    ];
    for (spec, line, field, fix) in cases {
        let error = error_of(spec);
        assert!(error.starts_with(line), "{spec}: {error}");
        assert!(error.contains("DepotRepo ops/configs"), "{spec}: {error}");
        assert!(error.contains(field), "{spec}: {error}");
        assert!(error.contains(fix), "{spec}: {error}");
    }
}

#[test]
fn a_repository_named_as_a_depot_url_is_refused() {
    let compiled = compile(&[repo("check", "  {}")]);
    assert!(compiled.config.depots.is_empty());
    let error = compiled.diagnostics[0].to_string();
    assert!(error.contains("metadata.name"), "{error}");
    assert!(error.contains("`<mount>/check`"), "{error}");
}

#[test]
fn a_pushed_config_with_bad_depots_is_refused_naming_each_field() {
    let good = compile(&[repo("configs", "  depth: 5")]).config;
    let mut pushed = good.clone();
    pushed.depots[0].depth = Some(0);
    pushed.depots.push(good.depots[0].clone());
    pushed.depots.push(DepotConfig {
        id: "no-namespace".into(),
        ..good.depots[0].clone()
    });
    pushed.depots.push(DepotConfig {
        id: "ops/..".into(),
        ..good.depots[0].clone()
    });
    let errors = gatehouse_api::compile::verify(&pushed).join("\n");
    assert!(errors.contains("depots[0].depth"), "{errors}");
    assert!(
        errors.contains("depots[3].id") && errors.contains("`..` is not a Kubernetes name"),
        "{errors}"
    );
    assert!(
        errors.contains("depots[1].id") && errors.contains("each DepotRepo appears once"),
        "{errors}"
    );
    assert!(
        errors.contains("depots[2].id") && errors.contains("not `namespace/name`"),
        "{errors}"
    );
}

#[test]
fn an_unknown_kind_is_refused_naming_every_kind_known() {
    let mut manifests = Manifests::default();
    manifests.read(
        "x.yaml",
        "apiVersion: gatehouse.dev/v1alpha1\nkind: MockServer\nmetadata: {name: m}\nspec: {}\n",
    );
    let error = manifests.errors[0].to_string();
    assert!(error.starts_with("x.yaml:1"), "{error}");
    assert!(
        error.contains("the kinds are DepotRepo, MockProvision and Route"),
        "{error}"
    );
}

fn route(name: &str, rules: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  rules:\n{}\n",
        rules.trim_matches('\n')
    )
}

fn compile_unchecked(docs: &[String]) -> Compiled {
    let mut manifests = Manifests::default();
    manifests.read("depot.yaml", &docs.join("---\n"));
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    manifests.compile()
}

#[test]
fn a_depot_backend_serves_the_repos_it_names_or_all_of_its_namespace() {
    let docs = [
        repo("configs", "  {}"),
        repo("assets", "  {}"),
        route(
            "named",
            "  - matches: [{path: {type: PathPrefix, value: /depot}}]\n    backends: [{depot: {repos: [configs]}}]",
        ),
        route(
            "every",
            "  - matches: [{path: {type: PathPrefix, value: /all-depots}}]\n    backends: [{depot: {}}]",
        ),
    ];
    let compiled = compile(&docs);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let target = |id: &str| {
        let route = compiled.config.routes.iter().find(|r| r.id == id).unwrap();
        route.rules[0].backends[0].target.clone()
    };
    assert_eq!(
        target("ops/named"),
        BackendTarget::Depot {
            repos: vec!["ops/configs".into()]
        }
    );
    assert_eq!(
        target("ops/every"),
        BackendTarget::Depot {
            repos: vec!["ops/assets".into(), "ops/configs".into()]
        }
    );
}

#[test]
fn a_depot_backend_naming_a_missing_repo_is_unresolved_and_answers_500() {
    let compiled = compile_unchecked(&[route(
        "named",
        "  - matches: [{path: {type: PathPrefix, value: /depot}}]\n    backends: [{depot: {repos: [configs]}}]",
    )]);
    assert!(
        !compiled.has_errors(),
        "still served: {:?}",
        compiled.diagnostics
    );
    let finding = &compiled.diagnostics[0];
    assert_eq!(finding.condition, ConditionKind::ResolvedRefs);
    assert_eq!(finding.field, "spec.rules[0].backends[0].depot.repos[0]");
    assert!(
        finding
            .message
            .contains("DepotRepo ops/configs does not exist"),
        "{finding}"
    );
    let backend = &compiled.config.routes[0].rules[0].backends[0];
    assert!(
        matches!(&backend.target, BackendTarget::Unresolved { reason } if reason.contains("ops/configs")),
        "{backend:?}"
    );
}

#[test]
fn a_depot_backend_over_a_namespace_without_depot_repos_serves_an_empty_depot() {
    // Its last DepotRepo deleted: the repository's paths answer 404, not
    // the 500 of an unresolved name.
    let compiled = compile(&[route(
        "every",
        "  - matches: [{path: {type: PathPrefix, value: /depot}}]\n    backends: [{depot: {}}]",
    )]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    assert_eq!(
        compiled.config.routes[0].rules[0].backends[0].target,
        BackendTarget::Depot { repos: vec![] }
    );
}

#[test]
fn a_depot_backend_on_a_rule_that_is_no_path_prefix_is_refused() {
    let compiled = compile_unchecked(&[
        repo("configs", "  {}"),
        route(
            "exact",
            "  - matches: [{path: {type: Exact, value: /depot}}]\n    backends: [{depot: {}}]",
        ),
    ]);
    let error = compiled
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error")
        .to_string();
    assert!(error.contains("spec.rules[0].matches[0].path"), "{error}");
    assert!(error.contains("type: PathPrefix"), "{error}");
}
