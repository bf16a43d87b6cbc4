//! What a Route's `tls` means for its requests, once the rule is found:
//! plain HTTP for its hosts redirected to HTTPS (308, as Traefik's and
//! Contour's redirects keep the method), a request that needs a client
//! certificate refused unless its connection's handshake verified one
//! for this Route, the verified subject passed on, and HSTS on HTTPS
//! answers (RFC 6797 §7.2: never over plain HTTP).

use gatehouse_api::config::{MatchConfig, RouteTlsConfig};
use gatehouse_api::route::RequestRedirect;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};

use crate::route::filters;
use crate::server::peer::Peer;
use crate::support::body::{self, Body};

/// The verified client certificate's subject, as the backend is told it.
pub(crate) static X_CLIENT_SUBJECT: HeaderName = HeaderName::from_static("x-client-subject");

/// A Route's HTTPS behaviour, parsed once at the swap.
#[derive(Debug)]
pub(crate) struct Https {
    exact: Vec<String>,
    /// `example.com` for `*.example.com`.
    wildcards: Vec<String>,
    redirect: bool,
    hsts: Option<HeaderValue>,
    client_certificates: bool,
}

impl Https {
    pub(crate) fn new(config: &RouteTlsConfig) -> Https {
        let (wildcards, exact): (Vec<String>, Vec<String>) = config
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .partition(|h| h.starts_with("*."));
        Https {
            exact,
            wildcards: wildcards.iter().map(|w| w[2..].to_owned()).collect(),
            redirect: config.redirect,
            hsts: config
                .hsts
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok()),
            client_certificates: config.client_certificates,
        }
    }

    /// Whether the certificate covers `host` (the Host, its port dropped).
    /// Compared without a copy: it runs on each of the Route's requests.
    fn covers(&self, host: &str) -> bool {
        let host = host.as_bytes();
        self.exact
            .iter()
            .any(|name| name.as_bytes().eq_ignore_ascii_case(host))
            || self.wildcards.iter().any(|domain| {
                let domain = domain.as_bytes();
                host.len() > domain.len() + 1
                    && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                    && host[host.len() - domain.len() - 1] == b'.'
            })
    }

    /// The answer the Route gives before its rule does, if any: a redirect
    /// to HTTPS, or a refusal for want of a client certificate. A request
    /// it lets through gets the verified subject in `X-Client-Subject`.
    pub(crate) fn check<B>(
        &self,
        client: &Peer,
        route: &str,
        host: &str,
        https_port: Option<u16>,
        req: &mut Request<B>,
    ) -> Option<Response<Body>> {
        let name = filters::split_port(host).0;
        if !self.covers(name) {
            return None;
        }
        let Some(tls) = client.tls() else {
            if self.redirect
                && let Some(port) = https_port
            {
                let to_https = RequestRedirect {
                    scheme: Some("https".into()),
                    port: Some(port),
                    status_code: Some(308),
                    ..RequestRedirect::default()
                };
                let uri = req.uri();
                return Some(filters::redirect(
                    &to_https,
                    &MatchConfig::any_path(),
                    host,
                    uri.path(),
                    uri.query(),
                ));
            }
            if self.client_certificates {
                return Some(body::plain(
                    StatusCode::FORBIDDEN,
                    "this host takes HTTPS with a client certificate only",
                ));
            }
            return None;
        };
        if !self.client_certificates {
            return None;
        }
        // The handshake checked the certificate against the CA of the
        // Route whose certificate it used; a request for this Route's
        // host on a connection made for another host was not checked
        // against this Route's CA (RFC 9110 §15.5.20: 421, reconnect).
        if tls.route.as_deref() != Some(route) {
            return Some(body::plain(
                StatusCode::MISDIRECTED_REQUEST,
                "this connection was opened for another host, and this one needs a client certificate: open a new connection naming it (SNI)",
            ));
        }
        if let Some(subject) = &tls.client_subject {
            req.headers_mut()
                .insert(X_CLIENT_SUBJECT.clone(), subject.clone());
        }
        None
    }

    /// The `Strict-Transport-Security` an HTTPS answer for the Route's
    /// hosts carries (the caller keeps a backend's own).
    pub(crate) fn hsts_for(&self, client: &Peer, host: &str) -> Option<&HeaderValue> {
        let hsts = self.hsts.as_ref()?;
        (client.tls().is_some() && self.covers(filters::split_port(host).0)).then_some(hsts)
    }
}

#[cfg(test)]
mod tests {
    use http::header;

    use super::*;

    fn https(hosts: &[&str]) -> Https {
        Https::new(&RouteTlsConfig {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            redirect: true,
            hsts: Some("max-age=60".into()),
            client_certificates: false,
        })
    }

    #[test]
    fn hosts_are_covered_exactly_or_under_a_wildcard() {
        let https = https(&["shop.example.com", "*.apps.example.com"]);
        assert!(https.covers("shop.example.com"));
        assert!(https.covers("SHOP.example.com"));
        assert!(https.covers("a.apps.example.com"));
        assert!(https.covers("a.b.apps.example.com"));
        assert!(!https.covers("apps.example.com"));
        assert!(!https.covers("xapps.example.com"));
        assert!(!https.covers("other.example.com"));
    }

    #[test]
    fn plain_http_is_redirected_with_its_path_and_query() {
        let https = https(&["shop.example.com"]);
        let client = Peer::new("192.0.2.1:5000".parse().unwrap());
        let req = |target: &str| Request::get(target).body(()).unwrap();
        let answer = https
            .check(
                &client,
                "default/shop",
                "shop.example.com:8080",
                Some(8443),
                &mut req("/a/b?x=1"),
            )
            .expect("redirected");
        assert_eq!(answer.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            answer.headers()[header::LOCATION],
            "https://shop.example.com:8443/a/b?x=1"
        );
        let answer = https
            .check(
                &client,
                "default/shop",
                "shop.example.com",
                Some(443),
                &mut req("/"),
            )
            .unwrap();
        assert_eq!(
            answer.headers()[header::LOCATION],
            "https://shop.example.com/"
        );
        assert!(
            https
                .check(
                    &client,
                    "default/shop",
                    "other.test",
                    Some(443),
                    &mut req("/")
                )
                .is_none()
        );
        assert!(
            https
                .check(
                    &client,
                    "default/shop",
                    "shop.example.com",
                    None,
                    &mut req("/")
                )
                .is_none(),
            "no HTTPS listener: nowhere to redirect to"
        );
    }

    #[test]
    fn hsts_goes_on_https_answers_only() {
        let https = https(&["shop.example.com"]);
        let plain = Peer::new("192.0.2.1:5000".parse().unwrap());
        assert!(https.hsts_for(&plain, "shop.example.com").is_none());
        let tls = plain.with_tls(crate::server::peer::TlsFacts::default());
        assert_eq!(
            https.hsts_for(&tls, "shop.example.com").unwrap(),
            "max-age=60"
        );
    }
}
