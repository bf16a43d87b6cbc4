//! Gatehouse's mock engine: a provision (YAML) says how a mock answers.
//! This crate reads and checks provisions and answers requests; it opens no
//! socket and knows nothing of the proxy (its glue is
//! `proxy/src/backends/mock/`, not built yet). See `docs/mock.md` for the
//! format. Layers, one job each:
//!
//! - [`provision`](crate::provision) — the checked form: compiled regexes,
//!   parsed header names, encoded response bodies.
//! - [`check`](crate::check) — YAML to that form, collecting every problem
//!   with its field path; `gatehouse_yaml_locate` finds their lines and
//!   [`error`](crate::error) says them (`file:line: field: message — fix`).
//! - [`jsonpath`](crate::jsonpath) — the small JSON path body conditions use.
//! - [`matcher`](crate::matcher) — whether a request meets a rule.
//! - [`answer`](crate::answer) — the request and answer types, rule order,
//!   the default and the built-in help page.
//! - [`state`](crate::state) — what a provision remembers between
//!   requests: scenarios and collections.
//! - [`template`](crate::template) — response templates, rendered per
//!   request.
//! - [`timing`](crate::timing) — delays and faults, described for the
//!   proxy to carry out.
//! - [`script`](crate::script) — Rhai handlers, packed per request for the
//!   proxy to run off its workers.

mod answer;
mod check;
mod error;
mod fields;
mod jsonpath;
mod matcher;
mod provision;
mod script;
mod state;
mod template;
mod timing;

pub use answer::{Answer, HELP_PAGE, Matched, PathParams, Request};
pub use error::ProvisionError;
pub use provision::{Provision, Response};
pub use script::{ScriptCall, ScriptOutcome, ScriptResponse};
pub use timing::Fault;
