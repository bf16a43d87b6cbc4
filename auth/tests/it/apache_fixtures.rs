//! Hashes made by Apache's own `htpasswd` (apache2-utils 2.4, Debian 12),
//! kept as strings: every kind it writes, read as Apache reads them.

use gatehouse_auth::Users;

/// `htpasswd -B` (cost 5, its default, and `-C 10`), `-m`, `-s`.
const ACCEPTED: &str = "\
# made by htpasswd -B, -m and -s
alice:$2y$05$Fsr..JEt90OuCc9tK9DEI.y37F1ymSOLueEiaZJT9SrVLe0QEwhtm
grace:$2y$10$BpymvHvzYSmdBOsvwnxVR.4u9/Meu3taLYKj6lakama.i7gubi61i
judy:$2y$05$FlIScDGI3UxgzpwFFnzCVetOvWgvhKDx77Cmt0ASM6GTKBXtEEpji

carol:$apr1$T3N1U6mK$CTQ1Hf0UUPEe9Qof5k8Tq.
heidi:$apr1$yctKmHeX$h4k5MN0ggovzEiu9yypxM0
emptyapr:$apr1$QhB79/h.$M621deyuUkZ6IunqWbJ690
dave:{SHA}hVRiCgu1nqnQQQCmeNdNsYvaxAs=
ivan:{SHA}uw6q9HnisuZXsjcvuhk/JXxU+n4=
";

const PASSWORDS: &[(&str, &str)] = &[
    ("alice", "correct horse"),
    ("grace", "Grace-10-cost"),
    ("judy", "ünïcode bcrypt"),
    ("carol", "carol pw"),
    (
        "heidi",
        "a password longer than sixteen bytes, clearly ünïcode",
    ),
    ("emptyapr", ""),
    ("dave", "dave:pw"),
    ("ivan", "ünïcode ok"),
];

#[test]
fn every_kind_apache_writes_verifies_and_a_wrong_password_does_not() {
    let users = Users::from_htpasswd("fixture", ACCEPTED).unwrap();
    assert_eq!(
        users.names().collect::<Vec<_>>(),
        [
            "alice", "grace", "judy", "carol", "heidi", "emptyapr", "dave", "ivan"
        ]
    );
    for (user, password) in PASSWORDS {
        assert!(users.verify(user, password.as_bytes()), "{user}");
        assert!(!users.verify(user, b"wrong"), "{user}");
        let mut near = password.as_bytes().to_vec();
        near.push(b'x');
        assert!(!users.verify(user, &near), "{user}: one byte more");
    }
    assert!(!users.verify("nobody", b"correct horse"));
    assert!(
        !users.verify("ALICE", b"correct horse"),
        "names are case-sensitive, as Apache's"
    );
}

#[test]
fn the_2b_and_2a_spellings_of_a_bcrypt_hash_verify_too() {
    // Same algorithm for these passwords; other implementations write them.
    for prefix in ["$2b$", "$2a$"] {
        let text =
            format!("alice:{prefix}05$Fsr..JEt90OuCc9tK9DEI.y37F1ymSOLueEiaZJT9SrVLe0QEwhtm\n");
        let users = Users::from_htpasswd("f", &text).unwrap();
        assert!(users.verify("alice", b"correct horse"), "{prefix}");
        assert!(!users.verify("alice", b"correct horsf"), "{prefix}");
    }
}

#[test]
fn crypt_des_and_plain_text_lines_are_refused_with_their_line_and_the_fix() {
    // `htpasswd -d` (erin) and `htpasswd -p` (frank), among accepted lines.
    let text = "alice:$2y$05$Fsr..JEt90OuCc9tK9DEI.y37F1ymSOLueEiaZJT9SrVLe0QEwhtm\n\
                # a comment\n\
                erin:689Mq5QQHzlE6\n\
                frank:frank plain\n\
                glen:$6$salt$abc\n\
                hal:$2x$05$Fsr..JEt90OuCc9tK9DEI.y37F1ymSOLueEiaZJT9SrVLe0QEwhtm\n\
                ida:{SHA}short\n\
                jo:$2y$05$short\n\
                kit:\n";
    let errors: Vec<String> = Users::from_htpasswd("htpasswd", text)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let fix = |user: &str| format!("; make a bcrypt one: gatehouse-operator users add {user}");
    assert_eq!(
        errors,
        [
            format!(
                "htpasswd:3: user \"erin\": a crypt(3) DES hash is not accepted (8-character limit, broken){}",
                fix("erin")
            ),
            format!(
                "htpasswd:4: user \"frank\": a plain-text password is not accepted (anyone who reads the Secret could log in){}",
                fix("frank")
            ),
            format!(
                "htpasswd:5: user \"glen\": a $6$ hash is not accepted (Gatehouse reads bcrypt, $apr1$ and {{SHA}}){}",
                fix("glen")
            ),
            format!(
                "htpasswd:6: user \"hal\": a $2x$ bcrypt hash (made by an old implementation with a known bug) is not accepted{}",
                fix("hal")
            ),
            format!(
                "htpasswd:7: user \"ida\": the {{SHA}} hash is not the base64 of a 20-byte SHA-1 digest{}",
                fix("ida")
            ),
            format!(
                "htpasswd:8: user \"jo\": the bcrypt hash is malformed (expected $2y$NN$ and 53 characters of [./A-Za-z0-9]){}",
                fix("jo")
            ),
            format!(
                "htpasswd:9: user \"kit\": the line has no password hash after ':'{}",
                fix("kit")
            ),
        ]
    );
    assert!(
        errors.iter().all(|e| !e.contains("frank plain")),
        "a plain-text password is never echoed"
    );
}

#[test]
fn groups_come_from_an_auth_group_file() {
    let users = Users::from_htpasswd("h", ACCEPTED)
        .unwrap()
        .with_groups("g", "# teams\ndevs: alice carol ghost\n\nops: carol\n")
        .unwrap();
    assert!(users.in_group("alice", "devs"));
    assert!(!users.in_group("alice", "ops"));
    assert_eq!(
        users.groups_of("carol").collect::<Vec<_>>(),
        ["devs", "ops"]
    );
    assert!(
        users.in_group("ghost", "devs"),
        "an unknown member is kept, as Apache does"
    );
    assert!(!users.contains("ghost"));
    assert_eq!(users.groups_of("dave").count(), 0);

    let errors = Users::from_htpasswd("h", ACCEPTED)
        .unwrap()
        .with_groups("Secret default/u key groups", "devs alice\n")
        .unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "Secret default/u key groups:1: no ':' after the group name; write `group: user1 user2`"
    );
}

#[test]
fn debug_shows_names_and_groups_never_hashes() {
    let users = Users::from_htpasswd("h", ACCEPTED)
        .unwrap()
        .with_groups("g", "devs: alice\n")
        .unwrap();
    let debug = format!("{users:?}");
    assert!(
        debug.starts_with("Users [alice [\"devs\"], grace, judy"),
        "{debug}"
    );
    for needle in ["$2y$", "$apr1$", "{SHA}", "Fsr..", "hVRiCgu"] {
        assert!(!debug.contains(needle), "{debug}");
    }
    let basic = Users::from_basic_auth("s", "root", "hunter2").unwrap();
    assert_eq!(format!("{basic:?}"), "Users [root]");
}

#[test]
fn a_basic_auth_secret_is_one_user_compared_whole() {
    let users = Users::from_basic_auth("Secret default/b", "root", "hunter2").unwrap();
    assert!(users.verify("root", b"hunter2"));
    assert!(!users.verify("root", b"hunter"));
    assert!(!users.verify("root", b"hunter22"));
    assert!(!users.verify("other", b"hunter2"));
    assert_eq!(users.names().collect::<Vec<_>>(), ["root"]);

    let err = Users::from_basic_auth("Secret default/b", "ro ot", "x").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Secret default/b:0: key username: user \"ro ot\": a name cannot hold spaces"
        ),
        "{err}"
    );
    let err = Users::from_basic_auth("Secret default/b", "root", "").unwrap_err();
    assert!(err.to_string().contains("key password is empty"), "{err}");
}

#[test]
fn an_empty_or_comment_only_file_has_no_users_and_verifies_no_one() {
    let users = Users::from_htpasswd("h", "# nobody yet\n\n").unwrap();
    assert!(users.is_empty());
    assert!(!users.verify("alice", b""));
}
