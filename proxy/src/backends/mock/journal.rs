//! A mock's request journal, as WireMock keeps one: the last requests it
//! answered (method, path, headers, body, the rule that answered, the
//! status, when), so a test can verify what its subject sent. Bounded in
//! entries and in bytes, the oldest let go first; a body is kept up to
//! `MAX_BODY` bytes and marked truncated beyond. Listed, counted and
//! cleared through the admin API (`mock/admin.rs`).
//!
//! Recording is on every mock answer's path, so an entry keeps the
//! request's own parts (shared `Bytes`, no text made) and is turned into
//! text only when it is listed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Uri};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

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

/// One request as the journal keeps it. Listed as JSON: `at` (RFC 3339,
/// UTC, milliseconds), `method`, `url` (the path with its query, as
/// sent), `headers` (`[name, value]` pairs), `body` (as text, invalid
/// UTF-8 replaced, up to `MAX_BODY` bytes), `bodyTruncated` (only when
/// it was), `matched` (the rule's name or `rules[i]`, `default`, `none`)
/// and `status`.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    at: SystemTime,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// Up to `MAX_BODY` bytes of it.
    body: Bytes,
    body_truncated: bool,
    matched: Arc<str>,
    status: u16,
}

impl Entry {
    pub(crate) fn new(parts: &Parts, body: &Bytes, matched: Arc<str>, status: u16) -> Entry {
        Entry {
            at: SystemTime::now(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            body: body.slice(..body.len().min(MAX_BODY)),
            body_truncated: body.len() > MAX_BODY,
            matched,
            status,
        }
    }

    /// The path with its query, as sent.
    pub(crate) fn url(&self) -> &str {
        self.uri
            .path_and_query()
            .map_or_else(|| self.uri.path(), |pq| pq.as_str())
    }

    fn size(&self) -> usize {
        self.url().len()
            + self.body.len()
            + self.matched.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum::<usize>()
            + 64
    }

    fn matches(&self, filter: &Filter) -> bool {
        filter
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(self.method.as_str()))
            && filter.path.as_deref().is_none_or(|p| {
                let path = self.uri.path();
                match p.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => path == p,
                }
            })
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("at", &rfc3339_millis(self.at))?;
        map.serialize_entry("method", self.method.as_str())?;
        map.serialize_entry("url", self.url())?;
        map.serialize_entry("headers", &Headers(&self.headers))?;
        map.serialize_entry("body", &String::from_utf8_lossy(&self.body))?;
        if self.body_truncated {
            map.serialize_entry("bodyTruncated", &true)?;
        }
        map.serialize_entry("matched", &*self.matched)?;
        map.serialize_entry("status", &self.status)?;
        map.end()
    }
}

/// Headers as `[name, value]` pairs, in the order sent (a name may repeat).
struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (name, value) in self.0 {
            seq.serialize_element(&(name.as_str(), String::from_utf8_lossy(value.as_bytes())))?;
        }
        seq.end()
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
        Entry::new(
            &parts,
            &Bytes::copy_from_slice(body),
            "rules[0]".into(),
            200,
        )
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
        assert_eq!(listed[0].url(), "/a/6?q=1", "the oldest went first");
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
    fn an_entry_lists_as_json_text() {
        let mut body = vec![b'x'; MAX_BODY];
        body[0] = 0xff;
        body.push(b'y');
        let listed = serde_json::to_value(entry("POST", "/a/b?q=1", &body)).unwrap();
        let text = listed["body"].as_str().unwrap();
        assert!(
            text.starts_with('\u{fffd}') && text.ends_with('x'),
            "{text:.20}"
        );
        assert_eq!(listed["bodyTruncated"], true);
        assert_eq!(listed["method"], "POST");
        assert_eq!(listed["url"], "/a/b?q=1");
        assert_eq!(listed["headers"], serde_json::json!([["x-test", "1"]]));
        assert_eq!(listed["matched"], "rules[0]");
        assert_eq!(listed["status"], 200);
        assert!(listed["at"].as_str().unwrap().ends_with('Z'));
        let short = serde_json::to_value(entry("GET", "/", b"ok")).unwrap();
        assert_eq!(short.get("bodyTruncated"), None, "only said when it was");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_337_012_345);
        assert_eq!(rfc3339_millis(at), "2026-12-03T22:30:12.345Z");
    }
}
