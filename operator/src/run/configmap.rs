//! The compiled config, kept in a ConfigMap (server-side apply) so a proxy
//! that restarts while the operator is down serves the last good config
//! (`gatehouse-proxy --config-file` on the mounted key).

use gatehouse_api::ProxyConfig;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

/// ConfigMaps hold at most 1 MiB, metadata included.
pub(super) const MAX_BYTES: usize = 1024 * 1024 - 4096;

pub(super) enum Written {
    Applied,
    /// Not written: the config's JSON is this many bytes.
    TooLarge(usize),
}

/// Server-side applies `config` to the ConfigMap `namespace/name`, key `config.json`.
pub(super) async fn write(
    client: &Client,
    namespace: &str,
    name: &str,
    config: &ProxyConfig,
) -> Result<Written, kube::Error> {
    // A snapshot people can read: secret values stay out of it (a proxy
    // started from it gets them with the next push).
    let json = serde_json::to_string(&config.redacted()).expect("a ProxyConfig serialises");
    if json.len() > MAX_BYTES {
        return Ok(Written::TooLarge(json.len()));
    }
    let map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            // Not `app.kubernetes.io/managed-by`: the chart makes this
            // ConfigMap and sets that label itself (Helm); taking it with a
            // forced apply would make helm's next server-side apply conflict.
            "labels": {"gatehouse.dev/written-by": "gatehouse-operator"},
            "annotations": {"gatehouse.dev/revision": config.revision},
        },
        "data": {"config.json": json},
    });
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::apply("gatehouse-operator").force(),
        &Patch::Apply(&map),
    )
    .await?;
    Ok(Written::Applied)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gatehouse_api::config::RouteConfig;
    use http::Method;

    use super::*;
    use crate::run::api_server;

    fn config_with_hosts(count: usize) -> ProxyConfig {
        ProxyConfig::new(vec![RouteConfig {
            id: "default/shop".into(),
            hostnames: (0..count)
                .map(|i| format!("host-{i:07}.example.com"))
                .collect(),
            rules: vec![],
            tls: None,
        }])
    }

    #[tokio::test]
    async fn the_config_is_server_side_applied_with_its_revision() {
        let (client, mut server) = api_server::client();
        let config = config_with_hosts(2);
        let (written, seen) = tokio::join!(
            write(&client, "gh-system", "gh-config", &config),
            server.echo()
        );
        assert!(matches!(written, Ok(Written::Applied)));
        assert_eq!(seen.method, Method::PATCH);
        assert_eq!(
            seen.path,
            "/api/v1/namespaces/gh-system/configmaps/gh-config"
        );
        assert!(
            seen.query.contains("fieldManager=gatehouse-operator"),
            "{}",
            seen.query
        );
        assert!(seen.query.contains("force=true"), "{}", seen.query);
        assert_eq!(seen.content_type, "application/apply-patch+yaml");
        assert_eq!(
            seen.body["metadata"]["annotations"]["gatehouse.dev/revision"],
            config.revision.as_str()
        );
        let stored = seen.body["data"]["config.json"].as_str().unwrap();
        assert_eq!(serde_json::from_str::<ProxyConfig>(stored).unwrap(), config);
    }

    #[tokio::test]
    async fn the_snapshot_holds_a_secret_s_reference_and_hash_not_its_value() {
        use gatehouse_api::secret::{SecretEntry, SecretRef, SecretValue};
        let (client, mut server) = api_server::client();
        let mut config = config_with_hosts(1);
        let source = SecretRef {
            namespace: "git".into(),
            name: "users".into(),
            key: "htpasswd".into(),
        };
        config.secrets = vec![SecretEntry::new(source, SecretValue::new("alice:$apr1$x"))];
        config.revision = config.content_revision();
        let (written, seen) = tokio::join!(
            write(&client, "gh-system", "gh-config", &config),
            server.echo()
        );
        assert!(matches!(written, Ok(Written::Applied)));
        let stored = seen.body["data"]["config.json"].as_str().unwrap();
        assert!(!stored.contains("alice"), "{stored}");
        let snapshot: ProxyConfig = serde_json::from_str(stored).unwrap();
        assert_eq!(snapshot.revision, config.revision);
        assert_eq!(snapshot.secrets[0].sha256, config.secrets[0].sha256);
        assert_eq!(snapshot.secrets[0].source.name, "users");
        assert_eq!(snapshot.missing_secrets().count(), 1);
    }

    #[tokio::test]
    async fn a_config_too_large_for_a_config_map_is_not_sent() {
        let (client, mut server) = api_server::client();
        let config = config_with_hosts(40_000);
        let written = write(&client, "gh-system", "gh-config", &config).await;
        let Ok(Written::TooLarge(bytes)) = written else {
            panic!("a 1.1 MB config was written");
        };
        assert_eq!(bytes, serde_json::to_string(&config).unwrap().len());
        assert!(bytes > MAX_BYTES);
        server.expect_none(Duration::from_millis(200)).await;
    }

    #[tokio::test]
    async fn an_api_error_is_returned_to_the_caller() {
        let (client, mut server) = api_server::client();
        let config = config_with_hosts(1);
        let (written, _) = tokio::join!(
            write(&client, "gh-system", "gh-config", &config),
            server.answer(403, api_server::status_error(403, "Forbidden"))
        );
        assert!(matches!(written, Err(kube::Error::Api(e)) if e.code == 403));
    }
}
