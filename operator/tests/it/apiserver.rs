//! The generated CRD against a real kube-apiserver (v1.20, built from
//! Debian's source package by ct/kube/build-apiserver.sh and started by
//! ct/kube/start-apiserver.sh). Reads the kubeconfig named by
//! GATEHOUSE_TEST_KUBECONFIG; ignored by a plain `cargo test`, run by
//! `bash ct/test-all.sh`, and failing, saying so, when run without it.
//!
//! 1.20 predates CEL: a CRD carrying `x-kubernetes-validations` must be
//! created with a plain POST (server-side apply rejects the unknown field),
//! and the rule is dropped; `crds.rs` checks the rule on the generated schema.

use std::time::{Duration, Instant};

use gatehouse_api::Route;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResourceExt};

/// The test API server's client; run without one, the test fails saying how to run it.
async fn client() -> Client {
    let path = std::env::var("GATEHOUSE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "GATEHOUSE_TEST_KUBECONFIG is unset: this test needs the test API server; run `bash ct/test-all.sh`, which builds, starts and stops one"
        )
    });
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig readable");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig valid");
    Client::try_from(config).expect("client")
}

/// Creates (or keeps) the Route CRD and waits until it is served.
async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.create(&PostParams::default(), &Route::crd()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("the API server refused the generated CRD: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let crd = crds.get("routes.gatehouse.dev").await.unwrap();
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the Route CRD was not established in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn route(name: &str, weight: u32) -> Route {
    let yaml = format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  hostnames: [shop.example.com]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /api}}}}]\n    backends: [{{name: blue, weight: {weight}, service: {{name: shop, port: 8080}}}}]\n"
    );
    serde_yaml::from_str(&yaml).unwrap()
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_takes_the_crd_and_validates_routes_by_its_schema() {
    let client = client().await;
    install_crd(&client).await;
    let routes: Api<Route> = Api::namespaced(client.clone(), "default");
    let _ = routes.delete("schema-ok", &DeleteParams::default()).await;
    let created = routes
        .create(&PostParams::default(), &route("schema-ok", 90))
        .await
        .expect("a valid Route is stored");
    assert_eq!(
        created.spec,
        route("schema-ok", 90).spec,
        "the spec round-trips unchanged (nothing pruned)"
    );
    assert!(created.metadata.generation.is_some());

    match routes
        .create(&PostParams::default(), &route("schema-bad", 2_000_000))
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "{e:?}");
            assert!(e.message.contains("weight"), "{}", e.message);
        }
        other => panic!("a weight above 1,000,000 must be refused by the schema: {other:?}"),
    }
    routes
        .delete("schema-ok", &DeleteParams::default())
        .await
        .unwrap();
}
