//! A mock's request journal, as WireMock keeps one: the last requests it
//! answered (method, path, headers, body, the rule that answered, the
//! status, when), so a test can verify what its subject sent. Bounded in
//! entries and in bytes, the oldest let go first; a body is kept up to
//! `MAX_BODY` bytes and marked truncated beyond. Listed, counted and
//! cleared through the admin API (`mock/admin.rs`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use http::request::Parts;
use serde::Serialize;

use crate::observe::access_log::rfc3339_millis;
use crate::support::locks::lock;

/// Entries kept (WireMock keeps every request unless told a limit; a
/// proxy cannot).
pub(crate) const MAX_ENTRIES: usize = 1000;
/// Bytes kept, all entries together (headers, bodies, paths).
pub(crate) const MAX_BYTES: usize = 8 << 20;
/// Bytes of one body kept.
pub(crate) const MAX_BODY: usize = 8 << 10;

#[derive(Default)]
pub(crate) struct Journal {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Requests recorded since the last reset, including those let go.
    total: u64,
}

/// One request as the journal keeps it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub(crate) at: String,
    pub(crate) method: String,
    /// The path with its query, as sent.
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), up to `MAX_BODY` bytes.
    pub(crate) body: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) body_truncated: bool,
    /// The rule that answered (its name or `rules[i]`), `default`, or `none`.
    pub(crate) matched: String,
    pub(crate) status: u16,
}

impl Entry {
    pub(crate) fn new(parts: &Parts, body: &[u8], matched: String, status: u16) -> Entry {
        let kept = &body[..body.len().min(MAX_BODY)];
        Entry {
            at: rfc3339_millis(SystemTime::now()),
            method: parts.method.as_str().to_owned(),
            url: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(kept).into_owned(),
            body_truncated: kept.len() < body.len(),
            matched,
            status,
        }
    }

    fn size(&self) -> usize {
        self.url.len()
            + self.body.len()
            + self.matched.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
            + 64
    }

    fn matches(&self, filter: &Filter) -> bool {
        filter
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&self.method))
            && filter.path.as_deref().is_none_or(|p| {
                let path = self
                    .url
                    .split_once('?')
                    .map_or(self.url.as_str(), |(p, _)| p);
                match p.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => path == p,
                }
            })
    }
}

/// Which entries a listing or count takes: a method (any case) and a path
/// (exact, or a prefix ending in `*`); unset takes all.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    pub(crate) method: Option<String>,
    pub(crate) path: Option<String>,
}

impl Journal {
    pub(crate) fn record(&self, entry: Entry) {
        let size = entry.size();
        let mut inner = lock(&self.inner);
        inner.total += 1;
        inner.bytes += size;
        inner.entries.push_back(entry);
        while inner.entries.len() > MAX_ENTRIES
            || (inner.bytes > MAX_BYTES && inner.entries.len() > 1)
        {
            if let Some(old) = inner.entries.pop_front() {
                inner.bytes -= old.size();
            }
        }
    }

    /// The entries kept that `filter` takes, oldest first.
    pub(crate) fn list(&self, filter: &Filter) -> Vec<Entry> {
        let inner = lock(&self.inner);
        inner
            .entries
            .iter()
            .filter(|e| e.matches(filter))
            .cloned()
            .collect()
    }

    /// How many entries kept `filter` takes.
    pub(crate) fn count(&self, filter: &Filter) -> usize {
        let inner = lock(&self.inner);
        inner.entries.iter().filter(|e| e.matches(filter)).count()
    }

    /// Requests recorded since the last reset, and how many are kept.
    pub(crate) fn totals(&self) -> (u64, usize) {
        let inner = lock(&self.inner);
        (inner.total, inner.entries.len())
    }

    pub(crate) fn clear(&self) {
        *lock(&self.inner) = Entries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, url: &str, body: &[u8]) -> Entry {
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(url)
            .header("x-test", "1")
            .body(())
            .unwrap()
            .into_parts();
        Entry::new(&parts, body, "rules[0]".into(), 200)
    }

    #[test]
    fn keeps_the_last_entries_and_filters_them() {
        let journal = Journal::default();
        for i in 0..MAX_ENTRIES + 5 {
            journal.record(entry("GET", &format!("/a/{i}?q=1"), b""));
        }
        journal.record(entry("POST", "/b", b"{}"));
        assert_eq!(journal.totals(), (MAX_ENTRIES as u64 + 6, MAX_ENTRIES));
        let posts = Filter {
            method: Some("post".into()),
            path: None,
        };
        assert_eq!(journal.count(&posts), 1);
        let a = Filter {
            method: None,
            path: Some("/a/*".into()),
        };
        let listed = journal.list(&a);
        assert_eq!(listed.len(), MAX_ENTRIES - 1);
        assert_eq!(listed[0].url, "/a/6?q=1", "the oldest went first");
        let exact = Filter {
            method: None,
            path: Some("/a/7".into()),
        };
        assert_eq!(
            journal.count(&exact),
            1,
            "the query is not part of the path"
        );
        journal.clear();
        assert_eq!(journal.totals(), (0, 0));
    }

    #[test]
    fn a_large_body_is_truncated_and_bytes_are_bounded() {
        let journal = Journal::default();
        let body = vec![b'x'; MAX_BODY * 2];
        let one = entry("PUT", "/big", &body);
        assert!(one.body_truncated);
        assert_eq!(one.body.len(), MAX_BODY);
        for _ in 0..MAX_ENTRIES {
            journal.record(one.clone());
        }
        let (_, kept) = journal.totals();
        assert!(kept * MAX_BODY <= MAX_BYTES, "{kept} entries kept");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_337_012_345);
        assert_eq!(rfc3339_millis(at), "2026-12-03T22:30:12.345Z");
    }
}
