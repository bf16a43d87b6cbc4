//! One TLS handshake: the ClientHello read, the certificate picked by its
//! server name from the config served at that moment, the handshake
//! finished within the header timeout, and what it said kept in the
//! connection's `Peer`.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_api::x509;
use http::HeaderValue;
use rustls::server::{Acceptor, ClientHello, ResolvesServerCert, ServerConfig};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::metrics::Refusal;
use crate::config::state::State;
use crate::server::peer::{Peer, TlsFacts};

/// Shakes hands with a client of `--listen-tls`; `None` when the handshake
/// fails (counted, logged at debug: clients that give up are common).
pub(crate) async fn accept(
    stream: TcpStream,
    peer: Peer,
    state: &State,
    timeout: Duration,
) -> Option<(TlsStream<TcpStream>, Peer)> {
    let store = &state.tls;
    let shaken = tokio::time::timeout(timeout, shake(stream, state)).await;
    let (stream, facts) = match shaken {
        Ok(Ok(done)) => done,
        Ok(Err(refusal)) => {
            store.metrics.refused(refusal);
            return None;
        }
        Err(_) => {
            store.metrics.refused(Refusal::Timeout);
            tracing::debug!(client = %peer.ip(), "TLS handshake not finished within the header timeout");
            return None;
        }
    };
    store.metrics.completed(&stream);
    Some((stream, peer.with_tls(facts)))
}

async fn shake(
    stream: TcpStream,
    state: &State,
) -> Result<(TlsStream<TcpStream>, TlsFacts), Refusal> {
    let start = LazyConfigAcceptor::new(Acceptor::default(), stream)
        .await
        .map_err(|err| {
            tracing::debug!(%err, "ClientHello refused");
            Refusal::of(&err)
        })?;
    let hello = start.client_hello();
    let server_name = hello.server_name().map(str::to_owned);
    let active = state.current();
    let site = active
        .as_ref()
        .and_then(|active| active.certificates.find(server_name.as_deref()).cloned());
    let Some(site) = site else {
        tracing::debug!(server_name = ?server_name, "no certificate for this server name, and no default: handshake refused");
        // The refusing config's resolver finds nothing, so rustls ends the
        // handshake with an alert rather than a silent close.
        let _ = start.into_stream(refusing()).await;
        return Err(Refusal::UnknownServerName);
    };
    let stream = start
        .into_stream(site.config.clone())
        .await
        .map_err(|err| {
            tracing::debug!(%err, server_name = ?server_name, "TLS handshake failed");
            Refusal::of(&err)
        })?;
    let (_, connection) = stream.get_ref();
    let client_subject = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| x509::parse(leaf).ok())
        .and_then(|facts| HeaderValue::from_bytes(facts.subject.as_bytes()).ok());
    let facts = TlsFacts {
        server_name,
        alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
        route: Some(site.route.clone()),
        client_subject,
    };
    Ok((stream, facts))
}

/// A config whose handshakes all end in an alert.
fn refusing() -> Arc<ServerConfig> {
    static REFUSING: std::sync::OnceLock<Arc<ServerConfig>> = std::sync::OnceLock::new();
    REFUSING
        .get_or_init(|| {
            let config =
                ServerConfig::builder_with_provider(gatehouse_api::certificate::provider())
                    .with_safe_default_protocol_versions()
                    .expect("ring offers TLS 1.2 and 1.3")
                    .with_no_client_auth()
                    .with_cert_resolver(Arc::new(NoCertificate));
            Arc::new(config)
        })
        .clone()
}

#[derive(Debug)]
struct NoCertificate;

impl ResolvesServerCert for NoCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}
