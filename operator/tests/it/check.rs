//! `gatehouse-operator check -f`: what a user's CI sees before `kubectl apply`.

use std::process::Command;

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse-operator"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn folder(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gh-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn the_local_examples_pass_except_their_relative_static_root() {
    // In a cluster a static root must be absolute; local mode resolves it.
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local/demo.yaml");
    let (code, out) = check(&["-f", examples]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("3 Route(s) checked as the operator compiles them for a cluster: 0 error(s), 0 warning(s)\n"),
        "{out}"
    );
}

#[test]
fn errors_name_file_line_resource_and_field_and_fail_the_check() {
    let dir = folder(
        "errors",
        &[
            (
                "good.yaml",
                "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: good}\nspec:\n  rules:\n  - backends: [{url: 'http://app:80'}]\n",
            ),
            (
                "bad.yaml",
                "# a comment\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: bad, namespace: shop}\nspec:\n  rules:\n  - matches: [{path: {type: RegularExpression, value: '(x'}}]\n    backends: [{url: 'http://app:80', weight: 2000000}]\n",
            ),
            (
                "broken.yaml",
                "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: broken}\nspec:\n  hostnames: a.example.com\n",
            ),
        ],
    );
    let (code, out) = check(&["-f", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let bad = dir.join("bad.yaml").display().to_string();
    assert!(
        out.contains(&format!(
            "{bad}:7: error: Route shop/bad spec.rules[0].matches[0].path.value:"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{bad}:8: error: Route shop/bad spec.rules[0].backends[0].weight: weight 2000000 is above 1000000"
        )),
        "{out}"
    );
    let broken = dir.join("broken.yaml").display().to_string();
    assert!(
        out.contains(&format!(
            "{broken}:5:14: error: Route default/broken: spec.hostnames: invalid type"
        )),
        "{out}"
    );
    assert!(
        out.ends_with("2 Route(s) checked as the operator compiles them for a cluster: 3 error(s), 0 warning(s)\n"),
        "{out}"
    );
}

#[test]
fn warnings_alone_pass_and_missing_paths_fail() {
    let dir = folder(
        "warnings",
        &[(
            "w.yaml",
            "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: w}\nspec:\n  rules:\n  - matches: [{path: {value: /x}}]\n",
        )],
    );
    let (code, out) = check(&["-f", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: Route default/w spec.rules[0].backends: the rule has no backends"),
        "{out}"
    );
    let (code, out) = check(&["-f", "/no/such/manifests"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("/no/such/manifests: error:"), "{out}");
}
