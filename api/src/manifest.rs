//! Reads Kubernetes-style YAML (one file, many `---` documents) into
//! resources, remembering the `file:line` each came from so diagnostics can
//! point at it. Text in, values out: no file I/O here.

use serde_yaml::Value;

use crate::compile::{Compiled, Resources, SecretHistory, compile};
use crate::depot_repo::DepotRepo;
use crate::mock_provision::MockProvision;
use crate::resource::{Kind, ResourceId};
use crate::route::{DEFAULT_CLASS, Route};
use crate::secret::KnownSecret;

pub const GROUP: &str = "gatehouse.dev";
pub const API_VERSION: &str = "gatehouse.dev/v1alpha1";
const GATEWAY_API_GROUP: &str = "gateway.networking.k8s.io";

/// A resource read from a manifest, with where it starts.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    pub value: T,
    /// `file:line` of the document's first line.
    pub origin: String,
}

/// One resource of each kind `Kind` names.
#[derive(Clone, Debug)]
pub enum Resource {
    Route(Box<Route>),
    DepotRepo(Box<DepotRepo>),
    MockProvision(Box<MockProvision>),
}

impl Resource {
    pub fn id(&self) -> ResourceId {
        match self {
            Resource::Route(route) => ResourceId::route(route),
            Resource::DepotRepo(repo) => ResourceId::depot_repo(repo),
            Resource::MockProvision(mock) => ResourceId::mock_provision(mock),
        }
    }
}

/// A document that could not be read; `origin` is `file:line[:column]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub origin: String,
    /// The resource, when the document got far enough to say and its
    /// kind is one Gatehouse knows.
    pub resource: Option<ResourceId>,
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: error: ", self.origin)?;
        if let Some(resource) = &self.resource {
            write!(f, "{resource}: ")?;
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, Default)]
pub struct Manifests {
    pub resources: Vec<Sourced<Resource>>,
    pub errors: Vec<ManifestError>,
    /// Documents of other API groups (Services, Deployments…), left for others.
    pub skipped: Vec<String>,
    /// Documents left out that their author likely meant for Gatehouse
    /// (Gateway API HTTPRoutes), with how to write them instead.
    pub hints: Vec<String>,
    /// `v1` Secrets (`secret.rs`): what access rules and certificates
    /// name, in local mode.
    pub secrets: Vec<Sourced<KnownSecret>>,
    /// `v1` ConfigMaps, read as Secrets are: client CA bundles.
    pub config_maps: Vec<Sourced<KnownSecret>>,
    /// Where each of `resources` was read, for pointing at its fields.
    sources: Vec<Source>,
    /// Where in `resources` each resource is.
    by_id: std::collections::HashMap<ResourceId, usize>,
}

/// A document's file, first line and text.
#[derive(Debug)]
struct Source {
    file: String,
    first_line: usize,
    text: String,
}

impl Manifests {
    /// Reads every document of one file into `self`.
    pub fn read(&mut self, file: &str, text: &str) {
        for (first_line, doc) in split_documents(text) {
            self.read_document(file, first_line, doc);
        }
    }

    pub fn routes(&self) -> impl Iterator<Item = Sourced<&Route>> {
        self.resources.iter().filter_map(|r| match &r.value {
            Resource::Route(route) => Some(Sourced {
                value: route.as_ref(),
                origin: r.origin.clone(),
            }),
            _ => None,
        })
    }

    pub fn depot_repos(&self) -> impl Iterator<Item = Sourced<&DepotRepo>> {
        self.resources.iter().filter_map(|r| match &r.value {
            Resource::DepotRepo(repo) => Some(Sourced {
                value: repo.as_ref(),
                origin: r.origin.clone(),
            }),
            _ => None,
        })
    }

    pub fn mock_provisions(&self) -> impl Iterator<Item = Sourced<&MockProvision>> {
        self.resources.iter().filter_map(|r| match &r.value {
            Resource::MockProvision(mock) => Some(Sourced {
                value: mock.as_ref(),
                origin: r.origin.clone(),
            }),
            _ => None,
        })
    }

    /// Compiles every resource read (default class, Services unchecked, as
    /// local mode and `check` do); each diagnostic carries its resource's
    /// `file:line`.
    pub fn compile(&self) -> Compiled {
        self.compile_keeping(&mut SecretHistory::default())
    }

    /// As `compile`, with Secrets admitted through `history`: one whose
    /// users no longer read is compiled as its last good version (and
    /// said), for a caller that compiles a folder again and again.
    pub fn compile_keeping(&self, history: &mut SecretHistory) -> Compiled {
        let routes: Vec<Route> = self.routes().map(|r| r.value.clone()).collect();
        let depot_repos: Vec<DepotRepo> = self.depot_repos().map(|r| r.value.clone()).collect();
        let mock_provisions: Vec<MockProvision> =
            self.mock_provisions().map(|r| r.value.clone()).collect();
        let secrets = history.admit(self.secrets.iter().map(|s| s.value.clone()).collect());
        let config_maps: Vec<KnownSecret> =
            self.config_maps.iter().map(|m| m.value.clone()).collect();
        let mut compiled = compile(Resources {
            routes: &routes,
            depot_repos: &depot_repos,
            mock_provisions: &mock_provisions,
            services: None,
            secrets: &secrets,
            config_maps: &config_maps,
            class: DEFAULT_CLASS,
        });
        for diagnostic in &mut compiled.diagnostics {
            let Some(&at) = self.by_id.get(&diagnostic.resource) else {
                continue;
            };
            let source = &self.sources[at];
            // The field's own line, or the document's first if it cannot be found.
            let line = gatehouse_yaml_locate::line_of(&source.text, &diagnostic.field)
                .map_or(source.first_line, |line| source.first_line + line - 1);
            diagnostic.origin = Some(format!("{}:{line}", source.file));
        }
        compiled
    }

    fn read_document(&mut self, file: &str, first_line: usize, doc: &str) {
        let origin = format!("{file}:{first_line}");
        let at = |err: &serde_yaml::Error| match err.location() {
            Some(loc) => format!("{file}:{}:{}", first_line + loc.line() - 1, loc.column()),
            None => origin.clone(),
        };
        let value: Value = match serde_yaml::from_str(doc) {
            Ok(value) => value,
            Err(err) => {
                self.errors.push(ManifestError {
                    origin: at(&err),
                    resource: guess_resource(doc),
                    message: format!("invalid YAML: {}", relocate(&err, first_line)),
                });
                return;
            }
        };
        if value.is_null() {
            return; // an empty document, or only comments
        }
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str);
        let namespace = value
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("default");
        // As kubectl names it, for documents of any kind.
        let label = format!("{kind} {namespace}/{}", name.unwrap_or("<unnamed>"));
        let known = Kind::parse(kind);
        let id = known.map(|kind| ResourceId::new(kind, namespace, name.unwrap_or("<unnamed>")));
        let first_of_name = id
            .as_ref()
            .filter(|_| name.is_some())
            .and_then(|id| self.by_id.get(id))
            .map(|&at| self.resources[at].origin.clone());
        let mut fail = |origin: String, message: String| {
            // A kind Gatehouse does not know has no id: its label says which.
            let message = match &id {
                None if !kind.is_empty() => format!("{label}: {message}"),
                _ => message,
            };
            self.errors.push(ManifestError {
                origin,
                resource: id.clone(),
                message,
            })
        };
        if api_version.is_empty() || kind.is_empty() {
            fail(origin.clone(), "a document needs `apiVersion` and `kind`: add `apiVersion: gatehouse.dev/v1alpha1` and `kind: Route`".into());
            return;
        }
        if api_version == "v1" && kind == "Secret" {
            return self.read_secret(origin.clone(), doc, &at);
        }
        if api_version == "v1" && kind == "ConfigMap" {
            return self.read_config_map(origin.clone(), doc, &at);
        }
        let group = api_version.split('/').next();
        if group == Some(GATEWAY_API_GROUP) {
            self.hints.push(format!(
                "{origin}: {label} ({api_version}) is not read: Gatehouse serves {API_VERSION} Routes, which take HTTPRoute's rules as they are but for `backendRefs`, written `backends` with `service: {{name, port}}` or `url`, and no `parentRefs`"
            ));
            return;
        }
        if group != Some(GROUP) {
            self.skipped
                .push(format!("{origin}: {label} ({api_version})"));
            return;
        }
        if api_version != API_VERSION {
            fail(
                origin.clone(),
                format!("apiVersion `{api_version}` is not served: use `{API_VERSION}`"),
            );
            return;
        }
        if name.is_none_or(str::is_empty) {
            fail(
                origin.clone(),
                "metadata.name is missing: every resource needs a name".into(),
            );
            return;
        }
        let Some(kind) = known else {
            fail(
                origin.clone(),
                format!(
                    "kind `{kind}` is not served by this version of Gatehouse: the kinds are {}",
                    Kind::list()
                ),
            );
            return;
        };
        let read = match kind {
            Kind::Route => serde_yaml::from_str::<Route>(doc).map(|mut route| {
                route
                    .metadata
                    .namespace
                    .get_or_insert_with(|| namespace.to_owned());
                Resource::Route(Box::new(route))
            }),
            Kind::DepotRepo => serde_yaml::from_str::<DepotRepo>(doc).map(|mut repo| {
                repo.metadata
                    .namespace
                    .get_or_insert_with(|| namespace.to_owned());
                Resource::DepotRepo(Box::new(repo))
            }),
            Kind::MockProvision => serde_yaml::from_str::<MockProvision>(doc).map(|mut mock| {
                mock.metadata
                    .namespace
                    .get_or_insert_with(|| namespace.to_owned());
                Resource::MockProvision(Box::new(mock))
            }),
        };
        let resource = match read {
            Ok(resource) => resource,
            Err(err) => return fail(at(&err), relocate(&err, first_line)),
        };
        if let Some(first) = first_of_name {
            fail(
                origin.clone(),
                format!(
                    "this {kind} is already defined at {first}: a namespace holds one {kind} of a name, as a cluster does; rename one of them or delete one"
                ),
            );
            return;
        }
        self.by_id.insert(resource.id(), self.resources.len());
        self.resources.push(Sourced {
            value: resource,
            origin,
        });
        self.sources.push(Source {
            file: file.to_owned(),
            first_line,
            text: doc.to_owned(),
        });
    }
}

impl Manifests {
    /// A `v1` Secret: kept for the access rules and certificates that
    /// name it. Its values never reach a diagnostic.
    fn read_secret(
        &mut self,
        origin: String,
        doc: &str,
        at: &dyn Fn(&serde_yaml::Error) -> String,
    ) {
        let parsed = serde_yaml::from_str::<k8s_openapi::api::core::v1::Secret>(doc)
            .map(|secret| KnownSecret::from_secret(&secret))
            .map_err(|err| {
                // serde's message may quote the value it could not read:
                // only where, and what kind of problem, are said.
                let what = match err.to_string().contains("base64") {
                    true => {
                        "a `data` value is not base64: encode it (`base64 -w0`), or put the text under `stringData`"
                    }
                    false => {
                        "not a Secret Gatehouse can read: `data` holds base64 values, `stringData` text values, both maps of key to string"
                    }
                };
                (at(&err), what)
            });
        self.keep("Secret", origin, parsed);
    }

    /// A `v1` ConfigMap: kept for the client CA bundles that name it.
    fn read_config_map(
        &mut self,
        origin: String,
        doc: &str,
        at: &dyn Fn(&serde_yaml::Error) -> String,
    ) {
        let parsed = serde_yaml::from_str::<k8s_openapi::api::core::v1::ConfigMap>(doc)
            .map(|map| KnownSecret::from_config_map(&map))
            .map_err(|err| {
                let what = "not a ConfigMap Gatehouse can read: `data` holds text values, `binaryData` base64 ones, both maps of key to string";
                (at(&err), what)
            });
        self.keep("ConfigMap", origin, parsed);
    }

    /// A Secret or ConfigMap read, kept once by its namespace and name.
    fn keep(&mut self, kind: &str, origin: String, parsed: Result<KnownSecret, (String, &str)>) {
        let known = match parsed {
            Ok(known) => known,
            Err((at, what)) => {
                self.errors.push(ManifestError {
                    origin: at,
                    resource: None,
                    message: format!("{kind}: {what}"),
                });
                return;
            }
        };
        if known.name.is_empty() {
            self.errors.push(ManifestError {
                origin,
                resource: None,
                message: format!("{kind}: metadata.name is missing: every resource needs a name"),
            });
            return;
        }
        let list = match kind {
            "Secret" => &mut self.secrets,
            _ => &mut self.config_maps,
        };
        if let Some(first) = list
            .iter()
            .find(|s| s.value.namespace == known.namespace && s.value.name == known.name)
        {
            let message = format!(
                "{kind} {}/{} is already defined at {}: rename one of them or delete one",
                known.namespace, known.name, first.origin
            );
            self.errors.push(ManifestError {
                message,
                origin,
                resource: None,
            });
            return;
        }
        list.push(Sourced {
            value: known,
            origin,
        });
    }
}

/// Splits a YAML stream at `---` lines; yields each document's first line (1-based) and text.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed.starts_with("---#") {
            docs.push((start_line, &text[start_byte..offset]));
            start_byte = offset + line.len();
            start_line = index + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start_byte..]));
    docs
}

/// serde_yaml says "at line L column C" relative to the document, once at
/// the end and sometimes inside ("while parsing a mapping at line 5 column
/// 3"). The final one is the origin we print first, so it goes; inner ones
/// are moved to the file's line numbers.
fn relocate(err: &serde_yaml::Error, first_line: usize) -> String {
    let text = err.to_string();
    let text = match (text.rfind(" at line "), err.location()) {
        (Some(cut), Some(loc))
            if text[cut..] == format!(" at line {} column {}", loc.line(), loc.column()) =>
        {
            &text[..cut]
        }
        _ => text.as_str(),
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("at line ") {
        let (before, after) = rest.split_at(at + "at line ".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + first_line - 1).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// The resource of a document too broken to parse, read line by line, so
/// its error can still say which resource it is.
fn guess_resource(doc: &str) -> Option<ResourceId> {
    let value_of = |line: &str, key: &str| {
        line.strip_prefix(key)
            .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
            .filter(|v| !v.is_empty() && !v.contains(['{', '[', ' ']))
    };
    let kind = doc.lines().find_map(|l| value_of(l, "kind:"))?;
    let mut in_metadata = false;
    let (mut name, mut namespace) = (None, None);
    for line in doc.lines() {
        if line.starts_with("metadata:") {
            in_metadata = true;
            // `metadata: {name: a, namespace: b}`
            let inline = line
                .trim_start_matches("metadata:")
                .trim()
                .trim_matches(['{', '}']);
            for pair in inline.split(',') {
                name = name.or_else(|| value_of(pair.trim(), "name:"));
                namespace = namespace.or_else(|| value_of(pair.trim(), "namespace:"));
            }
            continue;
        }
        if in_metadata && line.starts_with([' ', '\t']) {
            name = name.or_else(|| value_of(line.trim(), "name:"));
            namespace = namespace.or_else(|| value_of(line.trim(), "namespace:"));
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            in_metadata = false;
        }
    }
    Some(ResourceId::new(
        Kind::parse(&kind)?,
        namespace.as_deref().unwrap_or("default"),
        name?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ROUTES: &str = "\
# demo
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: a}
spec:
  rules: [{backends: [{url: 'http://127.0.0.1:1'}]}]
---
apiVersion: v1
kind: Service
metadata: {name: svc}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: b, namespace: shop}
spec:
  hostnames: [shop.example.com]
";

    #[test]
    fn reads_routes_and_skips_other_groups() {
        let mut m = Manifests::default();
        m.read("demo.yaml", TWO_ROUTES);
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        let routes: Vec<_> = m.routes().collect();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].origin, "demo.yaml:1");
        assert_eq!(
            routes[0].value.metadata.namespace.as_deref(),
            Some("default")
        );
        assert_eq!(routes[1].origin, "demo.yaml:12");
        assert_eq!(routes[1].value.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(m.skipped.len(), 1);
        assert!(m.skipped[0].starts_with("demo.yaml:8: Service default/svc"));
    }

    #[test]
    fn a_type_error_names_file_line_and_resource() {
        let text = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: a}\nspec: {}\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: bad}\nspec:\n  hostnames: example.com\n";
        let mut m = Manifests::default();
        m.read("routes.yaml", text);
        assert_eq!(m.errors.len(), 1);
        let err = &m.errors[0];
        assert_eq!(err.origin, "routes.yaml:10:14");
        assert_eq!(
            err.resource,
            Some(ResourceId::new(Kind::Route, "default", "bad"))
        );
        assert!(err.message.contains("invalid type"), "{}", err.message);
        assert_eq!(m.routes().count(), 1, "the good document is still read");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let mut m = Manifests::default();
        m.read("x.yaml", "kind: Route\nspec: [unclosed\n");
        assert_eq!(m.errors.len(), 1);
        assert!(
            m.errors[0].origin.starts_with("x.yaml:"),
            "{:?}",
            m.errors[0]
        );
        assert!(m.errors[0].message.starts_with("invalid YAML"));
    }

    #[test]
    fn a_syntax_error_in_a_later_document_names_the_resource_and_file_lines() {
        let text = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: a}\nspec: {}\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata:\n  name: broken\n  namespace: shop\nspec:\n  hostnames: [a\n  rules: []\n";
        let mut m = Manifests::default();
        m.read("r.yaml", text);
        assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
        let err = &m.errors[0];
        assert_eq!(
            err.resource,
            Some(ResourceId::new(Kind::Route, "shop", "broken"))
        );
        assert_eq!(err.origin, "r.yaml:13:8");
        for number in err.message.split("line ").skip(1) {
            let line: usize = number.split(' ').next().unwrap().parse().unwrap();
            assert!(
                line >= 5,
                "a line number relative to the document leaked: {}",
                err.message
            );
        }
    }

    #[test]
    fn unknown_fields_are_errors_not_silence() {
        let mut m = Manifests::default();
        m.read("t.yaml", "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: t}\nspec:\n  hostname: [a.example.com]\n");
        assert_eq!(m.errors.len(), 1);
        assert!(
            m.errors[0].message.contains("unknown field `hostname`"),
            "{}",
            m.errors[0].message
        );
        assert_eq!(m.errors[0].origin, "t.yaml:5:3");
    }

    #[test]
    fn a_name_holds_one_route_and_the_second_is_named_with_the_first() {
        let route = "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: shop}\nspec:\n  rules: [{backends: [{url: 'http://127.0.0.1:1'}]}]\n";
        let mut m = Manifests::default();
        m.read("aa.yaml", route);
        m.read("zz.yaml", &format!("# again\n{route}"));
        m.read(
            "other.yaml",
            &route.replace("{name: shop}", "{name: shop, namespace: b}"),
        );
        assert_eq!(m.routes().count(), 2, "default/shop once, b/shop once");
        assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
        let error = m.errors[0].to_string();
        assert!(
            error.starts_with("zz.yaml:1: error: Route default/shop:"),
            "{error}"
        );
        assert!(error.contains("already defined at aa.yaml:1"), "{error}");
    }

    #[test]
    fn compile_findings_point_at_the_field_s_own_line() {
        let mut m = Manifests::default();
        m.read(
            "r.yaml",
            "# first\n---\napiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\nspec:\n  rules:\n    - backends:\n        - url: 'http://127.0.0.1:1'\n          weight: 2000000\n",
        );
        let compiled = m.compile();
        let weight = compiled
            .diagnostics
            .iter()
            .find(|d| d.field == "spec.rules[0].backends[0].weight")
            .expect("a weight error");
        assert_eq!(weight.origin.as_deref(), Some("r.yaml:10"));
    }

    #[test]
    fn a_gateway_api_httproute_gets_a_hint_not_silence() {
        let mut m = Manifests::default();
        m.read("h.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec: {}\n");
        assert!(m.errors.is_empty());
        assert_eq!(m.hints.len(), 1);
        assert!(
            m.hints[0].starts_with("h.yaml:1: HTTPRoute default/web"),
            "{}",
            m.hints[0]
        );
        assert!(m.hints[0].contains("`backends`"), "{}", m.hints[0]);
    }

    #[test]
    fn unsupported_kinds_and_versions_are_named() {
        let mut m = Manifests::default();
        m.read("k.yaml", "apiVersion: gatehouse.dev/v1alpha1\nkind: MockServer\nmetadata: {name: d}\n---\napiVersion: gatehouse.dev/v2\nkind: Route\nmetadata: {name: r}\n---\nkind: Route\n");
        let messages: Vec<_> = m.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with(
                "k.yaml:1: error: MockServer default/d: kind `MockServer` is not served"
            ) && messages[0].ends_with("the kinds are DepotRepo, MockProvision and Route"),
            "{}",
            messages[0]
        );
        assert_eq!(m.errors[0].resource, None, "an unknown kind has no id");
        assert!(
            messages[1].contains("k.yaml:5")
                && messages[1].contains("use `gatehouse.dev/v1alpha1`")
        );
        assert!(
            messages[2].contains("k.yaml:9")
                && messages[2].contains("needs `apiVersion` and `kind`")
        );
    }
}
