//! Certificates for TLS tests, and a rustls client that trusts them.
//!
//! Made at run time by the `openssl` command (Debian's `openssl` package)
//! into a temp folder, so no private key is ever committed and no test
//! depends on a date: a CA, server certificates with SANs and client
//! certificates signed by it, all ECDSA P-256, valid from now for two days.
//! `openssl` rather than a Rust generator: the certificates are made as a
//! user (or the chart's `openssl`/cert-manager steps) would make them, and
//! both TLS stacks, rustls and curl's OpenSSL, read them.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::TempDir;

/// A certificate and its private key, as PEM files.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    /// The certificate's DER, as a server sends it in its handshake.
    pub fn der(&self) -> Vec<u8> {
        CertificateDer::from_pem_file(&self.cert)
            .expect("certificate PEM")
            .to_vec()
    }
}

/// A certificate authority in a temp folder of its own (removed on drop:
/// keep it while its files are used).
pub struct TestCa {
    dir: TempDir,
    ca: Issued,
}

impl TestCa {
    /// A new self-signed CA whose subject is `CN=<name>`.
    pub fn new(name: &str) -> TestCa {
        let dir = TempDir::new(&format!("pki-{name}"));
        let key = new_key(&dir, "ca");
        let config = dir.write(
            "ca.cnf",
            "[req]\ndistinguished_name = dn\n[dn]\n[v3]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n",
        );
        let cert = dir.join("ca.pem");
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            text(&key),
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "2",
            "-config",
            text(&config),
            "-extensions",
            "v3",
            "-out",
            text(&cert),
        ]);
        TestCa {
            dir,
            ca: Issued { cert, key },
        }
    }

    /// The CA's certificate (PEM): what a peer trusts.
    pub fn cert(&self) -> &Path {
        &self.ca.cert
    }

    /// A server certificate for `names`: each an IP address (`127.0.0.1`)
    /// or a DNS name, all in its subjectAltName.
    pub fn server(&self, file: &str, names: &[&str]) -> Issued {
        self.server_for_days(file, names, 2)
    }

    /// A server certificate for `names` valid from now for `days` days
    /// (one nearing its expiry, one that needs no renewal for months).
    pub fn server_for_days(&self, file: &str, names: &[&str], days: u32) -> Issued {
        let sans: Vec<String> = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(_) => format!("IP:{name}"),
                Err(_) => format!("DNS:{name}"),
            })
            .collect();
        let cn = names.first().copied().unwrap_or(file);
        self.issue_for(
            file,
            cn,
            &format!(
                "extendedKeyUsage = serverAuth\nsubjectAltName = {}\n",
                sans.join(", ")
            ),
            &days.to_string(),
        )
    }

    /// A server certificate for `names` that expired a day ago.
    pub fn expired_server(&self, file: &str, names: &[&str]) -> Issued {
        let sans: Vec<String> = names.iter().map(|name| format!("DNS:{name}")).collect();
        let extensions = format!(
            "extendedKeyUsage = serverAuth\nsubjectAltName = {}\n",
            sans.join(", ")
        );
        self.issue_for(file, names[0], &extensions, "-1")
    }

    /// A client certificate whose subject is `CN=<name>`.
    pub fn client(&self, file: &str, name: &str) -> Issued {
        self.issue(file, name, "extendedKeyUsage = clientAuth\n")
    }

    fn issue(&self, file: &str, cn: &str, extensions: &str) -> Issued {
        self.issue_for(file, cn, extensions, "2")
    }

    /// `days` as `openssl x509 -days` takes it: `-1` ends a day ago.
    fn issue_for(&self, file: &str, cn: &str, extensions: &str, days: &str) -> Issued {
        let key = new_key(&self.dir, file);
        let request_config = self
            .dir
            .write("req.cnf", "[req]\ndistinguished_name = dn\n[dn]\n");
        let csr = self.dir.join(&format!("{file}.csr"));
        openssl(&[
            "req",
            "-new",
            "-key",
            text(&key),
            "-subj",
            &format!("/CN={cn}"),
            "-config",
            text(&request_config),
            "-out",
            text(&csr),
        ]);
        let ext = self.dir.write(
            &format!("{file}.ext"),
            &format!(
                "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n{extensions}"
            ),
        );
        let cert = self.dir.join(&format!("{file}.pem"));
        // A random serial: two certificates of one CA never share one.
        let serial = format!("0x{:016x}{:016x}", random_u64(), random_u64());
        openssl(&[
            "x509",
            "-req",
            "-in",
            text(&csr),
            "-CA",
            text(&self.ca.cert),
            "-CAkey",
            text(&self.ca.key),
            "-set_serial",
            &serial,
            "-days",
            days,
            "-extfile",
            text(&ext),
            "-out",
            text(&cert),
        ]);
        Issued { cert, key }
    }
}

/// A P-256 key in PKCS#8 PEM (`BEGIN PRIVATE KEY`), as `openssl genpkey`
/// writes it.
fn new_key(dir: &TempDir, name: &str) -> PathBuf {
    let key = dir.join(&format!("{name}.key"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        text(&key),
    ]);
    key
}

/// A path as the text `openssl` is given (temp folders are UTF-8).
fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install it (Debian's `openssl` package)")
        });
    assert!(
        output.status.success(),
        "openssl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std's SipHash keys are random per process and per `RandomState`.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish() >> 1
}

/// A rustls client config (ring, TLS 1.2 and 1.3) trusting only `ca`,
/// showing `identity` when the server asks for a certificate.
pub fn client_config(ca: &Path, identity: Option<&Issued>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file readable") {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's protocol versions")
        .with_root_certificates(roots);
    match identity {
        Some(issued) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(&issued.cert)
                    .expect("certificate file readable")
                    .collect::<Result<_, _>>()
                    .expect("certificate PEM"),
                PrivateKeyDer::from_pem_file(&issued.key).expect("key PEM"),
            )
            .expect("certificate and key match"),
        None => builder.with_no_client_auth(),
    }
}

/// One HTTP/1.1 request over TLS to `addr`, verified as `server_name`:
/// the response read to its end (send `Connection: close`), or the first
/// error, the handshake's included. `request` is sent as written.
pub async fn https_exchange(
    addr: SocketAddr,
    server_name: &str,
    config: rustls::ClientConfig,
    request: &str,
) -> io::Result<String> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.write_all(request.as_bytes()).await?;
    tls.flush().await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The leaf certificate (DER) `addr` serves to a handshake naming
/// `server_name`, verified by `config`: the handshake's error otherwise.
/// Give each call a new `config`: one resumes its earlier sessions, and a
/// resumed handshake carries no certificate.
pub async fn served_certificate(
    addr: SocketAddr,
    server_name: &str,
    config: rustls::ClientConfig,
) -> io::Result<Vec<u8>> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tcp = TcpStream::connect(addr).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let (_, connection) = tls.get_ref();
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec())
        .ok_or_else(|| io::Error::other("the server sent no certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl verify` agrees: each certificate chains to its CA, for its
    /// purpose, and the server's names are in its subjectAltName.
    #[test]
    fn certificates_chain_to_their_ca_for_their_purpose() {
        let ca = TestCa::new("kit");
        let server = ca.server("server", &["admin.test", "127.0.0.1"]);
        let client = ca.client("client", "someone");
        let verify = |cert: &Path, purpose: &str| {
            let output = Command::new("openssl")
                .args(["verify", "-CAfile", text(ca.cert()), "-purpose", purpose])
                .arg(cert)
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr)
        };
        assert!(verify(&server.cert, "sslserver").ends_with(": OK\n"));
        assert!(verify(&client.cert, "sslclient").ends_with(": OK\n"));
        assert!(!verify(&client.cert, "sslserver").ends_with(": OK\n"));
        let other = TestCa::new("kit-other");
        let stranger = other.client("stranger", "someone");
        let refused = verify(&stranger.cert, "sslclient");
        assert!(refused.contains("unable to get local issuer"), "{refused}");
        let text_form = Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&server.cert)
            .output()
            .unwrap();
        let sans = String::from_utf8_lossy(&text_form.stdout);
        assert!(
            sans.contains("DNS:admin.test, IP Address:127.0.0.1"),
            "{sans}"
        );
        // rustls reads them.
        client_config(ca.cert(), Some(&client));
    }
}
