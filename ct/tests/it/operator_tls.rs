//! HTTPS in a real cluster (kube-apiserver 1.20): a Route's `tls` names a
//! `kubernetes.io/tls` Secret; the operator reads it and a proxy with
//! `--listen-tls` serves it for the Route's host; the Secret renewed is
//! served to the next handshakes at once; deleted, expired or near its
//! expiry, the Route says so in its status and in Warning Events; client
//! certificates checked against a ConfigMap's CA bundle.

use std::time::{Duration, Instant};

use gatehouse_ct::cluster::{
    Operator, cluster, condition, route, running_tls_proxy, scope, warnings,
};
use gatehouse_testkit::tls::{Issued, TestCa, client_config, served_certificate};
use gatehouse_testkit::{Upstream, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};

/// A `kubernetes.io/tls` Secret holding `issued`, as `kubectl create
/// secret tls` makes it.
fn tls_secret(name: &str, issued: &Issued) -> Secret {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.crt": std::fs::read_to_string(&issued.cert).unwrap(),
            "tls.key": std::fs::read_to_string(&issued.key).unwrap(),
        },
    }))
    .unwrap()
}

/// Replaces the Secret `name` with `issued`, as a renewal does.
async fn renew(secrets: &Api<Secret>, name: &str, issued: &Issued) {
    let mut edited = tls_secret(name, issued);
    let current = secrets.get(name).await.unwrap();
    edited.metadata.resource_version = current.metadata.resource_version;
    secrets
        .replace(name, &PostParams::default(), &edited)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_a_tls_secret_is_served_renewed_at_once_and_its_loss_or_expiry_is_said() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _config_map) = scope(&format!("tls-{id}"));
    let (proxy, tls_addr) =
        running_tls_proxy(&cluster.client, &format!("gh-tls-proxy-{id}"), &label).await;
    let operator = Operator::start(&cluster, &class, &label, &format!("gh-tls-config-{id}"));
    let upstream = Upstream::reporting("shop");
    let ca = TestCa::new("operator-tls");
    let host = format!("shop-{id}.example.test");
    // Not `shop-{id}`: the operator and sidecar tests of this process
    // create Routes in the same namespace at the same time.
    let name = format!("tls-shop-{id}");
    let secret_name = format!("shop-tls-{id}");

    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "default");
    let routes: Api<gatehouse_api::Route> = Api::namespaced(cluster.client.clone(), "default");
    let _ = secrets.delete(&secret_name, &DeleteParams::default()).await;
    let _ = routes.delete(&name, &DeleteParams::default()).await;

    // A certificate good for 90 days: served, and nothing to warn about.
    let first = ca.server_for_days("first", &[&host], 90);
    secrets
        .create(&PostParams::default(), &tls_secret(&secret_name, &first))
        .await
        .unwrap();
    let mut shop = route(
        &name,
        &class,
        "/",
        &format!("{{url: '{}'}}", upstream.url()),
    );
    shop.spec.hostnames = vec![host.clone()];
    shop.spec.tls = Some(gatehouse_api::route::RouteTls {
        secret_name: secret_name.clone(),
        ..Default::default()
    });
    routes.create(&PostParams::default(), &shop).await.unwrap();

    // A new client config each handshake: a resumed session shows no certificate.
    let served = async || {
        served_certificate(tls_addr, &host, client_config(ca.cert(), None))
            .await
            .ok()
    };
    let serves = |issued: &Issued| {
        let der = issued.der();
        async move || served().await.as_ref() == Some(&der)
    };
    assert!(
        eventually(Duration::from_secs(15), serves(&first)).await,
        "{}\n{}",
        operator.logs(),
        proxy.stderr()
    );
    let exchange = gatehouse_testkit::tls::https_exchange(
        tls_addr,
        &host,
        client_config(ca.cert(), None),
        &format!("GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await
    .unwrap();
    assert!(exchange.starts_with("HTTP/1.1 200"), "{exchange}");
    let refs = async || {
        let r = routes.get(&name).await.unwrap();
        condition(&r, "ResolvedRefs") == Some(("True".into(), "ResolvedRefs".into()))
    };
    assert!(eventually(Duration::from_secs(15), refs).await);

    // Renewed (a new key and serial, as cert-manager renews): the next
    // handshakes get it.
    let renewed = ca.server_for_days("renewed", &[&host], 90);
    let started = Instant::now();
    renew(&secrets, &secret_name, &renewed).await;
    assert!(
        eventually(Duration::from_secs(15), serves(&renewed)).await,
        "{}",
        operator.logs()
    );
    let took = started.elapsed();
    eprintln!("a renewed certificate was served after {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Deleted: ResolvedRefs=False, SecretNotFound, and a Warning Event.
    secrets
        .delete(&secret_name, &DeleteParams::default())
        .await
        .unwrap();
    let unresolved = async |reason: &str| {
        let r = routes.get(&name).await.unwrap();
        condition(&r, "ResolvedRefs") == Some(("False".into(), reason.into()))
    };
    assert!(
        eventually(Duration::from_secs(15), async || unresolved(
            "SecretNotFound"
        )
        .await)
        .await,
        "{:?}\n{}",
        routes.get(&name).await.unwrap().status,
        operator.logs()
    );
    let warned = async |reason: &str| {
        !warnings(&cluster.client, "Route", &name, reason)
            .await
            .is_empty()
    };
    assert!(
        eventually(Duration::from_secs(15), async || warned("SecretNotFound")
            .await)
        .await
    );
    let note = &warnings(&cluster.client, "Route", &name, "SecretNotFound").await[0];
    assert!(note.contains(&secret_name), "{note}");
    assert!(note.contains("does not exist"), "{note}");
    assert!(
        served().await.is_none(),
        "no certificate is left for the host, and no default: the handshake is refused"
    );

    // Made again with an expired certificate: CertificateExpired, warned.
    let expired = ca.expired_server("expired", &[&host]);
    secrets
        .create(&PostParams::default(), &tls_secret(&secret_name, &expired))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(15), async || unresolved(
            "CertificateExpired"
        )
        .await)
        .await,
        "{:?}\n{}",
        routes.get(&name).await.unwrap().status,
        operator.logs()
    );
    assert!(
        eventually(Duration::from_secs(15), async || warned(
            "CertificateExpired"
        )
        .await)
        .await
    );
    let note = &warnings(&cluster.client, "Route", &name, "CertificateExpired").await[0];
    assert!(note.contains("renew it"), "{note}");

    // Nothing was said of expiring so far: the 90-day ones were far from
    // it, and an expired one has its own warning.
    assert!(!warned("CertificateExpiring").await);

    // Replaced with one that expires in 5 days: resolved again, but a
    // CertificateExpiring warning names the Secret and what to do.
    let expiring = ca.server_for_days("expiring", &[&host], 5);
    renew(&secrets, &secret_name, &expiring).await;
    assert!(eventually(Duration::from_secs(15), serves(&expiring)).await);
    assert!(eventually(Duration::from_secs(15), refs).await);
    assert!(
        eventually(Duration::from_secs(15), async || warned(
            "CertificateExpiring"
        )
        .await)
        .await,
        "{}",
        operator.logs()
    );
    let notes = warnings(&cluster.client, "Route", &name, "CertificateExpiring").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = &notes[0];
    for part in [
        format!("Secret default/{secret_name}"),
        format!("`CN={host}`"),
        "(in 5 days)".into(),
        "renewal is failing".into(),
    ] {
        assert!(note.contains(&part), "{part}: {note}");
    }

    // Client certificates from a ConfigMap's CA bundle: missing at first
    // (no certificate served: never the host without the check), then
    // made, and a client with a certificate it signed gets in.
    let clients = TestCa::new("operator-tls-clients");
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let bundle_name = format!("shop-clients-{id}");
    let _ = config_maps
        .delete(&bundle_name, &DeleteParams::default())
        .await;
    let mut current = routes.get(&name).await.unwrap();
    current.spec.tls.as_mut().unwrap().client_certificates =
        Some(gatehouse_api::route::ClientCertificates {
            ca_config_map: Some(bundle_name.clone()),
            ..Default::default()
        });
    routes
        .replace(&name, &PostParams::default(), &current)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(15), async || unresolved(
            "ConfigMapNotFound"
        )
        .await)
        .await,
        "{:?}\n{}",
        routes.get(&name).await.unwrap().status,
        operator.logs()
    );
    assert!(served().await.is_none(), "not served without its client CA");
    let bundle: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": bundle_name},
        "data": {"ca.crt": std::fs::read_to_string(clients.cert()).unwrap()},
    }))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &bundle)
        .await
        .unwrap();
    let bot = clients.client("bot", "bot");
    let request = format!("GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let admitted = async || {
        gatehouse_testkit::tls::https_exchange(
            tls_addr,
            &host,
            client_config(ca.cert(), Some(&bot)),
            &request,
        )
        .await
        .is_ok_and(|answer| answer.starts_with("HTTP/1.1 200") && answer.contains("CN=bot"))
    };
    assert!(
        eventually(Duration::from_secs(15), admitted).await,
        "{}",
        operator.logs()
    );
    let without = gatehouse_testkit::tls::https_exchange(
        tls_addr,
        &host,
        client_config(ca.cert(), None),
        &request,
    )
    .await;
    assert!(without.is_err(), "no client certificate: {without:?}");

    let _ = routes.delete(&name, &DeleteParams::default()).await;
    let _ = secrets.delete(&secret_name, &DeleteParams::default()).await;
    let _ = config_maps
        .delete(&bundle_name, &DeleteParams::default())
        .await;
}
