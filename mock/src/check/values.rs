//! Typed readers over YAML values: each checks a value's shape and records
//! a problem (with its field path) when it is wrong.

use regex::Regex;
use serde_yaml::Value;

use super::{Checker, Fields, join, kind};

impl Checker {
    /// A map whose keys are all strings; unknown keys are problems (a typo
    /// must not silently match everything) when `known` is given.
    pub(super) fn map<'v>(
        &mut self,
        at: &str,
        value: &'v Value,
        known: Option<&[&str]>,
    ) -> Option<Fields<'v>> {
        let Value::Mapping(map) = value else {
            let expected = match known {
                Some(keys) => format!("a map with {}", keys.join(", ")),
                None => "a map".to_owned(),
            };
            self.problem(
                at,
                format!("expected {expected}, found {}", kind(value)),
                "",
            );
            return None;
        };
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let Value::String(key) = key else {
                self.problem(
                    at,
                    format!("a key is {}, not a string", kind(key)),
                    "quote the key",
                );
                continue;
            };
            if let Some(keys) = known
                && !keys.contains(&key.as_str())
            {
                self.problem(
                    &join(at, key),
                    format!("unknown field `{key}`"),
                    &format!("expected one of: {}", keys.join(", ")),
                );
                continue;
            }
            fields.push((key.as_str(), value));
        }
        Some(Fields(fields))
    }

    /// The one key of `choices` a map gives (`{prefix: /a}`), with its value.
    pub(super) fn one_of<'v>(
        &mut self,
        at: &str,
        value: &'v Value,
        choices: &[&str],
    ) -> Option<(&'v str, &'v Value)> {
        let fields = self.map(at, value, Some(choices))?;
        match fields.0.as_slice() {
            [one] => Some(*one),
            [] if value.as_mapping().is_some_and(|m| !m.is_empty()) => None,
            _ => {
                self.problem(
                    at,
                    format!(
                        "give exactly one of {}, found {}",
                        choices.join(", "),
                        fields.0.len()
                    ),
                    "",
                );
                None
            }
        }
    }

    pub(super) fn string<'v>(&mut self, at: &str, value: &'v Value) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.problem(
                    at,
                    format!("expected a string, found {}", kind(other)),
                    "quote it",
                );
                None
            }
        }
    }

    /// A string, or a number or boolean taken as its text (`page: 1`).
    pub(super) fn text(&mut self, at: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.problem(at, format!("expected text, found {}", kind(other)), "");
                None
            }
        }
    }

    pub(super) fn regex(&mut self, at: &str, value: &Value) -> Option<Regex> {
        let pattern = self.string(at, value)?;
        match Regex::new(pattern) {
            Ok(regex) => Some(regex),
            Err(err) => {
                self.problem(
                    at,
                    format!("not a valid regex: {}", one_line(&err.to_string())),
                    REGEX_FIX,
                );
                None
            }
        }
    }

    pub(super) fn bytes_regex(&mut self, at: &str, pattern: &str) -> Option<regex::bytes::Regex> {
        match regex::bytes::Regex::new(pattern) {
            Ok(regex) => Some(regex),
            Err(err) => {
                self.problem(
                    at,
                    format!("not a valid regex: {}", one_line(&err.to_string())),
                    REGEX_FIX,
                );
                None
            }
        }
    }

    pub(super) fn json(&mut self, at: &str, value: &Value) -> Option<serde_json::Value> {
        Some(match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    i.into()
                } else if let Some(u) = n.as_u64() {
                    u.into()
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    match serde_json::Number::from_f64(f) {
                        Some(n) => serde_json::Value::Number(n),
                        None => {
                            self.problem(
                                at,
                                format!("{f} has no JSON form"),
                                "use a finite number",
                            );
                            return None;
                        }
                    }
                }
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.json(&format!("{at}[{i}]"), item) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                serde_json::Value::Array(out)
            }
            Value::Mapping(_) => {
                let fields = self.map(at, value, None)?;
                let mut out = serde_json::Map::new();
                let mut ok = true;
                for (key, item) in fields.0 {
                    match self.json(&join(at, key), item) {
                        Some(v) => {
                            out.insert(key.to_owned(), v);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                serde_json::Value::Object(out)
            }
            Value::Tagged(_) => {
                self.problem(at, "YAML tags have no JSON form", "remove the `!tag`");
                return None;
            }
        })
    }

    pub(super) fn boolean(&mut self, at: &str, value: &Value) -> Option<bool> {
        let b = value.as_bool();
        if b.is_none() {
            self.problem(
                at,
                format!("expected true or false, found {}", kind(value)),
                "",
            );
        }
        b
    }
}

const REGEX_FIX: &str = "the syntax is Rust's `regex` crate (no look-around or backreferences); quote the pattern in single quotes";

/// The regex crate's messages span lines (the pattern, a caret under it,
/// then `error: …`): its last part is what to say.
fn one_line(message: &str) -> String {
    if let Some(found) = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
    {
        return found.to_owned();
    }
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}
