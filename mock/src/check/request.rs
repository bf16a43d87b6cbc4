//! A rule's `request`: method, path, headers, query, cookies and body
//! conditions, compiled for the matcher.

use http::{HeaderName, Method};
use serde_yaml::Value;

use super::{Checker, HEADER_NAME_FIX, join};
use crate::jsonpath::JsonPath;
use crate::provision::{BodyMatch, JsonTest, PathMatch, RequestMatch, Segment, ValueMatch};

impl Checker {
    pub(super) fn request(&mut self, at: &str, value: &Value) -> Option<RequestMatch> {
        let fields = self.map(
            at,
            value,
            Some(&["method", "path", "headers", "query", "cookies", "body"]),
        )?;
        let before = self.problems.len();
        let mut out = RequestMatch::default();
        if let Some(v) = fields.get("method") {
            out.methods = self.methods(&join(at, "method"), v);
        }
        if let Some(v) = fields.get("path") {
            out.path = self.path(&join(at, "path"), v);
        }
        if let Some(v) = fields.get("headers") {
            let at = join(at, "headers");
            for (key, v) in self.map(&at, v, None).map(|f| f.0).unwrap_or_default() {
                let at = join(&at, key);
                let name = HeaderName::from_bytes(key.as_bytes());
                if name.is_err() {
                    self.problem(
                        &at,
                        format!("`{key}` is not a valid header name"),
                        HEADER_NAME_FIX,
                    );
                }
                if let (Ok(name), Some(test)) = (name, self.value_match(&at, v)) {
                    out.headers.push((name, test));
                }
            }
        }
        for (field, list) in [("query", &mut out.query), ("cookies", &mut out.cookies)] {
            let Some(v) = fields.get(field) else { continue };
            let at = join(at, field);
            for (key, v) in self.map(&at, v, None).map(|f| f.0).unwrap_or_default() {
                if key.is_empty() {
                    self.problem(&at, "a name cannot be empty", "");
                }
                if let Some(test) = self.value_match(&join(&at, key), v) {
                    list.push((key.to_owned(), test));
                }
            }
        }
        if let Some(v) = fields.get("body") {
            let at = join(at, "body");
            match v {
                Value::Sequence(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(test) = self.body_match(&format!("{at}[{i}]"), item) {
                            out.body.push(test);
                        }
                    }
                }
                one => out.body.extend(self.body_match(&at, one)),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    pub(super) fn methods(&mut self, at: &str, value: &Value) -> Vec<Method> {
        let one = |this: &mut Self, at: &str, v: &Value| {
            let text = this.string(at, v)?;
            match Method::from_bytes(text.to_ascii_uppercase().as_bytes()) {
                Ok(m) if !text.is_empty() => Some(m),
                _ => {
                    this.problem(
                        at,
                        format!("`{text}` is not an HTTP method"),
                        "write a method such as GET or POST",
                    );
                    None
                }
            }
        };
        match value {
            Value::Sequence(items) if items.is_empty() => {
                self.problem(
                    at,
                    "an empty list matches no method",
                    "remove `method` to match any",
                );
                Vec::new()
            }
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| one(self, &format!("{at}[{i}]"), v))
                .collect(),
            v => one(self, at, v).into_iter().collect(),
        }
    }

    pub(super) fn path(&mut self, at: &str, value: &Value) -> Option<PathMatch> {
        let (how, v, at) = match value {
            Value::String(_) => ("exact", value, at.to_owned()),
            _ => {
                let (how, v) = self.one_of(at, value, &["exact", "prefix", "template", "regex"])?;
                (how, v, join(at, how))
            }
        };
        if how == "regex" {
            let regex = self.regex(&at, v)?;
            let named = regex.capture_names().flatten().next().is_some();
            return Some(PathMatch::Regex { regex, named });
        }
        let path = self.string(&at, v)?;
        if !path.starts_with('/') {
            self.problem(
                &at,
                format!("`{path}` does not start with `/`"),
                &format!("write `/{path}`"),
            );
            return None;
        }
        match how {
            "exact" => Some(PathMatch::Exact(path.to_owned())),
            "prefix" => Some(PathMatch::Prefix(path.trim_end_matches('/').to_owned())),
            _ => self.template(&at, path).map(PathMatch::Template),
        }
    }

    /// `/users/{id}/orders/{order}`: each `{name}` a whole segment.
    pub(super) fn template(&mut self, at: &str, path: &str) -> Option<Vec<Segment>> {
        let mut segments = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for part in path[1..].split('/') {
            let param = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'));
            match param {
                Some(name) if is_param_name(name) => {
                    if names.contains(&name) {
                        self.problem(
                            at,
                            format!("the parameter `{{{name}}}` appears twice"),
                            "give each parameter its own name",
                        );
                        return None;
                    }
                    names.push(name);
                    segments.push(Segment::Param(name.to_owned()));
                }
                Some(name) => {
                    self.problem(
                        at,
                        format!("`{{{name}}}` is not a parameter name"),
                        "a name is letters, digits and `_`, such as `{id}`",
                    );
                    return None;
                }
                None if part.contains(['{', '}']) => {
                    self.problem(
                        at,
                        format!("unbalanced or partial `{{`/`}}` in the segment `{part}`"),
                        "a parameter is a whole segment between slashes, such as `/users/{id}`; for more, use `regex`",
                    );
                    return None;
                }
                None => segments.push(Segment::Literal(part.to_owned())),
            }
        }
        Some(segments)
    }

    pub(super) fn value_match(&mut self, at: &str, value: &Value) -> Option<ValueMatch> {
        match value {
            Value::String(_) | Value::Number(_) => {
                return self.text(at, value).map(ValueMatch::Equals);
            }
            Value::Bool(_) => {
                self.problem(
                    at,
                    "a boolean is ambiguous here",
                    "write `{present: true}` to require it, or `{equals: \"true\"}` for the text",
                );
                return None;
            }
            _ => {}
        }
        let (how, v) = self.one_of(at, value, &["equals", "contains", "regex", "present"])?;
        let at = join(at, how);
        match how {
            "equals" => self.text(&at, v).map(ValueMatch::Equals),
            "contains" => self.text(&at, v).map(ValueMatch::Contains),
            "regex" => self.regex(&at, v).map(ValueMatch::Regex),
            _ => self.boolean(&at, v).map(ValueMatch::Present),
        }
    }

    pub(super) fn body_match(&mut self, at: &str, value: &Value) -> Option<BodyMatch> {
        let (how, v) = self.one_of(at, value, &["json", "contains", "regex", "jsonPath"])?;
        let at = join(at, how);
        match how {
            "json" => self.json(&at, v).map(BodyMatch::Json),
            "contains" => {
                let text = self.text(&at, v)?;
                self.bytes_regex(&at, &regex::escape(&text))
                    .map(BodyMatch::Contains)
            }
            "regex" => {
                let pattern = self.string(&at, v)?;
                self.bytes_regex(&at, pattern).map(BodyMatch::Regex)
            }
            _ => self.json_path(&at, v),
        }
    }

    pub(super) fn json_path(&mut self, at: &str, value: &Value) -> Option<BodyMatch> {
        let tests = ["equals", "contains", "regex", "present"];
        let fields = self.map(
            at,
            value,
            Some(&["path", "equals", "contains", "regex", "present"]),
        )?;
        let path = match fields.get("path") {
            Some(v) => {
                let at = join(at, "path");
                let text = self.string(&at, v)?;
                match JsonPath::parse(text) {
                    Ok(path) => Some(path),
                    Err(why) => {
                        self.problem(&at, format!("`{text}` is not a supported JSON path: {why}"), "write `$` then `.field` and `[n]` steps, such as `$.user.id` or `$.items[0]`");
                        None
                    }
                }
            }
            None => {
                self.problem(
                    &join(at, "path"),
                    "a jsonPath needs a `path`",
                    "such as `path: $.user.id`",
                );
                None
            }
        };
        let given: Vec<_> = fields.0.iter().filter(|(k, _)| tests.contains(k)).collect();
        let test = match given.as_slice() {
            [(how, v)] => {
                let at = join(at, how);
                match *how {
                    "equals" => self.json(&at, v).map(JsonTest::Equals),
                    "contains" => self.text(&at, v).map(JsonTest::Contains),
                    "regex" => self.regex(&at, v).map(JsonTest::Regex),
                    _ => self.boolean(&at, v).map(JsonTest::Present),
                }
            }
            // Only a path: the node must be there.
            [] => Some(JsonTest::Present(true)),
            _ => {
                self.problem(
                    at,
                    format!(
                        "give at most one of {}, found {}",
                        tests.join(", "),
                        given.len()
                    ),
                    "",
                );
                None
            }
        };
        Some(BodyMatch::JsonPath {
            path: path?,
            test: test?,
        })
    }
}

fn is_param_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
