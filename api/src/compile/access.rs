//! A rule's `access`: the Secret it names found and read (its users
//! parsed here, so a bad htpasswd line is reported with its line before
//! any proxy sees it), and who may read and who may write.
//!
//! A Secret that is missing, lacks its key, or does not parse is an
//! unresolved reference: the Route is accepted, `ResolvedRefs` says why,
//! and the rule answers 500 meanwhile. It is never served open.

use gatehouse_auth::Users;

use crate::compile::findings::Findings;
use crate::config::{AccessConfig, AllowConfig, CertificateConfig, RouteConfig, UsersConfig};
use crate::route::{Access, Allow};
use crate::secret::{KnownSecret, SecretEntry, SecretRef};

/// The realm when a rule names none.
const DEFAULT_REALM: &str = "gatehouse";

pub(super) fn lower(
    access: &Access,
    field: &str,
    namespace: &str,
    secrets: &[KnownSecret],
    findings: &mut Findings,
) -> AccessConfig {
    let field = format!("{field}.access");
    let realm = access.realm.as_deref().unwrap_or(DEFAULT_REALM);
    check_realm(realm, &field, findings);
    let allow = access.allow.clone().unwrap_or_default();
    let read = lower_allow(access.read.as_ref().unwrap_or(&allow));
    let write = lower_allow(access.write.as_ref().unwrap_or(&allow));
    let (users, known) = resolve(&access.secret, &field, namespace, secrets, findings);
    if let Some(known) = known {
        for (class, allowed) in [("read", &read), ("write", &write)] {
            warn_unknown(&known, allowed, class, &access.secret, &field, findings);
        }
    }
    AccessConfig {
        realm: realm.to_owned(),
        users,
        read,
        write,
        forward_authorization: access.forward_authorization,
    }
}

fn check_realm(realm: &str, field: &str, findings: &mut Findings) {
    if let Some(bad) = realm
        .chars()
        .find(|c| *c == '"' || *c == '\\' || c.is_control() || !c.is_ascii())
    {
        findings.error(
            format!("{field}.realm"),
            "InvalidAccess",
            format!("the realm goes into `WWW-Authenticate: Basic realm=\"...\"`, so it cannot hold {bad:?} (ASCII text only, no quotes or backslashes): take it out"),
        );
    }
}

/// A pushed access rule: its realm, and each Secret key it reads listed
/// in the config's `secrets`.
pub(super) fn check(
    access: &AccessConfig,
    field: &str,
    secrets: &[SecretEntry],
    findings: &mut Findings,
) {
    let field = format!("{field}.access");
    check_realm(&access.realm, &field, findings);
    for source in access.users.secret_refs() {
        if !secrets.iter().any(|s| &s.source == source) {
            findings.error(
                format!("{field}.users"),
                "InvalidAccess",
                format!("{source} is not in the config's `secrets`: add it there, with its sha256 and value"),
            );
        }
    }
}

fn lower_allow(allow: &Allow) -> AllowConfig {
    AllowConfig {
        anonymous: allow.anonymous,
        users: allow.users.clone(),
        groups: allow.groups.clone(),
    }
}

/// The Secret's users, or why they cannot be had.
fn resolve(
    name: &str,
    field: &str,
    namespace: &str,
    secrets: &[KnownSecret],
    findings: &mut Findings,
) -> (UsersConfig, Option<Users>) {
    let field = format!("{field}.secret");
    let Some(secret) = secrets
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
    else {
        let why = format!(
            "Secret {namespace}/{name} does not exist: create it (`gatehouse-operator users add USER --secret {name} | kubectl apply -n {namespace} -f -`), or name another"
        );
        findings.unresolved(field, "SecretNotFound", why.clone());
        return (UsersConfig::Unresolved { reason: why }, None);
    };
    match users_of(secret) {
        Ok((config, users)) => {
            if let Some(why) = &secret.refused_edit {
                findings.unresolved(
                    field,
                    "InvalidSecret",
                    format!("the Secret's latest values are refused, so its last good ones keep serving: {why}"),
                );
            }
            (config, Some(users))
        }
        Err(why) => {
            findings.unresolved(field, "InvalidSecret", why.clone());
            (UsersConfig::Unresolved { reason: why }, None)
        }
    }
}

/// The users a Secret holds (and the keys they are read from), or why
/// none can be read: every bad line, with its number.
fn users_of(secret: &KnownSecret) -> Result<(UsersConfig, Users), String> {
    let (namespace, name) = (&secret.namespace, &secret.name);
    let text = |key: &str| -> Result<Option<&str>, String> {
        if let Some(why) = secret.not_readable(key) {
            return Err(why);
        }
        Ok(secret.data.get(key).map(|v| v.expose()))
    };
    let joined = |errors: Vec<gatehouse_auth::AuthFileError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    if secret.kind == KnownSecret::BASIC_AUTH {
        let (Some(username), Some(password)) = (text("username")?, text("password")?) else {
            return Err(format!(
                "Secret {namespace}/{name} is of type {} but lacks `username` or `password`: give it both",
                KnownSecret::BASIC_AUTH
            ));
        };
        let users = Users::from_basic_auth(&secret.key("username").to_string(), username, password)
            .map_err(|error| error.to_string())?;
        let config = UsersConfig::BasicAuth {
            username: secret.key("username"),
            password: secret.key("password"),
        };
        return Ok((config, users));
    }
    let Some(htpasswd) = text("htpasswd")? else {
        return Err(format!(
            "Secret {namespace}/{name} has no `htpasswd` key and is not of type {}: give it one (`gatehouse-operator users add`)",
            KnownSecret::BASIC_AUTH
        ));
    };
    let groups = text("groups")?;
    let mut users =
        Users::from_htpasswd(&secret.key("htpasswd").to_string(), htpasswd).map_err(joined)?;
    if let Some(groups) = groups {
        users = users
            .with_groups(&secret.key("groups").to_string(), groups)
            .map_err(joined)?;
    }
    let config = UsersConfig::Htpasswd {
        htpasswd: secret.key("htpasswd"),
        groups: groups.map(|_| secret.key("groups")),
    };
    Ok((config, users))
}

/// The last version of each Secret whose users (or certificate) could be
/// read, so that an edit which breaks one (a bad htpasswd line, a key
/// renamed, a renewed certificate with the wrong key) is refused and said,
/// and what it held keeps serving, rather than the rule
/// answering 500 until someone notices. Kept by whoever compiles again
/// and again: the operator across rounds, local mode across reloads.
#[derive(Debug, Default)]
pub struct SecretHistory {
    last_good: std::collections::HashMap<(String, String), KnownSecret>,
}

impl SecretHistory {
    /// `secrets` as `compile` should read them: each as it is when its
    /// users can be read; else its last good version, marked with why the
    /// newer one was refused. A Secret no longer given is forgotten (one
    /// deleted and made again starts afresh).
    pub fn admit(&mut self, secrets: Vec<KnownSecret>) -> Vec<KnownSecret> {
        let given: std::collections::HashSet<(String, String)> = secrets
            .iter()
            .map(|s| (s.namespace.clone(), s.name.clone()))
            .collect();
        self.last_good.retain(|key, _| given.contains(key));
        secrets
            .into_iter()
            .map(|secret| {
                let key = (secret.namespace.clone(), secret.name.clone());
                match readable(&secret) {
                    Ok(()) => {
                        self.last_good.insert(key, secret.clone());
                        secret
                    }
                    Err(why) => match self.last_good.get(&key) {
                        Some(good) => KnownSecret {
                            refused_edit: Some(why),
                            ..good.clone()
                        },
                        None => secret,
                    },
                }
            })
            .collect()
    }
}

/// Whether what a Secret holds can be used: a certificate and key that
/// load, or users that parse.
fn readable(secret: &KnownSecret) -> Result<(), String> {
    if secret.kind == KnownSecret::TLS || secret.data.contains_key(crate::certificate::CHAIN_KEY) {
        return super::tls::loads(secret);
    }
    users_of(secret).map(drop)
}

/// A user or group named in `allow` that the Secret does not have is
/// most likely a typo: said, not refused (the Secret may gain it).
fn warn_unknown(
    users: &Users,
    allowed: &AllowConfig,
    class: &str,
    secret: &str,
    field: &str,
    findings: &mut Findings,
) {
    for user in allowed.users.iter().filter(|u| !users.contains(u)) {
        findings.warn(
            field,
            "UnknownUser",
            format!("{class} access names user `{user}`, whom Secret {secret} does not have: add them, or fix the name"),
        );
    }
    let has_group = |group: &str| users.names().any(|user| users.in_group(user, group));
    for group in allowed.groups.iter().filter(|g| !has_group(g)) {
        findings.warn(
            field,
            "UnknownGroup",
            format!("{class} access names group `{group}`, which no user of Secret {secret} is in: add it to the Secret's `groups`, or fix the name"),
        );
    }
}

/// Every Secret key the routes' access rules and the certificates use,
/// once each, with its value: the config's `secrets`.
pub(super) fn secret_entries(
    routes: &[RouteConfig],
    certificates: &[CertificateConfig],
    secrets: &[KnownSecret],
) -> Vec<SecretEntry> {
    let mut used: Vec<&SecretRef> = routes
        .iter()
        .flat_map(|route| &route.rules)
        .filter_map(|rule| rule.access.as_ref())
        .flat_map(|access| access.users.secret_refs())
        .chain(super::tls::secret_refs(certificates))
        .collect();
    used.sort();
    used.dedup();
    used.into_iter()
        .filter_map(|source| {
            let secret = secrets
                .iter()
                .find(|s| s.namespace == source.namespace && s.name == source.name)?;
            let value = secret.data.get(&source.key)?;
            Some(SecretEntry::new(source.clone(), value.clone()))
        })
        .collect()
}
