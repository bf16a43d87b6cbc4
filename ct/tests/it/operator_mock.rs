//! MockProvisions in a real cluster (kube-apiserver 1.20): applied, the
//! operator compiles them and a Route's mock backend serves them; edited,
//! the answers change; invalid, `Accepted=False` names the field and the
//! last good provision keeps serving.

use std::time::Duration;

use gatehouse_api::MockProvision;
use gatehouse_ct::cluster::{Operator, cluster, route, running_proxy, scope};
use gatehouse_testkit::eventually;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

fn mock(name: &str, class: &str, body: &str) -> MockProvision {
    serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: MockProvision\nmetadata: {{name: {name}}}\nspec:\n  className: {class}\n  rules:\n    - request: {{method: GET, path: {{prefix: /mock}}}}\n      response: {{body: {{json: {{answer: {body}}}}}}}\n"
    ))
    .unwrap()
}

fn condition(mock: &MockProvision, kind: &str) -> Option<(String, String, String)> {
    let c = mock
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_a_mock_provision_is_served_through_a_route_edited_and_refused_with_its_field() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _config_map) = scope(&format!("mock-{id}"));
    let proxy = running_proxy(&cluster.client, &format!("gh-mock-proxy-{id}"), &label).await;
    let operator = Operator::start(&cluster, &class, &label, &format!("gh-mock-config-{id}"));

    let mocks: Api<MockProvision> = Api::namespaced(cluster.client.clone(), "default");
    let routes: Api<gatehouse_api::Route> = Api::namespaced(cluster.client.clone(), "default");
    let name = format!("fake-{id}");
    let _ = mocks.delete(&name, &DeleteParams::default()).await;
    let _ = routes.delete(&name, &DeleteParams::default()).await;
    mocks
        .create(&PostParams::default(), &mock(&name, &class, "first"))
        .await
        .unwrap();
    routes
        .create(
            &PostParams::default(),
            &route(
                &name,
                &class,
                "/mock",
                &format!("{{mock: {{provision: {name}}}}}"),
            ),
        )
        .await
        .unwrap();

    let answers = |want: &'static str| {
        let proxy = &proxy;
        async move || {
            proxy
                .try_get("/mock/x")
                .await
                .is_ok_and(|r| r.status == 200 && r.body.contains(want))
        }
    };
    assert!(
        eventually(Duration::from_secs(15), answers("first")).await,
        "{}",
        operator.logs()
    );
    let programmed = async || {
        let m = mocks.get(&name).await.unwrap();
        condition(&m, "Programmed").is_some_and(|(status, _, _)| status == "True")
    };
    assert!(eventually(Duration::from_secs(15), programmed).await);
    let served = mocks.get(&name).await.unwrap();
    let status = served.status.clone().unwrap();
    assert_eq!(
        (status.rules, status.proxies.as_deref()),
        (Some(1), Some("1/1"))
    );
    assert_eq!(condition(&served, "Accepted").unwrap().0, "True");

    // Edited: new answers.
    let edit = serde_json::json!({"spec": {"rules": [
        {"request": {"method": "GET", "path": {"prefix": "/mock"}},
         "response": {"body": {"json": {"answer": "second"}}}}
    ]}});
    mocks
        .patch(&name, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(15), answers("second")).await,
        "{}",
        operator.logs()
    );

    // Invalid: refused with the field; the last good one keeps serving.
    let broken = serde_json::json!({"spec": {"rules": [
        {"request": {"path": {"regex": "("}}, "response": {"status": 200}}
    ]}});
    mocks
        .patch(&name, &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .unwrap();
    let refused = async || {
        let m = mocks.get(&name).await.unwrap();
        condition(&m, "Accepted").is_some_and(|(status, _, _)| status == "False")
    };
    assert!(
        eventually(Duration::from_secs(15), refused).await,
        "{:?}\n{}",
        mocks.get(&name).await.unwrap().status,
        operator.logs()
    );
    let (_, reason, message) = condition(&mocks.get(&name).await.unwrap(), "Accepted").unwrap();
    assert_eq!(reason, "InvalidProvision");
    assert!(
        message.starts_with("spec.rules[0].request.path.regex: "),
        "{message}"
    );
    // Left out of the config, its Route's backend is unresolved: 500 with
    // the reason, never a half-checked provision.
    let unresolved = async || {
        proxy
            .try_get("/mock/x")
            .await
            .is_ok_and(|r| r.status == 500)
    };
    assert!(
        eventually(Duration::from_secs(15), unresolved).await,
        "{}",
        operator.logs()
    );

    let _ = mocks.delete(&name, &DeleteParams::default()).await;
    let _ = routes.delete(&name, &DeleteParams::default()).await;
}
