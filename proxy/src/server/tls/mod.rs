//! HTTPS on `--listen-tls`: rustls terminates TLS, and the connection goes
//! on as a plain one does (the lane for HTTP/1.1; hyper for h2, which the
//! lane hands over at its preface).
//!
//! Which certificate a handshake gets is decided from its ClientHello
//! (`handshake.rs`) against the `Certificates` of the config being served:
//! the exact server name, then the longest wildcard, then the default;
//! none of them, and the handshake is refused with an alert. Each
//! certificate has a `ServerConfig` of its own (its key, and its client
//! CA when the Route asks for client certificates); all share one session
//! cache and one ticket key, so a session resumes across config swaps.
//! A swap builds a new `Certificates`: new handshakes see it at once,
//! connections already open keep the config they shook hands with.

mod handshake;
mod metrics;

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_api::certificate;
use gatehouse_api::config::CertificateConfig;
use gatehouse_api::secret::{SecretEntry, SecretRef};
use rustls::crypto::CryptoProvider;
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerConfig, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;

pub(crate) use self::handshake::accept;
pub(crate) use self::metrics::TlsMetrics;
use crate::observe::metrics::Metrics;

/// What outlives a config swap: the provider, the session cache and the
/// ticket key (so a client resumes across swaps), and the metrics.
pub(crate) struct TlsStore {
    provider: Arc<CryptoProvider>,
    sessions: Arc<ServerSessionMemoryCache>,
    tickets: Option<Arc<dyn rustls::server::ProducesTickets>>,
    pub(crate) metrics: TlsMetrics,
}

/// Sessions kept for TLS 1.2 resumption by session id, as nginx's
/// `ssl_session_cache shared:SSL:10m` holds about 40,000.
const SESSION_CACHE_SIZE: usize = 20_000;

impl TlsStore {
    pub(crate) fn new(metrics: &Metrics) -> TlsStore {
        let tickets = match rustls::crypto::ring::Ticketer::new() {
            Ok(ticketer) => Some(ticketer),
            Err(err) => {
                tracing::warn!(%err, "TLS session tickets are off: no ticket key could be made");
                None
            }
        };
        TlsStore {
            provider: certificate::provider(),
            sessions: ServerSessionMemoryCache::new(SESSION_CACHE_SIZE),
            tickets,
            metrics: TlsMetrics::new(metrics),
        }
    }
}

/// One certificate as handshakes use it.
pub(crate) struct Site {
    /// The Route that names it: a request for another Route's host that
    /// asks for client certificates is refused on this connection (421).
    pub(crate) route: Arc<str>,
    config: Arc<ServerConfig>,
    /// Of the leaf, for the expiry metric.
    pub(crate) not_after: i64,
    /// The Secret it came from.
    pub(crate) secret: SecretRef,
}

/// The certificates of one config, by the server names they serve.
#[derive(Default)]
pub(crate) struct Certificates {
    exact: HashMap<String, Arc<Site>>,
    /// `*.example.com` under `example.com`.
    wildcards: HashMap<String, Arc<Site>>,
    default: Option<Arc<Site>>,
    /// Every site once, for metrics.
    sites: Vec<Arc<Site>>,
}

impl Certificates {
    /// Loads every certificate of a config. A certificate whose values are
    /// not in the config (a proxy started from the ConfigMap snapshot) is
    /// left out until a push brings them; one that does not load is an
    /// error, and the config is refused.
    pub(crate) fn build(
        certificates: &[CertificateConfig],
        secrets: &[SecretEntry],
        store: &TlsStore,
    ) -> Result<Certificates, Vec<String>> {
        let mut built = Certificates::default();
        let mut errors = Vec::new();
        for (i, entry) in certificates.iter().enumerate() {
            match site(entry, secrets, store) {
                Ok(Some(site)) => built.add(entry, Arc::new(site)),
                Ok(None) => {
                    tracing::warn!(route = %entry.route, secret = %entry.chain, "the certificate's values are not in the config yet: its hosts get the default certificate until a push brings them")
                }
                Err(why) => {
                    errors.push(format!("certificates[{i}] (Route {}): {why}", entry.route))
                }
            }
        }
        match errors.is_empty() {
            true => Ok(built),
            false => Err(errors),
        }
    }

    fn add(&mut self, entry: &CertificateConfig, site: Arc<Site>) {
        for host in &entry.hosts {
            let host = host.to_ascii_lowercase();
            match host.strip_prefix("*.") {
                Some(domain) => self.wildcards.insert(domain.to_owned(), site.clone()),
                None => self.exact.insert(host, site.clone()),
            };
        }
        if entry.default {
            self.default = Some(site.clone());
        }
        self.sites.push(site);
    }

    /// The certificate for a server name: exact, then the longest
    /// wildcard (`*.example.com` covers `a.example.com` and
    /// `a.b.example.com`, as Route hostnames do), then the default.
    pub(crate) fn find(&self, server_name: Option<&str>) -> Option<&Arc<Site>> {
        let Some(name) = server_name else {
            return self.default.as_ref();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(site) = self.exact.get(&name) {
            return Some(site);
        }
        let mut rest = name.as_str();
        while let Some((_, domain)) = rest.split_once('.') {
            if let Some(site) = self.wildcards.get(domain) {
                return Some(site);
            }
            rest = domain;
        }
        self.default.as_ref()
    }

    pub(crate) fn sites(&self) -> &[Arc<Site>] {
        &self.sites
    }
}

/// The value of a secret the config lists.
fn value<'a>(secrets: &'a [SecretEntry], source: &SecretRef) -> Option<&'a str> {
    secrets
        .iter()
        .find(|s| &s.source == source)
        .and_then(|s| s.value.as_ref())
        .map(|v| v.expose())
}

fn site(
    entry: &CertificateConfig,
    secrets: &[SecretEntry],
    store: &TlsStore,
) -> Result<Option<Site>, String> {
    let (Some(chain), Some(key)) = (value(secrets, &entry.chain), value(secrets, &entry.key))
    else {
        return Ok(None);
    };
    let loaded = certificate::load(chain, key, &store.provider)?;
    let builder = ServerConfig::builder_with_provider(store.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| format!("no TLS version to offer: {err}"))?;
    // The client CA, from a Secret's value or carried as it is.
    let client_ca = match (&entry.client_ca, &entry.client_ca_bundle) {
        (Some(source), _) => match value(secrets, source) {
            Some(bundle) => Some((bundle, source.to_string())),
            // Never served without the check the Route asked for.
            None => return Ok(None),
        },
        (None, Some(bundle)) => Some((bundle.as_str(), "clientCaBundle".to_owned())),
        (None, None) => None,
    };
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some((bundle, what)) => {
            let roots = certificate::trust_anchors(bundle, &what)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                store.provider.clone(),
            )
            .build()
            .map_err(|err| format!("{what}: {err}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(Fixed(loaded.key)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = store.sessions.clone();
    if let Some(tickets) = &store.tickets {
        config.ticketer = tickets.clone();
    }
    Ok(Some(Site {
        route: entry.route.as_str().into(),
        config: Arc::new(config),
        not_after: loaded.leaf.not_after,
        secret: entry.chain.clone(),
    }))
}

/// One certificate, whatever the ClientHello says (the choice was made
/// before: `Certificates::find`).
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
