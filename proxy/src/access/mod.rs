//! Access rules: HTTP Basic authentication against a Secret's users, and
//! who of them may read or write, checked before a rule's filters and
//! backend (`route/mod.rs`).
//!
//! - `credentials.rs`: reading `Authorization: Basic`;
//! - `cache.rs`: credentials verified lately (bcrypt paid once);
//! - `limiter.rs`: failed logins per client address (429 after too many);
//! - `users.rs`: each set of users, parsed once and kept across swaps
//!   while its Secret is unchanged.
//!
//! Hashes are verified on the blocking pool's `password-hash` lane, never
//! on a worker. Passwords reach no log; a failure is logged with the user
//! name, the client and the route.

mod cache;
mod credentials;
mod limiter;
mod metrics;
mod users;

use std::net::IpAddr;
use std::sync::Arc;

use gatehouse_api::config::{AccessConfig, AllowConfig, UsersConfig};
use gatehouse_api::secret::SecretEntry;
use http::{HeaderValue, Method, StatusCode, header};

use self::credentials::{Presented, presented};
pub(crate) use self::limiter::FailureLimiter;
use self::metrics::AccessMetrics;
use self::users::UserBase;
pub(crate) use self::users::UserBases;
use crate::observe::metrics::Metrics;
use crate::support::blocking::{BlockingKind, BlockingPool};
use crate::support::body::{self, Body};

/// What the proxy keeps for access rules across swaps.
pub(crate) struct AccessStore {
    pub(crate) bases: UserBases,
    pub(crate) failures: FailureLimiter,
    metrics: AccessMetrics,
}

impl AccessStore {
    pub(crate) fn new(metrics: &Metrics) -> AccessStore {
        AccessStore {
            bases: UserBases::default(),
            failures: FailureLimiter::default(),
            metrics: AccessMetrics::new(metrics),
        }
    }
}

/// One rule's access check, prepared at the swap.
pub(crate) struct Access {
    challenge: HeaderValue,
    /// The users, or why the rule answers 500.
    users: Result<Arc<UserBase>, String>,
    read: AllowConfig,
    write: AllowConfig,
    pub(crate) forward_authorization: bool,
}

/// Who the check let through: a user, or anyone (an anonymous rule).
pub(crate) type Admitted = Option<String>;

impl Access {
    pub(crate) fn prepare(
        config: &AccessConfig,
        secrets: &[SecretEntry],
        store: &AccessStore,
    ) -> Result<Access, String> {
        let challenge = HeaderValue::from_str(&format!("Basic realm=\"{}\"", config.realm))
            .map_err(|_| format!("realm `{}` cannot go into a header", config.realm))?;
        let users = match &config.users {
            UsersConfig::Unresolved { reason } => Err(reason.clone()),
            users => store.bases.get(users, secrets),
        };
        Ok(Access {
            challenge,
            users,
            read: config.read.clone(),
            write: config.write.clone(),
            forward_authorization: config.forward_authorization,
        })
    }

    /// Lets the request through (with its user, if it gave one) or
    /// answers it: 401 (none or wrong credentials), 403 (a user not
    /// allowed), 429 (too many failures from this client), 500 (the
    /// Secret could not be read), 503 (the hash lane is full).
    pub(crate) async fn check(
        &self,
        write: bool,
        headers: &http::HeaderMap,
        client: IpAddr,
        store: &AccessStore,
        blocking: &BlockingPool,
        route: &str,
    ) -> Result<Admitted, http::Response<Body>> {
        let checked = self
            .decide(write, headers, client, store, blocking, route)
            .await;
        if let Err(refused) = &checked {
            store.metrics.refused(refused.status());
        }
        checked
    }

    async fn decide(
        &self,
        write: bool,
        headers: &http::HeaderMap,
        client: IpAddr,
        store: &AccessStore,
        blocking: &BlockingPool,
        route: &str,
    ) -> Result<Admitted, http::Response<Body>> {
        let (class, allowed) = match write {
            false => ("read", &self.read),
            true => ("write", &self.write),
        };
        let users = match &self.users {
            Ok(users) => users,
            Err(reason) => {
                return Err(body::plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("this rule's users cannot be read, so no one is let in: {reason}"),
                ));
            }
        };
        let credentials = match presented(headers) {
            Presented::Nothing if allowed.anonymous => return Ok(None),
            Presented::Nothing => return Err(self.unauthorized("log in to use this")),
            Presented::Malformed => return Err(self.unauthorized("the credentials sent cannot be read: send `Authorization: Basic` with base64 of user:password")),
            Presented::Basic(credentials) => credentials,
        };
        if let Some(wait) = store.failures.blocked(client) {
            return Err(too_many(wait.as_secs() + 1));
        }
        if !users.cache.holds(&credentials.user, &credentials.password) {
            let (base, user, password) = (
                users.clone(),
                credentials.user.clone(),
                credentials.password.clone(),
            );
            let verified = blocking
                .run(BlockingKind::PasswordHash, move || {
                    base.users.verify(&user, &password)
                })
                .await;
            if let Ok(ok) = verified {
                store.metrics.verified(ok);
            }
            match verified {
                Ok(true) => users
                    .cache
                    .remember(&credentials.user, &credentials.password),
                Ok(false) => {
                    store.failures.failed(client);
                    tracing::warn!(user = %credentials.user, %client, route, "access: a wrong user name or password");
                    return Err(self.unauthorized("the user name or password is wrong"));
                }
                Err(busy) => {
                    let mut refused = body::plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &format!("credentials cannot be checked now: {busy}"),
                    );
                    refused
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return Err(refused);
                }
            }
        }
        if !is_allowed(allowed, &users.users, &credentials.user) {
            return Err(body::plain(
                StatusCode::FORBIDDEN,
                &format!("user `{}` may not {class} here", credentials.user),
            ));
        }
        Ok(Some(credentials.user))
    }

    fn unauthorized(&self, why: &str) -> http::Response<Body> {
        let mut response = body::plain(StatusCode::UNAUTHORIZED, why);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, self.challenge.clone());
        response
    }
}

/// Whether a request is a write, for `read` and `write`: by its method
/// (GET and HEAD read, every other method writes), except on a rule that
/// serves git, where a push writes whatever its method and everything
/// else reads — a clone's and a fetch's `POST …/git-upload-pack` too.
pub(crate) fn is_write(method: &Method, path: &str, query: Option<&str>, git: bool) -> bool {
    if git {
        return is_git_write(path, query);
    }
    *method != Method::GET && *method != Method::HEAD
}

/// A git push: `…/git-receive-pack`, or its refs (`?service=git-receive-pack`).
pub(crate) fn is_git_write(path: &str, query: Option<&str>) -> bool {
    path.ends_with("/git-receive-pack")
        || query.is_some_and(|q| q.split('&').any(|pair| pair == "service=git-receive-pack"))
}

fn is_allowed(allowed: &AllowConfig, users: &gatehouse_auth::Users, user: &str) -> bool {
    let everyone = allowed.users.is_empty() && allowed.groups.is_empty();
    allowed.anonymous
        || everyone
        || allowed.users.iter().any(|u| u == user)
        || allowed.groups.iter().any(|g| users.in_group(user, g))
}

fn too_many(retry_after_secs: u64) -> http::Response<Body> {
    let mut response = body::plain(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("too many failed logins from this address: try again in {retry_after_secs} s"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_pushes_write_and_everything_else_of_git_reads() {
        let git =
            |method: Method, path: &str, query: Option<&str>| is_write(&method, path, query, true);
        assert!(git(
            Method::GET,
            "/git/r.git/info/refs",
            Some("service=git-receive-pack")
        ));
        assert!(git(Method::POST, "/git/r.git/git-receive-pack", None));
        assert!(git(Method::GET, "/git/r.git/git-receive-pack", None));
        assert!(!git(
            Method::GET,
            "/git/r.git/info/refs",
            Some("service=git-upload-pack")
        ));
        assert!(!git(Method::POST, "/git/r.git/git-upload-pack", None));
        assert!(!git(Method::GET, "/git/r.git/HEAD", None));
        assert!(!git(
            Method::GET,
            "/git/r.git/info/refs",
            Some("x=service=git-receive-pack")
        ));
        assert!(!git(
            Method::POST,
            "/git/git-receive-pack.git/info/refs",
            None
        ));
    }

    #[test]
    fn elsewhere_the_method_decides() {
        assert!(!is_write(&Method::GET, "/a/git-receive-pack", None, false));
        assert!(!is_write(&Method::HEAD, "/a", None, false));
        assert!(is_write(&Method::POST, "/a/git-upload-pack", None, false));
        assert!(is_write(&Method::DELETE, "/a", None, false));
    }
}
