//! The operator's view of the cluster: reflector stores of Routes, Services
//! and proxy Pods, and one signal that any of them changed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gatehouse_api::{KnownService, Route};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::RunArgs;
use super::proxies::Endpoint;

pub struct Watched {
    // A malformed Route must not stop the watch: it arrives as an error value.
    routes: Store<DeserializeGuard<Route>>,
    services: Store<Service>,
    pods: Store<Pod>,
    changed: Arc<Notify>,
}

impl Watched {
    pub fn start(client: Client, args: &RunArgs) -> Watched {
        let changed = Arc::new(Notify::new());
        let (routes_api, services_api): (Api<DeserializeGuard<Route>>, Api<Service>) =
            match &args.namespace {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
        let pods_api: Api<Pod> = Api::namespaced(client, &args.operator_namespace);
        let pods_config = watcher::Config::default().labels(&args.proxy_selector);
        Watched {
            // Only spec changes matter for Routes: our own status writes must not wake us.
            routes: spawn_reflector(routes_api, watcher::Config::default(), changed.clone()),
            services: spawn_reflector(services_api, watcher::Config::default(), changed.clone()),
            pods: spawn_reflector(pods_api, pods_config, changed.clone()),
            changed,
        }
    }

    pub async fn wait_until_ready(&self) {
        let _ = self.routes.wait_until_ready().await;
        let _ = self.services.wait_until_ready().await;
        let _ = self.pods.wait_until_ready().await;
    }

    /// Resolves on the next change, or after `retry` when given.
    pub async fn changed(&self, retry: Option<Duration>) {
        match retry {
            Some(after) => {
                let _ = tokio::time::timeout(after, self.changed.notified()).await;
            }
            None => self.changed.notified().await,
        }
    }

    pub fn routes(&self) -> Vec<Route> {
        super::valid_routes(&self.routes.state())
    }

    pub fn services(&self) -> Vec<KnownService> {
        self.services
            .state()
            .iter()
            .map(|s| super::known_service(s))
            .collect()
    }

    /// Running proxy Pods with an IP, at their container port named `admin`.
    pub fn proxy_endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints: Vec<Endpoint> = self
            .pods
            .state()
            .iter()
            .filter_map(|pod| Endpoint::of(pod))
            .collect();
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        endpoints
    }
}

fn spawn_reflector<K>(api: Api<K>, config: watcher::Config, changed: Arc<Notify>) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    tokio::spawn(async move {
        futures_util::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => changed.notify_one(),
                Err(err) => tracing::warn!(error = %err, "watch failed; retrying with backoff"),
            }
        }
    });
    reader
}
