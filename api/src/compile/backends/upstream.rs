//! The `service` and `url` kinds: both become an HTTP/1.1 upstream at
//! `host:port` (`BackendTarget::Upstream`).

use crate::compile::KnownService;
use crate::compile::findings::Findings;
use crate::config::BackendTarget;
use crate::route::ServiceRef;

/// A Service in the Route's namespace: `name.namespace.svc:port`, checked
/// against the cluster's Services when they are known (not in local mode).
pub(super) fn lower_service(
    service: &ServiceRef,
    field: &str,
    namespace: &str,
    services: Option<&[KnownService]>,
    findings: &mut Findings,
) -> BackendTarget {
    let authority = format!("{}.{namespace}.svc:{}", service.name, service.port);
    let Some(known) = services else {
        return BackendTarget::Upstream { authority };
    };
    let found = known
        .iter()
        .find(|s| s.namespace == namespace && s.name == service.name);
    let problem = match found {
        None => format!(
            "Service {namespace}/{} does not exist: create it or fix `service.name`; this backend's share is answered 500",
            service.name
        ),
        Some(s) if !s.ports.contains(&service.port) => format!(
            "Service {namespace}/{} has no port {} (it has {:?}): fix `service.port`; this backend's share is answered 500",
            service.name, service.port, s.ports
        ),
        Some(_) => return BackendTarget::Upstream { authority },
    };
    findings.unresolved(
        format!("{field}.service"),
        "BackendNotFound",
        problem.clone(),
    );
    BackendTarget::Unresolved { reason: problem }
}

/// `url: http://host:port`.
pub(super) fn lower_url(url: &str, field: &str, findings: &mut Findings) -> Option<BackendTarget> {
    match upstream_authority(url) {
        Ok(authority) => Some(BackendTarget::Upstream { authority }),
        Err(why) => {
            findings.error(format!("{field}.url"), "InvalidBackend", why);
            None
        }
    }
}

/// A lowered (or pushed) upstream's `authority`.
pub(super) fn check(authority: &str, field: &str, findings: &mut Findings) {
    let valid = authority
        .parse::<http::uri::Authority>()
        .ok()
        .filter(|a| a.port_u16().is_some() && !a.host().is_empty() && !a.as_str().contains('@'));
    if valid.is_none() {
        findings.error(
            format!("{field}.authority"),
            "InvalidBackend",
            format!("`{authority}` is not `host:port`: give the upstream's host and port, e.g. `app.default.svc:8080`"),
        );
    }
}

/// `http://host:port[/]` to `host:port` (port 80 when left out).
fn upstream_authority(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a URL: write `http://host:port`"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "`{url}`: https upstreams are not supported yet; use `http://` (TLS to backends is planned)"
            ));
        }
        _ => {
            return Err(format!(
                "`{url}` needs the scheme: write `http://host:port`"
            ));
        }
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("`{url}` has no host: write `http://host:port`"))?;
    if authority.as_str().contains('@') {
        return Err(format!(
            "`{url}` carries credentials: remove `user@` from the URL"
        ));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "`{url}` has a path: a backend URL is only `http://host:port`; use a URLRewrite filter to change paths"
        ));
    }
    Ok(format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    ))
}

#[cfg(test)]
mod tests {
    use super::upstream_authority;

    #[test]
    fn upstream_urls() {
        assert_eq!(
            upstream_authority("http://127.0.0.1:8081").unwrap(),
            "127.0.0.1:8081"
        );
        assert_eq!(upstream_authority("http://app/").unwrap(), "app:80");
        assert!(
            upstream_authority("https://app")
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(upstream_authority("app:80").unwrap_err().contains("scheme"));
        assert!(
            upstream_authority("http://app/v1")
                .unwrap_err()
                .contains("URLRewrite")
        );
        assert!(
            upstream_authority("http://u:p@app")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(
            upstream_authority("not a url")
                .unwrap_err()
                .contains("not a URL")
        );
    }
}
