//! What a refused provision says: one [`ProvisionError`] per problem found,
//! each naming where (`file:line`, the field path) and how to fix it.

use std::fmt;

/// One problem in a provision. A provision is refused whole, with every
/// problem found, never just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionError {
    /// Where the provision came from: a file name, or a resource's name.
    pub source: String,
    /// The 1-based line, when it could be found.
    pub line: Option<usize>,
    /// The field path (`rules[2].request.path.regex`); empty for the whole
    /// document (a YAML syntax error, an empty provision).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub fix: Option<String>,
}

impl fmt::Display for ProvisionError {
    /// `file:line: field: message — how to fix`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " — {fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProvisionError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: Option<usize>, field: &str, fix: Option<&str>) -> ProvisionError {
        ProvisionError {
            source: "foo.yaml".into(),
            line,
            field: field.into(),
            message: "bad".into(),
            fix: fix.map(Into::into),
        }
    }

    #[test]
    fn displays_what_is_known() {
        assert_eq!(
            error(Some(3), "rules[0].response.status", Some("use 200")).to_string(),
            "foo.yaml:3: rules[0].response.status: bad — use 200"
        );
        assert_eq!(error(None, "", None).to_string(), "foo.yaml: bad");
        assert_eq!(error(Some(1), "", None).to_string(), "foo.yaml:1: bad");
    }
}
