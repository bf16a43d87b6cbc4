//! The top-level `collections`: each one's name, path, key, limits and
//! seed items. Names and paths must differ (paths not even nested), and
//! seed items need their key, no two the same.

use std::collections::HashMap;

use serde_yaml::Value;

use super::{Checker, Fields, describe, join, kind};
use crate::state::collections::{Collection, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ITEMS};
use crate::state::keys::{KeyProblem, key_of};
use crate::state::store::Store;

impl Checker {
    pub(super) fn collections(&mut self, value: &Value) -> Vec<Collection> {
        let items = match value {
            Value::Sequence(items) if !items.is_empty() => items,
            Value::Sequence(_) => {
                self.problem(
                    "collections",
                    "an empty list serves nothing",
                    "add a collection (name, path, key), or remove `collections`",
                );
                return Vec::new();
            }
            other => {
                self.problem(
                    "collections",
                    format!("expected a list of collections, found {}", kind(other)),
                    "write each collection as a `- ` item",
                );
                return Vec::new();
            }
        };
        let mut seen = Seen::default();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(collection) = self.collection(i, item, &mut seen) {
                out.push(collection);
            }
        }
        out
    }

    /// Names and paths must differ from every earlier collection's.
    fn unique(&mut self, at: &str, i: usize, name: &str, path: &str, seen: &mut Seen) {
        if let Some(first) = seen.names.insert(name.to_owned(), i) {
            self.problem(
                &join(at, "name"),
                format!("`{name}` is also the name of collections[{first}]"),
                "give each collection its own name (the journal and metrics tell them apart by it)",
            );
        }
        if let Some((other, first)) = seen.paths.iter().find(|(other, _)| nested(path, other)) {
            self.problem(
                &join(at, "path"),
                format!("`{path}` overlaps `{other}`, the path of collections[{first}]"),
                "give each collection its own path, neither below the other (such as /api/a and /api/b)",
            );
        }
        seen.paths.push((path.to_owned(), i));
    }

    fn collection(&mut self, i: usize, value: &Value, seen: &mut Seen) -> Option<Collection> {
        let at = &format!("collections[{i}]");
        let fields = self.map(
            at,
            value,
            Some(&["name", "path", "key", "seed", "maxItems", "maxBodyBytes"]),
        )?;
        let before = self.problems.len();
        let name = self.required_text(at, &fields, "name", "such as `name: interests`");
        let path = self
            .required_text(at, &fields, "path", "such as `path: /api/interests`")
            .and_then(|path| self.collection_path(&join(at, "path"), path));
        if let (Some(name), Some(path)) = (&name, &path) {
            self.unique(at, i, name, path, seen);
        }
        let key = match fields.get("key") {
            None => Some("id".to_owned()),
            Some(v) => {
                let at = join(at, "key");
                let key = self.string(&at, v);
                if key == Some("") {
                    self.problem(
                        &at,
                        "a key field cannot be empty",
                        "name the field, such as `key: id`",
                    );
                }
                key.map(str::to_owned)
            }
        };
        let max_items = self.positive(at, &fields, "maxItems", DEFAULT_MAX_ITEMS);
        let max_body_bytes = self.positive(at, &fields, "maxBodyBytes", DEFAULT_MAX_BODY_BYTES);
        let seed = match (fields.get("seed"), &key) {
            (Some(v), Some(key)) => {
                self.seed(&join(at, "seed"), v, key, max_items.unwrap_or(usize::MAX))
            }
            _ => Some(Store::default()),
        };
        if self.problems.len() != before {
            return None;
        }
        Some(Collection::new(
            name?,
            path?,
            key?,
            seed?,
            max_items?,
            max_body_bytes?,
        ))
    }

    fn required_text(
        &mut self,
        at: &str,
        fields: &Fields<'_>,
        field: &str,
        fix: &str,
    ) -> Option<String> {
        let at = join(at, field);
        let Some(v) = fields.get(field) else {
            self.problem(
                &at,
                format!("a collection needs a `{field}`"),
                &format!("add one, {fix}"),
            );
            return None;
        };
        let text = self.string(&at, v)?;
        if text.is_empty() {
            self.problem(
                &at,
                format!("`{field}` cannot be empty"),
                &format!("give one, {fix}"),
            );
            return None;
        }
        Some(text.to_owned())
    }

    fn collection_path(&mut self, at: &str, path: String) -> Option<String> {
        let wrong = if !path.starts_with('/') {
            Some("does not start with `/`")
        } else if path == "/" {
            Some("is the root: every one-segment path would be an item")
        } else if path.ends_with('/') {
            Some("ends with `/`")
        } else if path.contains("//") {
            Some("has an empty segment (`//`)")
        } else if path.contains(['?', '#', '{', '}', '*']) {
            Some("has `?`, `#`, `{`, `}` or `*`: it is a plain path, compared as sent")
        } else {
            None
        };
        if let Some(wrong) = wrong {
            self.problem(
                at,
                format!("`{path}` {wrong}"),
                "write the list's path, such as /api/v1/interests; items are at /api/v1/interests/<key>",
            );
            return None;
        }
        Some(path)
    }

    fn positive(
        &mut self,
        at: &str,
        fields: &Fields<'_>,
        field: &str,
        default: usize,
    ) -> Option<usize> {
        let Some(v) = fields.get(field) else {
            return Some(default);
        };
        let n = v
            .as_u64()
            .filter(|n| *n > 0)
            .and_then(|n| usize::try_from(n).ok());
        if n.is_none() {
            self.problem(
                &join(at, field),
                format!("expected a whole number above 0, found {}", describe(v)),
                &format!("leave it out for the default, {default}"),
            );
        }
        n
    }

    fn seed(&mut self, at: &str, value: &Value, key: &str, max_items: usize) -> Option<Store> {
        let Value::Sequence(items) = value else {
            self.problem(
                at,
                format!("expected a list of items, found {}", kind(value)),
                "write each item as a `- ` map",
            );
            return None;
        };
        let before = self.problems.len();
        let mut store = Store::default();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let Some(json) = self.json(&at, item) else {
                continue;
            };
            if !json.is_object() {
                self.problem(
                    &at,
                    format!("expected a map, found {}", kind(item)),
                    "an item is a map of fields",
                );
                continue;
            }
            match key_of(&json, key) {
                Ok(k) if store.contains(&k) => self.problem(
                    &join(&at, key),
                    format!("another seed item has the key {k}"),
                    "give each item its own key (`7` and \"7\" are the same key)",
                ),
                Ok(k) => {
                    store.put(k, json);
                }
                Err(KeyProblem::Missing) => self.problem(
                    &at,
                    format!("the item has no `{key}`, the collection's key"),
                    &format!("add `{key}: …` (a string or a number)"),
                ),
                Err(KeyProblem::NotScalar(what)) => self.problem(
                    &join(&at, key),
                    format!("a key is a number or a non-empty string, found {what}"),
                    "",
                ),
            }
        }
        if store.len() > max_items {
            self.problem(
                at,
                format!("{} items, more than maxItems ({max_items})", store.len()),
                "raise maxItems or seed fewer items",
            );
        }
        (self.problems.len() == before).then_some(store)
    }
}

/// The collections read so far: names and paths, with their index.
#[derive(Default)]
struct Seen {
    names: HashMap<String, usize>,
    paths: Vec<(String, usize)>,
}

/// Whether one path is the other or below it (whole segments).
fn nested(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
