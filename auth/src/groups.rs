//! An Apache `AuthGroupFile` as a document: `group: user1 user2`, one group
//! a line, `#` comments and blank lines allowed. Parsed for [`crate::Users`]
//! and edited, with comments and order kept, by `gatehouse-operator users`.
//!
//! As in Apache, a group may name users the htpasswd file does not have,
//! and a group on two lines has the members of both.

use crate::names::{group_name_problem, user_name_problem};
use crate::text::{self, is_comment_or_blank};
use crate::{AuthFileError, InvalidName};

/// The longest groups line read: room for a few thousand members.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// An editable groups file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupsFile {
    lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Group { name: String, members: Vec<String> },
    Other(String),
}

impl GroupsFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a groups text; every bad line is an error with its number.
    pub fn parse(source: &str, text: &str) -> Result<GroupsFile, Vec<AuthFileError>> {
        let mut errors = Vec::new();
        let mut lines = Vec::new();
        for (number, raw) in text::lines(source, text, MAX_LINE_BYTES, &mut errors) {
            if is_comment_or_blank(raw) {
                lines.push(Line::Other(raw.to_owned()));
                continue;
            }
            let Some((name, rest)) = raw.trim().split_once(':') else {
                errors.push(AuthFileError::new(
                    source,
                    number,
                    "no ':' after the group name; write `group: user1 user2`",
                ));
                continue;
            };
            let name = name.trim_end();
            if let Some(problem) = group_name_problem(name) {
                errors.push(AuthFileError::new(source, number, problem));
                continue;
            }
            let mut members: Vec<String> = Vec::new();
            let mut bad = false;
            for member in rest.split_whitespace() {
                if let Some(problem) = user_name_problem(member) {
                    errors.push(AuthFileError::new(
                        source,
                        number,
                        format!("group {name:?}: {problem}"),
                    ));
                    bad = true;
                } else if !members.iter().any(|m| m == member) {
                    members.push(member.to_owned());
                }
            }
            if !bad {
                lines.push(Line::Group {
                    name: name.to_owned(),
                    members,
                });
            }
        }
        if errors.is_empty() {
            Ok(GroupsFile { lines })
        } else {
            Err(errors)
        }
    }

    /// Puts `user` in `group` (a new line at the end for a new group);
    /// `true` when the user was not in it.
    pub fn add(&mut self, user: &str, group: &str) -> Result<bool, InvalidName> {
        if let Some(problem) = user_name_problem(user).or_else(|| group_name_problem(group)) {
            return Err(InvalidName(problem));
        }
        if self.groups_of(user).any(|g| g == group) {
            return Ok(false);
        }
        for line in &mut self.lines {
            if let Line::Group { name, members } = line
                && name == group
            {
                members.push(user.to_owned());
                return Ok(true);
            }
        }
        self.lines.push(Line::Group {
            name: group.to_owned(),
            members: vec![user.to_owned()],
        });
        Ok(true)
    }

    /// Takes `user` out of every group, and drops a group left empty by it;
    /// `true` when the user was in any.
    pub fn remove_user(&mut self, user: &str) -> bool {
        let mut removed = false;
        self.lines.retain_mut(|line| match line {
            Line::Group { members, .. } => {
                let before = members.len();
                members.retain(|m| m != user);
                if members.len() == before {
                    return true;
                }
                removed = true;
                !members.is_empty()
            }
            Line::Other(_) => true,
        });
        removed
    }

    /// The groups `user` is in, in file order, each once.
    pub fn groups_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut seen: Vec<&str> = Vec::new();
        self.groups()
            .filter(move |(_, members)| members.iter().any(|m| m == user))
            .map(|(name, _)| name)
            .filter(move |name| {
                let first = !seen.contains(name);
                if first {
                    seen.push(name);
                }
                first
            })
    }

    /// `(group, members)` per line, in file order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.lines.iter().filter_map(|l| match l {
            Line::Group { name, members } => Some((name.as_str(), members.as_slice())),
            Line::Other(_) => None,
        })
    }

    /// Whether the file has no group line (comments aside).
    pub fn is_empty(&self) -> bool {
        self.groups().next().is_none()
    }

    /// The text: `group: user1 user2` lines, comments and blank lines as read.
    pub fn render(&self) -> String {
        text::join(self.lines.iter().map(|l| match l {
            Line::Group { name, members } if members.is_empty() => format!("{name}:"),
            Line::Group { name, members } => format!("{name}: {}", members.join(" ")),
            Line::Other(text) => text.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_apache_group_files() {
        let text = "# who\ndevs: alice bob\n\nops:bob   carol\nempty:\ndevs: dan alice\n";
        let file = GroupsFile::parse("groups", text).unwrap();
        assert_eq!(
            file.render(),
            "# who\ndevs: alice bob\n\nops: bob carol\nempty:\ndevs: dan alice\n"
        );
        assert_eq!(file.groups_of("bob").collect::<Vec<_>>(), ["devs", "ops"]);
        assert_eq!(file.groups_of("alice").collect::<Vec<_>>(), ["devs"]);
        assert_eq!(file.groups_of("dan").collect::<Vec<_>>(), ["devs"]);
        assert_eq!(file.groups_of("zed").count(), 0);
    }

    #[test]
    fn errors_name_their_lines() {
        let errors: Vec<String> = GroupsFile::parse("g", "devs alice\nd evs: x\nok: a:b\n")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert_eq!(
            errors[0],
            "g:1: no ':' after the group name; write `group: user1 user2`"
        );
        assert!(
            errors[1].starts_with("g:2: group \"d evs\": a name cannot hold spaces"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].starts_with("g:3: group \"ok\": user \"a:b\""),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn add_and_remove_keep_the_rest() {
        let mut file = GroupsFile::parse("g", "# c\ndevs: alice\nops: alice\n").unwrap();
        assert!(file.add("bob", "devs").unwrap());
        assert!(!file.add("bob", "devs").unwrap());
        assert!(file.add("bob", "qa").unwrap());
        assert!(file.add("bob", "a b").is_err());
        assert_eq!(file.render(), "# c\ndevs: alice bob\nops: alice\nqa: bob\n");
        assert!(file.remove_user("alice"));
        assert!(!file.remove_user("alice"));
        assert_eq!(file.render(), "# c\ndevs: bob\nqa: bob\n");
        assert!(file.remove_user("bob"));
        assert!(file.is_empty());
        assert_eq!(file.render(), "# c\n");
    }
}
