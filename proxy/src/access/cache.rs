//! Credentials verified lately, so a bcrypt cost is paid once per user
//! and password, not per request: a git clone makes several requests, a
//! browser one per asset. Kept by a keyed hash of the user and password
//! (the key is random per cache: the map holds nothing a memory dump
//! could test guesses against offline without it), bounded, expiring.
//! Each set of users has its own cache, so a changed Secret starts empty.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::locks::lock;

/// How long a verification is trusted: a password changed in the Secret
/// takes effect at once (new users, new cache); one merely guessed costs
/// a verification again after this.
pub(crate) const TTL: Duration = Duration::from_secs(300);
/// Entries kept; when full, expired ones go, then the oldest.
pub(crate) const MAX_ENTRIES: usize = 4096;

pub(crate) struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Instant>>,
}

impl VerifiedCache {
    pub(crate) fn new() -> VerifiedCache {
        let mut key = [0u8; 32];
        // Not a CSPRNG, but seeded per process from the OS's randomness
        // (std's RandomState), which is what the key needs: unknown to an
        // attacker, different per cache.
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes());
        }
        VerifiedCache {
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, user: &str, password: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.key);
        hash.update((user.len() as u64).to_le_bytes());
        hash.update(user.as_bytes());
        hash.update(password);
        hash.finalize().into()
    }

    /// Whether this user and password were verified within `TTL`.
    pub(crate) fn holds(&self, user: &str, password: &[u8]) -> bool {
        let digest = self.digest(user, password);
        let entries = lock(&self.entries);
        entries.get(&digest).is_some_and(|at| at.elapsed() < TTL)
    }

    pub(crate) fn remember(&self, user: &str, password: &[u8]) {
        let digest = self.digest(user, password);
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, at| at.elapsed() < TTL);
        }
        if entries.len() >= MAX_ENTRIES
            && let Some(oldest) = entries.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
        {
            entries.remove(&oldest);
        }
        entries.insert(digest, Instant::now());
    }
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(fastrand::u64(..));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_remembered_and_nothing_else() {
        let cache = VerifiedCache::new();
        cache.remember("alice", b"right");
        assert!(cache.holds("alice", b"right"));
        assert!(!cache.holds("alice", b"wrong"));
        assert!(!cache.holds("bob", b"right"));
        // The user's length is hashed too: "al" + "iceright" is not "alice" + "right".
        assert!(!cache.holds("al", b"iceright"));
        assert!(
            !VerifiedCache::new().holds("alice", b"right"),
            "each cache its own"
        );
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedCache::new();
        for i in 0..MAX_ENTRIES + 10 {
            cache.remember(&format!("user{i}"), b"pw");
        }
        assert!(lock(&cache.entries).len() <= MAX_ENTRIES);
        assert!(cache.holds(&format!("user{}", MAX_ENTRIES + 9), b"pw"));
    }
}
