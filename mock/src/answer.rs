//! A request in, an answer out: the first rule (by priority, then file
//! order) whose conditions hold answers; otherwise the provision's
//! `default`; otherwise the built-in 404 help page. A fixed response is
//! shared with the provision: its headers borrowed, its body a `Bytes`
//! reference; nothing is copied or encoded per request. Answers made per
//! request (templates, collections, scripts) own theirs.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::matcher::{Incoming, Params};
use crate::provision::{Provision, Response};
use crate::script::{ScriptCall, ScriptRequest};
use crate::template::{RenderError, context};
use crate::timing::Fault;

/// What the engine needs of a request. The caller keeps the bytes; the
/// engine only borrows them.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a Method,
    /// The path, without the query (`/app/v1/foo/bar`), as sent: not
    /// percent-decoded.
    pub path: &'a str,
    /// The query string without `?`; empty when there is none.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// From a request target (`/path?query`).
    pub fn new(
        method: &'a Method,
        target: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method,
            path,
            query,
            headers,
            body,
        }
    }
}

/// What answered, for the journal and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched<'p> {
    /// A rule: its position in the file and its name, if it has one.
    Rule { index: usize, name: Option<&'p str> },
    /// No rule matched; a collection (`collections:`) answered.
    Collection { name: &'p str },
    /// No rule matched; the provision's `default` answered.
    Default,
    /// No rule matched and there is no `default`: the help page answered.
    Builtin,
}

impl fmt::Display for Matched<'_> {
    /// The rule's name, `rules[i]`, `collections.<name>`, `default` or
    /// `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matched::Rule {
                name: Some(name), ..
            } => f.write_str(name),
            Matched::Rule { index, name: None } => write!(f, "rules[{index}]"),
            Matched::Collection { name } => write!(f, "collections.{name}"),
            Matched::Default => f.write_str("default"),
            Matched::Builtin => f.write_str("none"),
        }
    }
}

/// Path parameters a template (`/users/{id}`) or a regex's named groups
/// captured, in path order. Values are as sent, not percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams<'p>(Params<'p>);

impl PathParams<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (*n, v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// How the mock answers one request.
#[derive(Debug)]
pub struct Answer<'p> {
    pub status: StatusCode,
    /// Borrowed from the provision unless made for this request.
    pub headers: Cow<'p, HeaderMap>,
    /// A fixed response's body shares the provision's buffer.
    pub body: Bytes,
    pub matched: Matched<'p>,
    pub params: PathParams<'p>,
    /// Wait this long before answering (or before the fault).
    pub delay: Option<Duration>,
    /// Misbehave instead of (or while) answering; the proxy carries it out.
    pub fault: Option<Fault>,
    /// A script makes the response: run it off the worker threads
    /// ([`ScriptCall::run`]) and send its outcome instead of `status`,
    /// `headers` and `body` (which say, as a 500, that it was not run).
    pub script: Option<ScriptCall>,
}

impl Provision {
    /// Answers a request: rules, then collections, then the default. Safe
    /// to call from many threads at once.
    pub fn answer<'p>(&'p self, request: &Request<'_>) -> Answer<'p> {
        let incoming = Incoming::new(request);
        let mut params = Params::new();
        // Taken at the first scenario rule that matches, kept until the
        // answer is chosen (`state/scenarios.rs`).
        let mut states = None;
        for rule in &self.rules {
            if rule.request.matches(&incoming, &mut params) {
                if let Some(step) = &rule.scenario
                    && !step.take(states.get_or_insert_with(|| self.state.scenarios.lock()))
                {
                    params.clear();
                    continue;
                }
                let matched = Matched::Rule {
                    index: rule.index,
                    name: rule.name.as_deref(),
                };
                return self.make(&rule.response, matched, params, &incoming);
            }
        }
        drop(states);
        if let Some(answer) = self.state.answer(request) {
            return answer;
        }
        let matched = if self.has_default {
            Matched::Default
        } else {
            Matched::Builtin
        };
        self.make(&self.fallback, matched, params, &incoming)
    }

    /// A fixed response borrows; a templated one renders, or becomes a 500
    /// that says why.
    fn make<'p>(
        &'p self,
        response: &'p Response,
        matched: Matched<'p>,
        params: Params<'p>,
        incoming: &Incoming<'_>,
    ) -> Answer<'p> {
        if let Some(script) = &response.script {
            let call = ScriptCall {
                script: script.clone(),
                request: ScriptRequest::new(incoming, &params),
                rule: matched.to_string(),
            };
            let unrun = format!(
                "gatehouse mock: rule `{matched}` answers with a script, and this server did not run it\n"
            );
            let mut answer = Answer::failed(matched, params, unrun);
            answer.delay = response.delay.map(|d| d.sample());
            answer.fault = response.fault;
            answer.script = Some(call);
            return answer;
        }
        let (Some(template), Some(templates)) = (&response.template, &self.templates) else {
            return Answer {
                status: response.status,
                headers: Cow::Borrowed(&response.headers),
                body: response.body.clone(),
                matched,
                params: PathParams(params),
                delay: response.delay.map(|d| d.sample()),
                fault: response.fault,
                script: None,
            };
        };
        let rendered = template.render(
            templates,
            &response.headers,
            &response.body,
            &context(incoming, &params),
        );
        match rendered {
            Ok((headers, body)) => Answer {
                status: response.status,
                headers: Cow::Owned(headers),
                body,
                matched,
                params: PathParams(params),
                delay: response.delay.map(|d| d.sample()),
                fault: response.fault,
                script: None,
            },
            Err(RenderError(why)) => Answer::failed(
                matched,
                params,
                format!("gatehouse mock: rule `{matched}` could not make its response: {why}\n"),
            ),
        }
    }
}

impl<'p> Answer<'p> {
    /// A 500 naming the rule and what failed, as plain text, at once and
    /// without the rule's fault: what went wrong must be plain to see.
    fn failed(matched: Matched<'p>, params: Params<'p>, text: String) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            headers: Cow::Owned(headers),
            body: Bytes::from(text),
            matched,
            params: PathParams(params),
            delay: None,
            fault: None,
            script: None,
        }
    }
}

/// h1mock's answer when nothing is provisioned: 404, HTML, how to write a
/// provision.
pub(crate) fn help_page() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response {
        status: StatusCode::NOT_FOUND,
        headers,
        body: Bytes::from_static(HELP_PAGE.as_bytes()),
        template: None,
        delay: None,
        fault: None,
        script: None,
    }
}

/// The built-in help page's body.
pub const HELP_PAGE: &str = "<!DOCTYPE html>
<html><head><meta charset=\"utf-8\"><title>404 Not Found: no mock rule matches</title></head>
<body>
<h1>404 Not Found</h1>
<p>This is a Gatehouse mock. No rule of its provision matches this request, and the provision has no <code>default</code> answer (or there is no provision yet).</p>
<p>How to write a provision: see <code>docs/mock.md</code> in Gatehouse's repository.</p>
</body></html>
";
