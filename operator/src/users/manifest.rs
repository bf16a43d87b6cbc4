//! The users' Secret as a manifest: read (from a file or `kubectl get -o
//! yaml`), its htpasswd and groups edited, and written back.
//!
//! A v1 Opaque Secret with the keys `htpasswd` and `groups`. It is written
//! with `stringData`, so the file stays readable and diffs show who changed;
//! it is read from `data` (base64, as the API server returns it) and
//! `stringData`, the latter winning per key as Kubernetes merges them.
//! Everything else in the manifest (labels, annotations, other keys) is kept.

use base64::Engine as _;
use gatehouse_auth::{AuthFileError, GroupsFile, HtpasswdFile, Users};
use serde::Deserialize as _;
use serde_yaml::{Mapping, Value};

/// The Secret's name when neither `--secret` nor a file gives one.
pub(crate) const DEFAULT_SECRET: &str = "gatehouse-users";

pub(crate) struct SecretManifest {
    doc: Mapping,
    pub(crate) htpasswd: HtpasswdFile,
    pub(crate) groups: GroupsFile,
}

impl SecretManifest {
    /// A new, empty Secret.
    pub(crate) fn new(name: &str, namespace: Option<&str>) -> Self {
        let mut metadata = Mapping::new();
        metadata.insert("name".into(), name.into());
        if let Some(ns) = namespace {
            metadata.insert("namespace".into(), ns.into());
        }
        let mut doc = Mapping::new();
        doc.insert("apiVersion".into(), "v1".into());
        doc.insert("kind".into(), "Secret".into());
        doc.insert("metadata".into(), metadata.into());
        doc.insert("type".into(), "Opaque".into());
        SecretManifest {
            doc,
            htpasswd: HtpasswdFile::new(),
            groups: GroupsFile::new(),
        }
    }

    /// Reads a manifest that must be one v1 Opaque Secret; `source` names it
    /// in errors (a file name, or "stdin"). Each error is a line of its own.
    pub(crate) fn parse(source: &str, text: &str) -> Result<Self, Vec<String>> {
        let mut docs = Vec::new();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = Value::deserialize(document)
                .map_err(|e| vec![format!("{source}: not YAML: {e}")])?;
            if !value.is_null() {
                docs.push(value);
            }
        }
        let one = match docs.len() {
            1 => docs.remove(0),
            n => {
                return Err(vec![format!(
                    "{source}: holds {n} YAML documents; `users` edits a file that holds one Secret"
                )]);
            }
        };
        let Value::Mapping(doc) = one else {
            return Err(vec![format!(
                "{source}: not a Kubernetes object (a YAML mapping)"
            )]);
        };
        let field = |name: &str| doc.get(name).and_then(Value::as_str).unwrap_or_default();
        if field("kind") != "Secret" || field("apiVersion") != "v1" {
            return Err(vec![format!(
                "{source}: holds apiVersion {:?} kind {:?}; `users` edits a v1 Secret (start a new file, or choose the Secret's file)",
                field("apiVersion"),
                field("kind")
            )]);
        }
        let mut manifest = SecretManifest {
            doc,
            htpasswd: HtpasswdFile::new(),
            groups: GroupsFile::new(),
        };
        let name = manifest.name().to_owned();
        if name.is_empty() {
            return Err(vec![format!("{source}: the Secret has no metadata.name")]);
        }
        let ty = field_of(&manifest.doc, "type").unwrap_or("Opaque");
        if ty != "Opaque" {
            return Err(vec![format!(
                "{source}: Secret {name} has type {ty}; `users` edits an Opaque Secret with an htpasswd key (a kubernetes.io/basic-auth Secret holds one user: edit it with kubectl)"
            )]);
        }
        let at = |key: &str| format!("{source} (Secret {name} key {key})");
        let list = |errors: Vec<AuthFileError>| -> Vec<String> {
            errors.iter().map(ToString::to_string).collect()
        };
        if let Some(text) = manifest.key(source, &name, "htpasswd")? {
            manifest.htpasswd = HtpasswdFile::parse(&at("htpasswd"), &text).map_err(list)?;
        }
        if let Some(text) = manifest.key(source, &name, "groups")? {
            manifest.groups = GroupsFile::parse(&at("groups"), &text).map_err(list)?;
        }
        Ok(manifest)
    }

    pub(crate) fn name(&self) -> &str {
        self.metadata(|m| m.get("name")).unwrap_or_default()
    }

    pub(crate) fn namespace(&self) -> Option<&str> {
        self.metadata(|m| m.get("namespace"))
    }

    /// `namespace/name`, or `name` without a namespace: how messages name it.
    pub(crate) fn display_name(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{ns}/{}", self.name()),
            None => self.name().to_owned(),
        }
    }

    /// Sets metadata.namespace (for a file that had none).
    pub(crate) fn set_namespace(&mut self, namespace: &str) {
        if let Some(Value::Mapping(m)) = self.doc.get_mut("metadata") {
            m.insert("namespace".into(), namespace.into());
        }
    }

    fn metadata<'a>(&'a self, get: impl Fn(&'a Mapping) -> Option<&'a Value>) -> Option<&'a str> {
        match self.doc.get("metadata") {
            Some(Value::Mapping(m)) => get(m).and_then(Value::as_str),
            _ => None,
        }
    }

    /// One key's text: `stringData`'s, else `data`'s decoded.
    fn key(&self, source: &str, name: &str, key: &str) -> Result<Option<String>, Vec<String>> {
        if let Some(value) = map_of(&self.doc, "stringData").and_then(|m| m.get(key)) {
            return value.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| {
                vec![format!(
                    "{source}: Secret {name}: stringData.{key} is not a string"
                )]
            });
        }
        let Some(value) = map_of(&self.doc, "data").and_then(|m| m.get(key)) else {
            return Ok(None);
        };
        let bad = |why: &str| vec![format!("{source}: Secret {name}: data.{key} {why}")];
        let encoded = value.as_str().ok_or_else(|| bad("is not a string"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| bad(&format!("is not base64 ({e})")))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| bad("is not UTF-8 text"))
    }

    /// The problems the proxy would refuse the Secret for (a refused hash
    /// kind, a bad groups line), each `source:line: message`.
    pub(crate) fn problems(&self) -> Vec<String> {
        let name = self.display_name();
        let users = Users::from_htpasswd(
            &format!("Secret {name} key htpasswd"),
            &self.htpasswd.render(),
        )
        .and_then(|u| u.with_groups(&format!("Secret {name} key groups"), &self.groups.render()));
        match users {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The manifest: htpasswd and groups (when any group exists) under
    /// `stringData`, and out of `data`.
    pub(crate) fn render(&self) -> String {
        let mut doc = self.doc.clone();
        let mut keys = vec![("htpasswd", Some(self.htpasswd.render()))];
        keys.push((
            "groups",
            (!self.groups.is_empty()).then(|| self.groups.render()),
        ));
        for section in ["data", "stringData"] {
            if let Some(Value::Mapping(m)) = doc.get_mut(section) {
                for (key, _) in &keys {
                    m.remove(*key);
                }
                if m.is_empty() {
                    doc.remove(section);
                }
            }
        }
        doc.insert("type".into(), "Opaque".into());
        let mut string_data = match doc.remove("stringData") {
            Some(Value::Mapping(m)) => m,
            _ => Mapping::new(),
        };
        for (key, text) in keys {
            if let Some(text) = text {
                string_data.insert(key.into(), text.into());
            }
        }
        doc.insert("stringData".into(), string_data.into());
        serde_yaml::to_string(&doc).expect("a YAML mapping renders")
    }
}

fn map_of<'a>(doc: &'a Mapping, key: &str) -> Option<&'a Mapping> {
    doc.get(key).and_then(Value::as_mapping)
}

fn field_of<'a>(doc: &'a Mapping, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_renders_string_data_and_groups_only_when_any() {
        let mut m = SecretManifest::new("team", Some("git"));
        m.htpasswd.set("alice", "$2y$05$h").unwrap();
        assert_eq!(
            m.render(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: team\n  namespace: git\ntype: Opaque\nstringData:\n  htpasswd: |\n    alice:$2y$05$h\n"
        );
        m.groups.add("alice", "devs").unwrap();
        assert!(
            m.render().ends_with("  groups: |\n    devs: alice\n"),
            "{}",
            m.render()
        );
        assert_eq!(m.display_name(), "git/team");
    }

    #[test]
    fn reads_data_and_string_data_string_data_winning_and_keeps_the_rest() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: {{team: a}}\ndata:\n  htpasswd: {}\n  groups: {}\n  other: {}\nstringData:\n  groups: \"ops: bob\\n\"\n",
            b64("bob:$2y$05$x\n"),
            b64("devs: bob\n"),
            b64("kept")
        );
        let mut m = SecretManifest::parse("s.yaml", &text).unwrap();
        assert_eq!(m.htpasswd.render(), "bob:$2y$05$x\n");
        assert_eq!(m.groups.render(), "ops: bob\n", "stringData wins");
        m.htpasswd.set("carol", "$2y$05$y").unwrap();
        let out = m.render();
        let again = SecretManifest::parse("out", &out).unwrap();
        assert_eq!(again.htpasswd.render(), "bob:$2y$05$x\ncarol:$2y$05$y\n");
        assert_eq!(again.groups.render(), "ops: bob\n");
        assert!(out.contains("labels:\n    team: a"), "{out}");
        assert!(out.contains(&format!("other: {}", b64("kept"))), "{out}");
        assert!(
            !out.contains(&b64("bob:$2y$05$x\n")),
            "the old htpasswd left data: {out}"
        );
    }

    #[test]
    fn refuses_what_is_not_one_opaque_secret() {
        let err = |text: &str| {
            SecretManifest::parse("f.yaml", text)
                .err()
                .unwrap()
                .join("\n")
        };
        assert!(
            err("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
                .contains("kind \"ConfigMap\"; `users` edits a v1 Secret")
        );
        assert!(err("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n").contains("holds 2 YAML documents"));
        assert!(err("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ntype: kubernetes.io/basic-auth\n").contains("has type kubernetes.io/basic-auth"));
        assert!(
            err("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {htpasswd: '!!'}\n")
                .contains("data.htpasswd is not base64")
        );
        assert_eq!(
            err(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n  htpasswd: \"x\\nx:1\\nx:2\\n\"\n"
            ),
            "f.yaml (Secret a key htpasswd):1: no ':' between the user name and the password hash; write `user:hash` (make one with: gatehouse-operator users add NAME)\nf.yaml (Secret a key htpasswd):3: user \"x\" is on lines 2 and 3; keep one (remove the other, or run: gatehouse-operator users remove x)"
        );
    }

    #[test]
    fn problems_name_refused_hashes_without_showing_them() {
        let mut m = SecretManifest::new("s", None);
        m.htpasswd.set("erin", "689Mq5QQHzlE6").unwrap();
        assert_eq!(
            m.problems(),
            [
                "Secret s key htpasswd:1: user \"erin\": a crypt(3) DES hash is not accepted (8-character limit, broken); make a bcrypt one: gatehouse-operator users add erin"
            ]
        );
    }
}
