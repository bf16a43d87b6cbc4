//! The `DepotRepo` custom resource: one repository of versioned files,
//! served with HouseDepot's API by a Route's `depot` backend. Every PUT is
//! a revision; `current` is what a plain GET returns, `latest` the newest.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest revision a repository takes unless it says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Group names in an allow or deny list, and origins allowed to write.
pub const MAX_GROUPS: usize = 64;
pub const MAX_ORIGINS: usize = 16;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gatehouse.dev",
    version = "v1alpha1",
    kind = "DepotRepo",
    namespaced,
    status = "DepotRepoStatus",
    shortname = "drepo",
    printcolumn = r#"{"name":"Files","type":"integer","jsonPath":".status.files"}"#,
    printcolumn = r#"{"name":"Bytes","type":"integer","jsonPath":".status.bytes"}"#,
    printcolumn = r#"{"name":"Last change","type":"date","jsonPath":".status.lastChange"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct DepotRepoSpec {
    /// Which Gatehouse install serves this repository (default `gatehouse`),
    /// as a Route's `className`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Revisions kept of each file: after a check-in, revisions numbered
    /// at or below `latest - depth` are removed (never `current` or
    /// `latest`). Unset: every revision is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub depth: Option<u32>,
    /// Which groups (sub-folders) a GET may see. Writes are not limited
    /// by it, as in HouseDepot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupVisibility>,
    /// The largest revision taken, as a Kubernetes quantity (`64Mi`, the
    /// default; `512Ki`, `1G`, `1048576`). A larger PUT is answered 413 and
    /// nothing is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$"))]
    pub max_file_size: Option<String>,
    /// Browser origins (`https://admin.example.com`) allowed to write.
    /// Any origin may read (`Access-Control-Allow-Origin: *`); none may
    /// write unless listed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_ORIGINS))]
    pub cors_write_origins: Vec<String>,
}

/// Groups a GET may see: an allow list or a deny list, not both. A name
/// ending in `.` is a prefix (`rail.` matches `railway`). With an allow
/// list, top-level files are hidden too.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.allow) != has(self.deny)",
    "message": "set exactly one of allow or deny"
}]))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupVisibility {
    /// Only these groups are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_GROUPS))]
    pub allow: Option<Vec<String>>,
    /// Every group but these is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_GROUPS))]
    pub deny: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepotRepoStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Files with a current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Bytes of every revision kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// When a file last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
}

/// Reads a Kubernetes quantity of bytes: digits, then an optional binary
/// (`Ki`, `Mi`, `Gi`, `Ti`) or decimal (`k`, `M`, `G`, `T`) suffix.
pub fn parse_byte_quantity(text: &str) -> Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = text.split_at(digits);
    let multiplier: u64 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}` is not a quantity of bytes: write digits and an optional suffix (Ki, Mi, Gi, Ti, k, M, G, T), e.g. `64Mi`"
            ));
        }
    };
    if number.is_empty() {
        return Err(format!(
            "`{text}` is not a quantity of bytes: it needs digits, e.g. `64Mi`"
        ));
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("`{text}` is too large a quantity of bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(parse_byte_quantity("64Mi"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_byte_quantity("512Ki"), Ok(512 * 1024));
        assert_eq!(parse_byte_quantity("1G"), Ok(1_000_000_000));
        assert_eq!(parse_byte_quantity("1048576"), Ok(1_048_576));
        for bad in ["", "Mi", "64MB", "64 Mi", "-1", "1.5Gi"] {
            assert!(parse_byte_quantity(bad).is_err(), "{bad}");
        }
        assert!(
            parse_byte_quantity("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }
}
