//! The client of the proxies' admin API: plain HTTP, or TLS with
//! `--admin-ca-file` (mutual TLS with `--admin-client-cert/-key`).
//!
//! In Kubernetes the CA, the client certificate and the token are Secrets
//! mounted as files into the operator's Pod, so files are how the operator
//! trusts them: the chart mounts them and passes these flags.
//!
//! A Pod IP is in no certificate, so the proxies' certificates are verified
//! as one DNS name, `--admin-server-name` (`gatehouse-proxy-admin`), which
//! the chart's admin certificate must carry, while the connection goes to
//! the Pod's IP.
//!
//! hyper's client with hyper-rustls and ring, both already here for kube:
//! reqwest's rustls needs aws-lc-rs, or (`rustls-no-provider`) a crypto
//! provider installed process-wide before any reqwest client of any crate
//! built alongside is made, or that client panics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};

use super::RunArgs;

/// The name verified in the proxies' admin certificates unless
/// `--admin-server-name` says otherwise.
pub(crate) const DEFAULT_SERVER_NAME: &str = "gatehouse-proxy-admin";

/// What the TLS flags name.
#[derive(Clone, Debug)]
pub(super) struct TlsFiles {
    /// `--admin-ca-file`: the CA(s) the proxies' certificates chain to.
    pub ca: PathBuf,
    /// `--admin-server-name`.
    pub server_name: String,
    /// `--admin-client-cert` and `--admin-client-key`.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// One answer of a proxy's admin API.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

enum Transport {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

pub(super) struct AdminClient {
    transport: Transport,
    token: Option<String>,
    /// For one request, its answer's body included.
    timeout: Duration,
}

impl TlsFiles {
    /// What `--admin-ca-file` and the flags beside it name; none without a CA.
    pub(super) fn from_args(args: &RunArgs) -> Option<TlsFiles> {
        Some(TlsFiles {
            ca: args.admin_ca_file.clone()?,
            server_name: args.admin_server_name.clone(),
            client: args
                .admin_client_cert
                .clone()
                .zip(args.admin_client_key.clone()),
        })
    }
}

impl AdminClient {
    /// The client the flags describe, its files read now (a bad one stops
    /// the start with its flag), the token sent where the API asks for it.
    pub(super) fn from_args(args: &RunArgs, token: Option<String>) -> anyhow::Result<AdminClient> {
        AdminClient::new(TlsFiles::from_args(args).as_ref(), token, args.push_timeout)
    }

    pub(super) fn new(
        tls: Option<&TlsFiles>,
        token: Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<AdminClient> {
        let transport = match tls {
            None => {
                Transport::Plain(Client::builder(TokioExecutor::new()).build(HttpConnector::new()))
            }
            Some(files) => {
                let name = ServerName::try_from(files.server_name.clone()).map_err(|err| {
                    anyhow::anyhow!(
                        "--admin-server-name {:?}: {err}: give the DNS name the proxies' admin certificates carry",
                        files.server_name
                    )
                })?;
                let connector = HttpsConnectorBuilder::new()
                    .with_tls_config(client_config(files)?)
                    // TLS only: no push goes out in clear once a CA is given.
                    .https_only()
                    .with_server_name_resolver(FixedServerNameResolver::new(name))
                    .enable_http1()
                    .build();
                Transport::Tls(Client::builder(TokioExecutor::new()).build(connector))
            }
        };
        Ok(AdminClient {
            transport,
            token,
            timeout,
        })
    }

    /// `http://` or `https://`, before a Pod's `ip:port`.
    pub(super) fn scheme(&self) -> &'static str {
        match self.transport {
            Transport::Plain(_) => "http",
            Transport::Tls(_) => "https",
        }
    }

    /// `GET` a path of the admin API at `authority` (`ip:port`).
    pub(super) async fn get(
        &self,
        authority: &str,
        path: &str,
        with_token: bool,
    ) -> Result<Answer, String> {
        self.send(Method::GET, authority, path, with_token, None)
            .await
    }

    /// `PUT` JSON to a path of the admin API, with the token.
    pub(super) async fn put_json(
        &self,
        authority: &str,
        path: &str,
        body: Bytes,
    ) -> Result<Answer, String> {
        self.send(Method::PUT, authority, path, true, Some(body))
            .await
    }

    async fn send(
        &self,
        method: Method,
        authority: &str,
        path: &str,
        with_token: bool,
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        let url = format!("{}://{authority}{path}", self.scheme());
        let mut request = Request::builder().method(method).uri(&url);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if with_token && let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("{url}: {e}"))?;
        let exchange = async {
            let response = match &self.transport {
                Transport::Plain(client) => client.request(request).await,
                Transport::Tls(client) => client.request(request).await,
            }
            .map_err(|e| describe(&e))?;
            let (head, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer {
                status: head.status,
                headers: head.headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }
}

/// The error with its causes: a TLS refusal ("invalid peer certificate:
/// UnknownIssuer") sits below hyper-util's "client error (Connect)".
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// ring, TLS 1.3 and 1.2, trusting only `--admin-ca-file`.
fn client_config(files: &TlsFiles) -> anyhow::Result<rustls::ClientConfig> {
    let provider = gatehouse_api::certificate::provider();
    let ca_name = format!("--admin-ca-file {}", files.ca.display());
    let roots = gatehouse_api::certificate::trust_anchors(&read(&ca_name, &files.ca)?, &ca_name)
        .map_err(anyhow::Error::msg)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS 1.2 and 1.3 with ring")?
        .with_root_certificates(roots);
    let Some((cert, key)) = &files.client else {
        return Ok(builder.with_no_client_auth());
    };
    let cert_name = format!("--admin-client-cert {}", cert.display());
    let chain = gatehouse_api::certificate::certificates(&read(&cert_name, cert)?, &cert_name)
        .map_err(anyhow::Error::msg)?;
    let key_name = format!("--admin-client-key {}", key.display());
    let pem = read(&key_name, key)?;
    let private_key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|err| {
        anyhow::anyhow!(
            "--admin-client-key {}: no PEM private key in it ({err}): give the key of --admin-client-cert",
            key.display()
        )
    })?;
    builder
        .with_client_auth_cert(chain, private_key)
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                anyhow::anyhow!(
                    "--admin-client-key {} is not the key of the certificate in --admin-client-cert {}: give the key the certificate was made for",
                    key.display(),
                    cert.display()
                )
            }
            err => anyhow::anyhow!(
                "--admin-client-cert {} with --admin-client-key {}: {err}",
                cert.display(),
                key.display()
            ),
        })
}

/// A file's text; `what` is its flag and path.
fn read(what: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{what}: cannot read"))
}

#[cfg(test)]
mod tests {
    //! The client the flags build, against a TLS admin endpoint with
    //! certificates `openssl` made: pushes go through `Proxies::push`, as
    //! the controller sends them.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use rustls::pki_types::CertificateDer;

    use clap::Parser;
    use gatehouse_api::ProxyConfig;
    use gatehouse_testkit::tls::{Issued, TestCa};
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;
    use crate::run::endpoints::Metrics;
    use crate::run::proxies::{Endpoint, Proxies};

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        run: RunArgs,
    }

    fn client_from(flags: &[&str], token: Option<&str>) -> anyhow::Result<AdminClient> {
        let flags = Flags::try_parse_from([&["gatehouse-operator"][..], flags].concat())
            .expect("the flags parse");
        AdminClient::from_args(&flags.run, token.map(str::to_owned))
    }

    fn text(path: &Path) -> &str {
        path.to_str().unwrap()
    }

    /// What a push to the stub carried: its revision, its `Authorization`,
    /// and whether the connection showed a client certificate.
    #[derive(Clone, Debug, PartialEq)]
    struct Push {
        revision: String,
        authorization: Option<String>,
        certificate: bool,
    }

    /// A proxy's admin API as far as a push goes: TLS with `server`; with
    /// `client_ca`, a client certificate it signed is required. `/readyz`
    /// names no revision, `PUT /config` answers with the pushed one.
    struct AdminStub {
        addr: SocketAddr,
        pushes: Arc<Mutex<Vec<Push>>>,
    }

    impl AdminStub {
        async fn start(server: &Issued, client_ca: Option<&Path>) -> AdminStub {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .unwrap();
            let builder = match client_ca {
                Some(ca) => {
                    let mut roots = rustls::RootCertStore::empty();
                    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
                        roots.add(cert.unwrap()).unwrap();
                    }
                    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    )
                    .build()
                    .unwrap();
                    builder.with_client_cert_verifier(verifier)
                }
                None => builder.with_no_client_auth(),
            };
            let config = builder
                .with_single_cert(
                    CertificateDer::pem_file_iter(&server.cert)
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap(),
                    PrivateKeyDer::from_pem_file(&server.key).unwrap(),
                )
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let pushes = Arc::new(Mutex::new(Vec::new()));
            let recorded = pushes.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let acceptor = acceptor.clone();
                    let recorded = recorded.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let certificate = tls.get_ref().1.peer_certificates().is_some();
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let recorded = recorded.clone();
                            async move {
                                let status = match (req.method().clone(), req.uri().path()) {
                                    (Method::PUT, "/config") => StatusCode::OK,
                                    _ => StatusCode::SERVICE_UNAVAILABLE,
                                };
                                let authorization = req
                                    .headers()
                                    .get(header::AUTHORIZATION)
                                    .map(|v| v.to_str().unwrap().to_owned());
                                let body = req.into_body().collect().await?.to_bytes();
                                let mut answer = String::new();
                                if status == StatusCode::OK {
                                    let config: serde_json::Value =
                                        serde_json::from_slice(&body).unwrap();
                                    let revision = config["revision"].as_str().unwrap().to_owned();
                                    answer =
                                        serde_json::json!({ "revision": revision }).to_string();
                                    recorded.lock().unwrap().push(Push {
                                        revision,
                                        authorization,
                                        certificate,
                                    });
                                }
                                let mut response =
                                    http::Response::new(Full::new(Bytes::from(answer)));
                                *response.status_mut() = status;
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
            AdminStub { addr, pushes }
        }

        fn endpoint(&self) -> Endpoint {
            Endpoint {
                name: "gatehouse/proxy-0 (uid)".into(),
                admin: self.addr.to_string(),
            }
        }

        fn pushes(&self) -> Vec<Push> {
            self.pushes.lock().unwrap().clone()
        }
    }

    async fn push(client: AdminClient, stub: &AdminStub) -> (bool, String) {
        let proxies = Proxies::new(client, Arc::new(Metrics::new()));
        let config = ProxyConfig::new(Vec::new());
        let pushed = proxies.push(&config, &[stub.endpoint()]).await;
        (pushed, config.revision)
    }

    #[tokio::test]
    async fn pushes_go_over_tls_to_the_name_the_certificate_carries() {
        let ca = TestCa::new("operator-tls");
        // No IP in it: the Pod's address is reached, the name verified.
        let server = ca.server("admin", &[DEFAULT_SERVER_NAME]);
        let stub = AdminStub::start(&server, None).await;
        let client = client_from(&["--admin-ca-file", text(ca.cert())], Some("s3cret"));
        let client = client.unwrap();
        assert_eq!(client.scheme(), "https");
        let (pushed, revision) = push(client, &stub).await;
        assert!(pushed);
        assert_eq!(
            stub.pushes(),
            [Push {
                revision,
                authorization: Some("Bearer s3cret".into()),
                certificate: false,
            }]
        );
    }

    #[tokio::test]
    async fn a_client_certificate_gets_through_mutual_tls() {
        let ca = TestCa::new("operator-mtls");
        let server = ca.server("admin", &["admin.gatehouse.test"]);
        let operator = ca.client("operator", "gatehouse-operator");
        let stub = AdminStub::start(&server, Some(ca.cert())).await;
        let flags = [
            "--admin-ca-file",
            text(ca.cert()),
            "--admin-server-name",
            "admin.gatehouse.test",
        ];

        // Without the certificate the proxy turns the operator away.
        let (pushed, _) = push(client_from(&flags, None).unwrap(), &stub).await;
        assert!(!pushed);
        assert_eq!(stub.pushes(), []);

        let with_cert = [
            &flags[..],
            &[
                "--admin-client-cert",
                text(&operator.cert),
                "--admin-client-key",
                text(&operator.key),
            ],
        ]
        .concat();
        let (pushed, revision) = push(client_from(&with_cert, None).unwrap(), &stub).await;
        assert!(pushed);
        assert_eq!(
            stub.pushes(),
            [Push {
                revision,
                authorization: None,
                certificate: true,
            }]
        );
    }

    #[tokio::test]
    async fn a_proxy_the_ca_did_not_sign_or_for_another_name_gets_nothing() {
        let ca = TestCa::new("operator-trust");
        let impostor_ca = TestCa::new("operator-impostor");
        let impostor = impostor_ca.server("admin", &[DEFAULT_SERVER_NAME]);
        let stub = AdminStub::start(&impostor, None).await;
        let client = client_from(&["--admin-ca-file", text(ca.cert())], None).unwrap();
        let answer = client.get(&stub.addr.to_string(), "/readyz", false).await;
        let err = answer.err().expect("refused");
        assert!(err.contains("UnknownIssuer"), "{err}");

        let elsewhere = ca.server("elsewhere", &["other-name"]);
        let stub = AdminStub::start(&elsewhere, None).await;
        let client = client_from(&["--admin-ca-file", text(ca.cert())], None).unwrap();
        let err = client
            .get(&stub.addr.to_string(), "/readyz", false)
            .await
            .err()
            .expect("refused");
        assert!(
            err.contains("not valid for name \"gatehouse-proxy-admin\""),
            "{err}"
        );
        assert_eq!(stub.pushes(), []);
    }

    #[tokio::test]
    async fn bad_files_are_named_at_start() {
        let ca = TestCa::new("operator-files");
        let operator = ca.client("operator", "gatehouse-operator");
        let other = ca.client("other", "other");
        let garbage = operator.cert.with_file_name("garbage.pem");
        std::fs::write(&garbage, "not PEM\n").unwrap();
        let err = |flags: &[&str]| match client_from(flags, None) {
            Ok(_) => panic!("built"),
            Err(err) => format!("{err:#}"),
        };
        let msg = err(&["--admin-ca-file", text(&garbage)]);
        assert!(
            msg.contains(&format!(
                "--admin-ca-file {}: no certificate",
                garbage.display()
            )),
            "{msg}"
        );
        let msg = err(&[
            "--admin-ca-file",
            text(ca.cert()),
            "--admin-client-cert",
            text(&operator.cert),
            "--admin-client-key",
            text(&other.key),
        ]);
        assert!(msg.contains("is not the key of the certificate"), "{msg}");
        // A client certificate needs its key and a CA to send it to.
        let parsed = Flags::try_parse_from([
            "gatehouse-operator",
            "--admin-client-cert",
            text(&operator.cert),
        ]);
        assert!(parsed.is_err());
    }
}
