//! Scripts (`script:`): a Rhai handler makes a rule's whole response from
//! the request and a per-provision `state`. Compiled when the provision is
//! checked; run by the proxy off its worker threads, never inside
//! [`Provision::answer`](crate::Provision::answer), which only packs a
//! [`ScriptCall`].
//!
//! Sandboxed: Rhai has no file, network or clock access; modules (`import`)
//! are not built in, `eval` is disabled, `print`/`debug` go nowhere; every
//! run is bounded in operations, time, call depth and data sizes.
//!
//! - this module: compiling, limits, running a call;
//! - [`request`]: the request a script sees;
//! - [`response`]: what a script returns, checked into a response.

mod request;
mod response;

use std::cell::Cell;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use rhai::{AST, Dynamic, Engine, EvalAltResult, Map, Scope};

pub(crate) use request::ScriptRequest;

/// A run's time limit unless the rule says otherwise, and the most it may say.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(10);
/// Rhai operations a run may do unless the rule says otherwise, and the most.
pub(crate) const DEFAULT_OPERATIONS: u64 = 10_000_000;
pub(crate) const MAX_OPERATIONS: u64 = 1_000_000_000;
/// The largest `state`, measured as JSON.
pub(crate) const MAX_STATE_BYTES: usize = 1 << 20;

/// A provision's script state: one map for all its scripts, kept between
/// requests, new when the provision is read again.
pub(crate) type State = Arc<Mutex<Map>>;

thread_local! {
    /// When the run on this thread must stop; read by the engine's
    /// progress callback.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// A compiled script with its limits.
pub(crate) struct Script {
    engine: Engine,
    ast: AST,
    timeout: Duration,
    max_operations: u64,
    state: State,
    /// Whether the source names `state` at all: a script that does not
    /// runs without taking the provision's state lock or measuring it.
    uses_state: bool,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("timeout", &self.timeout)
            .field("max_operations", &self.max_operations)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Compiles `source`; the error is a problem's message.
    pub(crate) fn compile(
        source: &str,
        timeout: Duration,
        max_operations: u64,
        state: State,
    ) -> Result<Self, String> {
        let engine = engine(max_operations);
        let ast = engine.compile(source).map_err(|err| {
            let mut message = format!("not a valid script: {}", err.0);
            if let Some(line) = err.1.line() {
                message.push_str(&format!(" (line {line} of the script)"));
            }
            message
        })?;
        Ok(Self {
            engine,
            ast,
            timeout,
            max_operations,
            state,
            uses_state: names_state(source),
        })
    }
}

/// Whether `source` has the word `state` outside a longer name (in a
/// string or comment too: erring towards taking the lock is safe). With
/// `eval` disabled and no modules, a script can reach the variable only
/// by naming it.
fn names_state(source: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    source.match_indices("state").any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + "state".len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

fn engine(max_operations: u64) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(max_operations)
        .set_max_call_levels(32)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(1 << 20)
        .set_max_array_size(10_000)
        .set_max_map_size(10_000)
        .set_max_variables(1_000)
        .set_max_functions(100)
        .disable_symbol("eval")
        .on_print(|_| {})
        .on_debug(|_, _, _| {})
        .on_progress(|ops| {
            // Reading the clock every 256 operations is cheap enough.
            let late =
                ops % 256 == 0 && DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() >= at));
            late.then_some(Dynamic::UNIT)
        });
    engine
}

/// A script to run for one request: owns all it needs (`Send + 'static`),
/// so the proxy can move it to a blocking thread and call [`run`](Self::run).
pub struct ScriptCall {
    pub(crate) script: Arc<Script>,
    pub(crate) request: ScriptRequest,
    /// The rule's label, for errors.
    pub(crate) rule: String,
}

impl fmt::Debug for ScriptCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptCall")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// What a script made: a response, or why there is none.
#[derive(Debug)]
pub enum ScriptOutcome {
    Response(ScriptResponse),
    /// The script failed (an error, a limit, a bad return value): the text
    /// names the rule; answer 500 with it ([`into_response`](Self::into_response)).
    Failed(String),
}

/// A response a script made.
#[derive(Debug)]
pub struct ScriptResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ScriptOutcome {
    /// The response to send: a failure becomes a 500 with its text.
    pub fn into_response(self) -> ScriptResponse {
        match self {
            ScriptOutcome::Response(response) => response,
            ScriptOutcome::Failed(text) => failure(text),
        }
    }
}

/// A plain-text 500.
pub(crate) fn failure(text: String) -> ScriptResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    ScriptResponse {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers,
        body: Bytes::from(text + "\n"),
    }
}

impl Script {
    /// Evaluates the script in `scope`, within its time limit.
    fn eval(&self, scope: &mut Scope<'_>) -> Result<Dynamic, Box<EvalAltResult>> {
        DEADLINE.with(|d| d.set(Some(Instant::now() + self.timeout)));
        let result = self.engine.eval_ast_with_scope::<Dynamic>(scope, &self.ast);
        DEADLINE.with(|d| d.set(None));
        result
    }
}

impl ScriptCall {
    /// Runs the script (blocking: up to its time limit). Scripts of one
    /// provision run one at a time, so `state` changes never interleave; a
    /// run that fails leaves `state` as it was.
    pub fn run(self) -> ScriptOutcome {
        let fail = |why: String| {
            ScriptOutcome::Failed(format!(
                "gatehouse mock: rule `{}`: the script failed: {why}",
                self.rule
            ))
        };
        let script = &*self.script;
        if !script.uses_state {
            let mut scope = Scope::new();
            scope.push_constant("request", self.request.to_dynamic());
            return match script.eval(&mut scope) {
                Ok(value) => {
                    response::from_dynamic(value).map_or_else(fail, ScriptOutcome::Response)
                }
                Err(err) => fail(self.describe(&err)),
            };
        }
        let mut state = script.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut scope = Scope::new();
        scope.push_constant("request", self.request.to_dynamic());
        scope.push("state", state.clone());
        let value = match script.eval(&mut scope) {
            Ok(value) => value,
            Err(err) => return fail(self.describe(&err)),
        };
        let response = match response::from_dynamic(value) {
            Ok(response) => response,
            Err(why) => return fail(why),
        };
        let Some(new_state) = scope.get_value::<Map>("state") else {
            return fail("`state` must stay a map".to_owned());
        };
        let new_state = Dynamic::from_map(new_state);
        match serde_json::to_vec(&new_state) {
            Ok(json) if json.len() <= MAX_STATE_BYTES => {}
            Ok(json) => {
                return fail(format!(
                    "`state` would be {} bytes as JSON, over the limit of {MAX_STATE_BYTES}",
                    json.len()
                ));
            }
            Err(err) => return fail(format!("`state` must hold JSON-like values: {err}")),
        }
        *state = new_state.cast::<Map>();
        ScriptOutcome::Response(response)
    }

    fn describe(&self, err: &EvalAltResult) -> String {
        match err.unwrap_inner() {
            EvalAltResult::ErrorTerminated(..) => format!(
                "it ran past its time limit of {:?} (raise it with `script: {{timeout: …}}`, at most {MAX_TIMEOUT:?})",
                self.script.timeout
            ),
            EvalAltResult::ErrorTooManyOperations(..) => format!(
                "it went past its limit of {} operations (raise it with `script: {{maxOperations: …}}`)",
                self.script.max_operations
            ),
            _ => err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names_state;

    #[test]
    fn a_script_names_state_only_as_a_whole_word() {
        assert!(names_state("state.n = 1"));
        assert!(names_state("let x = (state ?? #{});"));
        assert!(
            names_state("// state\n1"),
            "a comment errs towards the lock"
        );
        assert!(!names_state("#{json: request.params}"));
        assert!(!names_state(
            "let statement = 1; let my_state = 2; let states = 3;"
        ));
    }
}
