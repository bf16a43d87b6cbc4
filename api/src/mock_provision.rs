//! The `MockProvision` custom resource: a provision for a mock server (its
//! rules, default answer, collections…, the format of `docs/mock.md`) as a
//! resource. A Route's `mock` backend names one. The spec *is* the
//! provision: its fields are checked by the mock engine (`gatehouse-mock`)
//! when the operator compiles, not by the API server's schema, so a
//! cluster, a local-mode folder and an admin POST refuse the same provision
//! with the same words.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gatehouse.dev",
    version = "v1alpha1",
    kind = "MockProvision",
    namespaced,
    status = "MockProvisionStatus",
    shortname = "mockp",
    printcolumn = r#"{"name":"Rules","type":"integer","jsonPath":".status.rules"}"#,
    printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
    printcolumn = r#"{"name":"Programmed","type":"string","jsonPath":".status.conditions[?(@.type==\"Programmed\")].status"}"#,
    printcolumn = r#"{"name":"Proxies","type":"string","jsonPath":".status.proxies"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MockProvisionSpec {
    /// Which Gatehouse install serves it (default `gatehouse`), as a
    /// Route's `className`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// The provision itself: `rules`, `default` and the rest.
    #[serde(flatten)]
    pub provision: BTreeMap<String, serde_json::Value>,
}

impl MockProvisionSpec {
    /// The provision as the mock engine reads it: the spec without
    /// `className`, as JSON text (which is YAML too).
    pub fn provision_text(&self) -> String {
        serde_json::to_string(&self.provision).expect("JSON values serialise")
    }
}

/// The API server keeps the provision's fields as they are; the mock
/// engine checks them (every error with its field path) when the operator
/// compiles, and reports them in `Accepted`.
impl JsonSchema for MockProvisionSpec {
    fn schema_name() -> Cow<'static, str> {
        "MockProvisionSpec".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A mock's provision (docs/mock.md): `rules` tried by priority then order, each a `request` condition and its `response`; an optional `default` for requests no rule matches. Checked by Gatehouse, which reports every error with its field in the `Accepted` condition.",
            "type": "object",
            "properties": {
                "className": {
                    "description": "Which Gatehouse install serves it (default `gatehouse`), as a Route's `className`.",
                    "type": "string"
                }
            },
            "x-kubernetes-preserve-unknown-fields": true
        })
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MockProvisionStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// How many rules the provision has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<u32>,
    /// How many proxies serve its current generation, e.g. `3/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxies: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_the_provision_and_class_name_is_set_apart() {
        let spec: MockProvisionSpec = serde_yaml::from_str(
            "className: blue\nrules:\n  - response: {status: 204}\ndefault: {status: 404}\n",
        )
        .unwrap();
        assert_eq!(spec.class_name.as_deref(), Some("blue"));
        assert_eq!(
            spec.provision_text(),
            r#"{"default":{"status":404},"rules":[{"response":{"status":204}}]}"#
        );
    }
}
