//! The `mock` kind: a mock server answering with a MockProvision of the
//! Route's namespace, or with the provision active in the proxy's
//! `--provisions-dir`. A MockProvision that does not exist (or was
//! refused) is an unresolved reference (500 meanwhile), as a missing
//! Service is.

use crate::compile::findings::Findings;
use crate::config::BackendTarget;
use crate::route::MockBackend;

pub(super) fn lower(
    mock: &MockBackend,
    field: &str,
    namespace: &str,
    mocks: &[String],
    findings: &mut Findings,
) -> Option<BackendTarget> {
    match (&mock.provision, mock.provisions_dir) {
        (Some(name), None) => {
            if name.is_empty() || name.contains('/') {
                findings.error(
                    format!("{field}.mock.provision"),
                    "InvalidBackend",
                    format!("`{name}` is not a MockProvision name: name one of the Route's namespace, without `/`"),
                );
                return None;
            }
            let id = format!("{namespace}/{name}");
            if !mocks.contains(&id) {
                let reason = format!(
                    "MockProvision {id} does not exist or is not valid (see its status): apply it, or name another"
                );
                findings.unresolved(
                    format!("{field}.mock.provision"),
                    "MockProvisionNotFound",
                    reason.clone(),
                );
                return Some(BackendTarget::Unresolved { reason });
            }
            Some(BackendTarget::Mock {
                provision: Some(id),
            })
        }
        (None, Some(true)) => Some(BackendTarget::Mock { provision: None }),
        (None, Some(false)) => {
            findings.error(
                format!("{field}.mock.provisionsDir"),
                "InvalidBackend",
                "`provisionsDir: false` names no provision: set `provisionsDir: true` for the proxy's provisions folder, or `provision: NAME` for a MockProvision",
            );
            None
        }
        _ => {
            findings.error(
                format!("{field}.mock"),
                "InvalidBackend",
                "a mock backend needs exactly one of `provision: NAME` (a MockProvision of the Route's namespace) or `provisionsDir: true` (the provision active in the proxy's --provisions-dir)",
            );
            None
        }
    }
}

/// A lowered (or pushed) mock target names a provision the config has.
pub(super) fn check(
    provision: Option<&str>,
    mocks: &[String],
    field: &str,
    findings: &mut Findings,
) {
    if let Some(id) = provision
        && !mocks.iter().any(|m| m == id)
    {
        findings.error(
            format!("{field}.provision"),
            "InvalidBackend",
            format!("`{id}` is not one of the config's `mocks`: add it there, or take it out"),
        );
    }
}
