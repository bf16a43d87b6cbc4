//! What changed and when: the `updated` stamp `GET <mount>/check` reports
//! (clients poll it to learn that something changed) and a bounded list of
//! audit events for `GET <mount>/log/events`. One journal is shared by all
//! the repositories a depot serves; it lives in memory only.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many events a journal keeps (the oldest go first).
const CAPACITY: usize = 1000;

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new revision was checked in.
    Checkin,
    /// `current` moved (a rollback, or a staged revision committed).
    Current,
    /// A user tag was set or moved.
    Tag,
    /// A user tag was removed.
    Untag,
    /// A revision was deleted (with the user tags on it).
    Delete,
    /// The file, all its revisions and tags were deleted.
    DeleteAll,
    /// A revision was removed by `depth` pruning after a check-in.
    Prune,
}

/// One change. HouseDepot's own event shape is not known to us; Gatehouse
/// answers `GET <mount>/log/events` with
/// `{"host":H,"timestamp":T,"events":[{"time":T,"file":"/depot/r/f","action":"checkin","revision":2,"user":null}]}`,
/// plus a `"tag"` field on tag events only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Unix seconds.
    pub time: i64,
    /// `<repo>/<file>` or `<repo>/<group>/<file>`, without the mount.
    pub file: String,
    /// What was done.
    pub action: Action,
    /// The revision concerned, when one is.
    pub revision: Option<u64>,
    /// The tag concerned, for [`Action::Tag`] and [`Action::Untag`].
    pub tag: Option<String>,
    /// Who did it, as the caller named them (e.g. an authenticated user).
    pub user: Option<String>,
}

/// The `updated` stamp and the last [`CAPACITY`] events.
#[derive(Debug, Default)]
pub struct Journal {
    updated: AtomicU64,
    events: Mutex<VecDeque<Event>>,
}

impl Journal {
    /// An empty journal; `updated` starts at 0 until the first change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Milliseconds since the epoch of the last change, strictly growing
    /// (two changes in one millisecond still differ), 0 before any.
    pub fn updated(&self) -> u64 {
        self.updated.load(Ordering::SeqCst)
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> Vec<Event> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.iter().cloned().collect()
    }

    /// Records a change; returns its time (unix seconds).
    pub(crate) fn record(
        &self,
        file: String,
        action: Action,
        revision: Option<u64>,
        tag: Option<String>,
        user: Option<String>,
    ) -> i64 {
        let now = now_millis();
        let _ = self
            .updated
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some(now.max(old + 1))
            });
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() == CAPACITY {
            events.pop_front();
        }
        let time = (now / 1000) as i64;
        events.push_back(Event {
            time,
            file,
            action,
            revision,
            tag,
            user,
        });
        time
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updated_grows_on_each_change_and_events_are_bounded() {
        let j = Journal::new();
        assert_eq!(j.updated(), 0);
        let mut last = 0;
        for i in 0..(CAPACITY + 5) {
            j.record(format!("r/f{i}"), Action::Checkin, Some(1), None, None);
            assert!(j.updated() > last);
            last = j.updated();
        }
        let events = j.events();
        assert_eq!(events.len(), CAPACITY);
        assert_eq!(events[0].file, "r/f5");
        assert_eq!(events.last().unwrap().file, format!("r/f{}", CAPACITY + 4));
    }
}
