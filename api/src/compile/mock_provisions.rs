//! MockProvisions lowered to `MockConfig`s. The spec is the provision, so
//! the mock engine (`gatehouse-mock`) checks it, here, with every problem
//! named by its field under `spec` (`spec.rules[2].request.path.regex`):
//! the operator refuses a bad provision in its `Accepted` condition, local
//! mode with the field's `file:line`, and a pushed config with `mocks[i]`.

use super::findings::Findings;
use crate::config::MockConfig;
use crate::diagnostic::Diagnostic;
use crate::mock_provision::MockProvision;
use crate::resource::ResourceId;

/// Every valid provision, by `namespace/name`; the findings of all of them.
pub(super) fn lower_all(
    mocks: &[&MockProvision],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<MockConfig> {
    let mut lowered = Vec::new();
    for mock in mocks {
        let id = ResourceId::mock_provision(mock);
        let mut findings = Findings::new(id.clone());
        let config = MockConfig {
            id: id.key(),
            provision: serde_json::Value::Object(mock.spec.provision.clone().into_iter().collect()),
        };
        check(&config, &Fields::Spec, &mut findings);
        let rejected = findings.has_errors();
        diagnostics.extend(findings.into_diagnostics());
        if !rejected {
            lowered.push(config);
        }
    }
    lowered.sort_by(|a, b| a.id.cmp(&b.id));
    lowered
}

/// Where a provision is written: a MockProvision's `spec`, or a pushed
/// config's `mocks[i].provision`.
pub(super) enum Fields {
    Spec,
    Config(usize),
}

impl Fields {
    /// The field of the provision's `field` (`rules[0]`, or `` for all).
    fn of(&self, field: &str) -> String {
        let base = match self {
            Fields::Spec => "spec".to_owned(),
            Fields::Config(i) => format!("mocks[{i}].provision"),
        };
        match field {
            "" => base,
            field => format!("{base}.{field}"),
        }
    }
}

/// What a provision must be, whether `compile` made it or a push brought
/// it: one the mock engine accepts.
pub(super) fn check(config: &MockConfig, fields: &Fields, findings: &mut Findings) {
    let text = serde_json::to_string(&config.provision).expect("JSON values serialise");
    if let Err(errors) = gatehouse_mock::Provision::parse(&config.id, &text) {
        for error in errors {
            let message = match &error.fix {
                Some(fix) => format!("{} — {fix}", error.message),
                None => error.message.clone(),
            };
            findings.error(fields.of(&error.field), "InvalidProvision", message);
        }
    }
}
