//! Secret values in the config (password hashes, TLS keys, tokens), kept
//! out of every copy people can read.
//!
//! A `ProxyConfig` lists each secret it uses once, as a `SecretEntry`: the
//! Kubernetes Secret key it came from, the SHA-256 of its value, and the
//! value itself only on the token-guarded push that carries it. Every copy
//! made for reading (`GET /config`, the operator's ConfigMap snapshot) is
//! `ProxyConfig::redacted`: the reference and the hash stay, the value goes.
//! The revision is the redacted form's, so a snapshot and the push it came
//! from have the same one; a proxy started from a snapshot says its values
//! are missing, and the next push brings them.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a secret value comes from: one key of a Kubernetes Secret (in
/// local mode, the file of that name beside the manifests).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Secret {}/{} key `{}`",
            self.namespace, self.name, self.key
        )
    }
}

/// A secret's value. `Debug` shows its length only, and it has no
/// `Display`: it cannot reach a log line by accident. It serialises as
/// itself, for the push; copies for reading drop it first (`redacted`).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value, for the code that uses it (verifying a password, loading
    /// a key) and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Lower-case hex SHA-256 of the value.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<redacted, {} bytes>)", self.0.len())
    }
}

/// One secret a config uses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEntry {
    pub source: SecretRef,
    /// Of the value: it changes the config's revision when the value
    /// changes, and lets a proxy check a value it got elsewhere.
    pub sha256: String,
    /// Only on a push; never in `GET /config` or the ConfigMap snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SecretValue>,
}

impl SecretEntry {
    pub fn new(source: SecretRef, value: SecretValue) -> Self {
        SecretEntry {
            source,
            sha256: value.sha256(),
            value: Some(value),
        }
    }

    /// The entry without its value.
    pub fn redacted(&self) -> Self {
        SecretEntry {
            value: None,
            ..self.clone()
        }
    }

    /// Gives a value-less entry its value, if `value` is the one hashed
    /// (read from a mounted Secret, say); a value of another hash is not
    /// taken, and the entry stays missing.
    pub fn fill(&mut self, value: SecretValue) -> bool {
        if self.value.is_none() && value.sha256() == self.sha256 {
            self.value = Some(value);
        }
        self.value.is_some()
    }

    /// Why this entry cannot be served, if it cannot: a hash that is not
    /// SHA-256 hex, or a value that is not the one hashed.
    pub fn problem(&self) -> Option<String> {
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Some(format!(
                "the sha256 of {} is not 64 lower-case hex digits",
                self.source
            ));
        }
        match &self.value {
            Some(value) if value.sha256() != self.sha256 => Some(format!(
                "the value of {} does not have the sha256 given: send the value and its own hash",
                self.source
            )),
            _ => None,
        }
    }
}

/// A Secret as `compile` reads it: from the cluster (the Secrets Routes
/// name), or in local mode from a `kind: Secret` document beside the
/// manifests. Keys whose value is not UTF-8 text are listed apart: no
/// secret Gatehouse reads is binary, and saying so beats a garbled value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownSecret {
    pub namespace: String,
    pub name: String,
    /// Its `type` (`Opaque` when unset).
    pub kind: String,
    pub data: std::collections::BTreeMap<String, SecretValue>,
    pub not_text: Vec<String>,
    /// Keys whose file could not be read (local mode's Secret folders: a
    /// file without read permission), with the error.
    pub unreadable: std::collections::BTreeMap<String, String>,
    /// Set by `compile::SecretHistory` when these are the last good
    /// values, kept because the Secret's newer ones were refused: why.
    pub refused_edit: Option<String>,
}

impl KnownSecret {
    /// `type: kubernetes.io/basic-auth`.
    pub const BASIC_AUTH: &str = "kubernetes.io/basic-auth";
    /// `type: kubernetes.io/tls`.
    pub const TLS: &str = "kubernetes.io/tls";

    /// From a Secret as the API server (or a manifest) gives it:
    /// `stringData` wins over `data` for a key, as Kubernetes does.
    pub fn from_secret(secret: &k8s_openapi::api::core::v1::Secret) -> KnownSecret {
        let mut known = KnownSecret {
            namespace: secret
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: secret.metadata.name.clone().unwrap_or_default(),
            kind: secret.type_.clone().unwrap_or_else(|| "Opaque".into()),
            ..KnownSecret::default()
        };
        for (key, bytes) in secret.data.iter().flatten() {
            match String::from_utf8(bytes.0.clone()) {
                Ok(text) => {
                    known.data.insert(key.clone(), SecretValue::new(text));
                }
                Err(_) => known.not_text.push(key.clone()),
            }
        }
        for (key, text) in secret.string_data.iter().flatten() {
            known.not_text.retain(|k| k != key);
            known
                .data
                .insert(key.clone(), SecretValue::new(text.clone()));
        }
        known
    }

    /// A ConfigMap's text data, read as a Secret's (a client CA bundle);
    /// its binary data is listed in `not_text`. Its `kind` is `ConfigMap`.
    pub fn from_config_map(map: &k8s_openapi::api::core::v1::ConfigMap) -> KnownSecret {
        let mut known = KnownSecret {
            namespace: map
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: map.metadata.name.clone().unwrap_or_default(),
            kind: "ConfigMap".into(),
            ..KnownSecret::default()
        };
        for (key, text) in map.data.iter().flatten() {
            known
                .data
                .insert(key.clone(), SecretValue::new(text.clone()));
        }
        known.not_text = map
            .binary_data
            .iter()
            .flatten()
            .map(|(key, _)| key.clone())
            .collect();
        known
    }

    /// A reference to one of its keys.
    /// Why `key`'s value cannot be used as text, if it cannot: a value
    /// that is not UTF-8, or a file that could not be read.
    pub fn not_readable(&self, key: &str) -> Option<String> {
        if let Some(error) = self.unreadable.get(key) {
            return Some(format!("{} cannot be read: {error}", self.key(key)));
        }
        self.not_text
            .iter()
            .any(|k| k == key)
            .then(|| format!("{} is not UTF-8 text", self.key(key)))
    }

    pub fn key(&self, key: &str) -> SecretRef {
        SecretRef {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            key: key.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: &str) -> SecretEntry {
        let source = SecretRef {
            namespace: "git".into(),
            name: "users".into(),
            key: "htpasswd".into(),
        };
        SecretEntry::new(source, SecretValue::new(value))
    }

    #[test]
    fn debug_never_shows_the_value() {
        let entry = entry("alice:$2y$05$abcdefghijklmnopqrstuv");
        let debug = format!("{entry:?}");
        assert!(!debug.contains("alice"), "{debug}");
        assert!(debug.contains("<redacted, 35 bytes>"), "{debug}");
    }

    #[test]
    fn a_redacted_entry_keeps_its_source_and_hash_and_loses_its_value() {
        let entry = entry("s3cret");
        let json = serde_json::to_string(&entry.redacted()).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains(&entry.sha256), "{json}");
        assert!(serde_json::to_string(&entry).unwrap().contains("s3cret"));
    }

    #[test]
    fn a_missing_value_is_filled_only_with_the_value_hashed() {
        let mut missing = entry("right").redacted();
        assert!(!missing.fill(SecretValue::new("wrong")));
        assert_eq!(missing.value, None);
        assert!(missing.fill(SecretValue::new("right")));
        assert_eq!(
            missing.value.as_ref().map(SecretValue::expose),
            Some("right")
        );
    }

    #[test]
    fn a_value_that_is_not_the_one_hashed_is_a_problem() {
        let mut entry = entry("one");
        assert_eq!(entry.problem(), None);
        entry.value = Some(SecretValue::new("two"));
        let problem = entry.problem().expect("a problem");
        assert!(
            problem.contains("Secret git/users key `htpasswd`"),
            "{problem}"
        );
        entry.sha256 = "XYZ".into();
        assert!(entry.problem().unwrap().contains("64 lower-case hex"));
    }
}
