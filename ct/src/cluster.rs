//! A test Kubernetes API server for component tests: the client and
//! kubeconfig of the one `ct/kube/start-apiserver.sh` started (named by
//! GATEHOUSE_TEST_KUBECONFIG, as `ct/test-all.sh` sets it), the operator as
//! a process, and proxy processes standing in for Running proxy Pods.
//!
//! No kubelet runs: a proxy's Pod object is created and its status patched
//! to Running with podIP 127.0.0.1, while the proxy itself listens on
//! loopback, its admin port named `admin` in the Pod.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse_api::{DepotRepo, MockProvision, Route};
use gatehouse_testkit::{TempDir, eventually, free_port};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, CustomResourceExt};

use crate::process::{ProxyProcess, operator_binary};

pub struct Cluster {
    pub client: Client,
    pub kubeconfig: String,
}

/// The test API server, the Route CRD on it; run without one, the test
/// fails saying how to run it (a skip must never read as a pass).
pub async fn cluster() -> Cluster {
    let kubeconfig = std::env::var("GATEHOUSE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "GATEHOUSE_TEST_KUBECONFIG is unset: this test needs the test API server; run `bash ct/test-all.sh`, which builds, starts and stops one"
        )
    });
    let parsed = Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [Route::crd(), DepotRepo::crd(), MockProvision::crd()] {
        if let Err(kube::Error::Api(e)) = crds.create(&PostParams::default(), &crd).await {
            assert_eq!(e.code, 409, "the CRD could not be created: {e:?}");
        }
    }
    let routes: Api<Route> = Api::all(client.clone());
    let depot_repos: Api<DepotRepo> = Api::all(client.clone());
    let mocks: Api<MockProvision> = Api::all(client.clone());
    assert!(
        eventually(Duration::from_secs(20), async || routes
            .list(&Default::default())
            .await
            .is_ok()
            && depot_repos.list(&Default::default()).await.is_ok()
            && mocks.list(&Default::default()).await.is_ok())
        .await,
        "the Route, DepotRepo and MockProvision CRDs are not served"
    );
    Cluster { client, kubeconfig }
}

/// The operator as a process, stopped on drop, with its metrics address.
pub struct Operator(Child, TempDir, std::net::SocketAddr);

impl Operator {
    pub fn start(cluster: &Cluster, class: &str, selector: &str, config_map: &str) -> Operator {
        Operator::start_with(cluster, class, selector, config_map, &[])
    }

    pub fn start_with(
        cluster: &Cluster,
        class: &str,
        selector: &str,
        config_map: &str,
        extra: &[&str],
    ) -> Operator {
        let logs = TempDir::new("operator");
        let metrics = free_port();
        let stderr = std::fs::File::create(logs.join("stderr")).unwrap();
        let child = Command::new(operator_binary())
            .args([
                "run",
                "--class",
                class,
                "--proxy-selector",
                selector,
                "--config-map",
                config_map,
            ])
            .args(["--operator-namespace", "default"])
            .args(["--metrics-listen", &metrics.to_string()])
            .args(extra)
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("GATEHOUSE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Operator(child, logs, metrics)
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://{}{path}", self.2))
            .await
            .ok()?;
        Some((response.status().as_u16(), response.text().await.ok()?))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.1.join("stderr")).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Pod object standing for `proxy`, Running at 127.0.0.1 with its admin port.
pub async fn register_proxy(client: &Client, name: &str, label: &str, admin_port: u16) {
    register_proxy_in(client, "default", name, label, admin_port).await
}

/// [`register_proxy`] in `namespace` (which must exist): a sidecar proxy
/// in an app's namespace.
pub async fn register_proxy_in(
    client: &Client,
    namespace: &str,
    name: &str,
    label: &str,
    admin_port: u16,
) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let _ = pods
        .delete(name, &DeleteParams::default().grace_period(0))
        .await;
    let (key, value) = label.split_once('=').unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {key: value}},
        "spec": {"containers": [{"name": "proxy", "image": "gatehouse-proxy",
            "ports": [{"name": "admin", "containerPort": admin_port}]}]},
    }))
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || pods
            .create(&PostParams::default(), &pod)
            .await
            .is_ok())
        .await,
        "the Pod object could not be created"
    );
    let status = serde_json::json!({"status": {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// A test's own class, proxy label and ConfigMap, from its id.
pub fn scope(id: &str) -> (String, String, String) {
    (
        format!("ct-{id}"),
        format!("gatehouse-ct={id}"),
        format!("gatehouse-ct-{id}"),
    )
}

/// A proxy process with an empty config, registered as the Running Pod `pod`.
pub async fn running_proxy(client: &Client, pod: &str, label: &str) -> ProxyProcess {
    let empty = TempDir::new("empty-config");
    let config_file = empty.write("config.json", r#"{"routes": []}"#);
    let proxy = ProxyProcess::start([
        std::ffi::OsStr::new("--config-file"),
        config_file.as_os_str(),
    ])
    .await;
    register_proxy(client, pod, label, proxy.admin_addr.port()).await;
    proxy
}

/// A proxy process serving HTTPS too (`--listen-tls`, at the returned
/// address) with an empty config, registered as the Running Pod `pod`.
pub async fn running_tls_proxy(
    client: &Client,
    pod: &str,
    label: &str,
) -> (ProxyProcess, std::net::SocketAddr) {
    let empty = TempDir::new("empty-config");
    let config_file = empty.write("config.json", r#"{"routes": []}"#);
    let tls = free_port();
    let proxy = ProxyProcess::start([
        std::ffi::OsStr::new("--config-file"),
        config_file.as_os_str(),
        std::ffi::OsStr::new("--listen-tls"),
        std::ffi::OsStr::new(&tls.to_string()),
    ])
    .await;
    register_proxy(client, pod, label, proxy.admin_addr.port()).await;
    (proxy, tls)
}

/// A proxy process that keeps depot data (`--data-dir`, in the returned
/// folder) with an empty config, registered as the Running Pod `pod`.
pub async fn running_depot_proxy(
    client: &Client,
    pod: &str,
    label: &str,
) -> (ProxyProcess, TempDir) {
    let empty = TempDir::new("empty-config");
    let config_file = empty.write("config.json", r#"{"routes": []}"#);
    let data = TempDir::new("depot-data");
    let proxy = ProxyProcess::start([
        std::ffi::OsStr::new("--config-file"),
        config_file.as_os_str(),
        std::ffi::OsStr::new("--data-dir"),
        data.path().as_os_str(),
    ])
    .await;
    register_proxy(client, pod, label, proxy.admin_addr.port()).await;
    (proxy, data)
}

pub async fn remove_pods(client: &Client, pods: &[String]) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for pod in pods {
        let _ = api
            .delete(pod, &DeleteParams::default().grace_period(0))
            .await;
    }
}

pub fn route(name: &str, class: &str, path: &str, backend: &str) -> Route {
    serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  className: {class}\n  rules:\n  - matches: [{{path: {{value: {path}}}}}]\n    backends: [{backend}]\n"
    ))
    .unwrap()
}

pub fn condition(route: &Route, kind: &str) -> Option<(String, String)> {
    let c = route
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone()))
}

/// `kubectl ARGS` against the test cluster, as a user types it: its stdout.
/// The kubectl is GATEHOUSE_TEST_KUBECTL (`ct/test-all.sh` sets it to the
/// server's own 1.20), else `kubectl` on PATH; none fails the test.
pub fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    let program = std::env::var("GATEHOUSE_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let output = Command::new(&program)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run {program}: {err}; run `bash ct/test-all.sh`, which sets GATEHOUSE_TEST_KUBECTL to the kubectl it fetched")
        });
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A table as `kubectl get` prints it, one map from column to cell per row.
/// Cells are cut at the columns' header offsets, so empty cells stay empty.
pub fn table(printed: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = printed.lines();
    let header = lines.next().unwrap_or_default();
    let mut starts: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for name in header.split_whitespace() {
        let offset = at + header[at..].find(name).unwrap();
        starts.push((offset, name));
        at = offset + name.len();
    }
    lines
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(i, (start, name))| {
                    let end = starts.get(i + 1).map_or(line.len(), |next| next.0);
                    let cell = line.get(*start..end.min(line.len())).unwrap_or_default();
                    (name.to_string(), cell.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

/// The notes of the Warning Events with `reason` on the object `kind`/`name`
/// in `default`.
pub async fn warnings(client: &Client, kind: &str, name: &str, reason: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let Ok(list) = events.list(&Default::default()).await else {
        return Vec::new();
    };
    list.items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
                && e.reason.as_deref() == Some(reason)
                && e.type_.as_deref() == Some("Warning")
        })
        .filter_map(|e| e.note)
        .collect()
}
