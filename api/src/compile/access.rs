//! A rule's `access`: the Secret it names found and read (its users
//! parsed here, so a bad htpasswd line is reported with its line before
//! any proxy sees it), and who may read and who may write.
//!
//! A Secret that is missing, lacks its key, or does not parse is an
//! unresolved reference: the Route is accepted, `ResolvedRefs` says why,
//! and the rule answers 500 meanwhile. It is never served open.

use gatehouse_auth::Users;

use crate::compile::findings::Findings;
use crate::config::{AccessConfig, AllowConfig, RouteConfig, UsersConfig};
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
        .find(|c| *c == '"' || *c == '\\' || c.is_control())
    {
        findings.error(
            format!("{field}.realm"),
            "InvalidAccess",
            format!("the realm goes into `WWW-Authenticate: Basic realm=\"...\"`, so it cannot hold {bad:?}: take it out"),
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
    let mut unresolved = |reason: &'static str, why: String| {
        findings.unresolved(field.clone(), reason, why.clone());
        (UsersConfig::Unresolved { reason: why }, None)
    };
    let Some(secret) = secrets
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
    else {
        return unresolved(
            "SecretNotFound",
            format!(
                "Secret {namespace}/{name} does not exist: create it (`gatehouse-operator users add USER --secret {name} | kubectl apply -n {namespace} -f -`), or name another"
            ),
        );
    };
    let text = |key: &str| -> Result<Option<&str>, String> {
        if secret.not_text.iter().any(|k| k == key) {
            return Err(format!("{} is not UTF-8 text", secret.key(key)));
        }
        Ok(secret.data.get(key).map(|v| v.expose()))
    };
    if secret.kind == KnownSecret::BASIC_AUTH {
        let pair = (text("username"), text("password"));
        let (Ok(Some(username)), Ok(Some(password))) = pair else {
            let why = match pair {
                (Err(why), _) | (_, Err(why)) => why,
                _ => format!(
                    "Secret {namespace}/{name} is of type {} but lacks `username` or `password`: give it both",
                    KnownSecret::BASIC_AUTH
                ),
            };
            return unresolved("InvalidSecret", why);
        };
        return match Users::from_basic_auth(&secret.key("username").to_string(), username, password)
        {
            Ok(users) => (
                UsersConfig::BasicAuth {
                    username: secret.key("username"),
                    password: secret.key("password"),
                },
                Some(users),
            ),
            Err(error) => unresolved("InvalidSecret", error.to_string()),
        };
    }
    let htpasswd = match text("htpasswd") {
        Ok(Some(htpasswd)) => htpasswd,
        Ok(None) => {
            return unresolved(
                "InvalidSecret",
                format!(
                    "Secret {namespace}/{name} has no `htpasswd` key and is not of type {}: give it one (`gatehouse-operator users add`)",
                    KnownSecret::BASIC_AUTH
                ),
            );
        }
        Err(why) => return unresolved("InvalidSecret", why),
    };
    let groups = match text("groups") {
        Ok(groups) => groups,
        Err(why) => return unresolved("InvalidSecret", why),
    };
    let parsed =
        Users::from_htpasswd(&secret.key("htpasswd").to_string(), htpasswd).and_then(|users| {
            match groups {
                Some(groups) => users.with_groups(&secret.key("groups").to_string(), groups),
                None => Ok(users),
            }
        });
    match parsed {
        Ok(users) => (
            UsersConfig::Htpasswd {
                htpasswd: secret.key("htpasswd"),
                groups: groups.map(|_| secret.key("groups")),
            },
            Some(users),
        ),
        Err(errors) => unresolved(
            "InvalidSecret",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
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

/// Every Secret key the routes' access rules use, once each, with its
/// value: the config's `secrets`.
pub(super) fn secret_entries(routes: &[RouteConfig], secrets: &[KnownSecret]) -> Vec<SecretEntry> {
    let mut used: Vec<&SecretRef> = routes
        .iter()
        .flat_map(|route| &route.rules)
        .filter_map(|rule| rule.access.as_ref())
        .flat_map(|access| access.users.secret_refs())
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
