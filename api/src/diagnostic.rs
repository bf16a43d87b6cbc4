//! What the compiler says about its input: each finding names the resource,
//! the field path, what is wrong and how to fix it.

use std::fmt;

use crate::resource::ResourceId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The resource is rejected (left out of the config).
    Error,
    /// The resource is served, but not as its author may expect.
    Warning,
}

/// The condition a finding bears on, in Gateway API terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionKind {
    Accepted,
    ResolvedRefs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// `Route default/demo`.
    pub resource: ResourceId,
    /// `spec.rules[0].backends[1].weight`; empty for the whole resource.
    pub field: String,
    /// A CamelCase reason, as condition reasons are (`InvalidRegex`).
    pub reason: &'static str,
    pub condition: ConditionKind,
    /// What is wrong, then how to fix it.
    pub message: String,
    /// `file:line` where the resource came from, when it came from a file.
    pub origin: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        write!(f, "{level}: {}", self.resource)?;
        if !self.field.is_empty() {
            write!(f, " {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}
