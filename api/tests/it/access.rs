//! Access rules as a user writes them: the Secret found (or said to be
//! missing), its htpasswd read with every bad line named, who may read
//! and write lowered, the values carried once in `secrets` and never in a
//! redacted copy, and Secret documents read from manifests.

use gatehouse_api::Compiled;
use gatehouse_api::config::{AllowConfig, UsersConfig};
use gatehouse_api::diagnostic::ConditionKind;
use gatehouse_api::manifest::Manifests;

const HTPASSWD: &str = "alice:$2y$05$vpFhl.Xw11VEbvhwmTaHBeXDRhqGXgN/dem/CHRybTIPp/xq1gcCG\nbob:$apr1$5L3crQ9I$9R8MGPpPDXcor6F6PqPsp1\n";

fn secret(name: &str, string_data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: qa}}\nstringData:\n{string_data}\n"
    )
}

fn htpasswd_key(text: &str) -> String {
    let lines: String = text.lines().map(|l| format!("    {l}\n")).collect();
    format!("  htpasswd: |\n{lines}")
}

fn route(access: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: app, namespace: qa}}\nspec:\n  rules:\n  - access: {access}\n    backends: [{{url: 'http://127.0.0.1:9'}}]\n"
    )
}

fn compile(docs: &[String]) -> Compiled {
    crate::support::compile_file("access.yaml", docs)
}

#[test]
fn an_access_rule_is_lowered_with_its_secret_carried_once() {
    let groups = "  groups: |\n    devs: alice bob\n";
    let compiled = compile(&[
        secret("team", &(htpasswd_key(HTPASSWD) + groups)),
        route("{secret: team, realm: Wiki, allow: {groups: [devs]}, read: {anonymous: true}}"),
    ]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let access = compiled.config.routes[0].rules[0].access.clone().unwrap();
    assert_eq!(access.realm, "Wiki");
    assert!(access.read.anonymous);
    assert_eq!(
        access.write.groups,
        ["devs"],
        "allow stands where write is unset"
    );
    let UsersConfig::Htpasswd { htpasswd, groups } = &access.users else {
        panic!("{:?}", access.users)
    };
    assert_eq!(htpasswd.to_string(), "Secret qa/team key `htpasswd`");
    assert!(groups.is_some());
    let secrets = &compiled.config.secrets;
    assert_eq!(secrets.len(), 2, "htpasswd and groups, once each");
    assert!(secrets.iter().all(|s| s.value.is_some()));
    let redacted = serde_json::to_string(&compiled.config.redacted()).unwrap();
    assert!(!redacted.contains("$apr1$"), "{redacted}");
    assert!(!redacted.contains("devs: alice"), "{redacted}");
}

#[test]
fn a_missing_secret_or_key_is_unresolved_and_named() {
    let compiled = compile(&[route("{secret: nope}")]);
    let d = &compiled.diagnostics[0];
    assert_eq!(d.condition, ConditionKind::ResolvedRefs);
    assert_eq!(d.field, "spec.rules[0].access.secret");
    assert!(
        d.message.contains("Secret qa/nope does not exist"),
        "{}",
        d.message
    );
    assert!(
        d.origin.as_deref().unwrap().starts_with("access.yaml:"),
        "{d:?}"
    );
    let access = compiled.config.routes[0].rules[0].access.clone().unwrap();
    assert!(
        matches!(access.users, UsersConfig::Unresolved { .. }),
        "served closed"
    );

    let compiled = compile(&[secret("empty", "  other: x"), route("{secret: empty}")]);
    assert!(
        compiled.diagnostics[0]
            .message
            .contains("has no `htpasswd` key"),
        "{:?}",
        compiled.diagnostics
    );
}

#[test]
fn bad_htpasswd_lines_are_each_named_with_their_line() {
    let text = format!("{HTPASSWD}dave:r90IdiKUXk/Rc\nerin:plain\n");
    let compiled = compile(&[
        secret("team", &htpasswd_key(&text)),
        route("{secret: team}"),
    ]);
    let message = &compiled.diagnostics[0].message;
    assert!(
        message.contains("Secret qa/team key `htpasswd`:3"),
        "{message}"
    );
    assert!(message.contains(":4"), "{message}");
    assert!(
        !message.contains("r90IdiKUXk"),
        "no hash in a message: {message}"
    );
    assert_eq!(compiled.diagnostics[0].reason, "InvalidSecret");
}

#[test]
fn a_basic_auth_secret_gives_one_user() {
    let doc = "apiVersion: v1\nkind: Secret\nmetadata: {name: one, namespace: qa}\ntype: kubernetes.io/basic-auth\ndata: {username: ZGVwbG95, password: aHVudGVyMg==}\n";
    let compiled = compile(&[
        doc.to_owned(),
        route("{secret: one, allow: {users: [deploy]}}"),
    ]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let access = compiled.config.routes[0].rules[0].access.clone().unwrap();
    assert!(matches!(access.users, UsersConfig::BasicAuth { .. }));
    assert_eq!(
        access.read,
        AllowConfig {
            users: vec!["deploy".into()],
            ..AllowConfig::default()
        }
    );
}

#[test]
fn unknown_users_and_groups_are_warned_of() {
    let compiled = compile(&[
        secret("team", &htpasswd_key(HTPASSWD)),
        route("{secret: team, allow: {users: [alcie], groups: [ops]}}"),
    ]);
    let messages: Vec<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("user `alcie`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("group `ops`")),
        "{messages:?}"
    );
    assert!(!compiled.has_errors(), "warnings only");
}

#[test]
fn a_realm_that_cannot_be_quoted_is_refused() {
    let compiled = compile_unverified(&[
        secret("team", &htpasswd_key(HTPASSWD)),
        route("{secret: team, realm: 'say \"hi\"'}"),
    ]);
    assert!(compiled.has_errors());
    assert_eq!(compiled.diagnostics[0].field, "spec.rules[0].access.realm");
    let compiled = compile_unverified(&[
        secret("team", &htpasswd_key(HTPASSWD)),
        route("{secret: team, realm: Bücher}"),
    ]);
    assert!(
        compiled.diagnostics[0].message.contains("ASCII text only"),
        "a header value cannot carry it: {:?}",
        compiled.diagnostics
    );
}

#[test]
fn secret_documents_are_read_and_their_errors_never_quote_values() {
    let mut manifests = Manifests::default();
    let bad = "apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {htpasswd: 'not base64 hunter2!'}\n";
    manifests.read("s.yaml", &format!("{bad}---\n{}", secret("ok", "  a: b")));
    assert_eq!(manifests.secrets.len(), 1);
    assert_eq!(manifests.errors.len(), 1, "{:?}", manifests.errors);
    let error = manifests.errors[0].to_string();
    assert!(error.starts_with("s.yaml:"), "{error}");
    assert!(error.contains("base64"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    let mut twice = Manifests::default();
    twice.read(
        "t.yaml",
        &format!("{}---\n{}", secret("ok", "  a: b"), secret("ok", "  a: c")),
    );
    assert!(
        twice.errors[0]
            .message
            .contains("already defined at t.yaml:1"),
        "{:?}",
        twice.errors
    );
}

fn compile_unverified(docs: &[String]) -> Compiled {
    let mut manifests = Manifests::default();
    manifests.read("access.yaml", &docs.join("---\n"));
    manifests.compile()
}

#[test]
fn a_broken_edit_keeps_the_last_good_users_and_says_why() {
    let routes = route("{secret: team}");
    let good = secret("team", &htpasswd_key(HTPASSWD));
    let broken = secret("team", &htpasswd_key("alice:plain\n"));
    let mut history = gatehouse_api::compile::SecretHistory::default();
    let compile_with = |docs: &[&String], history: &mut gatehouse_api::compile::SecretHistory| {
        let mut manifests = Manifests::default();
        let docs: Vec<String> = docs.iter().map(|d| (*d).clone()).collect();
        manifests.read("access.yaml", &docs.join("---\n"));
        manifests.compile_keeping(history)
    };
    let first = compile_with(&[&good, &routes], &mut history);
    assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
    let second = compile_with(&[&broken, &routes], &mut history);
    let d = &second.diagnostics[0];
    assert_eq!(
        (d.reason, d.condition),
        ("InvalidSecret", ConditionKind::ResolvedRefs)
    );
    assert!(
        d.message.contains("last good ones keep serving"),
        "{}",
        d.message
    );
    assert!(d.message.contains(":1"), "the bad line: {}", d.message);
    let access = second.config.routes[0].rules[0].access.clone().unwrap();
    assert!(
        matches!(access.users, UsersConfig::Htpasswd { .. }),
        "still served"
    );
    assert_eq!(
        second.config.secrets, first.config.secrets,
        "with the good values"
    );
    // Without a history (a first compile), the broken Secret is unresolved.
    let alone = compile_with(&[&broken, &routes], &mut Default::default());
    let access = alone.config.routes[0].rules[0].access.clone().unwrap();
    assert!(matches!(access.users, UsersConfig::Unresolved { .. }));
}
