//! Reads a provision's YAML into a [`Provision`], checking every field and
//! collecting every problem, each with its field path and, found afterwards,
//! its line. Walking a `serde_yaml::Value` by hand (rather than deriving
//! `Deserialize`) is what lets one pass report all the errors, not the
//! first, and say how to fix each.
//!
//! - this module: the document, its rules, and the problem list;
//! - [`values`]: typed readers (a map with known keys, one of several
//!   forms, text, a regex, a YAML value as JSON);
//! - [`request`]: a rule's request conditions;
//! - [`response`]: a response and its body;
//! - [`scenarios`]: a rule's part in a scenario;
//! - [`collections`]: the REST collections and their seed items.
//! - [`timing`]: its delay and fault;
//! - [`script`]: its script.

mod collections;
mod request;
mod response;
mod scenarios;
mod script;
mod timing;
mod values;

use std::collections::HashMap;

use serde_yaml::Value;

use crate::error::ProvisionError;
use std::sync::Arc;

use crate::provision::{Provision, RequestMatch, Rule};
use crate::template::Templates;
use gatehouse_yaml_locate::line_of;

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
    scenarios: scenarios::ScenarioNotes,
    /// The provision's templates, compiled as they are met.
    templates: Templates,
    /// Whether any template was compiled.
    templated: bool,
    /// The state the provision's scripts share.
    state: crate::script::State,
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

    fn provision(&mut self, doc: &Value) -> Option<Provision> {
        if doc.is_null() {
            self.problem("", "the provision is empty", NEEDS_RULES);
            return None;
        }
        let fields = self.map("", doc, Some(&["rules", "collections", "default"]))?;
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
            None if fields.get("default").is_none() && fields.get("collections").is_none() => self
                .problem(
                    "",
                    "the provision has no `rules`, `collections` or `default`",
                    NEEDS_RULES,
                ),
            None => {}
        }
        let default = fields
            .get("default")
            .and_then(|v| self.response("default", v));
        let scenarios = self.scenarios();
        let collections = fields
            .get("collections")
            .map(|v| self.collections(v))
            .unwrap_or_default();
        rules.sort_by_key(|rule| rule.priority);
        let templates = self
            .templated
            .then(|| Arc::new(std::mem::take(&mut self.templates)));
        Some(Provision {
            rules,
            templates,
            has_default: default.is_some(),
            fallback: default.unwrap_or_else(crate::answer::help_page),
            state: crate::state::State {
                scenarios,
                collections,
            },
        })
    }

    fn rule(&mut self, index: usize, value: &Value) -> Option<Rule> {
        let at = format!("rules[{index}]");
        let fields = self.map(
            &at,
            value,
            Some(&[
                "name",
                "priority",
                "scenario",
                "whenState",
                "newState",
                "request",
                "response",
            ]),
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
        let scenario = self.scenario_step(&at, &fields);
        Some(Rule {
            name,
            index,
            priority: priority?,
            request: request?,
            response: response?,
            scenario: scenario.ok()?,
        })
    }
}

const NEEDS_RULES: &str =
    "write `rules:` with at least one rule, `collections:`, or a `default:` response";

const HEADER_NAME_FIX: &str = "a header name is letters, digits and `-`, such as `x-api-key`";

/// A value in a message: a scalar as written, anything else by its kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Bool(b) => b.to_string(),
        other => kind(other).to_owned(),
    }
}
