//! Response templates (`template: true`): header values and bodies written
//! in Jinja syntax (minijinja), compiled when the provision is checked and
//! rendered per request. One environment per provision, so its counters
//! start again when the provision is rebuilt.
//!
//! Sandboxed: no loader (a template cannot read a file or include
//! another), no auto-escaping, and a fuel budget per render that bounds
//! both its time and the memory it allocates.
//!
//! - this module: the environment, compiling, rendering a response;
//! - [`context`]: the request as template values;
//! - [`functions`]: `now`, `uuid()`, random values, `counter()`;
//! - [`clock`]: UTC dates without a date crate.

mod clock;
mod context;
mod functions;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::Value as Json;

pub(crate) use context::context;
use functions::Counters;

/// The work one render may do: about this many instructions, or 64 times
/// as many bytes of output and values (minijinja's fuel).
const FUEL: u64 = 200_000;

/// A provision's compiled templates, each named by its field path.
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        // The built-in filters and tests, and never a loader.
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(FUEL));
        if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        functions::register(&mut env, Arc::new(Counters::default()));
        Self { env }
    }
}

/// Whether text uses template syntax; text without it stays fixed.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

impl Templates {
    /// Compiles `source` under `name` (its field path); the error is a
    /// problem's message.
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), String> {
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|err| describe(&err))
    }

    fn render(&self, name: &str, ctx: &Value) -> Result<String, RenderError> {
        let fail = |err: minijinja::Error| RenderError(format!("{name}: {}", describe(&err)));
        self.env
            .get_template(name)
            .map_err(fail)?
            .render(ctx)
            .map_err(fail)
    }
}

/// A template's error, without the template's name (the caller says it)
/// but with its line inside the template.
fn describe(err: &minijinja::Error) -> String {
    let mut out = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    if let Some(line) = err.line() {
        out.push_str(&format!(" (line {line} of the template)"));
    }
    out
}

/// Why a templated response could not be made; the answer is then a 500
/// saying this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderError(pub(crate) String);

/// What of a response is a template.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponseTemplate {
    /// Header values that are templates, by the template's name; the fixed
    /// headers do not have them.
    pub(crate) headers: Vec<(HeaderName, String)>,
    pub(crate) body: Option<BodyTemplate>,
}

#[derive(Debug, Clone)]
pub(crate) enum BodyTemplate {
    /// The whole text is one template.
    Text(String),
    /// A JSON body: its string leaves that are templates are rendered, each
    /// to a JSON string, so the body stays valid JSON whatever the values.
    Json {
        skeleton: Json,
        /// JSON pointer of a leaf, and its template's name.
        leaves: Vec<(String, String)>,
    },
}

impl ResponseTemplate {
    /// The headers and body for this request.
    pub(crate) fn render(
        &self,
        templates: &Templates,
        fixed_headers: &HeaderMap,
        fixed_body: &Bytes,
        ctx: &Value,
    ) -> Result<(HeaderMap, Bytes), RenderError> {
        let mut headers = fixed_headers.clone();
        for (name, template) in &self.headers {
            let text = templates.render(template, ctx)?;
            let value = HeaderValue::from_str(&text).map_err(|_| {
                RenderError(format!(
                    "{template}: the value rendered is not a valid header value (a line break or a control character?)"
                ))
            })?;
            headers.append(name.clone(), value);
        }
        let body = match &self.body {
            None => fixed_body.clone(),
            Some(BodyTemplate::Text(template)) => Bytes::from(templates.render(template, ctx)?),
            Some(BodyTemplate::Json { skeleton, leaves }) => {
                let mut doc = skeleton.clone();
                for (pointer, template) in leaves {
                    let text = templates.render(template, ctx)?;
                    if let Some(leaf) = doc.pointer_mut(pointer) {
                        *leaf = Json::String(text);
                    }
                }
                Bytes::from(serde_json::to_vec(&doc).expect("a JSON value serialises"))
            }
        };
        Ok((headers, body))
    }
}

/// The string leaves of a JSON body that are templates: their JSON
/// pointers and field paths (`at.key[0]`).
pub(crate) fn json_leaves(at: &str, json: &Json, out: &mut Vec<(String, String, String)>) {
    fn walk(at: String, pointer: String, json: &Json, out: &mut Vec<(String, String, String)>) {
        match json {
            Json::String(s) if is_template(s) => out.push((pointer, at, s.clone())),
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{at}[{i}]"), format!("{pointer}/{i}"), item, out);
                }
            }
            Json::Object(map) => {
                for (key, item) in map {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    walk(
                        format!("{at}.{key}"),
                        format!("{pointer}/{escaped}"),
                        item,
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    walk(at.to_owned(), String::new(), json, out);
}
