//! What TLS did, for Prometheus: handshakes by protocol and whether they
//! resumed a session, refusals by reason, and when each certificate
//! expires (`gatehouse_tls_certificate_expiry_timestamp_seconds`, for an
//! alert well before it does).

use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use rustls::HandshakeKind;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::Certificates;
use crate::observe::metrics::Metrics;

/// Why a handshake did not finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No certificate for the server name, and no default.
    UnknownServerName,
    /// The client offered no version, cipher suite or ALPN protocol we take
    /// (TLS 1.0 and 1.1 land here).
    NoCommonParameters,
    /// A client certificate was asked for and missing or not trusted.
    ClientCertificate,
    /// Not TLS, or broken TLS.
    Malformed,
    /// The client closed or the connection broke mid-handshake.
    Closed,
    /// Not finished within the header timeout.
    Timeout,
}

impl Refusal {
    pub(crate) fn of(err: &std::io::Error) -> Refusal {
        let Some(tls) = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        else {
            return Refusal::Closed;
        };
        match tls {
            rustls::Error::PeerIncompatible(_) | rustls::Error::NoApplicationProtocol => {
                Refusal::NoCommonParameters
            }
            rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_) => {
                Refusal::ClientCertificate
            }
            _ => Refusal::Malformed,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Refusal::UnknownServerName => "unknown_server_name",
            Refusal::NoCommonParameters => "no_common_parameters",
            Refusal::ClientCertificate => "client_certificate",
            Refusal::Malformed => "malformed",
            Refusal::Closed => "closed",
            Refusal::Timeout => "timeout",
        }
    }
}

pub(crate) struct TlsMetrics {
    handshakes: IntCounterVec,
    refused: IntCounterVec,
    expiry: IntGaugeVec,
}

impl TlsMetrics {
    pub(crate) fn new(metrics: &Metrics) -> TlsMetrics {
        let handshakes = IntCounterVec::new(
            Opts::new(
                "gatehouse_tls_handshakes_total",
                "TLS handshakes completed, by protocol version and whether a session was resumed",
            ),
            &["version", "resumed"],
        )
        .expect("valid metric");
        let refused = IntCounterVec::new(
            Opts::new(
                "gatehouse_tls_handshake_failures_total",
                "TLS handshakes that did not complete, by reason: unknown_server_name (no certificate and no default), no_common_parameters (version, cipher or ALPN), client_certificate, malformed, closed, timeout",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let expiry = IntGaugeVec::new(
            Opts::new(
                "gatehouse_tls_certificate_expiry_timestamp_seconds",
                "When each served certificate expires (its notAfter, Unix seconds), by the Secret it came from",
            ),
            &["namespace", "secret"],
        )
        .expect("valid metric");
        metrics.register(Box::new(handshakes.clone()));
        metrics.register(Box::new(refused.clone()));
        metrics.register(Box::new(expiry.clone()));
        TlsMetrics {
            handshakes,
            refused,
            expiry,
        }
    }

    pub(crate) fn refused(&self, refusal: Refusal) {
        self.refused.with_label_values(&[refusal.label()]).inc();
    }

    pub(crate) fn completed(&self, stream: &TlsStream<TcpStream>) {
        let (_, connection) = stream.get_ref();
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "other",
        };
        let resumed = match connection.handshake_kind() {
            Some(HandshakeKind::Resumed) => "true",
            _ => "false",
        };
        self.handshakes.with_label_values(&[version, resumed]).inc();
    }

    /// The expiry of exactly the certificates now served.
    pub(crate) fn served(&self, certificates: &Certificates) {
        self.expiry.reset();
        for site in certificates.sites() {
            self.expiry
                .with_label_values(&[site.secret.namespace.as_str(), site.secret.name.as_str()])
                .set(site.not_after);
        }
    }
}
