//! A small JSON path: `$`, then `.field`, `['field']` and `[n]` steps. Enough
//! to name one node of a request's JSON body (`$.user.id`, `$.items[0].sku`);
//! no wildcards, slices or filters.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// A parsed path, ready to select a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `$.a.b[0]`; the error says what is wrong, for the fix text.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err("a JSON path starts with `$`".into());
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let field = &after[..end];
                if field.is_empty() {
                    return Err("an empty field name after `.`".into());
                }
                steps.push(Step::Field(field.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let (inner, after) = after
                    .split_once(']')
                    .ok_or_else(|| "a `[` without its `]`".to_owned())?;
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match quoted {
                    Some(field) => steps.push(Step::Field(field.to_owned())),
                    None => {
                        let index = inner.parse().map_err(|_| {
                            format!("`[{inner}]` is neither an index nor a quoted field name")
                        })?;
                        steps.push(Step::Index(index));
                    }
                }
                rest = after;
            } else {
                return Err(format!("unexpected `{rest}`; steps are `.field` or `[n]`"));
            }
        }
        Ok(Self { steps })
    }

    /// The node the path names, if the document has it.
    pub(crate) fn select<'v>(&self, mut node: &'v Value) -> Option<&'v Value> {
        for step in &self.steps {
            node = match step {
                Step::Field(name) => node.as_object()?.get(name)?,
                Step::Index(index) => node.as_array()?.get(*index)?,
            };
        }
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_fields_and_indices() {
        let doc = json!({"user": {"id": 7, "tags": ["a", "b"]}, "odd.key": 1});
        let at = |p: &str| JsonPath::parse(p).unwrap().select(&doc).cloned();
        assert_eq!(at("$"), Some(doc.clone()));
        assert_eq!(at("$.user.id"), Some(json!(7)));
        assert_eq!(at("$.user.tags[1]"), Some(json!("b")));
        assert_eq!(at("$['odd.key']"), Some(json!(1)));
        assert_eq!(at("$.user[\"id\"]"), Some(json!(7)));
        assert_eq!(at("$.user.tags[2]"), None);
        assert_eq!(at("$.user.id.x"), None);
        assert_eq!(at("$.nobody"), None);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for bad in ["user.id", "$.", "$.a[", "$.a[*]", "$..a", "$a"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
