//! `ProxyConfig`: the one document the operator (or local mode) hands a
//! proxy. Self-contained: a proxy needs nothing else to serve it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::route::{HeaderModifier, PathMatch, RequestRedirect, UrlRewrite, ValueMatch};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// Content hash of everything below; equal configs have equal revisions.
    #[serde(default)]
    pub revision: String,
    /// In tie-break order: older Routes first, then by `namespace/name`.
    /// Required, so that a mistyped document is not read as "no routes".
    pub routes: Vec<RouteConfig>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    /// `namespace/name` of the Route; the `route` label in metrics.
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    pub rules: Vec<RuleConfig>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleConfig {
    /// Never empty: an empty list in the Route becomes `PathPrefix /`.
    pub matches: Vec<MatchConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_timeout_ms: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchConfig {
    pub path: PathMatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<ValueMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<ValueMatch>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum FilterConfig {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    #[serde(rename = "URLRewrite")]
    UrlRewrite(UrlRewrite),
    RequestRedirect(RequestRedirect),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendConfig {
    /// Unique within its rule; the `backend` label in metrics.
    pub name: String,
    pub weight: u32,
    pub target: BackendTarget,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum BackendTarget {
    /// Plain HTTP/1.1 upstream at `host:port`.
    Upstream { authority: String },
    /// A folder on the proxy's disk.
    #[serde(rename_all = "camelCase")]
    Static {
        root: String,
        index: Vec<String>,
        listing: bool,
        precompressed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<String>,
    },
    /// A reference that could not be resolved: its share is answered 500.
    Unresolved { reason: String },
}

impl ProxyConfig {
    /// Builds a config and stamps its content revision.
    pub fn new(routes: Vec<RouteConfig>) -> Self {
        let mut config = ProxyConfig {
            revision: String::new(),
            routes,
        };
        config.revision = config.content_revision();
        config
    }

    /// The hash of the config's content, ignoring the `revision` field itself.
    pub fn content_revision(&self) -> String {
        let body = serde_json::to_vec(&self.routes).expect("config serialises");
        let digest = Sha256::digest(&body);
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}
