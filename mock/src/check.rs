//! Reads a provision's YAML into a [`Provision`], checking every field and
//! collecting every problem, each with its field path and, found afterwards,
//! its line. Walking a `serde_yaml::Value` by hand (rather than deriving
//! `Deserialize`) is what lets one pass report all the errors, not the
//! first, and say how to fix each.

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use regex::Regex;
use serde_yaml::Value;

use crate::error::ProvisionError;
use crate::jsonpath::JsonPath;
use crate::locate::line_of;
use crate::provision::{
    BodyMatch, JsonTest, PathMatch, Provision, RequestMatch, Response, Rule, Segment, ValueMatch,
};

/// A rule without `priority` has this one (WireMock's default): a rule
/// with 1 to 4 is tried before it, one with 6 or more after.
pub(crate) const DEFAULT_PRIORITY: u32 = 5;

pub(crate) fn check(source: &str, text: &str) -> Result<Provision, Vec<ProvisionError>> {
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(doc) => doc,
        Err(err) => return Err(vec![syntax_error(source, &err)]),
    };
    let mut checker = Checker::default();
    let provision = checker.provision(&doc);
    match provision {
        Some(provision) if checker.problems.is_empty() => Ok(provision),
        _ => Err(checker
            .problems
            .into_iter()
            .map(|p| ProvisionError {
                source: source.to_owned(),
                line: line_of(text, &p.field),
                field: p.field,
                message: p.message,
                fix: p.fix,
            })
            .collect()),
    }
}

fn syntax_error(source: &str, err: &serde_yaml::Error) -> ProvisionError {
    let mut message = err.to_string();
    let line = err.location().map(|at| {
        // The line is the error's prefix; do not say it twice.
        message = message.replacen(
            &format!(" at line {} column {}", at.line(), at.column()),
            "",
            1,
        );
        at.line()
    });
    ProvisionError {
        source: source.to_owned(),
        line,
        field: String::new(),
        message: format!("not valid YAML: {message}"),
        fix: Some("check the indentation and quoting near this line".into()),
    }
}

struct Problem {
    field: String,
    message: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
    /// Rule names seen so far, and where.
    names: HashMap<String, usize>,
}

/// A map's entries, keys checked to be strings and known.
struct Fields<'v>(Vec<(&'v str, &'v Value)>);

impl<'v> Fields<'v> {
    fn get(&self, key: &str) -> Option<&'v Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

impl Checker {
    fn problem(&mut self, field: &str, message: impl Into<String>, fix: &str) {
        self.problems.push(Problem {
            field: field.to_owned(),
            message: message.into(),
            fix: (!fix.is_empty()).then(|| fix.to_owned()),
        });
    }

    /// A map whose keys are all strings; unknown keys are problems (a typo
    /// must not silently match everything) when `known` is given.
    fn map<'v>(
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
    fn one_of<'v>(
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

    fn string<'v>(&mut self, at: &str, value: &'v Value) -> Option<&'v str> {
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
    fn text(&mut self, at: &str, value: &Value) -> Option<String> {
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

    fn regex(&mut self, at: &str, value: &Value) -> Option<Regex> {
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

    fn bytes_regex(&mut self, at: &str, pattern: &str) -> Option<regex::bytes::Regex> {
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

    fn json(&mut self, at: &str, value: &Value) -> Option<serde_json::Value> {
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

    fn provision(&mut self, doc: &Value) -> Option<Provision> {
        if doc.is_null() {
            self.problem("", "the provision is empty", NEEDS_RULES);
            return None;
        }
        let fields = self.map("", doc, Some(&["rules", "default"]))?;
        let mut rules = Vec::new();
        match fields.get("rules") {
            Some(Value::Sequence(items)) if items.is_empty() => {
                self.problem(
                    "rules",
                    "an empty list matches nothing",
                    "add a rule, or remove `rules` and keep only `default`",
                );
            }
            Some(Value::Sequence(items)) => {
                for (index, item) in items.iter().enumerate() {
                    if let Some(rule) = self.rule(index, item) {
                        rules.push(rule);
                    }
                }
            }
            Some(other) => self.problem(
                "rules",
                format!("expected a list of rules, found {}", kind(other)),
                "write each rule as a `- ` item",
            ),
            None if fields.get("default").is_none() => self.problem(
                "",
                "the provision has neither `rules` nor `default`",
                NEEDS_RULES,
            ),
            None => {}
        }
        let default = fields
            .get("default")
            .and_then(|v| self.response("default", v));
        rules.sort_by_key(|rule| rule.priority);
        Some(Provision {
            rules,
            has_default: default.is_some(),
            fallback: default.unwrap_or_else(crate::answer::help_page),
        })
    }

    fn rule(&mut self, index: usize, value: &Value) -> Option<Rule> {
        let at = format!("rules[{index}]");
        let fields = self.map(
            &at,
            value,
            Some(&["name", "priority", "request", "response"]),
        )?;
        let name = fields.get("name").and_then(|v| {
            let name = self.string(&join(&at, "name"), v)?;
            if name.is_empty() {
                self.problem(
                    &join(&at, "name"),
                    "a name cannot be empty",
                    "remove `name` or give one",
                );
                return None;
            }
            if let Some(first) = self.names.get(name) {
                let message = format!("`{name}` is also the name of rules[{first}]");
                self.problem(
                    &join(&at, "name"),
                    message,
                    "give each rule its own name (the journal and metrics tell rules apart by it)",
                );
            } else {
                self.names.insert(name.to_owned(), index);
            }
            Some(name.to_owned())
        });
        let priority = match fields.get("priority") {
            None => Some(DEFAULT_PRIORITY),
            Some(v) => {
                let p = v.as_u64().and_then(|p| u32::try_from(p).ok());
                if p.is_none() {
                    self.problem(
                        &join(&at, "priority"),
                        format!(
                            "expected a whole number from 0 to {}, found {}",
                            u32::MAX,
                            describe(v)
                        ),
                        "lower is tried first; a rule without one has 5",
                    );
                }
                p
            }
        };
        let request = match fields.get("request") {
            Some(v) => self.request(&join(&at, "request"), v),
            None => Some(RequestMatch::default()),
        };
        let response = match fields.get("response") {
            Some(v) => self.response(&join(&at, "response"), v),
            None => {
                self.problem(
                    &join(&at, "response"),
                    "a rule needs a `response`",
                    "add `response: {status: 200}` at least",
                );
                None
            }
        };
        Some(Rule {
            name,
            index,
            priority: priority?,
            request: request?,
            response: response?,
        })
    }

    fn request(&mut self, at: &str, value: &Value) -> Option<RequestMatch> {
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

    fn methods(&mut self, at: &str, value: &Value) -> Vec<Method> {
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

    fn path(&mut self, at: &str, value: &Value) -> Option<PathMatch> {
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
    fn template(&mut self, at: &str, path: &str) -> Option<Vec<Segment>> {
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

    fn value_match(&mut self, at: &str, value: &Value) -> Option<ValueMatch> {
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

    fn boolean(&mut self, at: &str, value: &Value) -> Option<bool> {
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

    fn body_match(&mut self, at: &str, value: &Value) -> Option<BodyMatch> {
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

    fn json_path(&mut self, at: &str, value: &Value) -> Option<BodyMatch> {
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

    fn response(&mut self, at: &str, value: &Value) -> Option<Response> {
        let fields = self.map(at, value, Some(&["status", "headers", "body"]))?;
        let before = self.problems.len();
        let status = match fields.get("status") {
            None => Some(StatusCode::OK),
            Some(v) => {
                let status = v
                    .as_u64()
                    .filter(|s| (200..=599).contains(s))
                    .and_then(|s| StatusCode::from_u16(s as u16).ok());
                if status.is_none() {
                    self.problem(
                        &join(at, "status"),
                        format!("expected a status from 200 to 599, found {}", describe(v)),
                        "a mock answers with a final status, such as 200 or 404",
                    );
                }
                status
            }
        };
        let mut headers = HeaderMap::new();
        if let Some(v) = fields.get("headers") {
            let at = join(at, "headers");
            for (key, v) in self.map(&at, v, None).map(|f| f.0).unwrap_or_default() {
                let at = join(&at, key);
                let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
                    self.problem(
                        &at,
                        format!("`{key}` is not a valid header name"),
                        HEADER_NAME_FIX,
                    );
                    continue;
                };
                if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
                    self.problem(
                        &at,
                        format!("`{key}` is set by the proxy"),
                        "remove it; the proxy frames the body itself",
                    );
                    continue;
                }
                let Some(text) = self.text(&at, v) else {
                    continue;
                };
                match HeaderValue::from_str(&text) {
                    Ok(value) => {
                        headers.append(name, value);
                    }
                    Err(_) => self.problem(
                        &at,
                        "not a valid header value",
                        "use visible ASCII text, no line breaks",
                    ),
                }
            }
        }
        let (body, content_type) = match fields.get("body") {
            None => (Bytes::new(), None),
            Some(v) => self.body(&join(at, "body"), v)?,
        };
        if let (Some(status), false) = (status, body.is_empty())
            && (status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
        {
            self.problem(
                &join(at, "body"),
                format!("a {status} response has no body"),
                "remove `body`, or use another status",
            );
        }
        if let Some(content_type) = content_type
            && !headers.contains_key(CONTENT_TYPE)
        {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if self.problems.len() != before {
            return None;
        }
        Some(Response {
            status: status?,
            headers,
            body,
        })
    }

    /// The body's bytes and the content type it implies.
    fn body(&mut self, at: &str, value: &Value) -> Option<(Bytes, Option<&'static str>)> {
        if let Value::String(text) = value {
            return Some((Bytes::from(text.clone()), Some("text/plain; charset=utf-8")));
        }
        let (how, v) = self.one_of(at, value, &["text", "json", "base64"])?;
        let at = join(at, how);
        match how {
            "text" => {
                let text = self.text(&at, v)?;
                Some((Bytes::from(text), Some("text/plain; charset=utf-8")))
            }
            "json" => {
                let json = self.json(&at, v)?;
                let bytes = serde_json::to_vec(&json).expect("a JSON value serialises");
                Some((Bytes::from(bytes), Some("application/json")))
            }
            _ => {
                let text = self.string(&at, v)?;
                let compact: String = text.split_whitespace().collect();
                match base64::engine::general_purpose::STANDARD.decode(compact) {
                    Ok(bytes) => Some((Bytes::from(bytes), Some("application/octet-stream"))),
                    Err(err) => {
                        self.problem(
                            &at,
                            format!("not valid base64: {err}"),
                            "use the standard alphabet with `=` padding (`base64 -w0 FILE`)",
                        );
                        None
                    }
                }
            }
        }
    }
}

const NEEDS_RULES: &str = "write `rules:` with at least one rule, or a `default:` response";
const REGEX_FIX: &str = "the syntax is Rust's `regex` crate (no look-around or backreferences); quote the pattern in single quotes";
const HEADER_NAME_FIX: &str = "a header name is letters, digits and `-`, such as `x-api-key`";

fn is_param_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value in a message: a scalar as written, anything else by its kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Bool(b) => b.to_string(),
        other => kind(other).to_owned(),
    }
}

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
