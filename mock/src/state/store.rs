//! A collection's items in insertion order, found by key. Replacing an item
//! keeps its place; deleting and creating again puts it last.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    /// Insertion number → (key, item).
    items: BTreeMap<u64, (String, Json)>,
    by_key: HashMap<String, u64>,
    next: u64,
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        self.by_key.get(key).map(|n| &self.items[n].1)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Adds or replaces; `true` when it was added.
    pub(crate) fn put(&mut self, key: String, item: Json) -> bool {
        if let Some(n) = self.by_key.get(&key) {
            self.items.insert(*n, (key, item));
            return false;
        }
        let n = self.next;
        self.next += 1;
        self.by_key.insert(key.clone(), n);
        self.items.insert(n, (key, item));
        true
    }

    pub(crate) fn remove(&mut self, key: &str) -> bool {
        match self.by_key.remove(key) {
            Some(n) => self.items.remove(&n).is_some(),
            None => false,
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Json> {
        self.items.values().map(|(_, item)| item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_insertion_order() {
        let mut store = Store::default();
        assert!(store.put("a".into(), json!(1)));
        assert!(store.put("b".into(), json!(2)));
        assert!(!store.put("a".into(), json!(3)));
        assert_eq!(store.values().collect::<Vec<_>>(), [&json!(3), &json!(2)]);
        assert!(store.remove("a"));
        assert!(!store.remove("a"));
        assert!(store.put("a".into(), json!(4)));
        assert_eq!(store.values().collect::<Vec<_>>(), [&json!(2), &json!(4)]);
        assert_eq!(store.get("a"), Some(&json!(4)));
        assert_eq!(store.len(), 2);
    }
}
