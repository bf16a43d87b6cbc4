//! One worker's idle keep-alive connections, by upstream authority.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::conn::Conn;

/// Idle connections kept per upstream; more are closed when they finish.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

/// How long an idle connection is kept, as nginx's upstream
/// `keepalive_timeout` (60 s); upstreams often close sooner, which the
/// check at checkout notices.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Idle {
    /// Keyed by the authority's text, compared byte for byte (the config
    /// spells each upstream one way). FNV: the keys are the config's own,
    /// never a client's, so a keyed hash buys nothing.
    conns: Mutex<HashMap<Box<str>, Vec<Parked>, fnv::FnvBuildHasher>>,
}

/// An idle connection and when it went idle.
type Parked = (Conn, Instant);

impl Idle {
    /// The most recently used open connection to `authority`, if any;
    /// closed and expired ones are dropped on the way.
    pub fn checkout(&self, authority: &str) -> Option<Conn> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let list = conns.get_mut(authority)?;
        while let Some((mut conn, since)) = list.pop() {
            if since.elapsed() > IDLE_TIMEOUT {
                // The rest went idle earlier still.
                list.clear();
                return None;
            }
            if conn.is_open() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request to `authority`.
    pub fn checkin(&self, authority: &str, conn: Conn) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let list = match conns.get_mut(authority) {
            Some(list) => list,
            None => conns.entry(authority.into()).or_default(),
        };
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push((conn, Instant::now()));
        }
    }
}
