//! Each set of users a config's access rules read, parsed once: rules
//! naming the same Secret share it, and a swap that leaves the Secret's
//! values as they were keeps it, with its cache of verified credentials.
//! A Secret whose values changed gets a new set and an empty cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use gatehouse_api::config::UsersConfig;
use gatehouse_api::secret::{SecretEntry, SecretRef};
use gatehouse_auth::Users;

use super::cache::VerifiedCache;
use crate::support::locks::lock;

pub(crate) struct UserBase {
    pub(crate) users: Users,
    pub(crate) cache: VerifiedCache,
}

/// The sets in use, by the hashes of the values they were read from.
#[derive(Default)]
pub(crate) struct UserBases {
    held: Mutex<HashMap<String, Weak<UserBase>>>,
}

impl UserBases {
    /// The users `config` names, read from `secrets` (the config's values).
    pub(crate) fn get(
        &self,
        config: &UsersConfig,
        secrets: &[SecretEntry],
    ) -> Result<Arc<UserBase>, String> {
        let value = |source: &SecretRef| {
            let entry = secrets
                .iter()
                .find(|s| &s.source == source)
                .ok_or_else(|| format!("{source} is not in the config's secrets"))?;
            let value = entry.value.as_ref().ok_or_else(|| {
                format!("the value of {source} has not been pushed to this proxy yet")
            })?;
            Ok::<_, String>((entry.sha256.as_str(), value.expose()))
        };
        let mut key = String::new();
        let mut texts = Vec::new();
        for source in config.secret_refs() {
            let (sha, text) = value(source)?;
            key.push_str(sha);
            key.push(':');
            texts.push((source, text));
        }
        key.push_str(match config {
            UsersConfig::BasicAuth { .. } => "basic-auth",
            _ => "htpasswd",
        });
        let mut held = lock(&self.held);
        held.retain(|_, base| base.strong_count() > 0);
        if let Some(base) = held.get(&key).and_then(Weak::upgrade) {
            return Ok(base);
        }
        let users = read(config, &texts)?;
        let base = Arc::new(UserBase {
            users,
            cache: VerifiedCache::new(),
        });
        held.insert(key, Arc::downgrade(&base));
        Ok(base)
    }
}

fn read(config: &UsersConfig, texts: &[(&SecretRef, &str)]) -> Result<Users, String> {
    let joined = |errors: Vec<gatehouse_auth::AuthFileError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (config, texts) {
        (UsersConfig::BasicAuth { .. }, [(username_ref, username), (_, password)]) => {
            Users::from_basic_auth(&username_ref.to_string(), username, password)
                .map_err(|e| e.to_string())
        }
        (UsersConfig::Htpasswd { .. }, [(source, htpasswd), groups @ ..]) => {
            let users = Users::from_htpasswd(&source.to_string(), htpasswd).map_err(joined)?;
            match groups {
                [(source, groups)] => users
                    .with_groups(&source.to_string(), groups)
                    .map_err(joined),
                _ => Ok(users),
            }
        }
        _ => Err("no users are named".into()),
    }
}
