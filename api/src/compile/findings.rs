//! Collects one resource's diagnostics while it is lowered.

use crate::diagnostic::{ConditionKind, Diagnostic, Severity};
use crate::resource::ResourceId;

pub(super) struct Findings {
    resource: ResourceId,
    out: Vec<Diagnostic>,
}

impl Findings {
    pub(super) fn new(resource: ResourceId) -> Self {
        Findings {
            resource,
            out: Vec::new(),
        }
    }

    /// The resource is invalid and will be left out.
    pub(super) fn error(
        &mut self,
        field: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) {
        self.push(
            Severity::Error,
            ConditionKind::Accepted,
            field,
            reason,
            message,
        );
    }

    /// The resource is served, but not as its author may expect.
    pub(super) fn warn(
        &mut self,
        field: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) {
        self.push(
            Severity::Warning,
            ConditionKind::Accepted,
            field,
            reason,
            message,
        );
    }

    /// A reference to another object does not resolve; the resource is still served.
    pub(super) fn unresolved(
        &mut self,
        field: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) {
        self.push(
            Severity::Warning,
            ConditionKind::ResolvedRefs,
            field,
            reason,
            message,
        );
    }

    pub(super) fn error_count(&self) -> usize {
        self.out.iter().filter(|d| d.is_error()).count()
    }

    pub(super) fn has_errors(&self) -> bool {
        self.out.iter().any(Diagnostic::is_error)
    }

    pub(super) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.out
    }

    fn push(
        &mut self,
        severity: Severity,
        condition: ConditionKind,
        field: impl Into<String>,
        reason: &'static str,
        message: impl Into<String>,
    ) {
        self.out.push(Diagnostic {
            severity,
            resource: self.resource.clone(),
            field: field.into(),
            reason,
            condition,
            message: message.into(),
            origin: None,
        });
    }
}
