//! HTTPS on `--listen-tls`, with real clients: rustls (with hyper over it
//! for HTTP/1.1 and h2), OpenSSL's `s_client` and `curl`. Certificates are
//! made by `openssl` at run time (`gatehouse_testkit::tls`). Covered: SNI
//! (exact, longest wildcard, default, refused), ALPN, TLS 1.0/1.1 refused,
//! redirects and HSTS, client certificates, a certificate swapped under
//! handshakes, local mode's Secret folders, and the metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_proxy::Running;
use gatehouse_testkit::tls::{Issued, TestCa, client_config};
use gatehouse_testkit::{TempDir, Upstream, eventually};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::{apply_yaml, metric, start_proxy, url};

fn pem(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn indented(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn tls_secret(name: &str, issued: &Issued) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}---\n",
        indented(&pem(&issued.cert)),
        indented(&pem(&issued.key))
    )
}

fn ca_secret(name: &str, ca: &TestCa) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  ca.crt: |\n{}---\n",
        indented(&pem(ca.cert()))
    )
}

fn route(name: &str, hostnames: &str, tls: &str, upstream: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  hostnames: {hostnames}\n  tls: {tls}\n  rules:\n  - backends: [{{url: '{upstream}'}}]\n---\n"
    )
}

async fn start_tls(yaml: &str) -> Running {
    let proxy = start_proxy(|s| s.listen_tls = Some("127.0.0.1:0".parse().unwrap())).await;
    apply_yaml(&proxy, yaml);
    proxy
}

fn tls_addr(proxy: &Running) -> SocketAddr {
    proxy.tls_addr.expect("--listen-tls is bound")
}

/// A rustls connection to the proxy, naming `server_name` (or nothing:
/// an IP address sends no SNI), offering `alpn`.
async fn connect(
    proxy: &Running,
    server_name: &str,
    ca: &TestCa,
    identity: Option<&Issued>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut config = client_config(ca.cert(), identity);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(tls_addr(proxy)).await?;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The DNS names of the certificate the server showed.
fn served_names(stream: &TlsStream<TcpStream>) -> Vec<String> {
    let leaf = &stream.get_ref().1.peer_certificates().unwrap()[0];
    gatehouse_api::x509::parse(leaf).unwrap().dns_names
}

/// One GET over an HTTP/1.1 connection: status and body.
async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = http::Request::get(path).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn http1(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// `openssl s_client` with `args`; the exit status and what it printed.
async fn s_client(proxy: &Running, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(tls_addr(proxy).to_string())
        .args(["-nameopt", "RFC2253"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl runs (Debian's openssl package)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &*String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// The certificate subject `s_client` saw, from its `subject=` line.
fn subject_seen(printed: &str) -> Option<&str> {
    printed
        .lines()
        .find_map(|line| line.strip_prefix("subject="))
}

/// Four certificates: an exact host, two wildcards (one longer), and a default.
struct Sites {
    ca: TestCa,
    yaml: String,
    _upstream: Upstream,
}

fn sites() -> Sites {
    let ca = TestCa::new("sni-ca");
    let upstream = Upstream::start("app");
    let url = upstream.url();
    let exact = ca.server("exact", &["shop.test"]);
    let wide = ca.server("wide", &["*.apps.test"]);
    let deep = ca.server("deep", &["*.deep.apps.test"]);
    let fallback = ca.server("fallback", &["fallback.test"]);
    let yaml = tls_secret("exact", &exact)
        + &*tls_secret("wide", &wide)
        + &*tls_secret("deep", &deep)
        + &*tls_secret("fallback", &fallback)
        + &*route("exact", "[shop.test]", "{secretName: exact}", &url)
        + &*route("wide", "['*.apps.test']", "{secretName: wide}", &url)
        + &*route("deep", "['*.deep.apps.test']", "{secretName: deep}", &url)
        + &*route(
            "fallback",
            "[fallback.test]",
            "{secretName: fallback, default: true}",
            &url,
        );
    Sites {
        ca,
        yaml,
        _upstream: upstream,
    }
}

#[tokio::test]
async fn sni_picks_the_exact_host_then_the_longest_wildcard_then_the_default() {
    let sites = sites();
    let proxy = start_tls(&sites.yaml).await;
    for (name, expected) in [
        ("shop.test", "CN=shop.test"),
        ("a.apps.test", "CN=*.apps.test"),
        ("x.a.apps.test", "CN=*.apps.test"),
        ("a.deep.apps.test", "CN=*.deep.apps.test"),
        ("unknown.test", "CN=fallback.test"),
    ] {
        let (ok, printed) = s_client(&proxy, &["-servername", name]).await;
        assert!(ok, "{name}: {printed}");
        assert_eq!(subject_seen(&printed), Some(expected), "{name}: {printed}");
    }
    let (ok, printed) = s_client(&proxy, &["-noservername"]).await;
    assert!(ok, "{printed}");
    assert_eq!(
        subject_seen(&printed),
        Some("CN=fallback.test"),
        "no SNI: the default"
    );
    // rustls verifies the chain and the name, and the request is served.
    let stream = connect(&proxy, "shop.test", &sites.ca, None, &[b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(served_names(&stream), ["shop.test"]);
    let (status, body) = get(&mut http1(stream).await, "shop.test", "/", &[]).await;
    assert_eq!((status, body.as_str()), (200, "app"));
}

#[tokio::test]
async fn without_a_default_an_unknown_name_is_refused_with_an_alert_and_counted() {
    let ca = TestCa::new("refuse-ca");
    let upstream = Upstream::start("app");
    let shop = ca.server("shop", &["shop.test"]);
    let proxy = start_tls(
        &(tls_secret("shop", &shop)
            + &*route("shop", "[shop.test]", "{secretName: shop}", &upstream.url())),
    )
    .await;
    let (ok, printed) = s_client(&proxy, &["-servername", "other.test"]).await;
    assert!(!ok, "{printed}");
    assert!(
        printed.contains("alert"),
        "refused with an alert: {printed}"
    );
    let (ok, printed) = s_client(&proxy, &["-noservername"]).await;
    assert!(!ok, "no SNI and no default: {printed}");
    let refused = "gatehouse_tls_handshake_failures_total{reason=\"unknown_server_name\"}";
    assert_eq!(metric(&proxy, refused).await, 2);
    let expiry = metric(
        &proxy,
        "gatehouse_tls_certificate_expiry_timestamp_seconds{namespace=\"default\",secret=\"shop\"}",
    )
    .await;
    let in_two_days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 2 * 86_400;
    assert!(
        (in_two_days - expiry).abs() < 120,
        "expiry {expiry} vs {in_two_days}"
    );
}

#[tokio::test]
async fn tls_1_0_and_1_1_are_refused_and_1_2_and_1_3_are_served() {
    let sites = sites();
    let proxy = start_tls(&sites.yaml).await;
    for old in ["-tls1", "-tls1_1"] {
        // OpenSSL 3 refuses these at security level 1 itself; level 0
        // lets it offer them, so the refusal is the proxy's.
        let (ok, printed) = s_client(
            &proxy,
            &[
                "-servername",
                "shop.test",
                old,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
            ],
        )
        .await;
        assert!(!ok, "{old}: {printed}");
        assert!(printed.contains("alert"), "{old}: {printed}");
    }
    for (version, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, printed) = s_client(&proxy, &["-servername", "shop.test", version]).await;
        assert!(ok, "{version}: {printed}");
        assert!(
            printed.contains(&format!("Protocol  : {name}"))
                || printed.contains(&format!("New, {name}")),
            "{version}: {printed}"
        );
    }
    let refused = "gatehouse_tls_handshake_failures_total{reason=\"no_common_parameters\"}";
    assert_eq!(metric(&proxy, refused).await, 2);
}

#[tokio::test]
async fn alpn_h2_goes_to_hyper_and_http_1_1_to_the_lane() {
    let sites = sites();
    let proxy = start_tls(&sites.yaml).await;
    let stream = connect(&proxy, "shop.test", &sites.ca, None, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("https://shop.test/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let stream = connect(&proxy, "shop.test", &sites.ca, None, &[b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // curl, over OpenSSL, picks h2 by ALPN on its own.
    let output = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--cacert",
        ])
        .arg(sites.ca.cert())
        .arg("--resolve")
        .arg(format!("shop.test:{}:127.0.0.1", tls_addr(&proxy).port()))
        .arg(format!("https://shop.test:{}/", tls_addr(&proxy).port()))
        .output()
        .await
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "2 200");
}

#[tokio::test]
async fn plain_http_is_redirected_and_https_answers_carry_hsts() {
    let ca = TestCa::new("hsts-ca");
    let upstream = Upstream::start("app");
    let shop = ca.server("shop", &["shop.test"]);
    let plain = ca.server("plain", &["plain.test"]);
    let yaml = tls_secret("shop", &shop)
        + &*tls_secret("plain", &plain)
        + &*route(
            "shop",
            "[shop.test]",
            "{secretName: shop, hsts: {maxAgeSeconds: 600, includeSubDomains: true}}",
            &upstream.url(),
        )
        + &*route(
            "plain",
            "[plain.test]",
            "{secretName: plain, redirect: false}",
            &upstream.url(),
        );
    let log = TempDir::new("tls-access-log");
    let log_file = log.path().join("access.log");
    let destination = gatehouse_proxy::Destination::File(log_file.clone());
    let proxy = start_proxy(|s| {
        s.listen_tls = Some("127.0.0.1:0".parse().unwrap());
        s.access_log = destination;
    })
    .await;
    apply_yaml(&proxy, &yaml);
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_follow
        .post(url(&proxy, "/cart?item=1"))
        .header("host", "shop.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308, "the method is kept");
    let location = format!("https://shop.test:{}/cart?item=1", tls_addr(&proxy).port());
    assert_eq!(response.headers()["location"], location.as_str());
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "never over plain HTTP"
    );
    let response = no_follow
        .get(url(&proxy, "/"))
        .header("host", "plain.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "redirect: false serves plain HTTP");
    let stream = connect(&proxy, "shop.test", &ca, None, &[b"http/1.1"])
        .await
        .unwrap();
    let mut sender = http1(stream).await;
    let request = http::Request::get("/")
        .header("host", "shop.test")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=600; includeSubDomains"
    );
    drop(response);
    // The access log's scheme is the connection's.
    let read = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let logged = async || read().lines().count() >= 3;
    assert!(
        eventually(Duration::from_secs(5), logged).await,
        "{}",
        read()
    );
    let text = read();
    let line = |part: &str| text.lines().find(|l| l.contains(part)).unwrap().to_owned();
    assert!(
        line("\"POST /cart?item=1 HTTP/1.1\" 308")
            .ends_with(" route=default/shop backend=- scheme=http"),
        "{text}"
    );
    let https = text
        .lines()
        .filter(|l| l.contains("\"GET / HTTP/1.1\" 200"));
    assert_eq!(
        https.filter(|l| l.ends_with(" scheme=https")).count(),
        1,
        "{text}"
    );
}

#[tokio::test]
async fn client_certificates_are_required_verified_and_their_subject_passed_on() {
    let ca = TestCa::new("server-ca");
    let clients = TestCa::new("clients-ca");
    let strangers = TestCa::new("strangers-ca");
    let upstream = Upstream::reporting("app");
    let vault = ca.server("vault", &["vault.test"]);
    let open = ca.server("open", &["open.test"]);
    let yaml = tls_secret("vault", &vault)
        + &*tls_secret("open", &open)
        + &*ca_secret("clients", &clients)
        + &*route(
            "vault",
            "[vault.test]",
            "{secretName: vault, clientCertificates: {caSecret: clients}}",
            &upstream.url(),
        )
        + &*route("open", "[open.test]", "{secretName: open}", &upstream.url());
    let proxy = start_tls(&yaml).await;
    let bot = clients.client("bot", "build bot");
    let stream = connect(&proxy, "vault.test", &ca, Some(&bot), &[])
        .await
        .unwrap();
    let mut sender = http1(stream).await;
    let (status, body) = get(
        &mut sender,
        "vault.test",
        "/",
        &[("x-client-subject", "CN=forged")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["headers"]["x-client-subject"], "CN=build bot");
    // The same connection, for another Route's host: its CA was not asked.
    let (status, _) = get(&mut sender, "open.test", "/", &[]).await;
    assert_eq!(status, 200);
    // A connection made for the open host cannot reach the vault.
    let stream = connect(&proxy, "open.test", &ca, Some(&bot), &[])
        .await
        .unwrap();
    let (status, body) = get(
        &mut http1(stream).await,
        "vault.test",
        "/",
        &[("x-client-subject", "CN=forged")],
    )
    .await;
    assert_eq!(status, 421, "{body}");
    let stream = connect(&proxy, "open.test", &ca, None, &[]).await.unwrap();
    let (_, body) = get(
        &mut http1(stream).await,
        "open.test",
        "/",
        &[("x-client-subject", "CN=forged")],
    )
    .await;
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert!(
        seen["headers"].get("x-client-subject").is_none(),
        "a client's own is removed: {seen}"
    );
    // No certificate, or one from another CA: no handshake (TLS 1.3
    // clients learn it at their first read).
    for identity in [None, Some(strangers.client("stranger", "stranger"))] {
        let refused = async {
            let stream = connect(&proxy, "vault.test", &ca, identity.as_ref(), &[]).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await
                    .map_err(std::io::Error::other)?;
            tokio::spawn(connection);
            let request = http::Request::get("/")
                .header("host", "vault.test")
                .body(Empty::new())
                .unwrap();
            sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)
        };
        assert!(
            refused.await.is_err(),
            "{:?} got in",
            identity.map(|i| i.cert)
        );
    }
    // `-ign_eof`: s_client reads on until the server's alert comes.
    let (_, printed) = s_client(&proxy, &["-servername", "vault.test", "-ign_eof"]).await;
    assert!(
        printed.contains("alert certificate required"),
        "s_client without a certificate: {printed}"
    );
    let refused = "gatehouse_tls_handshake_failures_total{reason=\"client_certificate\"}";
    assert!(metric(&proxy, refused).await >= 2);
    // Plain HTTP to a host that needs a certificate: to HTTPS.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_follow
        .get(url(&proxy, "/"))
        .header("host", "vault.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
}

#[tokio::test]
async fn a_renewed_certificate_is_served_to_new_handshakes_and_no_handshake_fails_meanwhile() {
    let ca = TestCa::new("swap-ca");
    let upstream = Upstream::start("app");
    let first = ca.server("first", &["shop.test", "v1.shop.test"]);
    let second = ca.server("second", &["shop.test", "v2.shop.test"]);
    let config = |issued: &Issued| {
        tls_secret("shop", issued)
            + &*route("shop", "[shop.test]", "{secretName: shop}", &upstream.url())
    };
    let proxy = start_tls(&config(&first)).await;
    let open = connect(&proxy, "shop.test", &ca, None, &[]).await.unwrap();
    assert!(served_names(&open).contains(&"v1.shop.test".to_owned()));
    let mut kept = http1(open).await;
    assert_eq!(get(&mut kept, "shop.test", "/", &[]).await.0, 200);

    // Clients shake hands and ask, again and again, while the certificate
    // changes under them twenty times.
    let proxy = Arc::new(proxy);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (proxy, stop, done, failed) =
            (proxy.clone(), stop.clone(), done.clone(), failed.clone());
        let ca_cert = ca.cert().to_owned();
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let answer = gatehouse_testkit::tls::https_exchange(
                    tls_addr(&proxy),
                    "shop.test",
                    client_config(&ca_cert, None),
                    "GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n",
                )
                .await;
                match answer {
                    Ok(text) if text.starts_with("HTTP/1.1 200") => {
                        done.fetch_add(1, Ordering::Relaxed)
                    }
                    other => {
                        eprintln!("failed: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for round in 0..20 {
        let issued = if round % 2 == 0 { &second } else { &first };
        apply_yaml(&proxy, &config(issued));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    apply_yaml(&proxy, &config(&second));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed handshakes or requests"
    );
    assert!(
        done.load(Ordering::Relaxed) > 20,
        "too few requests to say anything"
    );
    let renewed = connect(&proxy, "shop.test", &ca, None, &[]).await.unwrap();
    assert!(
        served_names(&renewed).contains(&"v2.shop.test".to_owned()),
        "new handshakes get the renewed one"
    );
    assert_eq!(
        get(&mut kept, "shop.test", "/", &[]).await.0,
        200,
        "the open connection goes on"
    );
}

#[tokio::test]
async fn in_local_mode_a_secret_folder_is_served_and_a_renewal_picked_up() {
    let ca = TestCa::new("local-ca");
    let upstream = Upstream::start("app");
    let dir = TempDir::new("tls-local");
    let first = ca.server("first", &["shop.test", "v1.shop.test"]);
    let second = ca.server("second", &["shop.test", "v2.shop.test"]);
    let folder = dir.path().join("shop-tls");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&first.cert, folder.join("tls.crt")).unwrap();
    std::fs::copy(&first.key, folder.join("tls.key")).unwrap();
    dir.write_atomically(
        "shop.yaml",
        &route(
            "shop",
            "[shop.test]",
            "{secretName: shop-tls}",
            &upstream.url(),
        ),
    );
    let proxy = start_proxy(|s| {
        s.manifests = Some(dir.path().to_owned());
        s.listen_tls = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let stream = connect(&proxy, "shop.test", &ca, None, &[]).await.unwrap();
    assert!(served_names(&stream).contains(&"v1.shop.test".to_owned()));
    // As certbot renews: new files moved into place.
    for (from, to) in [(&second.key, "tls.key"), (&second.cert, "tls.crt")] {
        let staged = folder.join(format!(".{to}.new"));
        std::fs::copy(from, &staged).unwrap();
        std::fs::rename(&staged, folder.join(to)).unwrap();
    }
    let renewed = async || {
        connect(&proxy, "shop.test", &ca, None, &[])
            .await
            .is_ok_and(|s| served_names(&s).contains(&"v2.shop.test".to_owned()))
    };
    assert!(
        eventually(Duration::from_secs(10), renewed).await,
        "the renewed files were not served"
    );
}

#[tokio::test]
async fn a_client_ca_from_a_config_map_is_asked_for_too() {
    let ca = TestCa::new("cm-server-ca");
    let clients = TestCa::new("cm-clients-ca");
    let upstream = Upstream::reporting("app");
    let vault = ca.server("vault", &["vault.test"]);
    let bundle = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: clients}}\ndata:\n  ca.crt: |\n{}---\n",
        indented(&pem(clients.cert()))
    );
    let yaml = tls_secret("vault", &vault)
        + &*bundle
        + &*route(
            "vault",
            "[vault.test]",
            "{secretName: vault, clientCertificates: {caConfigMap: clients}}",
            &upstream.url(),
        );
    let proxy = start_tls(&yaml).await;
    let bot = clients.client("bot", "bot");
    let stream = connect(&proxy, "vault.test", &ca, Some(&bot), &[])
        .await
        .unwrap();
    let (status, body) = get(&mut http1(stream).await, "vault.test", "/", &[]).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["headers"]["x-client-subject"], "CN=bot");
    let (_, printed) = s_client(&proxy, &["-servername", "vault.test", "-ign_eof"]).await;
    assert!(printed.contains("alert certificate required"), "{printed}");
}
