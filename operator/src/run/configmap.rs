//! The compiled config, kept in a ConfigMap (server-side apply) so a proxy
//! that restarts while the operator is down serves the last good config
//! (`gatehouse-proxy --config-file` on the mounted key).

use gatehouse_api::ProxyConfig;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use super::RunArgs;

/// ConfigMaps hold at most 1 MiB.
const MAX_BYTES: usize = 1024 * 1024 - 4096;

pub async fn write(client: &Client, args: &RunArgs, config: &ProxyConfig) -> anyhow::Result<()> {
    let json = serde_json::to_string(config)?;
    anyhow::ensure!(
        json.len() <= MAX_BYTES,
        "the compiled config is {} bytes, more than a ConfigMap holds; proxies still get it by push",
        json.len()
    );
    let map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": args.config_map,
            "labels": {"app.kubernetes.io/managed-by": "gatehouse-operator"},
            "annotations": {"gatehouse.dev/revision": config.revision},
        },
        "data": {"config.json": json},
    });
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &args.operator_namespace);
    api.patch(
        &args.config_map,
        &PatchParams::apply("gatehouse-operator").force(),
        &Patch::Apply(&map),
    )
    .await?;
    Ok(())
}
