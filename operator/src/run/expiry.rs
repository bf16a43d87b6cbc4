//! Certificates about to expire: a Warning Event (`CertificateExpiring`)
//! on the Route 14 days before its certificate's notAfter, once per
//! certificate, and the time of the next round a certificate needs
//! although nothing else changes (it crosses the 14-day line, or expires
//! and so turns `ResolvedRefs` False: compile reads the clock then).
//!
//! Times are Unix seconds passed in, so the tests fix them.

use std::collections::HashSet;
use std::time::Duration;

use gatehouse_api::certificate::{self, CHAIN_KEY};
use gatehouse_api::{Kind, ProxyConfig, ResourceId, Route, x509};
use kube::Resource;
use kube::runtime::events::Recorder;

/// How long before expiry a certificate is warned about. cert-manager
/// renews at 2/3 of the lifetime (30 days before for Let's Encrypt's 90),
/// so a certificate this close means its renewal is failing.
pub(super) const WARN_BEFORE: i64 = 14 * 86_400;

/// The longest wait between two looks at the certificates: tokio's timers
/// run on the monotonic clock, which neither follows wall-clock steps nor
/// runs while a machine is suspended, so a long wait could end late.
pub(super) const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(3600);

/// A certificate a proxy serves, with the facts a warning names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Served {
    pub route: ResourceId,
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// Of `tls.crt`: a renewed certificate is another one.
    pub sha256: String,
    pub subject: String,
    pub not_after: i64,
}

/// The certificates of a compiled config, read from its secret values
/// (compile has loaded each; one that cannot be read is left out).
pub(super) fn served(config: &ProxyConfig) -> Vec<Served> {
    config
        .certificates
        .iter()
        .filter_map(|served| {
            let entry = config.secrets.iter().find(|s| s.source == served.chain)?;
            let pem = entry.value.as_ref()?.expose();
            let leaf = certificate::certificates(pem, CHAIN_KEY).ok()?;
            let facts = x509::parse(&leaf[0]).ok()?;
            Some(Served {
                route: ResourceId::from_key(Kind::Route, &served.route),
                secret: format!("{}/{}", served.chain.namespace, served.chain.name),
                sha256: entry.sha256.clone(),
                subject: facts.subject,
                not_after: facts.not_after,
            })
        })
        .collect()
}

/// Within 14 days of expiry at `now`, not yet expired (an expired one is
/// `ResolvedRefs=False`, `CertificateExpired`, which has its own Event).
fn is_expiring(served: &Served, now: i64) -> bool {
    now <= served.not_after && served.not_after - now <= WARN_BEFORE
}

/// How long until the next certificate crosses a line, its 14-day line or
/// its expiry, bounded by `LOOK_AT_LEAST_EVERY`; `None` without
/// certificates.
pub(super) fn next_look(served: &[Served], now: i64) -> Option<Duration> {
    let crossings = served
        .iter()
        // One second past expiry: compile calls a certificate expired
        // once its notAfter is behind it.
        .flat_map(|s| [s.not_after - WARN_BEFORE, s.not_after + 1])
        .filter(|&at| at > now);
    let next = crossings.min().map_or(LOOK_AT_LEAST_EVERY, |at| {
        Duration::from_secs((at - now) as u64)
    });
    (!served.is_empty()).then(|| next.min(LOOK_AT_LEAST_EVERY))
}

/// Which expiring certificates were warned about, so each is warned about
/// once (per Route and certificate content), not once a round.
#[derive(Default)]
pub(super) struct Expiring {
    announced: HashSet<(ResourceId, String)>,
}

impl Expiring {
    /// The certificates to warn about at `now`, marked as announced;
    /// forgets those no longer expiring (renewed, expired, gone).
    fn due<'a>(&mut self, served: &'a [Served], now: i64) -> Vec<&'a Served> {
        let expiring: Vec<&Served> = served.iter().filter(|s| is_expiring(s, now)).collect();
        let key = |s: &Served| (s.route.clone(), s.sha256.clone());
        let current: HashSet<_> = expiring.iter().map(|s| key(s)).collect();
        self.announced.retain(|k| current.contains(k));
        expiring
            .into_iter()
            .filter(|s| self.announced.insert(key(s)))
            .collect()
    }

    /// Warns on each Route whose certificate newly expires within 14 days.
    pub(super) async fn announce(
        &mut self,
        recorder: &Recorder,
        routes: &[Route],
        served: &[Served],
        now: i64,
    ) {
        for certificate in self.due(served, now) {
            let Some(route) = routes
                .iter()
                .find(|r| ResourceId::route(r) == certificate.route)
            else {
                continue;
            };
            tracing::warn!(route = %certificate.route, secret = %certificate.secret, not_after = certificate.not_after, "a certificate expires within 14 days");
            super::events::warn(
                recorder,
                &route.object_ref(&()),
                "CertificateExpiring",
                "CheckCertificate",
                &note(certificate, now),
            )
            .await;
        }
    }
}

fn note(certificate: &Served, now: i64) -> String {
    let at = k8s_openapi::jiff::Timestamp::from_second(certificate.not_after)
        .map_or_else(|_| certificate.not_after.to_string(), |t| t.to_string());
    // Rounded: a certificate issued for 5 days is "in 5 days" a minute later.
    let days = (certificate.not_after - now + 43_200) / 86_400;
    format!(
        "the certificate `{}` in Secret {} expires at {at} (in {days} days): renew it and update the Secret; \
         cert-manager renews at 2/3 of a certificate's lifetime by default, so this warning means its renewal \
         is failing (`kubectl describe certificate`, `kubectl get certificaterequests`); once expired it is \
         still served, and clients refuse it",
        certificate.subject, certificate.secret
    )
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::run::api_server::{self, stored_route};

    const DAY: i64 = 86_400;
    /// 2026-12-04T10:20:30Z.
    const NOW: i64 = 1_796_379_630;

    fn served(route: &str, sha: &str, not_after: i64) -> Served {
        Served {
            route: ResourceId::new(Kind::Route, "shop", route),
            secret: format!("shop/{route}-tls"),
            sha256: sha.into(),
            subject: format!("CN={route}.example.com"),
            not_after,
        }
    }

    fn names(due: &[&Served]) -> Vec<String> {
        due.iter().map(|s| s.route.name.clone()).collect()
    }

    #[test]
    fn a_certificate_is_due_within_14_days_of_expiry_and_not_once_expired() {
        let certificates = [
            served("fresh", "a", NOW + 60 * DAY),
            served("edge", "b", NOW + 14 * DAY),
            served("soon", "c", NOW + 5 * DAY),
            served("gone", "d", NOW - 1),
        ];
        let mut expiring = Expiring::default();
        assert_eq!(names(&expiring.due(&certificates, NOW)), ["edge", "soon"]);
    }

    #[test]
    fn each_certificate_is_due_once_and_its_renewal_is_another_certificate() {
        let mut expiring = Expiring::default();
        let soon = [served("cart", "old", NOW + 5 * DAY)];
        assert_eq!(names(&expiring.due(&soon, NOW)), ["cart"]);
        assert!(expiring.due(&soon, NOW + DAY).is_empty(), "said once");
        // Renewed: fine for 90 days, nothing said.
        let renewed = [served("cart", "new", NOW + 90 * DAY)];
        assert!(expiring.due(&renewed, NOW + DAY).is_empty());
        // That one nears its end in turn: said again, for it.
        assert_eq!(names(&expiring.due(&renewed, NOW + 80 * DAY)), ["cart"]);
    }

    #[test]
    fn the_same_certificate_on_two_routes_is_said_on_each() {
        let mut expiring = Expiring::default();
        let shared = [
            served("cart", "same", NOW + DAY),
            served("shop", "same", NOW + DAY),
        ];
        assert_eq!(names(&expiring.due(&shared, NOW)), ["cart", "shop"]);
    }

    #[test]
    fn the_next_look_is_when_a_certificate_crosses_its_14_day_line_or_expires() {
        assert_eq!(next_look(&[], NOW), None, "no certificate, no wake-up");
        // Crosses the 14-day line in 30 minutes.
        let line = [served("cart", "a", NOW + 14 * DAY + 1800)];
        assert_eq!(next_look(&line, NOW), Some(Duration::from_secs(1800)));
        // Within the line: the next crossing is its expiry, a second past.
        let expiring = [served("cart", "a", NOW + 600)];
        assert_eq!(next_look(&expiring, NOW), Some(Duration::from_secs(601)));
        // The nearest of several.
        let several = [
            served("cart", "a", NOW + 14 * DAY + 1800),
            served("shop", "b", NOW + 120),
        ];
        assert_eq!(next_look(&several, NOW), Some(Duration::from_secs(121)));
        // Far off, or all expired: an hour at most.
        let far = [served("cart", "a", NOW + 300 * DAY)];
        assert_eq!(next_look(&far, NOW), Some(LOOK_AT_LEAST_EVERY));
        let expired = [served("cart", "a", NOW - DAY)];
        assert_eq!(next_look(&expired, NOW), Some(LOOK_AT_LEAST_EVERY));
    }

    #[test]
    fn a_compiled_configs_certificates_are_read_from_its_secret_values() {
        let ca = gatehouse_testkit::tls::TestCa::new("expiry");
        let issued = ca.server_for_days("shop", &["shop.example.com"], 5);
        let secret: k8s_openapi::api::core::v1::Secret =
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "shop-tls", "namespace": "shop"},
                "type": "kubernetes.io/tls",
                "stringData": {
                    "tls.crt": std::fs::read_to_string(&issued.cert).unwrap(),
                    "tls.key": std::fs::read_to_string(&issued.key).unwrap(),
                },
            }))
            .unwrap();
        let secrets = [gatehouse_api::secret::KnownSecret::from_secret(&secret)];
        let mut route = stored_route("shop", "{type: PathPrefix, value: /}", None);
        route.spec.hostnames = vec!["shop.example.com".into()];
        route.spec.tls =
            Some(serde_json::from_value(serde_json::json!({"secretName": "shop-tls"})).unwrap());
        let routes = [route];
        let compiled = gatehouse_api::compile(gatehouse_api::Resources {
            routes: &routes,
            depot_repos: &[],
            mock_provisions: &[],
            services: None,
            secrets: &secrets,
            config_maps: &[],
            class: gatehouse_api::route::DEFAULT_CLASS,
        });
        let found = super::served(&compiled.config);
        assert_eq!(found.len(), 1, "{:?}", compiled.diagnostics);
        assert_eq!(found[0].route, ResourceId::route(&routes[0]));
        assert_eq!(found[0].secret, "shop/shop-tls");
        assert_eq!(found[0].subject, "CN=shop.example.com");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let left = found[0].not_after - now;
        assert!((4 * DAY..=5 * DAY + 60).contains(&left), "{left}");
        assert!(is_expiring(&found[0], now));
    }

    #[tokio::test]
    async fn an_expiring_certificate_is_a_warning_on_its_route_naming_secret_subject_and_date() {
        let (client, mut server) = api_server::client();
        let recorder = api_server::recorder(&client);
        let routes = [stored_route("cart", "{type: PathPrefix, value: /}", None)];
        let certificates = [served("cart", "a", NOW + 5 * DAY)];
        let mut expiring = Expiring::default();
        let ((), seen) = tokio::join!(
            expiring.announce(&recorder, &routes, &certificates, NOW),
            server.echo()
        );
        assert_eq!(seen.method, Method::POST);
        assert_eq!(seen.path, "/apis/events.k8s.io/v1/namespaces/shop/events");
        assert_eq!(seen.body["type"], "Warning");
        assert_eq!(seen.body["reason"], "CertificateExpiring");
        assert_eq!(seen.body["regarding"]["kind"], "Route");
        assert_eq!(seen.body["regarding"]["name"], "cart");
        let note = seen.body["note"].as_str().unwrap();
        for part in [
            "Secret shop/cart-tls",
            "`CN=cart.example.com`",
            "expires at 2026-12-09T10:20:30Z (in 5 days)",
            "renew it",
            "renewal is failing",
        ] {
            assert!(note.contains(part), "{part}: {note}");
        }
        // The next round says nothing more.
        tokio::join!(
            expiring.announce(&recorder, &routes, &certificates, NOW + 60),
            server.expect_none(std::time::Duration::from_millis(200))
        );
    }
}
