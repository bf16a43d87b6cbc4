//! A certificate and its key as a TLS server loads them: PEM read, the key
//! loaded by the crypto provider and matched against the certificate, and
//! the leaf's facts (validity, names). The operator, local mode and the
//! proxy all load through here, so a Secret refused at compile is refused
//! with the words the proxy would use, and one accepted loads.
//!
//! The provider is rustls's `ring`: kube's client builds it already, and
//! `docs/tls.md` says what was measured against aws-lc-rs.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::x509::{self, CertificateFacts};

/// Where a certificate's chain and key are in a `kubernetes.io/tls` Secret.
pub const CHAIN_KEY: &str = "tls.crt";
pub const KEY_KEY: &str = "tls.key";
/// Where a CA bundle is by default (cert-manager writes it there).
pub const CA_KEY: &str = "ca.crt";

/// The one crypto provider Gatehouse uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain with its key, ready to serve.
#[derive(Debug)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    /// The leaf's facts.
    pub leaf: CertificateFacts,
}

/// Loads a `kubernetes.io/tls` Secret's PEM chain (leaf first) and PEM
/// private key. The error says which of the two is wrong, and how to fix it.
pub fn load(chain_pem: &str, key_pem: &str, provider: &CryptoProvider) -> Result<Loaded, String> {
    load_named((chain_pem, CHAIN_KEY), (key_pem, KEY_KEY), provider)
}

/// As `load`, each text with the name its errors give it (a Secret's key,
/// a flag and its file).
pub fn load_named(
    (chain_pem, chain_name): (&str, &str),
    (key_pem, key_name): (&str, &str),
    provider: &CryptoProvider,
) -> Result<Loaded, String> {
    let chain = certificates(chain_pem, chain_name)?;
    let leaf = x509::parse(&chain[0])
        .map_err(|why| format!("{chain_name}: its first certificate cannot be read: {why}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
        format!("{key_name}: no private key in it: give the certificate's PEM key (`-----BEGIN PRIVATE KEY-----`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`)")
    })?;
    let signing = provider.key_provider.load_private_key(key).map_err(|err| {
        format!("{key_name}: the key cannot be used ({err}): give an ECDSA (P-256, P-384), Ed25519 or RSA key")
    })?;
    let key = CertifiedKey::new(chain, signing);
    match key.keys_match() {
        // A key whose public half rustls cannot derive: the handshake tells.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(format!(
                "{key_name} is not the key of the certificate in {chain_name} (whose subject is `{}`): give the key it was made for, and put the server's own certificate first in {chain_name}, its intermediates after it",
                leaf.subject
            ));
        }
    }
    Ok(Loaded {
        key: Arc::new(key),
        leaf,
    })
}

/// Every certificate of a PEM bundle, at least one; `what` names it in
/// the error (`tls.crt`, `--admin-ca-file ca.pem`).
pub fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut found = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        match item {
            Ok(cert) => found.push(cert),
            Err(err) => return Err(format!("{what}: not valid PEM: {err}")),
        }
    }
    if found.is_empty() {
        return Err(format!(
            "{what}: no certificate in it: give PEM `-----BEGIN CERTIFICATE-----` blocks"
        ));
    }
    Ok(found)
}

/// A CA bundle as the trust anchors a verifier takes.
pub fn trust_anchors(pem: &str, what: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (n, ca) in certificates(pem, what)?.into_iter().enumerate() {
        roots.add(ca).map_err(|err| {
            format!(
                "{what}: certificate {} cannot be a trust anchor: {err}",
                n + 1
            )
        })?;
    }
    Ok(roots)
}

/// Whether a certificate's DNS names cover `host` (exact, or its
/// wildcard one label deep, as browsers check; a `*.` host is covered by
/// the same wildcard).
pub fn covers(dns_names: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    dns_names.iter().any(|name| {
        let name = name.to_ascii_lowercase();
        if name == host {
            return true;
        }
        match (name.strip_prefix("*."), host.split_once('.')) {
            (Some(domain), Some((label, rest))) => {
                label != "*" && !label.is_empty() && rest == domain
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_covers_one_label() {
        let names = vec!["*.example.com".to_owned(), "example.com".to_owned()];
        assert!(covers(&names, "shop.example.com"));
        assert!(covers(&names, "Example.COM"));
        assert!(covers(&names, "*.example.com"));
        assert!(!covers(&names, "a.b.example.com"));
        assert!(!covers(&names, "example.org"));
    }

    #[test]
    fn text_without_a_certificate_is_said_to_be_so() {
        let err = certificates("hello", "tls.crt").unwrap_err();
        assert!(err.starts_with("tls.crt: no certificate in it"), "{err}");
        let err = load("", "", &rustls::crypto::ring::default_provider()).unwrap_err();
        assert!(err.starts_with("tls.crt: no certificate in it"), "{err}");
    }
}
