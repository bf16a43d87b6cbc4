//! One worker's idle keep-alive connections, by upstream authority.

use crate::support::locks::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::conn::Conn;

/// Idle connections kept per upstream; more are closed when they finish.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

/// How long an idle connection is kept, as nginx's upstream
/// `keepalive_timeout` (60 s); upstreams often close sooner, which the
/// checks below notice.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Idle connections at least this old are checked at checkin.
const OPEN_CHECK_AGE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(super) struct Idle {
    /// Keyed by the authority's text, compared byte for byte (the config
    /// spells each upstream one way). FNV: the keys are the config's own,
    /// never a client's, so a keyed hash buys nothing.
    conns: Mutex<HashMap<Box<str>, Parked, fnv::FnvBuildHasher>>,
}

/// Idle connections and when each went idle: the oldest at the front,
/// the most recently used at the back.
type Parked = VecDeque<(Conn, Instant)>;

impl Idle {
    /// The most recently used open connection to `authority`, if any
    /// (the likeliest to be open still); closed and expired ones are
    /// dropped on the way.
    pub(super) fn checkout(&self, authority: &str) -> Option<Conn> {
        let mut conns = lock(&self.conns);
        let parked = conns.get_mut(authority)?;
        let now = Instant::now();
        while let Some((mut conn, since)) = parked.pop_back() {
            if now.duration_since(since) > IDLE_TIMEOUT {
                // The rest went idle earlier still.
                parked.clear();
                return None;
            }
            if conn.is_open() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request to `authority`. The oldest idle
    /// connections are looked at on the way: checkout takes the newest, so
    /// under steady traffic the old ones would otherwise sit there after
    /// the upstream closed them, holding a socket each.
    pub(super) fn checkin(&self, authority: &str, conn: Conn) {
        let mut conns = lock(&self.conns);
        let parked = match conns.get_mut(authority) {
            Some(parked) => parked,
            None => conns.entry(authority.into()).or_default(),
        };
        let now = Instant::now();
        while let Some((oldest, since)) = parked.front_mut() {
            let idle = now.duration_since(*since);
            // Upstreams close idle connections after a second or more, so
            // a younger one is not worth the readiness check.
            if idle < OPEN_CHECK_AGE || (idle <= IDLE_TIMEOUT && oldest.is_open()) {
                break;
            }
            parked.pop_front();
        }
        if parked.len() < MAX_IDLE_PER_UPSTREAM {
            parked.push_back((conn, now));
        }
    }
}
