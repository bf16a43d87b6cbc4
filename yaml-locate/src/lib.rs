//! Finds the line a field path (`spec.rules[0].matches[1].path.value`,
//! `rules[2].request.path.regex`) stands on in a YAML document, so an
//! error can point at the field, not at the document's first line. Its own
//! crate so that the api crate (Routes, DepotRepos) and the mock engine
//! (provisions) share it without the engine depending on kube.
//!
//! serde_yaml gives values no positions, but it stamps an error with the
//! position of the node being read when the error arose. So the document is
//! read once more with a visitor that follows the path and fails, on
//! purpose, at the node it names: the error's location is the answer.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `a.b[2].c` as steps; `None` if it is not a path of that shape.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.is_empty() {
            return None;
        }
        out.push(Step::Key(key));
        while let Some(inner) = rest.strip_prefix('[') {
            let (index, after) = inner.split_once(']')?;
            out.push(Step::Index(index.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The 1-based line, within `doc`, of the node `path` names: the field's
/// value, or the nearest enclosing node that exists.
pub fn line_of(doc: &str, path: &str) -> Option<usize> {
    let steps = steps(path)?;
    let mut deepest = None;
    // The path may name a field that is absent (a missing `name`): then
    // its parent is the place to point at.
    for len in (1..=steps.len()).rev() {
        let seed = Find {
            path: &steps[..len],
        };
        let Err(err) = seed.deserialize(serde_yaml::Deserializer::from_str(doc)) else {
            continue;
        };
        if err.to_string().contains(FOUND)
            && let Some(location) = err.location()
        {
            deepest = Some(location.line());
            break;
        }
    }
    deepest
}

/// The message of the error raised at the node sought.
const FOUND: &str = "gatehouse: the node sought";

struct Find<'p, 'a> {
    path: &'p [Step<'a>],
}

impl<'de> DeserializeSeed<'de> for Find<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            // Failing inside the node's own visit: serde_yaml stamps the
            // error with the node's position.
            return deserializer.deserialize_any(FailHere);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Find<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Step::Key(wanted) = self.path[0] else {
            return drain_map(map);
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == wanted {
                map.next_value_seed(Find {
                    path: &self.path[1..],
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Step::Index(wanted) = self.path[0] else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut index = 0;
        loop {
            let more = if index == wanted {
                seq.next_element_seed(Find {
                    path: &self.path[1..],
                })?
            } else {
                seq.next_element::<IgnoredAny>()?.map(drop)
            };
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Fails on whatever node it is given.
struct FailHere;

impl<'de> Visitor<'de> for FailHere {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FOUND)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: shop}
spec:
  hostnames: [shop.example.com]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /a}
        - path:
            type: RegularExpression
            value: '(unclosed'
      backends: [{url: 'http://127.0.0.1:1'}, {url: 'ftp://x', weight: 2000000}]
";

    #[test]
    fn finds_block_and_flow_fields() {
        assert_eq!(
            line_of(DOC, "spec.rules[0].matches[1].path.value"),
            Some(11)
        );
        assert_eq!(line_of(DOC, "spec.rules[0].matches[0].path.value"), Some(8));
        assert_eq!(line_of(DOC, "spec.rules[0].backends[1].weight"), Some(12));
        assert_eq!(line_of(DOC, "spec.hostnames[0]"), Some(5));
    }

    #[test]
    fn an_absent_field_points_at_its_parent() {
        assert_eq!(line_of(DOC, "spec.rules[0].matches[1].method"), Some(9));
        assert_eq!(line_of(DOC, "spec.rules[3]"), Some(7));
    }

    #[test]
    fn paths_that_are_not_paths_find_nothing() {
        assert_eq!(line_of(DOC, ""), None);
        assert_eq!(line_of(DOC, "spec..x"), None);
        assert_eq!(line_of(DOC, "spec.rules[x]"), None);
    }
}
