//! Apache's own `htpasswd` both ways: hashes it makes now, for random
//! passwords, verify here; hashes `hash_bcrypt` makes pass its `-v`.
//!
//! Ignored by a plain `cargo test` (the binary comes from Debian's
//! apache2-utils, which `.ci/run` installs); `ct/test-all.sh` runs them by
//! name (`real_htpasswd_`), and there a missing binary fails them.

use std::path::PathBuf;
use std::process::{Command, Output};

use gatehouse_auth::{Users, generate_password, hash_bcrypt};

fn htpasswd(args: &[&str]) -> Output {
    Command::new("htpasswd")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run Apache's htpasswd ({e}): apt-get install -y apache2-utils")
        })
}

/// Passwords to try: random ones, and the shapes that break encoders.
fn passwords() -> Vec<String> {
    let mut all: Vec<String> = (0..3).map(|_| generate_password()).collect();
    all.push(format!("{} with spaces: and ünïcode", generate_password()));
    all.push(generate_password()[..1].to_owned());
    all
}

#[test]
#[ignore = "needs Apache's htpasswd (apt-get install -y apache2-utils): run bash ct/test-all.sh"]
fn real_htpasswd_hashes_of_random_passwords_verify_and_wrong_ones_do_not() {
    for password in passwords() {
        for (flag, kind) in [("-B", "$2y$"), ("-m", "$apr1$"), ("-s", "{SHA}")] {
            let out = htpasswd(&["-nb", flag, "user", &password]);
            assert!(out.status.success(), "htpasswd {flag}: {out:?}");
            let line = String::from_utf8(out.stdout).unwrap();
            assert!(line.starts_with(&format!("user:{kind}")), "{line}");
            let users = Users::from_htpasswd("htpasswd -n", &line)
                .unwrap_or_else(|e| panic!("{flag}: {e:?}"));
            assert!(users.verify("user", password.as_bytes()), "{flag} {line}");
            assert!(
                !users.verify("user", format!("{password}!").as_bytes()),
                "{flag}: a wrong password"
            );
        }
    }
}

#[test]
#[ignore = "needs Apache's htpasswd (apt-get install -y apache2-utils): run bash ct/test-all.sh"]
fn real_htpasswd_accepts_what_hash_bcrypt_makes() {
    let file = temp_file("hash-bcrypt");
    for (i, password) in passwords().into_iter().enumerate() {
        let cost = [4, 5, 10][i % 3];
        let user = format!("u{i}");
        std::fs::write(
            &file,
            format!("{user}:{}\n", hash_bcrypt(password.as_bytes(), cost)),
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let ok = htpasswd(&["-vb", path, &user, &password]);
        assert!(ok.status.success(), "cost {cost}: {ok:?}");
        let wrong = htpasswd(&["-vb", path, &user, &format!("{password}!")]);
        assert!(!wrong.status.success(), "a wrong password: {wrong:?}");
    }
    let _ = std::fs::remove_file(&file);
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gatehouse-auth-{name}-{}", std::process::id()))
}
