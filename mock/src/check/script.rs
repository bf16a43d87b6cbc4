//! A response's `script`: its source compiled, its limits checked.

use std::sync::Arc;
use std::time::Duration;

use serde_yaml::Value;

use super::{Checker, describe, join};
use crate::script::{DEFAULT_OPERATIONS, DEFAULT_TIMEOUT, MAX_OPERATIONS, MAX_TIMEOUT, Script};
use crate::timing::parse_duration;

const SCRIPT_FIX: &str =
    "scripts are Rhai: return #{status: 200, json: #{…}} (see docs/mock.md, Scripts)";

impl Checker {
    /// `script: |` (the source) or `script: {source, timeout, maxOperations}`.
    pub(super) fn script(&mut self, at: &str, value: &Value) -> Option<Arc<Script>> {
        let (source_at, source, timeout, max_operations) = if let Value::String(source) = value {
            (
                at.to_owned(),
                source.as_str(),
                Some(DEFAULT_TIMEOUT),
                Some(DEFAULT_OPERATIONS),
            )
        } else {
            let fields = self.map(at, value, Some(&["source", "timeout", "maxOperations"]))?;
            let source_at = join(at, "source");
            let source = match fields.get("source") {
                Some(v) => self.string(&source_at, v),
                None => {
                    self.problem(&source_at, "a script needs its `source`", SCRIPT_FIX);
                    None
                }
            };
            let timeout = match fields.get("timeout") {
                None => Some(DEFAULT_TIMEOUT),
                Some(v) => self.script_timeout(&join(at, "timeout"), v),
            };
            let max_operations = match fields.get("maxOperations") {
                None => Some(DEFAULT_OPERATIONS),
                Some(v) => {
                    let n = v.as_u64().filter(|n| (1..=MAX_OPERATIONS).contains(n));
                    if n.is_none() {
                        self.problem(
                            &join(at, "maxOperations"),
                            format!(
                                "expected a whole number from 1 to {MAX_OPERATIONS}, found {}",
                                describe(v)
                            ),
                            &format!("the default is {DEFAULT_OPERATIONS}"),
                        );
                    }
                    n
                }
            };
            (source_at, source?, timeout, max_operations)
        };
        let (timeout, max_operations) = (timeout?, max_operations?);
        match Script::compile(source, timeout, max_operations, self.state.clone()) {
            Ok(script) => Some(Arc::new(script)),
            Err(message) => {
                self.problem(&source_at, message, SCRIPT_FIX);
                None
            }
        }
    }

    fn script_timeout(&mut self, at: &str, value: &Value) -> Option<Duration> {
        match value.as_str().and_then(parse_duration) {
            Some(d) if !d.is_zero() && d <= MAX_TIMEOUT => Some(d),
            _ => {
                self.problem(
                    at,
                    format!(
                        "expected a duration from 1ms to 10s, found {}",
                        describe(value)
                    ),
                    "such as `500ms` or `2s`; the default is 1s",
                );
                None
            }
        }
    }
}
