//! What answers a request once a rule is chosen: an upstream over HTTP,
//! a folder of files, a depot of versioned files, a mock, git
//! repositories or a CGI program. Each kind is a module; this file is the proxy's
//! only match on kinds: `prepare` makes a config's backend ready to serve
//! (once, at the swap), `serve` answers a request with it. A backend takes
//! a request and gives a response: it never sees the client's socket, the
//! lane or hyper.

pub(crate) mod cgi;
pub(crate) mod depot;
pub(crate) mod files;
pub(crate) mod git;
pub(crate) mod mock;
pub(crate) mod upstream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_api::config::BackendTarget;
use http::uri::Authority;
use http::{Request, Response};
use http_body_util::BodyExt;

use self::cgi::Cgi;
use self::depot::{Bound, Mount};
use self::files::Site;
use self::git::Git;
use self::mock::Mock;
use self::upstream::{RequestBody, Upstreams, within};
use crate::observe::metrics::UpstreamError;
use crate::route::forwarded::Origin;
use crate::support::blocking::BlockingPool;
use crate::support::body::Body;
use crate::support::timer::TimedBody;

/// What a backend may use to answer, besides the request: the worker's
/// upstream connections, the blocking pool, who asked, the path prefix
/// the rule matched, and the rule's time limits.
pub struct Call<'a> {
    pub upstreams: &'a Upstreams,
    /// Where slow work goes (the depot's fsyncs).
    pub blocking: &'a BlockingPool,
    /// The rule's matched path prefix (`/depot`), when it matched one: a
    /// depot serves its URLs below it.
    pub mount: Option<&'a str>,
    pub origin: Origin<'a>,
    /// The rule's limit on each wait for the backend.
    pub backend_timeout: Option<Duration>,
    /// The rule's limit on the whole exchange, body included.
    pub request_timeout: Option<Duration>,
    /// When the request arrived.
    pub started: Instant,
    /// Where mocks count what they answered.
    pub(crate) mock_metrics: &'a mock::MockMetrics,
    /// The route and the backend, for logs (a CGI program's stderr).
    pub route: &'a Arc<str>,
    pub backend: &'a Arc<str>,
}

/// What a config's backends are bound to at its swap: the state that
/// outlives swaps (depot repositories, mock provisions). Nothing is the
/// stores' until `commit`, so a refused config changes nothing.
pub(crate) struct Bindings<'s> {
    pub(crate) depots: Bound<'s>,
    pub(crate) mocks: mock::Bound<'s>,
    /// Access rules' users, kept across swaps.
    pub(crate) access: &'s crate::access::AccessStore,
    /// TLS sessions and keys, for the certificates' configs.
    pub(crate) tls: &'s crate::server::tls::TlsStore,
    /// `--data-dir`: where git repositories live when a backend names no root.
    pub(crate) data_dir: Option<&'s std::path::Path>,
    /// `--data-writer`: where a rule that needs the data dir goes without one.
    pub(crate) data_writer: Option<&'s Authority>,
}

impl Bindings<'_> {
    pub(crate) fn commit(self) {
        self.depots.commit();
        self.mocks.commit();
    }
}

/// A backend ready to serve.
pub enum Backend {
    /// An HTTP/1.1 upstream at `host:port`.
    Upstream(Authority),
    /// A folder on the proxy's disk.
    Static(Arc<Site>),
    /// DepotRepos, served with HouseDepot's API below the rule's prefix.
    Depot(Mount),
    /// A mock server: a provision's rules answer.
    Mock(Mock),
    /// Git repositories, served by `git http-backend`.
    Git(Git),
    /// A CGI program.
    Cgi(Cgi),
    /// A reference the operator could not resolve: answered 500, the
    /// reason logged.
    Unresolved(String),
}

impl Backend {
    /// Makes a config's backend ready, or says why it cannot be served.
    /// `bound` holds the config's repositories and provisions, bound at
    /// this swap.
    pub(crate) fn prepare(target: &BackendTarget, bound: &Bindings<'_>) -> Result<Backend, String> {
        Ok(match target {
            BackendTarget::Upstream { authority } => match authority.parse::<Authority>() {
                Ok(authority) => Backend::Upstream(authority),
                Err(_) => return Err(format!("authority `{authority}` is not host:port")),
            },
            BackendTarget::Static {
                root,
                index,
                listing,
                precompressed,
                cache_control,
            } => {
                let site = Site::new(
                    std::path::Path::new(root),
                    index.clone(),
                    *listing,
                    *precompressed,
                    cache_control.as_deref(),
                )?;
                Backend::Static(Arc::new(site))
            }
            // A repository that could not be opened is a reference that
            // cannot be resolved: the rest of the config still serves.
            BackendTarget::Depot { repos } => match bound.depots.mount(repos) {
                Ok(mount) => Backend::Depot(mount),
                Err(why) => Backend::Unresolved(why),
            },
            BackendTarget::Mock { provision } => match bound.mocks.mock(provision.as_deref()) {
                Ok(mock) => Backend::Mock(mock),
                Err(why) => Backend::Unresolved(why),
            },
            BackendTarget::Git {
                root,
                create_on_push,
                limits,
            } => Backend::Git(Git::prepare(
                root.as_deref(),
                *create_on_push,
                limits,
                bound.data_dir,
            )?),
            BackendTarget::Cgi {
                script,
                env,
                working_dir,
                limits,
            } => Backend::Cgi(Cgi::prepare(script, env, working_dir.as_deref(), limits)?),
            BackendTarget::Unresolved { reason } => Backend::Unresolved(reason.clone()),
        })
    }
}

impl Backend {
    /// Answers `req`; an error is the kind of failure, which the route
    /// turns into its answer and counts.
    pub async fn serve<B: RequestBody>(
        &self,
        req: Request<B>,
        call: Call<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        match self {
            Backend::Unresolved(_) => Err(UpstreamError::Unresolved),
            Backend::Static(site) => Ok(site.serve(&req)),
            Backend::Depot(mount) => Ok(mount.serve(req, call).await),
            Backend::Mock(mock) => Ok(mock.serve(req, call.mock_metrics, call.blocking).await),
            Backend::Git(git) => git.serve(req, call).await,
            Backend::Cgi(cgi) => cgi.serve(req, call).await,
            Backend::Upstream(authority) => {
                // Boxed, so this future (and the connection's, which hyper
                // moves around) stays small: moving a future copies all of
                // it, and the forward future is kilobytes.
                let forward =
                    call.upstreams
                        .forward_boxed(req, authority, call.origin, call.backend_timeout);
                let response = within(call.request_timeout, forward).await;
                match call.request_timeout {
                    // The body too must come by the deadline, as with
                    // Envoy's route timeout.
                    Some(limit) => response.map(|response| {
                        let deadline = tokio::time::Instant::from_std(call.started) + limit;
                        response
                            .map(|body| TimedBody::new(body, None, Some(deadline)).boxed_unsync())
                    }),
                    None => response,
                }
            }
        }
    }
}
