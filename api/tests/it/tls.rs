//! A Route's `tls` as a user writes it: the certificate's Secret found and
//! loaded (bad PEM, a key of another certificate, an expired certificate,
//! a missing Secret: each said with the fix), hosts defaulted from the
//! Route, conflicts between Routes, HSTS and client CAs lowered, and the
//! key carried once in `secrets`, never in a redacted copy. Certificates
//! are made by `openssl` at run time.

use gatehouse_api::Compiled;
use gatehouse_api::diagnostic::{ConditionKind, Severity};
use gatehouse_testkit::tls::{Issued, TestCa};

fn pem(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn indented(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn tls_secret(name: &str, chain: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: qa}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indented(chain),
        indented(key)
    )
}

fn issued_secret(name: &str, issued: &Issued) -> String {
    tls_secret(name, &pem(&issued.cert), &pem(&issued.key))
}

fn route(name: &str, hostnames: &str, tls: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}, namespace: qa}}\nspec:\n  hostnames: {hostnames}\n  tls: {tls}\n  rules:\n  - backends: [{{url: 'http://127.0.0.1:9'}}]\n"
    )
}

fn compile(docs: &[String]) -> Compiled {
    crate::support::compile_file("tls.yaml", docs)
}

fn only(compiled: &Compiled, reason: &str) -> String {
    let found: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == reason)
        .collect();
    assert_eq!(found.len(), 1, "one {reason} in {:?}", compiled.diagnostics);
    found[0].message.clone()
}

#[test]
fn a_certificate_is_lowered_with_its_route_s_hosts_and_carried_once() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test", "*.shop.test"]);
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        route(
            "shop",
            "[shop.test]",
            "{secretName: shop-tls, hsts: {maxAgeSeconds: 600, includeSubDomains: true}}",
        ),
    ]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let certificate = &compiled.config.certificates[0];
    assert_eq!(certificate.route, "qa/shop");
    assert_eq!(certificate.hosts, ["shop.test"], "the Route's hostnames");
    assert!(!certificate.default);
    assert_eq!(
        certificate.chain.to_string(),
        "Secret qa/shop-tls key `tls.crt`"
    );
    let tls = compiled.config.routes[0].tls.as_ref().unwrap();
    assert!(tls.redirect, "redirect is on unless turned off");
    assert_eq!(tls.hsts.as_deref(), Some("max-age=600; includeSubDomains"));
    assert_eq!(compiled.config.secrets.len(), 2, "tls.crt and tls.key");
    let key = pem(&shop.key);
    let pushed = serde_json::to_string(&compiled.config).unwrap();
    assert!(pushed.contains("PRIVATE KEY"), "the push carries the key");
    let redacted = serde_json::to_string(&compiled.config.redacted()).unwrap();
    assert!(!redacted.contains("PRIVATE KEY"), "{redacted}");
    assert!(!redacted.contains(key.lines().nth(1).unwrap()));
}

#[test]
fn a_missing_secret_is_unresolved_and_the_route_still_served() {
    let compiled = compile(&[route("shop", "[shop.test]", "{secretName: nope}")]);
    let d = &compiled.diagnostics[0];
    assert_eq!(d.condition, ConditionKind::ResolvedRefs);
    assert_eq!(d.field, "spec.tls.secretName");
    assert!(
        d.message.contains("Secret qa/nope does not exist"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("kubectl create secret tls nope -n qa"),
        "{}",
        d.message
    );
    assert_eq!(compiled.config.routes.len(), 1, "the Route serves");
    assert!(compiled.config.certificates.is_empty());
}

#[test]
fn bad_pem_and_a_key_of_another_certificate_are_said() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let other = ca.server("other", &["other.test"]);
    let compiled = compile(&[
        tls_secret("garbled", "hello", &pem(&shop.key)),
        route("shop", "[shop.test]", "{secretName: garbled}"),
    ]);
    let message = only(&compiled, "InvalidCertificate");
    assert!(
        message.contains("tls.crt: no certificate in it"),
        "{message}"
    );
    let compiled = compile(&[
        tls_secret("mixed", &pem(&shop.cert), &pem(&other.key)),
        route("shop", "[shop.test]", "{secretName: mixed}"),
    ]);
    let message = only(&compiled, "InvalidCertificate");
    assert!(
        message.contains(
            "tls.key is not the key of the certificate in tls.crt (whose subject is `CN=shop.test`)"
        ),
        "{message}"
    );
    assert!(compiled.config.certificates.is_empty());
}

#[test]
fn an_expired_certificate_is_said_and_still_served() {
    let ca = TestCa::new("qa-ca");
    let old = ca.expired_server("old", &["shop.test"]);
    let compiled = compile(&[
        issued_secret("old-tls", &old),
        route("shop", "[shop.test]", "{secretName: old-tls}"),
    ]);
    let message = only(&compiled, "CertificateExpired");
    assert!(
        message.contains("the certificate `CN=shop.test` expired at 20"),
        "{message}"
    );
    assert_eq!(
        compiled.config.certificates.len(),
        1,
        "clients see it expired"
    );
}

#[test]
fn hosts_a_certificate_does_not_name_are_warned_of() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        route(
            "shop",
            "[shop.test, www.shop.test]",
            "{secretName: shop-tls}",
        ),
    ]);
    let message = only(&compiled, "CertificateNameMismatch");
    assert!(message.contains("not `www.shop.test`"), "{message}");
    assert_eq!(compiled.config.certificates[0].hosts.len(), 2);
}

#[test]
fn the_first_route_keeps_a_host_and_the_default() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        route("a", "[shop.test]", "{secretName: shop-tls, default: true}"),
        route("b", "[shop.test]", "{secretName: shop-tls, default: true}"),
    ]);
    let conflicts: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == "CertificateConflict")
        .collect();
    assert_eq!(conflicts.len(), 2, "{:?}", compiled.diagnostics);
    assert!(
        conflicts
            .iter()
            .all(|d| d.resource.name == "b" && d.severity == Severity::Warning)
    );
    assert_eq!(compiled.config.certificates.len(), 1);
    assert_eq!(compiled.config.certificates[0].route, "qa/a");
}

#[test]
fn a_route_without_hosts_needs_tls_hosts_or_default() {
    let compiled = compile(&[route("any", "[]", "{secretName: x}")]);
    let message = only(&compiled, "NoTlsHosts");
    assert!(message.contains("set `tls.default: true`"), "{message}");
    assert!(compiled.config.routes.is_empty(), "refused");
}

#[test]
fn a_client_ca_that_cannot_be_read_leaves_no_certificate_served() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let with_ca = "{secretName: shop-tls, clientCertificates: {caSecret: clients}}";
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        route("shop", "[shop.test]", with_ca),
    ]);
    let message = only(&compiled, "SecretNotFound");
    assert!(
        message.contains("no client gets in without the check"),
        "{message}"
    );
    assert!(compiled.config.certificates.is_empty());
    assert!(
        compiled.config.routes[0]
            .tls
            .as_ref()
            .unwrap()
            .client_certificates
    );
    let clients = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: clients, namespace: qa}}\nstringData:\n  ca.crt: |\n{}",
        indented(&pem(ca.cert()))
    );
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        clients,
        route("shop", "[shop.test]", with_ca),
    ]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let client_ca = compiled.config.certificates[0].client_ca.as_ref().unwrap();
    assert_eq!(client_ca.to_string(), "Secret qa/clients key `ca.crt`");
}

#[test]
fn a_pushed_config_whose_certificate_is_not_in_secrets_is_refused() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let mut config = compile(&[
        issued_secret("shop-tls", &shop),
        route("shop", "[shop.test]", "{secretName: shop-tls}"),
    ])
    .config;
    config.secrets.clear();
    let errors = gatehouse_api::compile::verify(&config);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("Secret qa/shop-tls key `tls.crt` is not in the config's `secrets`"),
        "{errors:?}"
    );
}

#[test]
fn the_subject_and_names_are_read_as_openssl_prints_them() {
    let ca = TestCa::new("Acme, Inc. CA");
    let client = ca.client("client", "build bot");
    let der = rustls_pemfile_free(&pem(&client.cert));
    let facts = gatehouse_api::x509::parse(&der).unwrap();
    assert_eq!(facts.subject, "CN=build bot");
    let openssl = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(&client.cert)
        .output()
        .unwrap();
    let printed = String::from_utf8(openssl.stdout).unwrap();
    assert_eq!(printed.trim(), format!("subject={}", facts.subject));
    let server = ca.server("server", &["a.test", "*.b.test"]);
    let facts = gatehouse_api::x509::parse(&rustls_pemfile_free(&pem(&server.cert))).unwrap();
    assert_eq!(facts.dns_names, ["a.test", "*.b.test"]);
    assert!(facts.not_before < facts.not_after);
}

/// The DER of a PEM file's first certificate.
fn rustls_pemfile_free(text: &str) -> Vec<u8> {
    gatehouse_api::certificate::certificates(text, "test").unwrap()[0].to_vec()
}

#[test]
fn a_client_ca_may_come_from_a_config_map_carried_in_the_config() {
    let ca = TestCa::new("qa-ca");
    let shop = ca.server("shop", &["shop.test"]);
    let bundle = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: clients, namespace: qa}}\ndata:\n  bundle.pem: |\n{}",
        indented(&pem(ca.cert()))
    );
    let tls = "{secretName: shop-tls, clientCertificates: {caConfigMap: clients, key: bundle.pem}}";
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        bundle,
        route("shop", "[shop.test]", tls),
    ]);
    assert!(
        compiled.diagnostics.is_empty(),
        "{:?}",
        compiled.diagnostics
    );
    let certificate = &compiled.config.certificates[0];
    assert!(certificate.client_ca.is_none());
    assert!(
        certificate
            .client_ca_bundle
            .as_deref()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert_eq!(compiled.config.secrets.len(), 2, "a CA bundle is no secret");

    let missing = compile(&[
        issued_secret("shop-tls", &shop),
        route("shop", "[shop.test]", tls),
    ]);
    let message = only(&missing, "ConfigMapNotFound");
    assert!(
        message.contains("ConfigMap qa/clients (the client CA) does not exist"),
        "{message}"
    );
    assert!(
        missing.config.certificates.is_empty(),
        "never served without the check"
    );

    let both =
        "{secretName: shop-tls, clientCertificates: {caConfigMap: clients, caSecret: clients}}";
    let compiled = compile(&[
        issued_secret("shop-tls", &shop),
        route("shop", "[shop.test]", both),
    ]);
    let message = only(&compiled, "InvalidClientCertificates");
    assert!(
        message.contains("exactly one of `caSecret` or `caConfigMap`"),
        "{message}"
    );
    assert!(compiled.config.routes.is_empty(), "refused");
}
