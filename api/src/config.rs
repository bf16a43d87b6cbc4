//! `ProxyConfig`: the one document the operator (or local mode) hands a
//! proxy. Self-contained: a proxy needs nothing else to serve it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::route::{HeaderModifier, PathMatch, RequestRedirect, UrlRewrite, ValueMatch};
use crate::secret::{SecretEntry, SecretRef};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// Content hash of everything below; equal configs have equal revisions.
    #[serde(default)]
    pub revision: String,
    /// In tie-break order: older Routes first, then by `namespace/name`.
    /// Required, so that a mistyped document is not read as "no routes".
    pub routes: Vec<RouteConfig>,
    /// Each secret value the config uses, once, by the Secret key it came
    /// from (`secret.rs`): with its value on a push, without it in every
    /// copy for reading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretEntry>,
    /// Repositories of versioned files, by `namespace/name`, in that order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depots: Vec<DepotConfig>,
    /// Mock provisions, by `namespace/name`, in that order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mocks: Vec<MockConfig>,
    /// Certificates for `--listen-tls`, in the Routes' order: a host
    /// belongs to the first that names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateConfig>,
}

/// A certificate a proxy serves over TLS, with its key, both by reference
/// into `secrets`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateConfig {
    /// `namespace/name` of the Route that names it.
    pub route: String,
    /// Served for these server names: exact, or `*.` and a domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Served to clients naming no host a certificate covers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// PEM: the chain, leaf first (`tls.crt`).
    pub chain: SecretRef,
    /// PEM: its private key (`tls.key`).
    pub key: SecretRef,
    /// PEM: CAs a client certificate must chain to, from a Secret; none
    /// asked when neither this nor `client_ca_bundle` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<SecretRef>,
    /// The same from a ConfigMap, carried as it is: a CA certificate is
    /// public, and a snapshot may hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_bundle: Option<String>,
}

/// A `MockProvision` as a proxy serves it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MockConfig {
    /// `namespace/name` of the MockProvision.
    pub id: String,
    /// The provision (`docs/mock.md`), as the resource's spec holds it
    /// (without `className`).
    pub provision: serde_json::Value,
}

/// A `DepotRepo` as a proxy serves it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DepotConfig {
    /// `namespace/name` of the DepotRepo; its folder under the data dir.
    pub id: String,
    /// Revisions kept of each file; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Which groups a GET may see; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupFilter>,
    /// The largest revision taken, in bytes.
    pub max_file_size: u64,
    /// Browser origins allowed to write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_write_origins: Vec<String>,
}

/// Group names, each exact or (ending in `.`) a prefix.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum GroupFilter {
    /// Only these groups (and no top-level file) are visible.
    Allow(Vec<String>),
    /// Every group but these is visible.
    Deny(Vec<String>),
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    /// `namespace/name` of the Route; the `route` label in metrics.
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    pub rules: Vec<RuleConfig>,
    /// What HTTPS means for the Route's requests; its certificate is in
    /// `ProxyConfig.certificates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouteTlsConfig>,
}

/// A Route's HTTPS behaviour on requests (the handshake's is the
/// certificate's).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteTlsConfig {
    /// The hosts its certificate covers: plain-HTTP requests for them are
    /// redirected when `redirect`; HTTPS answers for them carry `hsts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Plain HTTP → 308 `https://`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redirect: bool,
    /// The `Strict-Transport-Security` value, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<String>,
    /// A verified client certificate is required: a request that came
    /// over another certificate's handshake, or over plain HTTP, is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_certificates: bool,
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
    /// Who may use the rule (`access.rs` in the proxy); checked first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessConfig>,
}

/// A rule's access check: HTTP Basic against a Secret's users.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessConfig {
    /// In `WWW-Authenticate: Basic realm="..."`.
    pub realm: String,
    pub users: UsersConfig,
    /// Who may send GET and HEAD.
    pub read: AllowConfig,
    /// Who may send every other method.
    pub write: AllowConfig,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forward_authorization: bool,
}

/// Where a rule's users are: Secret keys whose values ride `secrets`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum UsersConfig {
    /// An htpasswd text, and optionally an AuthGroupFile text.
    #[serde(rename_all = "camelCase")]
    Htpasswd {
        htpasswd: crate::secret::SecretRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        groups: Option<crate::secret::SecretRef>,
    },
    /// A `kubernetes.io/basic-auth` Secret: one user.
    BasicAuth {
        username: crate::secret::SecretRef,
        password: crate::secret::SecretRef,
    },
    /// The Secret is missing or refused: every request gets 500 with
    /// this reason (never let through).
    Unresolved { reason: String },
}

impl UsersConfig {
    /// The Secret keys it reads.
    pub fn secret_refs(&self) -> Vec<&crate::secret::SecretRef> {
        match self {
            UsersConfig::Htpasswd { htpasswd, groups } => {
                std::iter::once(htpasswd).chain(groups).collect()
            }
            UsersConfig::BasicAuth { username, password } => vec![username, password],
            UsersConfig::Unresolved { .. } => Vec::new(),
        }
    }
}

/// Who is allowed: anyone (`anonymous`), the users named and the groups'
/// members, or (both lists empty) every user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowConfig {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
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

impl MatchConfig {
    /// `PathPrefix /` and nothing else: what a rule without matches has.
    pub fn any_path() -> MatchConfig {
        MatchConfig {
            path: PathMatch {
                kind: crate::route::PathMatchType::PathPrefix,
                value: "/".into(),
            },
            method: None,
            headers: Vec::new(),
            query_params: Vec::new(),
        }
    }
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
    /// Repositories of versioned files, by `namespace/name` (each one of
    /// the config's `depots`), served at the matched path prefix.
    Depot { repos: Vec<String> },
    /// A mock server answering with the provision `provision` names (one
    /// of the config's `mocks`), or with the active one of the proxy's
    /// `--provisions-dir` when `None`.
    Mock {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provision: Option<String>,
    },
    /// Git repositories below `root` (`None`: `<--data-dir>/git`), served
    /// by `git http-backend` at the matched path prefix.
    #[serde(rename_all = "camelCase")]
    Git {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        create_on_push: bool,
        limits: ProcessLimits,
    },
    /// A CGI program, run once a request.
    #[serde(rename_all = "camelCase")]
    Cgi {
        script: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        env: Vec<crate::route::EnvVar>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        working_dir: Option<String>,
        limits: ProcessLimits,
    },
    /// A reference that could not be resolved: its share is answered 500.
    Unresolved { reason: String },
}

/// How far a process-per-request backend (`git`, `cgi`) may go.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessLimits {
    /// Processes at once, per backend; more are answered 503.
    pub max_processes: u32,
    /// The longest one request may run; its process is then killed.
    pub timeout_ms: u64,
}

impl BackendTarget {
    /// Whether the target is `git`, whose pushes are writes whatever
    /// their method (see the proxy's access check).
    pub fn is_git(&self) -> bool {
        matches!(self, BackendTarget::Git { .. })
    }
}

impl ProxyConfig {
    /// Builds a config and stamps its content revision.
    pub fn new(routes: Vec<RouteConfig>) -> Self {
        let mut config = ProxyConfig {
            revision: String::new(),
            routes,
            secrets: Vec::new(),
            depots: Vec::new(),
            mocks: Vec::new(),
            certificates: Vec::new(),
        };
        config.revision = config.content_revision();
        config
    }

    /// The hash of the config's content: every field but `revision`
    /// itself, so a field added later is covered without a word here (a
    /// proxy comparing revisions must never call a changed config unchanged).
    /// Secrets count by their hashes, so the redacted copy of a config has
    /// the same revision as the config.
    pub fn content_revision(&self) -> String {
        let redacted = self.redacted();
        let mut content = serde_json::to_value(&redacted).expect("config serialises");
        if let Some(fields) = content.as_object_mut() {
            fields.remove("revision");
        }
        let body = serde_json::to_vec(&content).expect("config serialises");
        let digest = Sha256::digest(&body);
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `other` serves the same as this, whatever either's
    /// `revision` says. Every field is named: a new one fails to compile
    /// here until it is compared.
    /// Secret values count too: a push that brings the values a config
    /// read from a snapshot lacked is not "the same".
    pub fn same_content(&self, other: &ProxyConfig) -> bool {
        let ProxyConfig {
            revision: _,
            routes,
            secrets,
            depots,
            mocks,
            certificates,
        } = self;
        *routes == other.routes
            && *secrets == other.secrets
            && *depots == other.depots
            && *mocks == other.mocks
            && *certificates == other.certificates
    }

    /// The config for copies people can read (`GET /config`, the
    /// ConfigMap snapshot): every secret's value left out.
    pub fn redacted(&self) -> ProxyConfig {
        ProxyConfig {
            revision: self.revision.clone(),
            routes: self.routes.clone(),
            secrets: self.secrets.iter().map(SecretEntry::redacted).collect(),
            depots: self.depots.clone(),
            mocks: self.mocks.clone(),
            certificates: self.certificates.clone(),
        }
    }

    /// What the config serves, by kind: `4 Route(s) and 1 DepotRepo(s)`.
    pub fn served(&self) -> String {
        use crate::resource::{Kind, tally};
        let routes = self.routes.iter().map(|_| Kind::Route);
        let depots = self.depots.iter().map(|_| Kind::DepotRepo);
        let mocks = self.mocks.iter().map(|_| Kind::MockProvision);
        tally(routes.chain(depots).chain(mocks))
    }

    /// The secrets whose values this config lacks (it was read from a
    /// snapshot); what uses them is not served until a push brings them.
    pub fn missing_secrets(&self) -> impl Iterator<Item = &SecretEntry> {
        self.secrets.iter().filter(|s| s.value.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of the JSON but `revision`, changed alone, changes the
    /// revision and the content: a field left out of either would let a
    /// proxy keep serving an old config while saying it took the new one.
    #[test]
    fn the_revision_and_the_content_cover_every_field() {
        let route = RouteConfig {
            id: "default/a".into(),
            hostnames: vec!["a.test".into()],
            rules: vec![RuleConfig::default()],
            tls: None,
        };
        let mut config = ProxyConfig::new(vec![route]);
        config.secrets = vec![secret("v")];
        config.certificates = vec![CertificateConfig {
            route: "default/a".into(),
            hosts: vec!["a.test".into()],
            default: false,
            chain: secret("v").source,
            key: secret("v").source,
            client_ca: None,
            client_ca_bundle: None,
        }];
        config.depots = vec![DepotConfig {
            id: "default/configs".into(),
            depth: None,
            groups: None,
            max_file_size: 1024,
            cors_write_origins: Vec::new(),
        }];
        config.revision = config.content_revision();
        let json = serde_json::to_value(&config).unwrap();
        let fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        assert!(fields.len() > 1, "{fields:?}");
        for field in fields.iter().filter(|f| *f != "revision") {
            let mut changed = json.clone();
            // An empty list or object: a change every field can take.
            changed[field.as_str()] = match &json[field.as_str()] {
                serde_json::Value::Array(items) if items.is_empty() => {
                    panic!("give `{field}` an item in this test")
                }
                serde_json::Value::Array(_) => serde_json::json!([]),
                _ => serde_json::json!({}),
            };
            let changed: ProxyConfig = serde_json::from_value(changed).unwrap();
            assert_ne!(
                changed.content_revision(),
                config.revision,
                "`{field}` is not in the revision"
            );
            assert!(!changed.same_content(&config), "`{field}` is not compared");
        }
        let restamped = ProxyConfig {
            revision: "other".into(),
            ..config.clone()
        };
        assert!(restamped.same_content(&config));
        assert_eq!(restamped.content_revision(), config.revision);
    }

    fn secret(value: &str) -> SecretEntry {
        let source = crate::secret::SecretRef {
            namespace: "default".into(),
            name: "users".into(),
            key: "htpasswd".into(),
        };
        SecretEntry::new(source, crate::secret::SecretValue::new(value))
    }

    #[test]
    fn a_redacted_copy_has_the_revision_but_not_the_value_nor_the_same_content() {
        let mut config = ProxyConfig::new(Vec::new());
        config.secrets = vec![secret("hunter2")];
        config.revision = config.content_revision();
        let copy = config.redacted();
        assert_eq!(copy.content_revision(), config.revision);
        assert!(!serde_json::to_string(&copy).unwrap().contains("hunter2"));
        assert_eq!(copy.missing_secrets().count(), 1);
        assert!(
            !copy.same_content(&config),
            "a push bringing the values is applied"
        );
        let mut other = config.clone();
        other.secrets = vec![secret("hunter3")];
        assert_ne!(
            other.content_revision(),
            config.revision,
            "a new value is a new revision"
        );
    }
}
