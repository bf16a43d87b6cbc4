//! What a user or group name may be: what every reader of htpasswd and
//! group files can split unambiguously (no `:`, no whitespace) and what a
//! log line or an error can show as it is (no control characters).

/// The longest name accepted, in bytes: a name is for people, and a bound
/// keeps errors and logs short.
pub const MAX_NAME_LEN: usize = 255;

/// Why `name` cannot be a user name, or `None` when it can.
pub fn user_name_problem(name: &str) -> Option<String> {
    name_problem("user", name)
}

/// Why `name` cannot be a group name, or `None` when it can.
pub fn group_name_problem(name: &str) -> Option<String> {
    name_problem("group", name)
}

fn name_problem(what: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(format!("a {what} name is empty; give one"));
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "a {what} name is {} bytes long, over {MAX_NAME_LEN}; choose a shorter one",
            name.len()
        ));
    }
    if name.contains(':') {
        return Some(format!(
            "{what} {name:?}: a name cannot hold ':' (it separates the name from the rest of the line); choose a name without it"
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "{what} {name:?}: a name cannot hold spaces or control characters (they separate names); choose a name without them"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_separators_and_controls() {
        assert_eq!(user_name_problem("alice"), None);
        assert_eq!(user_name_problem("al.ice@example.com"), None);
        assert!(user_name_problem("").unwrap().contains("empty"));
        assert!(user_name_problem("a:b").unwrap().contains("':'"));
        assert!(user_name_problem("a b").unwrap().contains("spaces"));
        assert!(user_name_problem("a\tb").unwrap().contains("spaces"));
        assert!(group_name_problem("a\u{7}b").unwrap().contains("control"));
        assert!(
            user_name_problem(&"x".repeat(256))
                .unwrap()
                .contains("over 255")
        );
    }
}
