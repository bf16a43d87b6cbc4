//! The admin channel off loopback: refused at start when nothing would
//! authenticate it; TLS with `--admin-tls-cert/-key`, and client
//! certificates with `--admin-client-ca`. Certificates are made by
//! `openssl` for each test (`gatehouse_testkit::tls`); the clients are
//! rustls and curl (OpenSSL).

use std::path::Path;

use clap::Parser;
use gatehouse_proxy::{Running, Settings};
use gatehouse_testkit::tls::{Issued, TestCa, client_config, https_exchange};
use gatehouse_testkit::{TempDir, client};

use crate::support::*;

/// The name the chart's admin certificate carries, and the operator checks.
const SERVER_NAME: &str = "gatehouse-proxy-admin";

/// A CA and its admin server certificate (for the name and 127.0.0.1).
fn server_pki(label: &str) -> (TestCa, Issued) {
    let ca = TestCa::new(label);
    let server = ca.server("admin", &[SERVER_NAME, "127.0.0.1"]);
    (ca, server)
}

async fn start_tls(server: &Issued, client_ca: Option<&Path>, token: Option<&Path>) -> Running {
    start_proxy(|s| {
        s.admin_tls_cert = Some(server.cert.clone());
        s.admin_tls_key = Some(server.key.clone());
        s.admin_client_ca = client_ca.map(Path::to_owned);
        s.admin_token_file = token.map(Path::to_owned);
    })
    .await
}

/// The start's error, as the binary prints it.
async fn start_error(adjust: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings::for_tests();
    adjust(&mut settings);
    match gatehouse_proxy::start(&settings).await {
        Ok(_) => panic!("the proxy started"),
        Err(err) => format!("{err:#}"),
    }
}

/// `method path` over rustls, verified as [`SERVER_NAME`].
async fn request(
    proxy: &Running,
    config: rustls::ClientConfig,
    head: &str,
) -> std::io::Result<String> {
    https_exchange(
        proxy.admin_addr,
        SERVER_NAME,
        config,
        &format!("{head}\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// `curl -sS` with `args`; its exit code and what it printed (stdout, then stderr).
async fn curl(args: &[&str]) -> (i32, String) {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .await
        .expect("curl runs (Debian's `curl` package)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn beyond_loopback_nothing_unauthenticated_starts() {
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9901"] {
        let err = start_error(|s| s.admin_listen = listen.parse().unwrap()).await;
        assert!(
            err.contains(&format!("--admin-listen {listen} is beyond loopback")),
            "{err}"
        );
        assert!(err.contains("--admin-token-file"), "{err}");
        assert!(err.contains("127.0.0.1"), "{err}");
    }
    // TLS alone proves the proxy, not the client: still refused.
    let (_ca, server) = server_pki("no-auth");
    let err = start_error(|s| {
        s.admin_listen = "0.0.0.0:0".parse().unwrap();
        s.admin_tls_cert = Some(server.cert.clone());
        s.admin_tls_key = Some(server.key.clone());
    })
    .await;
    assert!(err.contains("beyond loopback"), "{err}");
    assert!(err.contains("--admin-client-ca"), "{err}");
}

#[tokio::test]
async fn tls_admin_answers_clients_that_trust_its_ca() {
    let (ca, server) = server_pki("serves");
    let proxy = start_tls(&server, None, None).await;

    let answer = request(
        &proxy,
        client_config(ca.cert(), None),
        "GET /healthz HTTP/1.1",
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("200 OK: alive\n"), "{answer}");

    // curl (OpenSSL) by IP, from the certificate's IP SAN; TLS 1.2 too.
    let url = format!("https://{}/healthz", proxy.admin_addr);
    let (code, out) = curl(&["--cacert", text(ca.cert()), &url]).await;
    assert_eq!((code, out.as_str()), (0, "200 OK: alive\n"));
    let (code, out) = curl(&["--cacert", text(ca.cert()), "--tls-max", "1.2", &url]).await;
    assert_eq!((code, out.as_str()), (0, "200 OK: alive\n"));

    // A client trusting another CA refuses the proxy.
    let other = TestCa::new("other");
    let refused = request(
        &proxy,
        client_config(other.cert(), None),
        "GET /healthz HTTP/1.1",
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_nothing() {
    let (ca, server) = server_pki("plain");
    let proxy = start_tls(&server, None, None).await;
    let plain = client()
        .get(format!("http://{}/healthz", proxy.admin_addr))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // The port still serves TLS afterwards.
    let url = format!("https://127.0.0.1:{}/healthz", proxy.admin_addr.port());
    let (code, out) = curl(&["--cacert", text(ca.cert()), &url]).await;
    assert_eq!((code, out.as_str()), (0, "200 OK: alive\n"));
}

#[tokio::test]
async fn the_token_is_still_required_over_tls_without_a_client_ca() {
    let (ca, server) = server_pki("token");
    let dir = TempDir::new("admin-token");
    let token = dir.write("token", "s3cret\n");
    let proxy = start_tls(&server, None, Some(&token)).await;
    let denied = request(
        &proxy,
        client_config(ca.cert(), None),
        "GET /config HTTP/1.1",
    )
    .await
    .unwrap();
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let allowed = request(
        &proxy,
        client_config(ca.cert(), None),
        "GET /config HTTP/1.1\r\nAuthorization: Bearer s3cret",
    )
    .await
    .unwrap();
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
}

#[tokio::test]
async fn with_a_client_ca_its_certificates_get_in_without_a_token() {
    let (ca, server) = server_pki("mtls");
    let operator = ca.client("operator", "gatehouse-operator");
    let stranger_ca = TestCa::new("stranger");
    let stranger = stranger_ca.client("stranger", "gatehouse-operator");
    let dir = TempDir::new("admin-mtls");
    // The token stays set: a certificate stands in for it.
    let token = dir.write("token", "s3cret\n");
    let proxy = start_tls(&server, Some(ca.cert()), Some(&token)).await;

    // No certificate: the handshake is refused (in TLS 1.3 the client
    // hears it with its first read), health included.
    let refused = request(
        &proxy,
        client_config(ca.cert(), None),
        "GET /healthz HTTP/1.1",
    )
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("CertificateRequired"),
        "{refused}"
    );
    // A certificate from another CA is refused.
    let refused = request(
        &proxy,
        client_config(ca.cert(), Some(&stranger)),
        "GET /healthz HTTP/1.1",
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("UnknownCA"), "{refused}");

    // The CA's client certificate: pushes and reads, no token.
    let config = dir.write("config.json", r#"{"routes": []}"#);
    let url = format!("https://{}/config", proxy.admin_addr);
    let with_cert = [
        "--cacert",
        text(ca.cert()),
        "--cert",
        text(&operator.cert),
        "--key",
        text(&operator.key),
    ];
    let (code, out) = curl(
        &[
            &with_cert[..],
            &[
                "-X",
                "PUT",
                "-H",
                "content-type: application/json",
                "--data-binary",
                &format!("@{}", text(&config)),
                "-w",
                "\n%{http_code}",
                &url,
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("\n200"), "{out}");
    assert!(out.contains("\"revision\""), "{out}");
    let answer = request(
        &proxy,
        client_config(ca.cert(), Some(&operator)),
        "GET /config HTTP/1.1",
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // curl without a certificate is turned away too.
    let (code, out) = curl(&["--cacert", text(ca.cert()), &url]).await;
    assert_ne!(code, 0, "{out}");
}

#[tokio::test]
async fn bad_tls_files_stop_the_start_naming_them() {
    let (ca, server) = server_pki("bad-files");
    let other = ca.server("other", &[SERVER_NAME]);
    let dir = TempDir::new("admin-bad-files");
    let garbage = dir.write("garbage.pem", "not a certificate\n");
    let tls = |s: &mut Settings, cert: &Path, key: &Path| {
        s.admin_tls_cert = Some(cert.to_owned());
        s.admin_tls_key = Some(key.to_owned());
    };

    let err = start_error(|s| tls(s, &server.cert, &other.key)).await;
    assert!(
        err.contains(&format!(
            "--admin-tls-key {} is not the key of the certificate in --admin-tls-cert {}",
            other.key.display(),
            server.cert.display()
        )),
        "{err}"
    );
    let err = start_error(|s| tls(s, &garbage, &server.key)).await;
    assert!(
        err.contains(&format!(
            "--admin-tls-cert {}: no certificate",
            garbage.display()
        )),
        "{err}"
    );
    let err = start_error(|s| tls(s, &server.cert, &garbage)).await;
    assert!(
        err.contains(&format!(
            "--admin-tls-key {}: no private key",
            garbage.display()
        )),
        "{err}"
    );
    let missing = dir.join("missing.pem");
    let err = start_error(|s| tls(s, &missing, &server.key)).await;
    assert!(
        err.contains(&format!(
            "--admin-tls-cert {}: cannot read",
            missing.display()
        )),
        "{err}"
    );
    let err = start_error(|s| {
        tls(s, &server.cert, &server.key);
        s.admin_client_ca = Some(garbage.clone());
    })
    .await;
    assert!(
        err.contains(&format!(
            "--admin-client-ca {}: no certificate",
            garbage.display()
        )),
        "{err}"
    );
}

#[test]
fn tls_flags_come_together() {
    let parse = |args: &[&str]| {
        Settings::try_parse_from([&["gatehouse-proxy"][..], args].concat())
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let err = parse(&["--admin-tls-cert", "c.pem"]).unwrap_err();
    assert!(err.contains("--admin-tls-key"), "{err}");
    let err = parse(&["--admin-tls-key", "k.pem"]).unwrap_err();
    assert!(err.contains("--admin-tls-cert"), "{err}");
    let err = parse(&["--admin-client-ca", "ca.pem"]).unwrap_err();
    assert!(err.contains("--admin-tls-cert"), "{err}");
    parse(&[
        "--admin-tls-cert",
        "c.pem",
        "--admin-tls-key",
        "k.pem",
        "--admin-client-ca",
        "ca.pem",
    ])
    .unwrap();
}
