//! One problem in an htpasswd or groups text, with where it is, so a user
//! reading a Route's status or the CLI's message can open the file at the line.

use std::fmt;

/// One problem in an htpasswd or groups text: `source:line: message`.
///
/// `line` counts from 1; 0 means the whole text (too large, not UTF-8).
/// The message never holds a password or a hash, only names and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFileError {
    /// What the text is, e.g. `Secret default/git-users key htpasswd`.
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl AuthFileError {
    pub(crate) fn new(source: &str, line: usize, message: impl Into<String>) -> Self {
        AuthFileError {
            source: source.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for AuthFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for AuthFileError {}
