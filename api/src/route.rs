//! The `Route` custom resource: Gateway API's `HTTPRoute`, with the backend
//! kinds Gatehouse serves itself. Field names follow HTTPRoute wherever they
//! can so users meet familiar words.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

impl Route {
    /// The Secrets of its namespace this Route names: its access rules',
    /// then its certificate's and its client CA's.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        let access = self
            .spec
            .rules
            .iter()
            .filter_map(|rule| rule.access.as_ref())
            .map(|access| access.secret.as_str());
        access.chain(self.tls_secret_names())
    }

    /// The Secrets its `tls` names: the certificate's, the client CA's.
    pub fn tls_secret_names(&self) -> impl Iterator<Item = &str> {
        self.spec.tls.iter().flat_map(|tls| {
            let client_ca = tls.client_certificates.as_ref();
            std::iter::once(tls.secret_name.as_str())
                .chain(client_ca.and_then(|c| c.ca_secret.as_deref()))
        })
    }

    /// The ConfigMaps of its namespace it names: a client CA bundle's.
    pub fn config_map_names(&self) -> impl Iterator<Item = &str> {
        self.spec
            .tls
            .iter()
            .filter_map(|tls| tls.client_certificates.as_ref()?.ca_config_map.as_deref())
    }
}

/// The class a Route belongs to when `spec.className` is not set.
pub const DEFAULT_CLASS: &str = "gatehouse";

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gatehouse.dev",
    version = "v1alpha1",
    kind = "Route",
    namespaced,
    status = "RouteStatus",
    shortname = "gr",
    printcolumn = r#"{"name":"Hostnames","type":"string","jsonPath":".spec.hostnames"}"#,
    printcolumn = r#"{"name":"Accepted","type":"string","jsonPath":".status.conditions[?(@.type==\"Accepted\")].status"}"#,
    printcolumn = r#"{"name":"Programmed","type":"string","jsonPath":".status.conditions[?(@.type==\"Programmed\")].status"}"#,
    printcolumn = r#"{"name":"Proxies","type":"string","jsonPath":".status.proxies"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Which Gatehouse install serves this Route (default `gatehouse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Hosts this Route answers for: exact (`app.example.com`) or a leading
    /// wildcard label (`*.example.com`, one or more labels). Empty: every host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_HOSTNAMES))]
    pub hostnames: Vec<String>,
    /// Rules are tried by HTTPRoute precedence, not in the order written.
    #[serde(default)]
    #[schemars(length(max = MAX_RULES))]
    pub rules: Vec<RouteRule>,
    /// HTTPS for this Route's hosts, on the proxy's `--listen-tls` port:
    /// the certificate to serve, plain HTTP redirected, HSTS, client
    /// certificates (`docs/tls.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RouteTls>,
}

/// A Route's certificate, as Ingress's `tls` names one: a Secret of type
/// `kubernetes.io/tls` (`tls.crt`, the chain with the leaf first;
/// `tls.key`), as cert-manager writes it. A client's SNI picks it: the
/// exact host, then the longest wildcard, then the default certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteTls {
    /// A Secret of the Route's namespace with `tls.crt` and `tls.key`. In
    /// local mode: a `kind: Secret` document beside the manifests, or a
    /// folder of that name beside them holding the files `tls.crt` and
    /// `tls.key` (a Secret's layout when mounted).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// The hosts the certificate is served for (exact, or `*.` and a
    /// domain). Default: the Route's `hostnames`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_HOSTNAMES))]
    pub hosts: Vec<String>,
    /// Also serve this certificate to clients that send no server name, or
    /// one no certificate covers (else their handshake is refused). One
    /// Route in a config may say so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Answer plain-HTTP requests for these hosts with a 308 to `https://`
    /// (path and query kept). Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<bool>,
    /// Send `Strict-Transport-Security` on HTTPS answers for these hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<Hsts>,
    /// Require a client certificate signed by a CA (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificates: Option<ClientCertificates>,
}

/// RFC 6797's header: browsers then use HTTPS alone for the host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct Hsts {
    /// How long browsers remember it, in seconds. Default: 31536000 (a year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_sub_domains: bool,
    /// Ask to be listed in browsers' preload lists (it takes a year's
    /// `maxAgeSeconds` and `includeSubDomains`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preload: bool,
}

/// Mutual TLS: a client must show a certificate that chains to the CA
/// bundle, or its handshake is refused. The backend gets the verified
/// subject (RFC 4514) in `X-Client-Subject`; a client's own such header
/// is always removed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.caSecret) != has(self.caConfigMap)",
    "message": "set exactly one of caSecret or caConfigMap"
}]))]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct ClientCertificates {
    /// A Secret of the Route's namespace holding the CA bundle (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret: Option<String>,
    /// Or a ConfigMap of the Route's namespace holding it: a CA
    /// certificate is no secret (trust-manager writes bundles to
    /// ConfigMaps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_config_map: Option<String>,
    /// The key that holds it. Default: `ca.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// List bounds, as Gateway API's HTTPRoute sets them: the CRD says them
/// (`maxItems`), so that Kubernetes can bound the cost of the CEL rules on
/// each item (an unbounded list makes a CRD that 1.25+ may refuse), and
/// `compile` refuses a manifest over them, naming the field.
pub const MAX_HOSTNAMES: usize = 16;
pub const MAX_RULES: usize = 16;
pub const MAX_MATCHES: usize = 64;
pub const MAX_FILTERS: usize = 16;
pub const MAX_BACKENDS: usize = 16;
/// Header matches, and query parameter matches, in one match entry.
pub const MAX_VALUE_MATCHES: usize = 16;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// A request matches the rule when it matches any one entry. Empty: `PathPrefix /`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_MATCHES))]
    pub matches: Vec<RouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_FILTERS))]
    pub filters: Vec<RouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_BACKENDS))]
    pub backends: Vec<Backend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<RouteTimeouts>,
    /// Who may use this rule: HTTP Basic authentication against the users
    /// of a Secret, checked before the filters and the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
}

/// HTTP Basic authentication against a Secret's users. No credentials get
/// 401 with `WWW-Authenticate`; wrong ones 401; a user who is not allowed
/// 403. The backend gets `X-Forwarded-User` (a client's own is always
/// removed) and, unless `forwardAuthorization`, no `Authorization`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct Access {
    /// A Secret of the Route's namespace: type `kubernetes.io/basic-auth`
    /// (one user: `username`, `password`), or an Opaque one with an
    /// `htpasswd` key (Apache's format: bcrypt, `$apr1$`, `{SHA}`) and an
    /// optional `groups` key (`group: user1 user2`). `gatehouse-operator
    /// users add` writes one.
    #[schemars(length(min = 1, max = 253))]
    pub secret: String,
    /// Shown in the login prompt (`WWW-Authenticate: Basic realm=...`).
    /// Default: `gatehouse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub realm: Option<String>,
    /// Who may send any request. Unset: every user of the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Allow>,
    /// Who may read (GET, HEAD): replaces `allow` for reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Allow>,
    /// Who may write (every other method): replaces `allow` for writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Allow>,
    /// Pass the client's `Authorization` header on to the backend
    /// (default: removed, so the password reaches no one else).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forward_authorization: bool,
}

/// Who is allowed. `anonymous: true` lets anyone in (credentials sent are
/// still checked); otherwise the users named and the members of the
/// groups named, or every user of the Secret when both lists are empty.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct Allow {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_ALLOWED))]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_ALLOWED))]
    pub groups: Vec<String>,
}

/// Users, and groups, named in one `allow`.
pub const MAX_ALLOWED: usize = 64;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// An HTTP method such as `GET`; any method when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_VALUE_MATCHES))]
    pub headers: Vec<ValueMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_VALUE_MATCHES))]
    pub query_params: Vec<ValueMatch>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathMatch {
    #[serde(rename = "type", default)]
    pub kind: PathMatchType,
    #[serde(default = "root_path")]
    pub value: String,
}

fn root_path() -> String {
    "/".into()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PathMatchType {
    Exact,
    #[default]
    PathPrefix,
    RegularExpression,
}

/// A header or query parameter match.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueMatch {
    #[serde(rename = "type", default)]
    pub kind: ValueMatchType,
    pub name: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ValueMatchType {
    #[default]
    Exact,
    RegularExpression,
}

/// One filter; `type` names which of the fields below it uses.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteFilter {
    /// One of `RequestHeaderModifier`, `ResponseHeaderModifier`, `URLRewrite`, `RequestRedirect`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["RequestHeaderModifier", "ResponseHeaderModifier", "URLRewrite", "RequestRedirect"]))]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "urlRewrite"
    )]
    pub url_rewrite: Option<UrlRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<RequestRedirect>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderModifier {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HeaderValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<HeaderValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderValue {
    pub name: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct PathModifier {
    /// `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(rename = "type")]
    pub kind: PathModifierType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_full_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix_match: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PathModifierType {
    ReplaceFullPath,
    ReplacePrefixMatch,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RequestRedirect {
    /// `http` or `https`; the request's scheme when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathModifier>,
    /// 301, 302, 303, 307 or 308 (default 302).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// Where a rule sends its requests. Exactly one kind (`service`, `url`, `static`, `depot`, `mock`, `git`, `cgi`) is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.service) ? 1 : 0) + (has(self.url) ? 1 : 0) + (has(self.static) ? 1 : 0) + (has(self.depot) ? 1 : 0) + (has(self.mock) ? 1 : 0) + (has(self.git) ? 1 : 0) + (has(self.cgi) ? 1 : 0) == 1",
    "message": "set exactly one of service, url, static, depot, mock, git or cgi"
}]))]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Names the backend in metrics and diagnostics; derived from the target when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Share of the rule's traffic: weight / sum of weights (0..=1000000, default 1). 0 drains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1_000_000))]
    pub weight: Option<u32>,
    /// A Kubernetes Service in the Route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// A plain upstream: `http://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Files from a folder on the proxy's disk, served as nginx's `root` would.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "static")]
    pub static_files: Option<StaticFiles>,
    /// Repositories of versioned files (DepotRepos), served with
    /// HouseDepot's API at the rule's path prefix: `<prefix>/all`,
    /// `<prefix>/<repo>/<file>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depot: Option<DepotBackend>,
    /// A mock server: a provision's rules answer (`docs/mock.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockBackend>,
    /// Git repositories over smart HTTP (`git http-backend`) below the
    /// rule's path prefix: `git clone https://host<prefix>/<repo>` (`docs/git.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitBackend>,
    /// A CGI program (RFC 3875), run once a request (`docs/git.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgi: Option<CgiBackend>,
}

/// Git repositories served by `git http-backend`, as Apache's
/// `ScriptAlias` with `GIT_PROJECT_ROOT` and `GIT_HTTP_EXPORT_ALL` does.
/// Pushes (`git-receive-pack`) count as writes for the rule's `access`,
/// whatever their method; clones and fetches as reads.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitBackend {
    /// The folder holding the bare repositories (`GIT_PROJECT_ROOT`): an
    /// absolute path; in local mode, relative to the manifest's folder.
    /// Unset: `git` below the proxy's `--data-dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub root: Option<String>,
    /// Create a missing repository (`git init --bare`) on its first push
    /// by a user allowed to write (default false: 404).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_on_push: bool,
    /// The most `git http-backend` processes at once (default 16; then 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub max_processes: Option<u32>,
    /// The longest one request may run, e.g. `30m` (default `10m`); the
    /// process is then killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// A CGI program (RFC 3875): run once a request with the CGI variables,
/// the request body on its stdin, its stdout the response.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CgiBackend {
    /// The program: an absolute path; in local mode, relative to the
    /// manifest's folder.
    #[schemars(length(min = 1, max = 4096))]
    pub script: String,
    /// More environment variables for the program (the proxy's own
    /// environment never reaches it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_CGI_ENV))]
    pub env: Vec<EnvVar>,
    /// The folder it runs in: an absolute path (in local mode, relative to
    /// the manifest's folder). Unset: the script's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub working_dir: Option<String>,
    /// The most processes at once (default 16; then 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub max_processes: Option<u32>,
    /// The longest one request may run, e.g. `30s` (default `60s`); the
    /// process is then killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Environment variables one `cgi` backend sets.
pub const MAX_CGI_ENV: usize = 64;

/// One environment variable.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    #[schemars(length(max = 4096))]
    pub value: String,
}

/// Which provision a `mock` backend answers with: a MockProvision, or the
/// one last copied into the proxy's `--provisions-dir` (h1mock's way).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.provision) != has(self.provisionsDir)",
    "message": "set exactly one of provision or provisionsDir"
}]))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MockBackend {
    /// A MockProvision of the Route's namespace, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision: Option<String>,
    /// `true`: the provision active in the proxy's `--provisions-dir`
    /// (`initial` at start, then the file last written or touched, or
    /// loaded through the admin API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisions_dir: Option<bool>,
}

/// The DepotRepos a `depot` backend serves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DepotBackend {
    /// DepotRepos of the Route's namespace, by name. Unset: every
    /// DepotRepo of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_DEPOT_REPOS))]
    pub repos: Option<Vec<String>>,
}

/// DepotRepos one `depot` backend names.
pub const MAX_DEPOT_REPOS: usize = 64;

/// A folder served as a static site. The request path is looked up below
/// `root` as it is (nginx's `root`); strip a prefix with a URLRewrite filter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticFiles {
    /// An absolute folder; in local mode, relative to the manifest's folder.
    pub root: String,
    /// Files tried for a folder request (default `[index.html]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Vec<String>>,
    /// List a folder that has no index file (default false: 404).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<bool>,
    /// Send `file.br` / `file.gz` when they exist and the client accepts them (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precompressed: Option<bool>,
    /// `Cache-Control` for files served, e.g. `public, max-age=3600`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    pub name: String,
    pub port: u16,
}

/// Gateway API durations such as `10s`, `1m30s`, `500ms`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct RouteTimeouts {
    /// From the request's arrival to its response headers, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// One attempt at the backend, from sending the request to its response headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// How many proxies serve the Route's current generation, e.g. `3/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxies: Option<String>,
}
