//! The admin API over TLS (`--admin-tls-cert`/`--admin-tls-key`), and
//! mutual TLS with `--admin-client-ca`.
//!
//! Why: in a cluster the operator pushes configs to each proxy's Pod IP,
//! across the Pod network. There a bearer token in plain HTTP can be read
//! (and replayed) by whatever sees the packets, and the operator cannot
//! tell the proxy from an impostor. TLS keeps the token and the config's
//! secret values private and proves the proxy to the operator; with a
//! client CA the operator's certificate is the credential, checked in the
//! handshake, so nothing without one reaches the API at all.
//!
//! It is kept apart from the traffic listener's TLS (`server/`): one
//! certificate read once at start from files (a mounted Secret), a private
//! CA, client certificates, HTTP/1.1 only; no SNI, no reloads. The files
//! are checked whole here, so a bad one stops the start with its flag, its
//! file and what is wrong, never the first handshake.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// The admin port's TLS, made once at start.
pub(crate) struct AdminTls {
    pub acceptor: TlsAcceptor,
    /// A client certificate signed by `--admin-client-ca` is required: a
    /// connection that got through the handshake is authenticated.
    pub client_ca: bool,
}

/// Reads the PEM files the flags name and builds the server's config:
/// TLS 1.3 and 1.2, ring's algorithms, HTTP/1.1 by ALPN.
pub(crate) fn load(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<AdminTls> {
    // ring, named here rather than installed process-wide: nothing else
    // in the process is changed by the admin port's TLS.
    let provider = gatehouse_api::certificate::provider();
    let named = |flag: &str, path: &Path| format!("{flag} {}", path.display());
    let (cert_name, key_name) = (
        named("--admin-tls-cert", cert),
        named("--admin-tls-key", key),
    );
    let loaded = gatehouse_api::certificate::load_named(
        (&read(&cert_name, cert)?, &cert_name),
        (&read(&key_name, key)?, &key_name),
        &provider,
    )
    .map_err(anyhow::Error::msg)?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS 1.2 and 1.3 with ring")?;
    let builder = match client_ca {
        Some(path) => {
            let name = named("--admin-client-ca", path);
            let roots = gatehouse_api::certificate::trust_anchors(&read(&name, path)?, &name)
                .map_err(anyhow::Error::msg)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .with_context(|| name.clone())?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(loaded.key)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(AdminTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        client_ca: client_ca.is_some(),
    })
}

/// A file's text; `what` is its flag and path.
fn read(what: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{what}: cannot read"))
}
