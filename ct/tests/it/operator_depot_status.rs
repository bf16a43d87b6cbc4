//! A DepotRepo's status reports what it holds, against a real API server
//! (kube-apiserver 1.20) and real proxies: a file PUT through a Route
//! shows as `files` and `bytes` (the operator polls the proxies' `GET
//! /depots`), the repository deleted stops being served (404); and with
//! no proxy keeping depot data, `Ready` is False and names `--data-dir`.

use std::time::Duration;

use gatehouse_api::{DepotRepo, Route};
use gatehouse_ct::cluster::{
    Operator, cluster, remove_pods, route, running_depot_proxy, running_proxy, scope,
};
use gatehouse_testkit::eventually;
use kube::api::{Api, DeleteParams, PostParams};

fn depot_repo(name: &str, class: &str) -> DepotRepo {
    serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: {name}}}\nspec: {{className: {class}}}\n"
    ))
    .unwrap()
}

fn ready(repo: &DepotRepo) -> Option<(String, String, String)> {
    let c = repo
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_depot_status_counts_a_file_put_through_a_route_and_a_deleted_repo_answers_404()
{
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _) = scope(&format!("depot-status-{id}"));
    let pod = format!("gh-depot-status-{id}");
    let (proxy, _data) = running_depot_proxy(&cluster.client, &pod, &label).await;
    let operator = Operator::start_with(
        &cluster,
        &class,
        &label,
        &format!("gh-depot-status-config-{id}"),
        &["--depot-status-interval", "1s"],
    );

    let repos: Api<DepotRepo> = Api::namespaced(cluster.client.clone(), "default");
    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let (name, route_name) = (format!("status-{id}"), format!("depot-status-{id}"));
    let _ = routes.delete(&route_name, &DeleteParams::default()).await;
    let _ = repos.delete(&name, &DeleteParams::default()).await;
    repos
        .create(&PostParams::default(), &depot_repo(&name, &class))
        .await
        .unwrap();
    // Every DepotRepo of the namespace (of this class): once the only one
    // is deleted, the mount serves none, and its paths answer 404.
    let prefix = format!("/status-{id}");
    routes
        .create(
            &PostParams::default(),
            &route(&route_name, &class, &prefix, "{depot: {}}"),
        )
        .await
        .unwrap();

    let file = proxy.url(&format!("{prefix}/{name}/app.json"));
    let body = r#"{"replicas": 3}"#;
    let stored = async || {
        proxy
            .try_request(reqwest::Method::PUT, &file, &[], Some(body.into()))
            .await
            .is_ok_and(|r| r.status == 200)
    };
    assert!(
        eventually(Duration::from_secs(15), stored).await,
        "the file could not be PUT through the Route\n{}",
        operator.logs()
    );

    let counted = async || {
        let repo = repos.get(&name).await.unwrap();
        let status = repo.status.clone().unwrap_or_default();
        status.files == Some(1)
            && status.bytes == Some(body.len() as u64)
            && status.last_change.is_some()
            && ready(&repo).is_some_and(|(status, _, _)| status == "True")
    };
    assert!(
        eventually(Duration::from_secs(20), counted).await,
        "status: {:?}\n{}",
        repos.get(&name).await.unwrap().status,
        operator.logs()
    );
    let last = repos.get(&name).await.unwrap().status.unwrap().last_change;
    let last = last.unwrap();
    assert!(
        last.len() == 20 && last.ends_with('Z'),
        "RFC 3339, as a printer column of type date reads it: {last}"
    );

    repos.delete(&name, &DeleteParams::default()).await.unwrap();
    let gone = async || {
        proxy
            .try_request(reqwest::Method::GET, &file, &[], None)
            .await
            .is_ok_and(|r| r.status == 404)
    };
    if !eventually(Duration::from_secs(15), gone).await {
        let reply = proxy.get(&format!("{prefix}/{name}/app.json")).await;
        panic!("still {} {}\n{}", reply.status, reply.body, operator.logs());
    }

    let _ = routes.delete(&route_name, &DeleteParams::default()).await;
    remove_pods(&cluster.client, &[pod]).await;
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_depot_status_without_a_data_dir_is_not_ready_and_names_the_flag() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _) = scope(&format!("depot-nodata-{id}"));
    let pod = format!("gh-depot-nodata-{id}");
    let proxy = running_proxy(&cluster.client, &pod, &label).await;
    let _operator = Operator::start_with(
        &cluster,
        &class,
        &label,
        &format!("gh-depot-nodata-config-{id}"),
        &["--depot-status-interval", "1s"],
    );
    let repos: Api<DepotRepo> = Api::namespaced(cluster.client.clone(), "default");
    let name = format!("nodata-{id}");
    let _ = repos.delete(&name, &DeleteParams::default()).await;
    repos
        .create(&PostParams::default(), &depot_repo(&name, &class))
        .await
        .unwrap();
    let said = async || {
        let repo = repos.get(&name).await.unwrap();
        ready(&repo).is_some_and(|(status, reason, message)| {
            status == "False" && reason == "NoDataDir" && message.contains("--data-dir")
        })
    };
    assert!(
        eventually(Duration::from_secs(20), said).await,
        "status: {:?}",
        repos.get(&name).await.unwrap().status
    );
    let depots = proxy.admin_get("/depots").await;
    assert_eq!(depots.json()["dataDir"], false, "{}", depots.body);
    assert!(
        depots.json()["depots"]
            .get(format!("default/{name}"))
            .is_some(),
        "{}",
        depots.body
    );
    let _ = repos.delete(&name, &DeleteParams::default()).await;
    remove_pods(&cluster.client, &[pod]).await;
}
