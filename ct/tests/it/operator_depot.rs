//! DepotRepos in a real cluster (kube-apiserver 1.20): the operator reads
//! them, writes their status (a bad one is not accepted, and its condition
//! names the field), puts the valid ones in the config every proxy gets,
//! and a Route naming a missing one reports it and answers 500.

use std::time::Duration;

use gatehouse_api::{DepotRepo, Route};
use gatehouse_ct::cluster::{
    Operator, cluster, condition, route, running_depot_proxy, scope, warnings,
};
use gatehouse_testkit::eventually;
use kube::api::{Api, DeleteParams, PostParams};

fn depot_repo(name: &str, class: &str, spec: &str) -> DepotRepo {
    serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\nmetadata: {{name: {name}}}\nspec: {{className: {class}, {spec}}}\n"
    ))
    .unwrap()
}

fn repo_condition(repo: &DepotRepo, kind: &str) -> Option<(String, String, String)> {
    let c = repo
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
#[ignore = "needs the test API server: run `bash ct/test-all.sh`"]
async fn api_server_depot_repos_get_a_status_and_reach_the_proxies_and_a_missing_one_is_reported() {
    let cluster = cluster().await;
    let id = std::process::id().to_string();
    let (class, label, _config_map) = scope(&format!("depot-{id}"));
    // With a data dir: Ready is then where the status settles, not a
    // moment before the first usage report says NoDataDir.
    let (proxy, _data) =
        running_depot_proxy(&cluster.client, &format!("gh-depot-proxy-{id}"), &label).await;
    let operator = Operator::start(&cluster, &class, &label, &format!("gh-depot-config-{id}"));

    let repos: Api<DepotRepo> = Api::namespaced(cluster.client.clone(), "default");
    let (good, bad) = (format!("configs-{id}"), format!("bad-{id}"));
    for name in [&good, &bad] {
        let _ = repos.delete(name, &DeleteParams::default()).await;
    }
    repos
        .create(
            &PostParams::default(),
            &depot_repo(&good, &class, "depth: 3"),
        )
        .await
        .unwrap();
    // Within the schema (the API server takes it), refused by compile.
    repos
        .create(
            &PostParams::default(),
            &depot_repo(&bad, &class, "maxFileSize: '0'"),
        )
        .await
        .unwrap();

    let ready = async || {
        let repo = repos.get(&good).await.unwrap();
        repo_condition(&repo, "Ready").is_some_and(|(status, _, _)| status == "True")
    };
    assert!(
        eventually(Duration::from_secs(15), ready).await,
        "status: {:?}\n{}",
        repos.get(&good).await.unwrap().status,
        operator.logs()
    );
    let repo = repos.get(&good).await.unwrap();
    let (status, reason, _) = repo_condition(&repo, "Accepted").unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Accepted"));
    assert_eq!(
        repo.status.unwrap().conditions[0].observed_generation,
        repo.metadata.generation
    );

    let refused = async || {
        let repo = repos.get(&bad).await.unwrap();
        repo_condition(&repo, "Accepted").is_some_and(|(status, _, _)| status == "False")
    };
    assert!(
        eventually(Duration::from_secs(15), refused).await,
        "{}",
        operator.logs()
    );
    let (_, reason, message) = repo_condition(&repos.get(&bad).await.unwrap(), "Accepted").unwrap();
    assert_eq!(reason, "InvalidMaxFileSize");
    assert!(message.starts_with("spec.maxFileSize: "), "{message}");
    assert!(message.contains("refuses every check-in"), "{message}");
    let events = async || {
        !warnings(&cluster.client, "DepotRepo", &bad, "InvalidMaxFileSize")
            .await
            .is_empty()
    };
    assert!(
        eventually(Duration::from_secs(10), events).await,
        "no Warning Event for the refused DepotRepo"
    );

    // The proxies get the valid repository, not the refused one.
    let pushed = async || {
        proxy.try_admin_get("/config").await.is_ok_and(|reply| {
            reply.body.contains(&format!("\"default/{good}\""))
                && !reply.body.contains(&format!("default/{bad}"))
        })
    };
    assert!(
        eventually(Duration::from_secs(10), pushed).await,
        "{}",
        operator.logs()
    );

    // A Route naming a DepotRepo that does not exist: reported, and 500.
    let routes: Api<Route> = Api::namespaced(cluster.client.clone(), "default");
    let files = format!("files-{id}");
    let _ = routes.delete(&files, &DeleteParams::default()).await;
    let prefix = format!("/depot-{id}");
    routes
        .create(
            &PostParams::default(),
            &route(
                &files,
                &class,
                &prefix,
                &format!("{{depot: {{repos: [missing-{id}]}}}}"),
            ),
        )
        .await
        .unwrap();
    let unresolved = async || {
        let r = routes.get(&files).await.unwrap();
        condition(&r, "ResolvedRefs") == Some(("False".into(), "DepotRepoNotFound".into()))
    };
    assert!(
        eventually(Duration::from_secs(15), unresolved).await,
        "{:?}\n{}",
        routes.get(&files).await.unwrap().status,
        operator.logs()
    );
    let answered = async || {
        proxy
            .try_get(&format!("{prefix}/all"))
            .await
            .is_ok_and(|r| r.status == 500)
    };
    assert!(eventually(Duration::from_secs(10), answered).await);

    for name in [&good, &bad] {
        let _ = repos.delete(name, &DeleteParams::default()).await;
    }
    let _ = routes.delete(&files, &DeleteParams::default()).await;
}
