//! Lowers `rules[].backends`: one kind each, weights in range, names unique,
//! references resolved to something a proxy can dial.

use super::KnownService;
use super::findings::Findings;
use crate::config::{BackendConfig, BackendTarget};
use crate::route::{Backend, RouteRule, StaticFiles};

pub const MAX_WEIGHT: u32 = 1_000_000;

pub fn lower(
    rule: &RouteRule,
    rule_field: &str,
    namespace: &str,
    services: Option<&[KnownService]>,
    findings: &mut Findings,
) -> Vec<BackendConfig> {
    let errors_before = findings.error_count();
    let mut out: Vec<BackendConfig> = Vec::new();
    // The index in `rule.backends` of each entry of `out` (invalid ones are skipped).
    let mut written_at: Vec<usize> = Vec::new();
    for (i, backend) in rule.backends.iter().enumerate() {
        let field = format!("{rule_field}.backends[{i}]");
        let weight = backend.weight.unwrap_or(1);
        if let Some(problem) = weight_problem(weight) {
            findings.error(format!("{field}.weight"), "InvalidWeight", problem);
        }
        let Some(target) = lower_target(backend, &field, namespace, services, findings) else {
            continue;
        };
        let name = backend
            .name
            .clone()
            .unwrap_or_else(|| default_name(backend));
        if let Some(first) = out
            .iter()
            .position(|b| b.name == name)
            .map(|p| written_at[p])
        {
            findings.error(
                format!("{field}.name"),
                "DuplicateBackend",
                duplicate_name(&name, first),
            );
        }
        out.push(BackendConfig {
            name,
            weight,
            target,
        });
        written_at.push(i);
    }
    // A backend that failed its own check adds no warning about its rule.
    let all_passed = findings.error_count() == errors_before;
    if all_passed && !out.is_empty() && out.iter().all(|b| b.weight == 0) {
        findings.warn(
            format!("{rule_field}.backends"),
            "AllWeightsZero",
            "every backend has weight 0, so the rule's requests are answered 500: give at least one backend a weight above 0",
        );
    }
    out
}

fn default_name(backend: &Backend) -> String {
    match (&backend.service, &backend.url) {
        (Some(s), _) => format!("{}:{}", s.name, s.port),
        (None, Some(url)) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        (None, None) => "static".to_owned(),
    }
}

fn lower_target(
    backend: &Backend,
    field: &str,
    namespace: &str,
    services: Option<&[KnownService]>,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let kinds = [
        backend.service.is_some(),
        backend.url.is_some(),
        backend.static_files.is_some(),
    ];
    if kinds.iter().filter(|set| **set).count() != 1 {
        findings.error(
            field.to_owned(),
            "InvalidBackend",
            "a backend needs exactly one of `service: {name, port}`, `url: http://host:port` or `static: {root}`",
        );
        return None;
    }
    if let Some(files) = &backend.static_files {
        return lower_static(files, &format!("{field}.static"), findings);
    }
    match (&backend.service, &backend.url) {
        (Some(service), None) => {
            let authority = format!("{}.{namespace}.svc:{}", service.name, service.port);
            let Some(known) = services else {
                return Some(BackendTarget::Upstream { authority });
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
                Some(_) => return Some(BackendTarget::Upstream { authority }),
            };
            findings.unresolved(
                format!("{field}.service"),
                "BackendNotFound",
                problem.clone(),
            );
            Some(BackendTarget::Unresolved { reason: problem })
        }
        (None, Some(url)) => match upstream_authority(url) {
            Ok(authority) => Some(BackendTarget::Upstream { authority }),
            Err(why) => {
                findings.error(format!("{field}.url"), "InvalidBackend", why);
                None
            }
        },
        _ => unreachable!("exactly one kind was checked above"),
    }
}

fn lower_static(
    files: &StaticFiles,
    field: &str,
    findings: &mut Findings,
) -> Option<BackendTarget> {
    let target = BackendTarget::Static {
        root: files.root.clone(),
        index: files
            .index
            .clone()
            .unwrap_or_else(|| vec!["index.html".to_owned()]),
        listing: files.listing.unwrap_or(false),
        precompressed: files.precompressed.unwrap_or(false),
        cache_control: files.cache_control.clone(),
    };
    let before = findings.error_count();
    check_target(&target, field, findings);
    (findings.error_count() == before).then_some(target)
}

/// Checks a lowered target; `field` names the backend (or its `static`).
/// Also used on pushed configs.
pub fn check_target(target: &BackendTarget, field: &str, findings: &mut Findings) {
    match target {
        BackendTarget::Upstream { authority } => {
            let valid = authority.parse::<http::uri::Authority>().ok().filter(|a| {
                a.port_u16().is_some() && !a.host().is_empty() && !a.as_str().contains('@')
            });
            if valid.is_none() {
                findings.error(
                    format!("{field}.authority"),
                    "InvalidBackend",
                    format!("`{authority}` is not `host:port`: give the upstream's host and port, e.g. `app.default.svc:8080`"),
                );
            }
        }
        BackendTarget::Static {
            root,
            index,
            cache_control,
            ..
        } => {
            if !root.starts_with('/') {
                findings.error(
                    format!("{field}.root"),
                    "InvalidBackend",
                    format!("root `{root}` is not an absolute path: give the folder's full path on the proxy (in local mode, a relative root is taken from the manifest's folder)"),
                );
            }
            for (i, name) in index.iter().enumerate() {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    findings.error(
                        format!("{field}.index[{i}]"),
                        "InvalidBackend",
                        format!(
                            "index `{name}` is not a file name: give names like `index.html`, without `/`"
                        ),
                    );
                }
            }
            if let Some(value) = cache_control
                && let Err(why) = super::names::check_header_value(value)
            {
                findings.error(format!("{field}.cacheControl"), "InvalidBackend", why);
            }
        }
        BackendTarget::Unresolved { .. } => {}
    }
}

/// Why `weight` is out of range, if it is.
pub fn weight_problem(weight: u32) -> Option<String> {
    (weight > MAX_WEIGHT).then(|| format!("weight {weight} is above {MAX_WEIGHT}: weights are relative, so scale them down (90 and 10 make a 90/10 split)"))
}

/// What to say of a backend name used twice in a rule.
pub fn duplicate_name(name: &str, first: usize) -> String {
    format!(
        "backend name `{name}` is already used by backends[{first}]: give each backend of a rule its own `name`"
    )
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
