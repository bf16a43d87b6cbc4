//! Every CRD `gatehouse-operator crds` prints, against a Kubernetes 1.36 CRD
//! API server (ct/kube/start-crd-server.sh): accepted, its CEL rules within
//! their cost budget, and those rules and the list bounds accepting and
//! refusing what they should. The 1.20 test server drops CEL rules, so only
//! this server shows what a modern cluster does with the CRDs.
//!
//! Needs GATEHOUSE_TEST_CRD_KUBECONFIG (printed by start-crd-server.sh); it
//! fails, rather than skipping, without it: run it on purpose or not at all.

use std::process::Command;
use std::time::Duration;

use gatehouse_api::route::MAX_RULES;
use gatehouse_api::{DepotRepo, MockProvision, Route};
use gatehouse_ct::process::operator_binary;
use gatehouse_testkit::eventually;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

const ENV: &str = "GATEHOUSE_TEST_CRD_KUBECONFIG";

async fn crd_server() -> Client {
    let kubeconfig = std::env::var(ENV).unwrap_or_else(|_| {
        panic!(
            "{ENV} is unset: start the 1.36 CRD server with \
             `eval \"$(bash ct/kube/start-crd-server.sh | tail -n 1)\"` (after start-apiserver.sh), \
             or run bash ct/test-all.sh"
        )
    });
    let parsed = Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// The CRDs exactly as users install them: `gatehouse-operator crds`.
fn generated_crds() -> Vec<CustomResourceDefinition> {
    let output = Command::new(operator_binary())
        .arg("crds")
        .output()
        .unwrap();
    assert!(output.status.success(), "gatehouse-operator crds failed");
    let yaml = String::from_utf8(output.stdout).unwrap();
    let crds: Vec<CustomResourceDefinition> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|doc| k8s_openapi::serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    assert!(!crds.is_empty(), "gatehouse-operator crds printed no CRD");
    crds
}

/// Creates `crd` afresh, deleting the one an earlier run left: a replaced
/// CRD's schema reaches its resources a moment later, so a replacement
/// could be tested against the old rules.
async fn install(api: &Api<CustomResourceDefinition>, crd: &CustomResourceDefinition) {
    let name = crd.metadata.name.clone().unwrap();
    if api.delete(&name, &DeleteParams::default()).await.is_ok() {
        let gone = async || api.get_opt(&name).await.is_ok_and(|c| c.is_none());
        assert!(
            eventually(Duration::from_secs(30), gone).await,
            "the CRD {name} left by an earlier run was never deleted"
        );
    }
    if let Err(err) = api.create(&PostParams::default(), crd).await {
        panic!("the 1.36 API server refused the CRD {name}: {err}");
    }
    let established = async || {
        api.get(&name).await.is_ok_and(|c| {
            c.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
    };
    assert!(
        eventually(Duration::from_secs(20), established).await,
        "the CRD {name} never became Established"
    );
}

fn route(name: &str, rules: &str) -> DynamicObject {
    serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  rules:\n{rules}"
    ))
    .unwrap()
}

fn rule(path: &str, backend: &str) -> String {
    format!("  - matches: [{{path: {{value: {path}}}}}]\n    backends: [{backend}]\n")
}

/// The 422 a create got, as a user reads it from kubectl.
async fn refused(routes: &Api<DynamicObject>, route: &DynamicObject) -> String {
    match routes.create(&PostParams::default(), route).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "refused, but not as invalid: {e:?}");
            e.message
        }
        Ok(created) => panic!(
            "the API server accepted the invalid Route {:?}",
            created.metadata.name
        ),
        Err(other) => panic!("refused, but not by the API server: {other}"),
    }
}

#[tokio::test]
#[ignore = "needs the modern CRD server: run bash ct/test-all.sh"]
async fn api_server_1_36_accepts_every_crd_and_its_rules_hold() {
    let client = crd_server().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in generated_crds() {
        install(&crds, &crd).await;
    }

    let resource = ApiResource::erase::<Route>(&());
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let id = std::process::id();
    let valid = format!("valid-{id}");
    let _ = routes.delete(&valid, &DeleteParams::default()).await;
    let served = rule("/shop", "{name: shop, url: 'http://127.0.0.1:8080'}");
    // The CRD can be Established a moment before its resource is served.
    let accepted = async || {
        routes
            .create(&PostParams::default(), &route(&valid, &served))
            .await
            .is_ok()
    };
    assert!(
        eventually(Duration::from_secs(20), accepted).await,
        "a valid Route was refused: {:?}",
        routes
            .create(&PostParams::default(), &route(&valid, &served))
            .await
    );
    routes
        .delete(&valid, &DeleteParams::default())
        .await
        .unwrap();

    let two_kinds = rule(
        "/shop",
        "{name: shop, url: 'http://127.0.0.1:8080', service: {name: shop, port: 80}}",
    );
    let message = refused(&routes, &route(&format!("two-kinds-{id}"), &two_kinds)).await;
    assert!(
        message.contains("set exactly one of service, url, static, depot, mock, git or cgi"),
        "not the CEL rule's message: {message}"
    );
    let two_sources = rule(
        "/mock",
        "{name: fake, mock: {provision: stub, provisionsDir: true}}",
    );
    let message = refused(&routes, &route(&format!("two-sources-{id}"), &two_sources)).await;
    assert!(
        message.contains("set exactly one of provision or provisionsDir"),
        "not the mock backend's CEL rule: {message}"
    );

    let too_many: String = (0..=MAX_RULES)
        .map(|i| {
            rule(
                &format!("/r{i}"),
                "{name: shop, url: 'http://127.0.0.1:8080'}",
            )
        })
        .collect();
    let message = refused(&routes, &route(&format!("too-many-{id}"), &too_many)).await;
    assert!(
        message.contains("spec.rules")
            && message.contains(&format!("must have at most {MAX_RULES} items")),
        "not the maxItems refusal of spec.rules: {message}"
    );

    // DepotRepo: its CEL rule on groups and its bounds hold.
    let resource = ApiResource::erase::<DepotRepo>(&());
    let repos: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let repo = |name: &str, spec: &str| -> DynamicObject {
        serde_yaml::from_str(&format!(
            "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: {name}}}\nspec: {spec}\n"
        ))
        .unwrap()
    };
    let valid = format!("repo-{id}");
    let _ = repos.delete(&valid, &DeleteParams::default()).await;
    let created = async || {
        repos
            .create(
                &PostParams::default(),
                &repo(&valid, "{depth: 3, groups: {allow: [rail.]}}"),
            )
            .await
            .is_ok()
    };
    assert!(
        eventually(Duration::from_secs(20), created).await,
        "a valid DepotRepo was refused"
    );
    repos
        .delete(&valid, &DeleteParams::default())
        .await
        .unwrap();
    for (spec, expected) in [
        (
            "{groups: {allow: [a], deny: [b]}}",
            "set exactly one of allow or deny",
        ),
        ("{depth: 0}", "spec.depth"),
        ("{maxFileSize: 64MB}", "spec.maxFileSize"),
    ] {
        let message = match repos
            .create(&PostParams::default(), &repo(&format!("bad-{id}"), spec))
            .await
        {
            Err(kube::Error::Api(e)) => {
                assert_eq!(e.code, 422, "{spec}: {e:?}");
                e.message
            }
            other => panic!("{spec}: the API server did not refuse it: {other:?}"),
        };
        assert!(message.contains(expected), "{spec}: {message}");
    }

    // MockProvision: the API server keeps the provision whole (the engine
    // checks it), fields it knows nothing of included.
    let resource = ApiResource::erase::<MockProvision>(&());
    let mocks: Api<DynamicObject> = Api::namespaced_with(repos.into_client(), "default", &resource);
    let name = format!("mock-{id}");
    let _ = mocks.delete(&name, &DeleteParams::default()).await;
    let mock: DynamicObject = serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: MockProvision\nmetadata: {{name: {name}}}\nspec:\n  rules:\n    - request: {{method: GET, path: {{template: '/users/{{id}}'}}}}\n      response: {{template: true, body: {{json: {{id: '{{{{ request.params.id }}}}'}}}}}}\n"
    ))
    .unwrap();
    let created = async || mocks.create(&PostParams::default(), &mock).await.is_ok();
    assert!(
        eventually(Duration::from_secs(20), created).await,
        "a MockProvision was refused"
    );
    let stored = mocks.get(&name).await.unwrap();
    assert_eq!(
        stored.data["spec"]["rules"][0]["response"]["body"]["json"]["id"],
        "{{ request.params.id }}",
        "the provision is kept as written: {:?}",
        stored.data
    );
    mocks.delete(&name, &DeleteParams::default()).await.unwrap();
}
