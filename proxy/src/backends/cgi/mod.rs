//! The `cgi` backend: a program run once a request, as RFC 3875 says and
//! Apache's `mod_cgi` does. The runner here is also how the `git` backend
//! serves (`git http-backend` is a CGI program).
//!
//! - `env.rs`: the request as CGI variables (and nothing of the proxy's
//!   own environment);
//! - `headers.rs`: the program's header block, parsed strictly;
//! - `process.rs`: spawn (on the `process` lane), stdin and stdout
//!   streamed, stderr logged, limits (processes at once, time), the
//!   process group killed when the client leaves or time runs out.

pub(crate) mod env;
pub(crate) mod headers;
pub(crate) mod process;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use gatehouse_api::config::ProcessLimits;
use gatehouse_api::route::EnvVar;
use http::{Request, Response, StatusCode};

use self::env::{Env, Site, cgi_env};
use self::process::Program;
use super::Call;
use super::upstream::RequestBody;
use crate::observe::metrics::UpstreamError;
use crate::support::body::{self, Body};

/// A prepared `cgi` backend.
pub struct Cgi {
    program: Program,
}

impl Cgi {
    /// Checks that the script is an executable file, at the swap.
    pub(crate) fn prepare(
        script: &str,
        env: &[EnvVar],
        working_dir: Option<&str>,
        limits: &ProcessLimits,
    ) -> Result<Cgi, String> {
        let path = PathBuf::from(script);
        let meta = std::fs::metadata(&path)
            .map_err(|err| format!("cgi script `{script}` cannot be read: {err}"))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "cgi script `{script}` is not an executable file: `chmod +x` it"
            ));
        }
        let dir = match working_dir {
            Some(dir) => PathBuf::from(dir),
            None => path.parent().unwrap_or(Path::new("/")).to_owned(),
        };
        if !dir.is_dir() {
            return Err(format!(
                "cgi workingDir `{}` is not a folder",
                dir.display()
            ));
        }
        let vars: Env = env
            .iter()
            .map(|v| (OsString::from(&v.name), OsString::from(&v.value)))
            .collect();
        Ok(Cgi {
            program: Program::new(path, Vec::new(), dir, vars, limits),
        })
    }

    pub(crate) async fn serve<B: RequestBody>(
        &self,
        req: Request<B>,
        call: Call<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        let (parts, body) = req.into_parts();
        let env = match request_env(&parts, &call) {
            Ok(env) => env,
            Err(why) => return Ok(body::plain(StatusCode::BAD_REQUEST, why)),
        };
        let Some(slot) = self.program.slot() else {
            return Ok(process::no_slot());
        };
        self.program.run(slot, env, body, &call).await
    }
}

/// The request's CGI variables, or why it is refused (400).
pub(crate) fn request_env(
    parts: &http::request::Parts,
    call: &Call<'_>,
) -> Result<Env, &'static str> {
    let host = call
        .origin
        .host
        .or_else(|| parts.headers.get(http::header::HOST))
        .and_then(|h| h.to_str().ok());
    let site = Site {
        mount: call.mount,
        host,
        scheme: call.origin.client.scheme(),
        remote_addr: call.origin.client.ip().to_string(),
    };
    cgi_env(
        &parts.method,
        &parts.uri,
        parts.version,
        &parts.headers,
        &site,
    )
}
