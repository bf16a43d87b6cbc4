//! The route table: which rule of a `ProxyConfig` serves a request, by
//! HTTPRoute's precedence. Built once per config, then read by every request.
//!
//! Hosts: the exact host first, then wildcards from the longest suffix, then
//! Routes without hostnames; the first of those with a matching rule wins.
//! Within a host: an `Exact` path, then `RegularExpression` (longest pattern
//! first), then `PathPrefix` (longest first); ties go to the match with a
//! method, then more headers, then more query params, then the older Route
//! (config order), then rule order. Lookups hash on the host and on each
//! segment prefix of the path, so 10,000 Routes cost what 10 do.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use http::{HeaderMap, HeaderName, Method};
use regex::Regex;

use crate::config::{MatchConfig, ProxyConfig, RuleConfig};
use crate::route::{PathMatchType, ValueMatchType};

/// The most memory one compiled Route regex may take, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles `^(?:pattern)$`: Route regexes must match the whole value.
pub fn anchored_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// `PathPrefix` values match on segment boundaries and ignore a trailing `/`:
/// `/api/` and `/api` both match `/api`, `/api/x`, not `/apix`. `/` becomes ``.
pub fn normalize_prefix(prefix: &str) -> &str {
    // By bytes: cheaper than a char pattern's search on every request.
    let kept = prefix
        .bytes()
        .rposition(|b| b != b'/')
        .map_or(0, |last| last + 1);
    &prefix[..kept]
}

/// Which rule (and which of its matches) a request selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub route: usize,
    pub rule: usize,
    pub matched: usize,
}

/// What the table needs to know of a request.
pub struct RequestView<'a> {
    /// The Host header or URI authority, port and case as the client sent them.
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    exact_hosts: Map<Bucket>,
    /// Keyed by the suffix after `*`, e.g. `.example.com`.
    wildcard_hosts: Map<Bucket>,
    any_host: Bucket,
}

#[derive(Debug, Default)]
struct Bucket {
    exact: Map<Vec<Candidate>>,
    regex: Vec<Candidate>,
    prefix: Map<Vec<Candidate>>,
}

/// The table's maps, keyed by hosts and paths.
type Map<V> = HashMap<String, V, BuildHasherDefault<KeyHasher>>;

/// Hashes a key a word at a time (FxHash's mix). The keys are the
/// config's: a client only looks them up, and no lookup can lengthen
/// another's, so the keyed SipHash (which cost more than the rest of a
/// lookup) buys nothing here.
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        // The rest as one word, shifted in (a copy into a padded word
        // would be a call to `memcpy`).
        let rest = words.remainder();
        if !rest.is_empty() {
            let last = rest
                .iter()
                .rev()
                .fold(0, |word, &b| (word << 8) | u64::from(b));
            self.add(last);
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weakest, and the table indexes by them.
        self.0.rotate_left(26)
    }
}

#[derive(Clone, Debug)]
struct Candidate {
    target: RuleRef,
    path_regex: Option<Regex>,
    method: Option<Method>,
    headers: Vec<ValueTest<HeaderName>>,
    query: Vec<ValueTest<String>>,
    /// Length of a regex path's pattern: longer patterns are tried first.
    regex_len: usize,
}

#[derive(Clone, Debug)]
struct ValueTest<N> {
    name: N,
    test: ValueCheck,
}

#[derive(Clone, Debug)]
enum ValueCheck {
    Exact(String),
    Regex(Regex),
}

impl ValueCheck {
    fn accepts(&self, value: &str) -> bool {
        match self {
            ValueCheck::Exact(v) => v == value,
            ValueCheck::Regex(r) => r.is_match(value),
        }
    }
}

impl RouteTable {
    /// Builds the table; every pattern that does not compile is reported.
    pub fn build(config: &ProxyConfig) -> Result<RouteTable, Vec<String>> {
        let mut table = RouteTable::default();
        let mut errors = Vec::new();
        for (route_index, route) in config.routes.iter().enumerate() {
            for (rule_index, rule) in route.rules.iter().enumerate() {
                for (match_index, m) in rule.matches.iter().enumerate() {
                    let target = RuleRef {
                        route: route_index,
                        rule: rule_index,
                        matched: match_index,
                    };
                    let at = format!("route {} rule {rule_index} match {match_index}", route.id);
                    let Some(candidate) = Candidate::new(target, m, &at, &mut errors) else {
                        continue;
                    };
                    if route.hostnames.is_empty() {
                        table.any_host.insert(m, candidate);
                        continue;
                    }
                    for host in &route.hostnames {
                        let bucket = match host.strip_prefix('*') {
                            Some(suffix) => table.wildcard_hosts.entry(suffix.to_owned()),
                            None => table.exact_hosts.entry(host.clone()),
                        };
                        bucket.or_default().insert(m, candidate.clone());
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for bucket in table.buckets_mut() {
            bucket.sort();
        }
        Ok(table)
    }

    /// The rule that serves the request, if any.
    pub fn find(&self, req: &RequestView<'_>) -> Option<RuleRef> {
        let host = normalize_host(req.host);
        if let Some(found) = self
            .exact_hosts
            .get(host.as_ref())
            .and_then(|b| b.find(req))
        {
            return Some(found);
        }
        if !self.wildcard_hosts.is_empty() {
            // `a.b.example.com` tries `.b.example.com`, `.example.com`, `.com`.
            // The wildcard stands for labels, so an empty one before the
            // suffix (`.example.com`, `a..example.com`) is no match.
            let mut rest = host.as_ref();
            while let Some(dot) = rest.find('.') {
                let suffix = &rest[dot..];
                if dot > 0
                    && let Some(found) = self.wildcard_hosts.get(suffix).and_then(|b| b.find(req))
                {
                    return Some(found);
                }
                rest = &suffix[1..];
            }
        }
        self.any_host.find(req)
    }

    fn buckets_mut(&mut self) -> impl Iterator<Item = &mut Bucket> {
        self.exact_hosts
            .values_mut()
            .chain(self.wildcard_hosts.values_mut())
            .chain(std::iter::once(&mut self.any_host))
    }
}

/// Picks a backend index for `roll` (any random number) by weight share;
/// `None` when the rule has no backend with a weight above 0.
pub fn pick_backend(rule: &RuleConfig, roll: u64) -> Option<usize> {
    let total: u64 = rule.backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut point = roll % total;
    for (i, backend) in rule.backends.iter().enumerate() {
        let weight = u64::from(backend.weight);
        if point < weight {
            return Some(i);
        }
        point -= weight;
    }
    None
}

/// Lower case, without the port or a trailing dot.
fn normalize_host(host: &str) -> std::borrow::Cow<'_, str> {
    let without_port = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        // By bytes: a char search's set-up costs more than these few bytes.
        host.bytes()
            .rposition(|b| b == b':')
            .map_or(host, |colon| &host[..colon])
    };
    let name = without_port.strip_suffix('.').unwrap_or(without_port);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    }
}

impl Bucket {
    fn insert(&mut self, m: &MatchConfig, candidate: Candidate) {
        match m.path.kind {
            PathMatchType::Exact => self
                .exact
                .entry(m.path.value.clone())
                .or_default()
                .push(candidate),
            PathMatchType::PathPrefix => self
                .prefix
                .entry(normalize_prefix(&m.path.value).to_owned())
                .or_default()
                .push(candidate),
            PathMatchType::RegularExpression => self.regex.push(candidate),
        }
    }

    fn sort(&mut self) {
        for list in self.exact.values_mut().chain(self.prefix.values_mut()) {
            list.sort_by_key(Candidate::rank);
        }
        self.regex
            .sort_by_key(|c| (std::cmp::Reverse(c.regex_len), c.rank()));
    }

    fn find(&self, req: &RequestView<'_>) -> Option<RuleRef> {
        // Most tables have no exact paths: no hash for them then.
        if !self.exact.is_empty()
            && let Some(found) = self
                .exact
                .get(req.path)
                .and_then(|list| first_accepting(list, req))
        {
            return Some(found);
        }
        if let Some(found) = self
            .regex
            .iter()
            .find(|c| c.path_regex.as_ref().is_some_and(|r| r.is_match(req.path)) && c.accepts(req))
        {
            return Some(found.target);
        }
        if self.prefix.is_empty() {
            return None;
        }
        let mut prefix = normalize_prefix(req.path);
        loop {
            if let Some(found) = self
                .prefix
                .get(prefix)
                .and_then(|list| first_accepting(list, req))
            {
                return Some(found);
            }
            let cut = prefix.bytes().rposition(|b| b == b'/')?;
            prefix = &prefix[..cut];
        }
    }
}

fn first_accepting(list: &[Candidate], req: &RequestView<'_>) -> Option<RuleRef> {
    list.iter().find(|c| c.accepts(req)).map(|c| c.target)
}

impl Candidate {
    fn new(
        target: RuleRef,
        m: &MatchConfig,
        at: &str,
        errors: &mut Vec<String>,
    ) -> Option<Candidate> {
        let mut problems = Vec::new();
        let path_regex = match m.path.kind {
            PathMatchType::RegularExpression => anchored_regex(&m.path.value)
                .map_err(|e| {
                    problems.push(format!(
                        "path regex `{}` does not compile: {e}",
                        m.path.value
                    ))
                })
                .ok(),
            _ => None,
        };
        let mut headers: Vec<ValueTest<HeaderName>> = Vec::new();
        for h in &m.headers {
            let name = HeaderName::from_bytes(h.name.as_bytes());
            match (name, value_check(h.kind, &h.value)) {
                // Of entries with one name, the first counts (HTTPRoute).
                (Ok(name), Ok(_)) if headers.iter().any(|seen| seen.name == name) => {}
                (Ok(name), Ok(test)) => headers.push(ValueTest { name, test }),
                (Err(_), _) => problems.push(format!("`{}` is not a header name", h.name)),
                (_, Err(e)) => problems.push(e),
            }
        }
        let mut query: Vec<ValueTest<String>> = Vec::new();
        for q in &m.query_params {
            match value_check(q.kind, &q.value) {
                Ok(_) if query.iter().any(|seen| seen.name == q.name) => {}
                Ok(test) => query.push(ValueTest {
                    name: q.name.clone(),
                    test,
                }),
                Err(e) => problems.push(e),
            }
        }
        let method = m.method.as_deref().and_then(|s| {
            Method::from_bytes(s.as_bytes())
                .map_err(|_| problems.push(format!("`{s}` is not a method")))
                .ok()
        });
        if !problems.is_empty() {
            errors.extend(problems.into_iter().map(|p| format!("{at}: {p}")));
            return None;
        }
        Some(Candidate {
            target,
            regex_len: path_regex.as_ref().map_or(0, |_| m.path.value.len()),
            path_regex,
            method,
            headers,
            query,
        })
    }

    /// Sorts the most specific first: method, more headers, more query params, then config order.
    fn rank(
        &self,
    ) -> (
        bool,
        std::cmp::Reverse<usize>,
        std::cmp::Reverse<usize>,
        usize,
        usize,
        usize,
    ) {
        (
            self.method.is_none(),
            std::cmp::Reverse(self.headers.len()),
            std::cmp::Reverse(self.query.len()),
            self.target.route,
            self.target.rule,
            self.target.matched,
        )
    }

    fn accepts(&self, req: &RequestView<'_>) -> bool {
        if self.method.as_ref().is_some_and(|m| m != req.method) {
            return false;
        }
        let headers_ok = self
            .headers
            .iter()
            .all(|h| header_value(req.headers, &h.name).is_some_and(|v| h.test.accepts(&v)));
        headers_ok
            && self
                .query
                .iter()
                .all(|q| query_value(req.query, &q.name).is_some_and(|v| q.test.accepts(&v)))
    }
}

fn value_check(kind: ValueMatchType, value: &str) -> Result<ValueCheck, String> {
    match kind {
        ValueMatchType::Exact => Ok(ValueCheck::Exact(value.to_owned())),
        ValueMatchType::RegularExpression => anchored_regex(value)
            .map(ValueCheck::Regex)
            .map_err(|e| format!("regex `{value}` does not compile: {e}")),
    }
}

/// The value of header `name` as one: repeated lines joined with `,` (RFC
/// 9110 §5.3; `; ` for Cookie, RFC 9113 §8.2.3), as Envoy matches them
/// since CVE-2020-25017. Matching the first line alone would let a client
/// pick a route by the order of its lines, while the backend reads them
/// all. `None` if absent, or if a line is not visible ASCII text.
fn header_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, str>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?.to_str().ok()?;
    let Some(second) = lines.next() else {
        return Some(Cow::Borrowed(first));
    };
    let separator = if name == http::header::COOKIE {
        "; "
    } else {
        ","
    };
    let mut joined = String::from(first);
    for line in std::iter::once(second).chain(lines) {
        joined.push_str(separator);
        joined.push_str(line.to_str().ok()?);
    }
    Some(Cow::Owned(joined))
}

/// The first value of query parameter `name`, percent- and `+`-decoded.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(key) == name).then(|| decode_component(value))
    })
}

/// A query component percent- and `+`-decoded (invalid escapes kept as
/// they are, invalid UTF-8 replaced).
pub fn decode_component(text: &str) -> String {
    if !text.contains(['%', '+']) {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
