//! The Route YAML and ProxyConfig JSON tests feed the proxy.

use serde_json::{Value, json};

/// A Route (namespace `default`) sending `PathPrefix prefix` to one backend at `url`.
pub fn route_yaml(name: &str, prefix: &str, backend: &str, url: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: {name}
spec:
  rules:
    - matches:
        - path: {{type: PathPrefix, value: {prefix}}}
      backends:
        - name: {backend}
          url: \"{url}\"
"
    )
}

/// A DepotRepo `repo` (all defaults) and a Route serving every DepotRepo
/// of the namespace at `/depot`, as a manifests folder holds them.
pub fn depot_yaml(repo: &str) -> String {
    format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: DepotRepo
metadata: {{name: {repo}}}
spec: {{}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: depot}}
spec:
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /depot}}}}]
    backends: [{{name: files, depot: {{}}}}]
"
    )
}

/// One ProxyConfig route `id`: `PathPrefix prefix` split over `(name, weight, host:port)` backends.
pub fn route_json(id: &str, prefix: &str, backends: &[(&str, u32, &str)]) -> Value {
    let backends: Vec<Value> = backends
        .iter()
        .map(|(name, weight, authority)| {
            json!({
                "name": name,
                "weight": weight,
                "target": {"kind": "upstream", "authority": authority},
            })
        })
        .collect();
    json!({
        "id": id,
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
            "backends": backends,
        }],
    })
}

/// A ProxyConfig holding `routes`, with an empty revision (the proxy computes it).
pub fn config_json(routes: Vec<Value>) -> Value {
    json!({"revision": "", "routes": routes})
}
