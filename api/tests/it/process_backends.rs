//! The `git` and `cgi` backend kinds, compiled: the lowered form with its
//! defaults, and each refusal at its field, the same for a pushed config
//! (`verify`).

use gatehouse_api::config::{BackendTarget, ProcessLimits};
use gatehouse_api::{Compiled, ProxyConfig};

use crate::support::compile_file;

fn route(rules: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: demo}}\nspec:\n  rules:\n{}\n",
        rules.trim_end()
    )
}

fn compiled(rules: &str) -> Compiled {
    compile_file("routes.yaml", &[route(rules)])
}

/// The one error at `field`; its message holds each of `says`.
#[track_caller]
fn refused(c: &Compiled, field: &str, says: &[&str]) {
    let found: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.field == field)
        .collect();
    assert_eq!(found.len(), 1, "no error at {field}: {:?}", c.diagnostics);
    for part in says {
        assert!(found[0].message.contains(part), "{}", found[0].message);
    }
    assert!(
        c.config.routes.is_empty(),
        "a Route with an error is left out"
    );
}

fn target(c: &Compiled) -> &BackendTarget {
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    &c.config.routes[0].rules[0].backends[0].target
}

#[test]
fn git_lowers_with_its_defaults() {
    let c = compiled(
        "  - matches: [{path: {type: PathPrefix, value: /git}}]\n    backends: [{git: {}}]",
    );
    assert_eq!(
        *target(&c),
        BackendTarget::Git {
            root: None,
            create_on_push: false,
            limits: ProcessLimits {
                max_processes: 16,
                timeout_ms: 600_000
            }
        }
    );
    assert_eq!(c.config.routes[0].rules[0].backends[0].name, "git");
    let c = compiled(
        "  - matches: [{path: {type: PathPrefix, value: /git}}]\n    backends: [{git: {root: /srv/git, createOnPush: true, maxProcesses: 4, timeout: 30m}}]",
    );
    assert_eq!(
        *target(&c),
        BackendTarget::Git {
            root: Some("/srv/git".into()),
            create_on_push: true,
            limits: ProcessLimits {
                max_processes: 4,
                timeout_ms: 1_800_000
            }
        }
    );
}

#[test]
fn git_refusals_name_their_field() {
    let c = compiled(
        "  - matches: [{path: {type: PathPrefix, value: /git}}]\n    backends: [{git: {root: repos}}]",
    );
    refused(
        &c,
        "spec.rules[0].backends[0].git.root",
        &["not an absolute path", "local mode"],
    );
    let c =
        compiled("  - matches: [{path: {type: Exact, value: /git}}]\n    backends: [{git: {}}]");
    refused(&c, "spec.rules[0].matches[0].path", &["PathPrefix"]);
    let c = compiled(
        "  - matches: [{path: {type: PathPrefix, value: /git}}]\n    filters: [{type: URLRewrite, urlRewrite: {hostname: x}}]\n    backends: [{git: {}}]",
    );
    refused(&c, "spec.rules[0].filters[0]", &["URLRewrite"]);
    let c = compiled("  - backends: [{git: {timeout: soon}}]");
    refused(&c, "spec.rules[0].backends[0].git.timeout", &[]);
    let c = compiled("  - backends: [{git: {maxProcesses: 0}}]");
    refused(
        &c,
        "spec.rules[0].backends[0].git.maxProcesses",
        &["between 1 and 1024"],
    );
    let c = compiled("  - backends: [{git: {}, url: 'http://127.0.0.1:1'}]");
    refused(
        &c,
        "spec.rules[0].backends[0]",
        &["exactly one of", "git", "cgi"],
    );
}

#[test]
fn cgi_lowers_with_its_defaults() {
    let c = compiled(
        "  - backends: [{cgi: {script: /srv/cgi/run.sh, env: [{name: MODE, value: test}], workingDir: /tmp}}]",
    );
    match target(&c) {
        BackendTarget::Cgi {
            script,
            env,
            working_dir,
            limits,
        } => {
            assert_eq!(script, "/srv/cgi/run.sh");
            assert_eq!(env.len(), 1);
            assert_eq!(working_dir.as_deref(), Some("/tmp"));
            assert_eq!(limits.max_processes, 16);
            assert_eq!(limits.timeout_ms, 60_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.config.routes[0].rules[0].backends[0].name, "cgi");
}

#[test]
fn cgi_refusals_name_their_field() {
    let c = compiled("  - backends: [{cgi: {script: run.sh}}]");
    refused(
        &c,
        "spec.rules[0].backends[0].cgi.script",
        &["not an absolute path"],
    );
    let c = compiled("  - backends: [{cgi: {script: /run.sh, workingDir: here}}]");
    refused(
        &c,
        "spec.rules[0].backends[0].cgi.workingDir",
        &["not an absolute path"],
    );
    for (name, says) in [
        ("1ABC", "not an environment variable name"),
        ("A-B", "not an environment variable name"),
        ("REMOTE_USER", "set by the proxy"),
        ("HTTP_HOST", "set by the proxy"),
    ] {
        let c = compiled(&format!(
            "  - backends: [{{cgi: {{script: /run.sh, env: [{{name: '{name}', value: x}}]}}}}]"
        ));
        refused(&c, "spec.rules[0].backends[0].cgi.env[0]", &[says]);
    }
    let c = compiled(
        "  - backends: [{cgi: {script: /run.sh, env: [{name: A, value: x}, {name: A, value: y}]}}]",
    );
    refused(&c, "spec.rules[0].backends[0].cgi.env[1]", &["twice"]);
    let many: Vec<String> = (0..65)
        .map(|i| format!("{{name: V{i}, value: x}}"))
        .collect();
    let c = compiled(&format!(
        "  - backends: [{{cgi: {{script: /run.sh, env: [{}]}}}}]",
        many.join(", ")
    ));
    refused(&c, "spec.rules[0].backends[0].cgi.env", &["64"]);
}

/// A hand-made push is held to the same checks, at its `target`.
#[test]
fn a_pushed_config_with_relative_paths_is_refused() {
    let c = compiled(
        "  - matches: [{path: {type: PathPrefix, value: /git}}]\n    backends: [{git: {root: /srv/git}}]",
    );
    let mut pushed: ProxyConfig = c.config.clone();
    pushed.routes[0].rules[0].backends[0].target = BackendTarget::Git {
        root: Some("repos".into()),
        create_on_push: false,
        limits: ProcessLimits {
            max_processes: 0,
            timeout_ms: 1000,
        },
    };
    let errors = gatehouse_api::compile::verify(&pushed).join("\n");
    assert!(errors.contains("target.root"), "{errors}");
    assert!(errors.contains("not an absolute path"), "{errors}");
    assert!(errors.contains("target.maxProcesses"), "{errors}");
    pushed.routes[0].rules[0].backends[0].target = BackendTarget::Cgi {
        script: "run.sh".into(),
        env: Vec::new(),
        working_dir: None,
        limits: ProcessLimits {
            max_processes: 1,
            timeout_ms: 1000,
        },
    };
    let errors = gatehouse_api::compile::verify(&pushed).join("\n");
    assert!(errors.contains("target.script"), "{errors}");
}
