//! The checked form of a provision: what [`check`](crate::check) builds from
//! the YAML and what [`matcher`](crate::matcher) and
//! [`answer`](crate::answer) read. Regexes are compiled, header names parsed
//! and response bodies encoded once, here, never per request.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode};
use regex::Regex;

use crate::error::ProvisionError;
use crate::jsonpath::JsonPath;
use crate::script::Script;
use crate::template::{ResponseTemplate, Templates};
use crate::timing::{Delay, Fault};

/// A checked provision: rules in the order they are tried, and what an
/// unmatched request gets.
#[derive(Debug)]
pub struct Provision {
    /// Sorted by priority; ties keep file order.
    pub(crate) rules: Vec<Rule>,
    /// The provision's `default`, or the built-in help page.
    pub(crate) fallback: Response,
    pub(crate) has_default: bool,
    /// Scenarios and collections: what it remembers between requests.
    pub(crate) state: crate::state::State,
    /// Its compiled templates (and counters), when a response has any.
    pub(crate) templates: Option<Arc<Templates>>,
}

impl Provision {
    /// Reads and checks a provision. `source` names it in errors (a file
    /// name, a resource's name). Refused whole, with every problem found.
    pub fn parse(source: &str, text: &str) -> Result<Self, Vec<ProvisionError>> {
        crate::check::check(source, text)
    }

    /// No provision at all: every request gets the built-in 404 help page.
    pub fn empty() -> Self {
        Self {
            rules: Vec::new(),
            fallback: crate::answer::help_page(),
            has_default: false,
            state: Default::default(),
            templates: None,
        }
    }

    /// How many rules it has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rules' labels (name, or `rules[i]`) in the order they are tried.
    pub fn rule_labels(&self) -> impl Iterator<Item = String> + '_ {
        self.rules.iter().map(Rule::label)
    }

    /// Everything that can answer a request: each rule, each collection,
    /// and the `default` (or the built-in help page). A server names them
    /// once per provision (`Matched`'s `Display`) rather than per answer.
    pub fn answerers(&self) -> impl Iterator<Item = crate::Matched<'_>> {
        let rules = self.rules.iter().map(|rule| crate::Matched::Rule {
            index: rule.index,
            name: rule.name.as_deref(),
        });
        let collections = self
            .collection_names()
            .map(|name| crate::Matched::Collection { name });
        let fallback = match self.has_default {
            true => crate::Matched::Default,
            false => crate::Matched::Builtin,
        };
        rules.chain(collections).chain(std::iter::once(fallback))
    }
}

impl Default for Provision {
    fn default() -> Self {
        Self::empty()
    }
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: Option<String>,
    /// Its position in the file, for errors and labels.
    pub(crate) index: usize,
    pub(crate) priority: u32,
    pub(crate) request: RequestMatch,
    pub(crate) response: Response,
    /// `scenario`, `whenState`, `newState`.
    pub(crate) scenario: Option<crate::state::scenarios::Step>,
}

impl Rule {
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("rules[{}]", self.index),
        }
    }
}

/// Every condition must hold; an absent one always does.
#[derive(Debug, Default)]
pub(crate) struct RequestMatch {
    /// Empty: any method.
    pub(crate) methods: Vec<Method>,
    pub(crate) path: Option<PathMatch>,
    pub(crate) headers: Vec<(HeaderName, ValueMatch)>,
    pub(crate) query: Vec<(String, ValueMatch)>,
    pub(crate) cookies: Vec<(String, ValueMatch)>,
    pub(crate) body: Vec<BodyMatch>,
}

#[derive(Debug)]
pub(crate) enum PathMatch {
    Exact(String),
    /// Whole segments: `/app` matches `/app` and `/app/x`, not `/apple`.
    /// Stored without a trailing `/`.
    Prefix(String),
    Template(Vec<Segment>),
    /// `named` when the regex has named groups: they become path parameters.
    Regex {
        regex: Regex,
        named: bool,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// A condition on a header, query parameter or cookie. With several values
/// (a repeated header or parameter), one matching is enough.
#[derive(Debug)]
pub(crate) enum ValueMatch {
    Equals(String),
    Contains(String),
    Regex(Regex),
    Present(bool),
}

#[derive(Debug)]
pub(crate) enum BodyMatch {
    /// The body, read as JSON, equals this.
    Json(serde_json::Value),
    /// The body's bytes contain this (a literal, compiled once).
    Contains(regex::bytes::Regex),
    Regex(regex::bytes::Regex),
    JsonPath {
        path: JsonPath,
        test: JsonTest,
    },
}

/// A condition on the node a JSON path selects.
#[derive(Debug)]
pub(crate) enum JsonTest {
    Equals(serde_json::Value),
    /// On a string node, its text; on any other, its JSON.
    Contains(String),
    Regex(Regex),
    Present(bool),
}

/// A response, ready to send: encoded once when the provision is read.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What is rendered per request (`template: true`); the fixed headers
    /// and body above hold the rest.
    pub(crate) template: Option<ResponseTemplate>,
    pub(crate) delay: Option<Delay>,
    pub(crate) fault: Option<Fault>,
    /// A script makes the whole response (the fields above are unused).
    pub(crate) script: Option<Arc<Script>>,
}
