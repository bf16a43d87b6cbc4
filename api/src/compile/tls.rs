//! A Route's `tls`: its certificate found in a Secret and loaded here (bad
//! PEM, a key that does not match, an expired certificate: said at
//! compile, with the fix), the hosts it covers, and what HTTPS means for
//! its requests (redirect, HSTS, client certificates).
//!
//! A Secret that is missing or unreadable leaves the reference unresolved:
//! the Route is accepted and served, `ResolvedRefs` says why, and its
//! hosts get the default certificate or a refused handshake meanwhile.
//! An expired certificate is still served (a client then says "expired",
//! which is truer than a certificate for another name).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::certificate::{self, CA_KEY, CHAIN_KEY, KEY_KEY};
use crate::compile::findings::Findings;
use crate::compile::names;
use crate::config::{CertificateConfig, ProxyConfig, RouteConfig, RouteTlsConfig};
use crate::diagnostic::{ConditionKind, Diagnostic, Severity};
use crate::resource::{Kind, ResourceId};
use crate::route::{ClientCertificates, Hsts, RouteTls};
use crate::secret::{KnownSecret, SecretRef};

/// HSTS's default max-age: a year.
const HSTS_MAX_AGE: u64 = 31_536_000;

/// The Route's HTTPS behaviour, and its certificate when it can be served.
pub(super) fn lower(
    tls: &RouteTls,
    route_hostnames: &[String],
    namespace: &str,
    (secrets, config_maps): (&[KnownSecret], &[KnownSecret]),
    findings: &mut Findings,
) -> (RouteTlsConfig, Option<CertificateConfig>) {
    let hosts = if tls.hosts.is_empty() {
        route_hostnames.to_vec()
    } else {
        tls.hosts.clone()
    };
    check_hosts(tls, &hosts, route_hostnames, findings);
    let client_ca = tls
        .client_certificates
        .as_ref()
        .map(|client| resolve_client_ca(client, namespace, (secrets, config_maps), findings));
    let chain = resolve_certificate(&tls.secret_name, &hosts, namespace, secrets, findings);
    let behaviour = RouteTlsConfig {
        hosts: hosts.clone(),
        redirect: tls.redirect.unwrap_or(true),
        hsts: tls.hsts.as_ref().map(|hsts| hsts_value(hsts, findings)),
        client_certificates: tls.client_certificates.is_some(),
    };
    // A required client CA that cannot be read leaves no certificate to
    // serve: never the hosts without the check they asked for.
    let certificate = match (chain, client_ca) {
        (Some((chain, key)), None) => Some((chain, key, None)),
        (Some((chain, key)), Some(Some(ca))) => Some((chain, key, Some(ca))),
        _ => None,
    };
    let certificate = certificate.map(|(chain, key, client_ca)| {
        let (client_ca, client_ca_bundle) = match client_ca {
            Some(ClientCa::Secret(source)) => (Some(source), None),
            Some(ClientCa::Bundle(pem)) => (None, Some(pem)),
            None => (None, None),
        };
        CertificateConfig {
            route: String::new(),
            hosts,
            default: tls.default,
            chain,
            key,
            client_ca,
            client_ca_bundle,
        }
    });
    (behaviour, certificate)
}

fn check_hosts(
    tls: &RouteTls,
    hosts: &[String],
    route_hostnames: &[String],
    findings: &mut Findings,
) {
    for (i, host) in tls.hosts.iter().enumerate() {
        if let Err(why) = names::check_hostname(host, true) {
            findings.error(format!("spec.tls.hosts[{i}]"), "InvalidHostname", why);
        } else if !route_hostnames.is_empty()
            && !route_hostnames
                .iter()
                .any(|name| certificate::covers(std::slice::from_ref(name), host))
        {
            findings.warn(
                format!("spec.tls.hosts[{i}]"),
                "TlsHostNotRouted",
                format!("the certificate is served for `{host}`, but the Route does not answer for it: add it to `spec.hostnames`, or take it out of `spec.tls.hosts`"),
            );
        }
    }
    if hosts.is_empty() && !tls.default {
        findings.error(
            "spec.tls.hosts",
            "NoTlsHosts",
            "the Route has no `hostnames` and `tls.hosts` is empty, so no server name picks this certificate: list the hosts in `tls.hosts`, or set `tls.default: true`",
        );
    }
}

/// `max-age=…[; includeSubDomains][; preload]`.
fn hsts_value(hsts: &Hsts, findings: &mut Findings) -> String {
    let max_age = hsts.max_age_seconds.unwrap_or(HSTS_MAX_AGE);
    if hsts.preload && (max_age < HSTS_MAX_AGE || !hsts.include_sub_domains) {
        findings.warn(
            "spec.tls.hsts.preload",
            "HstsNotPreloadable",
            "browsers' preload lists take only a `maxAgeSeconds` of at least 31536000 with `includeSubDomains: true`: set both, or drop `preload`",
        );
    }
    let mut value = format!("max-age={max_age}");
    if hsts.include_sub_domains {
        value.push_str("; includeSubDomains");
    }
    if hsts.preload {
        value.push_str("; preload");
    }
    value
}

fn find<'a>(secrets: &'a [KnownSecret], namespace: &str, name: &str) -> Option<&'a KnownSecret> {
    secrets
        .iter()
        .find(|s| s.namespace == namespace && s.name == name)
}

/// A key's text, or why it cannot be had.
fn text<'a>(secret: &'a KnownSecret, key: &str) -> Result<&'a str, String> {
    if let Some(why) = secret.not_readable(key) {
        return Err(if secret.unreadable.contains_key(key) {
            why
        } else {
            format!("{why}: PEM is")
        });
    }
    secret.data.get(key).map(|v| v.expose()).ok_or_else(|| match secret.kind.as_str() {
        "ConfigMap" => format!(
            "ConfigMap {}/{} has no `{key}` key: put the CA bundle there, or name its key in `clientCertificates.key`",
            secret.namespace, secret.name
        ),
        _ => format!(
            "Secret {}/{} has no `{key}` key: a `kubernetes.io/tls` Secret holds `tls.crt` and `tls.key` (`kubectl create secret tls NAME --cert=FILE --key=FILE`)",
            secret.namespace, secret.name
        ),
    })
}

/// Whether a Secret's certificate and key load (`SecretHistory` keeps
/// the last version that did).
pub(super) fn loads(secret: &KnownSecret) -> Result<(), String> {
    let chain = text(secret, CHAIN_KEY)?;
    let key = text(secret, KEY_KEY)?;
    certificate::load(chain, key, &certificate::provider()).map(drop)
}

/// The certificate's chain and key references, when they load.
fn resolve_certificate(
    name: &str,
    hosts: &[String],
    namespace: &str,
    secrets: &[KnownSecret],
    findings: &mut Findings,
) -> Option<(SecretRef, SecretRef)> {
    let field = "spec.tls.secretName";
    let Some(secret) = find(secrets, namespace, name) else {
        findings.unresolved(
            field,
            "SecretNotFound",
            format!("Secret {namespace}/{name} does not exist: create it (`kubectl create secret tls {name} -n {namespace} --cert=FILE --key=FILE`, or let cert-manager issue it), or name another; until then its hosts get the default certificate, or no handshake"),
        );
        return None;
    };
    let loaded = text(secret, CHAIN_KEY).and_then(|chain| {
        let key = text(secret, KEY_KEY)?;
        certificate::load(chain, key, &certificate::provider())
    });
    if let Some(why) = &secret.refused_edit {
        findings.unresolved(
            field,
            "InvalidSecret",
            format!("Secret {namespace}/{name}: its latest values are refused, so its last good certificate keeps serving: {why}"),
        );
    }
    let leaf = match loaded {
        Ok(loaded) => loaded.leaf,
        Err(why) => {
            findings.unresolved(
                field,
                "InvalidCertificate",
                format!("Secret {namespace}/{name}: {why}"),
            );
            return None;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if leaf.not_after < now {
        findings.unresolved(
            field,
            "CertificateExpired",
            format!("Secret {namespace}/{name}: the certificate `{}` expired at {} (Unix time {}): renew it; it is served meanwhile, and clients refuse it", leaf.subject, rfc3339(leaf.not_after), leaf.not_after),
        );
    } else if leaf.not_before > now {
        findings.warn(
            field,
            "CertificateNotYetValid",
            format!("Secret {namespace}/{name}: the certificate `{}` is valid only from {}: clients refuse it until then", leaf.subject, rfc3339(leaf.not_before)),
        );
    }
    for host in hosts
        .iter()
        .filter(|h| !certificate::covers(&leaf.dns_names, h))
    {
        findings.warn(
            field,
            "CertificateNameMismatch",
            format!("Secret {namespace}/{name}: the certificate names {:?}, not `{host}`, so clients asking for `{host}` refuse it: issue one that names it", leaf.dns_names),
        );
    }
    Some((secret.key(CHAIN_KEY), secret.key(KEY_KEY)))
}

/// Where a client CA bundle comes from.
enum ClientCa {
    Secret(SecretRef),
    /// A ConfigMap's PEM, carried in the config as it is.
    Bundle(String),
}

/// The CA bundle when it reads; `None`, said, when it cannot.
fn resolve_client_ca(
    client: &ClientCertificates,
    namespace: &str,
    (secrets, config_maps): (&[KnownSecret], &[KnownSecret]),
    findings: &mut Findings,
) -> Option<ClientCa> {
    let key = client.key.as_deref().unwrap_or(CA_KEY);
    let (field, kind, name, known) = match (&client.ca_secret, &client.ca_config_map) {
        (Some(name), None) => ("caSecret", "Secret", name, secrets),
        (None, Some(name)) => ("caConfigMap", "ConfigMap", name, config_maps),
        _ => {
            findings.error(
                "spec.tls.clientCertificates",
                "InvalidClientCertificates",
                "set exactly one of `caSecret` or `caConfigMap`: where the CA bundle that signs client certificates is",
            );
            return None;
        }
    };
    let field = format!("spec.tls.clientCertificates.{field}");
    let Some(found) = find(known, namespace, name) else {
        let reason = match kind {
            "Secret" => "SecretNotFound",
            _ => "ConfigMapNotFound",
        };
        findings.unresolved(
            field,
            reason,
            format!("{kind} {namespace}/{name} (the client CA) does not exist: create it with the CA bundle in `{key}`; until then the Route's certificate is not served, so no client gets in without the check"),
        );
        return None;
    };
    let bundle = text(found, key).and_then(|pem| certificate::certificates(pem, key).map(|_| pem));
    match bundle {
        Ok(_) if kind == "Secret" => Some(ClientCa::Secret(found.key(key))),
        Ok(pem) => Some(ClientCa::Bundle(pem.to_owned())),
        Err(why) => {
            findings.unresolved(
                field,
                "InvalidCertificate",
                format!("{kind} {namespace}/{name}: {why}; until it is fixed the Route's certificate is not served"),
            );
            None
        }
    }
}

/// The certificates of the accepted Routes, in their order: a host, and
/// the default, belong to the first Route that claims them; a later one is
/// told which Route has it.
pub(super) fn certificates(
    routes: &[(RouteConfig, Option<CertificateConfig>)],
) -> (Vec<CertificateConfig>, Vec<Diagnostic>) {
    let mut owners: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    let mut default_owner: Option<&str> = None;
    let mut out = Vec::new();
    let mut diagnostics = Vec::new();
    let mut warn = |route: &str, field: &str, message: String| {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            resource: ResourceId::from_key(Kind::Route, route),
            field: field.to_owned(),
            reason: "CertificateConflict",
            condition: ConditionKind::Accepted,
            message,
            origin: None,
        });
    };
    for (route, certificate) in routes {
        let Some(certificate) = certificate else {
            continue;
        };
        let mut certificate = CertificateConfig {
            route: route.id.clone(),
            ..certificate.clone()
        };
        certificate.hosts.retain(|host| {
            let owner = *owners.entry(host.clone()).or_insert(&route.id);
            if owner != route.id {
                warn(&route.id, "spec.tls.hosts", format!("`{host}` is served with the certificate of Route {owner}, which comes first (older, or as old and first by namespace/name): take it out of one of them"));
            }
            owner == route.id
        });
        if certificate.default {
            match default_owner {
                None => default_owner = Some(&route.id),
                Some(owner) => {
                    warn(
                        &route.id,
                        "spec.tls.default",
                        format!(
                            "Route {owner} already gives the default certificate, and comes first: set `default: true` on one Route only"
                        ),
                    );
                    certificate.default = false;
                }
            }
        }
        if !certificate.hosts.is_empty() || certificate.default {
            out.push(certificate);
        }
    }
    (out, diagnostics)
}

/// Every Secret key the certificates use, for the config's `secrets`.
pub(super) fn secret_refs(certificates: &[CertificateConfig]) -> impl Iterator<Item = &SecretRef> {
    certificates
        .iter()
        .flat_map(|c| [Some(&c.chain), Some(&c.key), c.client_ca.as_ref()])
        .flatten()
}

/// A pushed config's certificate: the Route that names it served, its
/// hosts valid and its own, one default at most, each reference listed in
/// `secrets`.
pub(super) fn check(config: &ProxyConfig, i: usize, findings: &mut Findings) {
    let certificate = &config.certificates[i];
    let at = format!("certificates[{i}]");
    if !config.routes.iter().any(|r| r.id == certificate.route) {
        findings.error(
            format!("{at}.route"),
            "InvalidCertificate",
            format!(
                "no Route `{}` is in the config: name the Route the certificate is for",
                certificate.route
            ),
        );
    }
    for (h, host) in certificate.hosts.iter().enumerate() {
        if let Err(why) = names::check_hostname(host, true) {
            findings.error(format!("{at}.hosts[{h}]"), "InvalidHostname", why);
        }
        if let Some(first) = config.certificates[..i]
            .iter()
            .position(|c| c.hosts.contains(host))
        {
            findings.error(
                format!("{at}.hosts[{h}]"),
                "CertificateConflict",
                format!("certificates[{first}] is served for `{host}` too: each host has one certificate"),
            );
        }
    }
    if certificate.default
        && let Some(first) = config.certificates[..i].iter().position(|c| c.default)
    {
        findings.error(
            format!("{at}.default"),
            "CertificateConflict",
            format!("certificates[{first}] is the default already: one certificate may be"),
        );
    }
    if certificate.client_ca.is_some() && certificate.client_ca_bundle.is_some() {
        findings.error(
            format!("{at}.clientCaBundle"),
            "InvalidCertificate",
            "`clientCa` and `clientCaBundle` are both set: give the client CA one way",
        );
    }
    if let Some(pem) = &certificate.client_ca_bundle
        && let Err(why) = certificate::certificates(pem, "clientCaBundle")
    {
        findings.error(format!("{at}.clientCaBundle"), "InvalidCertificate", why);
    }
    for source in [
        Some(&certificate.chain),
        Some(&certificate.key),
        certificate.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !config.secrets.iter().any(|s| &s.source == source) {
            findings.error(
                at.clone(),
                "InvalidCertificate",
                format!("{source} is not in the config's `secrets`: add it there, with its sha256 and value"),
            );
        }
    }
}

/// `2026-12-04T10:00:00Z`.
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_379_630), "2026-12-04T10:20:30Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
