//! What answers a request once a rule is chosen: an upstream over HTTP,
//! or a folder of files. Each kind is a module; this file is the proxy's
//! only match on kinds: `prepare` makes a config's backend ready to serve
//! (once, at the swap), and serving it is one arm of `route`'s dispatch
//! below (`Backend`). A backend takes a request and gives a response: it
//! never sees the client's socket, the lane or hyper.

pub mod files;
pub mod upstream;

use std::sync::Arc;

use gatehouse_api::config::BackendTarget;
use http::uri::Authority;

use self::files::Site;

/// A backend ready to serve.
pub enum Backend {
    /// An HTTP/1.1 upstream at `host:port`.
    Upstream(Authority),
    /// A folder on the proxy's disk.
    Static(Arc<Site>),
    /// A reference the operator could not resolve: answered 500, the
    /// reason logged.
    Unresolved(String),
}

impl Backend {
    /// Makes a config's backend ready, or says why it cannot be served.
    pub fn prepare(target: &BackendTarget) -> Result<Backend, String> {
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
            BackendTarget::Unresolved { reason } => Backend::Unresolved(reason.clone()),
        })
    }
}
