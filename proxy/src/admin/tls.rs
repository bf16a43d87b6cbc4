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

use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates("--admin-tls-cert", cert)?;
    let private_key = private_key(key)?;
    check_pair(&chain, &private_key, cert, key, &provider)?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS 1.2 and 1.3 with ring")?;
    let builder = match client_ca {
        Some(path) => {
            let roots = trust_anchors(path)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .with_context(|| format!("--admin-client-ca {}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, private_key)
        .with_context(|| {
            format!(
                "--admin-tls-cert {} with --admin-tls-key {}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(AdminTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        client_ca: client_ca.is_some(),
    })
}

fn read(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag} {}: cannot read", path.display()))
}

/// Every `CERTIFICATE` block of a PEM file, in order; at least one.
fn certificates(flag: &str, path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = read(flag, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            anyhow::anyhow!(
                "{flag} {}: not a PEM certificate file: {err}",
                path.display()
            )
        })?;
    if certs.is_empty() {
        bail!(
            "{flag} {}: no certificate in it: give a PEM file with `-----BEGIN CERTIFICATE-----` blocks",
            path.display()
        );
    }
    Ok(certs)
}

/// The first private key of a PEM file: PKCS#8, SEC1 (`EC PRIVATE KEY`) or
/// PKCS#1 (`RSA PRIVATE KEY`), as `openssl` and cert-manager write them.
fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = read("--admin-tls-key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| match err {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "--admin-tls-key {}: no private key in it: give the PEM key (`-----BEGIN PRIVATE KEY-----`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`) of --admin-tls-cert",
            path.display()
        ),
        err => anyhow::anyhow!(
            "--admin-tls-key {}: not a PEM private key file: {err}",
            path.display()
        ),
    })
}

/// The key must be the certificate's: checked here, where both files can be
/// named, instead of failing every handshake later.
fn check_pair(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<()> {
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|err| {
            anyhow::anyhow!(
                "--admin-tls-key {}: the key cannot be used ({err}): give an ECDSA (P-256, P-384), Ed25519 or RSA key",
                key_path.display()
            )
        })?;
    match CertifiedKey::new(chain.to_vec(), signing_key).keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => bail!(
            "--admin-tls-key {} is not the key of the certificate in --admin-tls-cert {}: give the key the certificate was made for",
            key_path.display(),
            cert_path.display()
        ),
        // A key type whose public half rustls cannot derive: the
        // handshake will tell.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(err) => bail!(
            "--admin-tls-cert {}: the first certificate cannot be read ({err}): give a PEM X.509 certificate",
            cert_path.display()
        ),
    }
}

/// `--admin-client-ca`: the CAs whose certificates may use the admin API.
fn trust_anchors(path: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for (n, cert) in certificates("--admin-client-ca", path)?
        .into_iter()
        .enumerate()
    {
        roots.add(cert).map_err(|err| {
            anyhow::anyhow!(
                "--admin-client-ca {}: certificate {} cannot be a trust anchor: {err}",
                path.display(),
                n + 1
            )
        })?;
    }
    Ok(roots)
}
