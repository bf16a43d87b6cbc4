//! An htpasswd file as a document: parsed, edited and written back with its
//! comments, blank lines and order kept, for `gatehouse-operator users`.
//!
//! Apache's format: one `user:hash` a line; blank lines and `#` comments
//! skipped; surrounding whitespace ignored; anything after a second `:` is
//! ignored, as Apache's `mod_authn_file` does. Which hashes are accepted is
//! [`crate::Users`]'s business: this document keeps any hash, so that a
//! refused line can be replaced by `users add`.

use crate::names::user_name_problem;
use crate::text::{self, is_comment_or_blank};
use crate::{AuthFileError, InvalidName};

/// The longest htpasswd line read: a bcrypt line is about 70 bytes.
const MAX_LINE_BYTES: usize = 4096;

/// An editable htpasswd file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HtpasswdFile {
    lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Entry {
        user: String,
        hash: String,
    },
    /// A comment or a blank line, kept as written.
    Other(String),
}

impl HtpasswdFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads an htpasswd text: every line with a bad name, no `:`, or a user
    /// named twice is an error (`source:line: message`), all of them at once.
    pub fn parse(source: &str, text: &str) -> Result<HtpasswdFile, Vec<AuthFileError>> {
        let mut errors = Vec::new();
        let mut lines = Vec::new();
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for (number, raw) in text::lines(source, text, MAX_LINE_BYTES, &mut errors) {
            if is_comment_or_blank(raw) {
                lines.push(Line::Other(raw.to_owned()));
                continue;
            }
            let line = raw.trim();
            let Some((user, rest)) = line.split_once(':') else {
                errors.push(AuthFileError::new(
                    source,
                    number,
                    "no ':' between the user name and the password hash; write `user:hash` (make one with: gatehouse-operator users add NAME)",
                ));
                continue;
            };
            let hash = rest.split(':').next().unwrap_or_default();
            if let Some(problem) = user_name_problem(user) {
                errors.push(AuthFileError::new(source, number, problem));
                continue;
            }
            if let Some(first) = seen.insert(user.to_owned(), number) {
                errors.push(AuthFileError::new(
                    source,
                    number,
                    format!(
                        "user {user:?} is on lines {first} and {number}; keep one (remove the other, or run: gatehouse-operator users remove {user})"
                    ),
                ));
                seen.insert(user.to_owned(), first);
                continue;
            }
            lines.push(Line::Entry {
                user: user.to_owned(),
                hash: hash.to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(HtpasswdFile { lines })
        } else {
            Err(errors)
        }
    }

    /// Sets `user`'s hash: in place when the user is there, else a new line
    /// at the end. `true` when the user is new.
    pub fn set(&mut self, user: &str, hash: &str) -> Result<bool, InvalidName> {
        if let Some(problem) = user_name_problem(user) {
            return Err(InvalidName(problem));
        }
        for line in &mut self.lines {
            if let Line::Entry { user: u, hash: h } = line
                && u == user
            {
                *h = hash.to_owned();
                return Ok(false);
            }
        }
        self.lines.push(Line::Entry {
            user: user.to_owned(),
            hash: hash.to_owned(),
        });
        Ok(true)
    }

    /// Removes `user`'s line; `false` when there was none.
    pub fn remove(&mut self, user: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { user: u, .. } if u == user));
        self.lines.len() != before
    }

    /// Whether `user` has a line.
    pub fn contains(&self, user: &str) -> bool {
        self.entries().any(|(u, _)| u == user)
    }

    /// `(user, hash)` in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { user, hash } => Some((user.as_str(), hash.as_str())),
            Line::Other(_) => None,
        })
    }

    /// `(line, user, hash)` in file order. Every line of a parsed text is
    /// kept (comments as `Other`), so the index is the line number.
    pub(crate) fn numbered_entries(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        self.lines.iter().enumerate().filter_map(|(i, l)| match l {
            Line::Entry { user, hash } => Some((i + 1, user.as_str(), hash.as_str())),
            Line::Other(_) => None,
        })
    }

    /// The text: entries as `user:hash`, comments and blank lines as read.
    pub fn render(&self) -> String {
        text::join(self.lines.iter().map(|l| match l {
            Line::Entry { user, hash } => format!("{user}:{hash}"),
            Line::Other(text) => text.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments_and_order() {
        let text = "# team\nalice:$2y$05$x\n\nbob:{SHA}y\n";
        let mut file = HtpasswdFile::parse("f", text).unwrap();
        assert_eq!(file.render(), text);
        assert!(!file.set("alice", "$2y$10$z").unwrap());
        assert!(file.set("carol", "$2y$10$c").unwrap());
        assert!(file.remove("bob"));
        assert!(!file.remove("bob"));
        assert_eq!(file.render(), "# team\nalice:$2y$10$z\n\ncarol:$2y$10$c\n");
        assert!(file.set("a b", "h").unwrap_err().0.contains("spaces"));
        let users: Vec<_> = file.entries().map(|(u, _)| u).collect();
        assert_eq!(users, ["alice", "carol"]);
    }

    #[test]
    fn crlf_whitespace_and_extra_fields_read_as_apache_does() {
        let file = HtpasswdFile::parse("f", "  alice:h1:comment  \r\nbob:h2\r\n").unwrap();
        let entries: Vec<_> = file.entries().collect();
        assert_eq!(entries, [("alice", "h1"), ("bob", "h2")]);
    }

    #[test]
    fn every_structural_error_has_its_line() {
        let text = "alice:h\nno-colon\n:h\nalice:h2\nb\u{1}b:h\n";
        let errors: Vec<String> = HtpasswdFile::parse("htpasswd", text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(errors[0].starts_with("htpasswd:2: no ':'"), "{}", errors[0]);
        assert!(
            errors[1].starts_with("htpasswd:3: a user name is empty"),
            "{}",
            errors[1]
        );
        assert_eq!(
            errors[2],
            "htpasswd:4: user \"alice\" is on lines 1 and 4; keep one (remove the other, or run: gatehouse-operator users remove alice)"
        );
        assert!(
            errors[3].starts_with("htpasswd:5: user \"b\\u{1}b\""),
            "{}",
            errors[3]
        );
    }

    #[test]
    fn oversized_texts_and_lines_are_refused() {
        let big = "a:b\n".repeat(300_000);
        let errors = HtpasswdFile::parse("s", &big).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 0);
        assert!(
            errors[0].message.contains("over the limit of 1048576"),
            "{}",
            errors[0]
        );

        let long = format!("ok:h\nx:{}\n", "y".repeat(5000));
        let errors = HtpasswdFile::parse("s", &long).unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("over the limit of 4096"));
    }
}
