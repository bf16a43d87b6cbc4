//! The operator's view of the cluster: reflector stores of Routes,
//! DepotRepos, MockProvisions, Services and proxy Pods, and one signal that any of them
//! changed.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use gatehouse_api::secret::KnownSecret;
use gatehouse_api::{DepotRepo, KnownService, MockProvision, Route};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::RunArgs;
use super::proxies::Endpoint;

/// How long a start waits for DepotRepos (and MockProvisions) to be
/// listed before it serves the Routes without them.
const DEPOT_REPOS_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) struct Watched {
    // A malformed Route must not stop the watch: it arrives as an error value.
    routes: Store<DeserializeGuard<Route>>,
    depot_repos: Store<DeserializeGuard<DepotRepo>>,
    mock_provisions: Store<DeserializeGuard<MockProvision>>,
    services: Store<Service>,
    /// Secrets, for the access rules that name them (`secrets()` reads
    /// only those); kept without annotations or managed fields, where
    /// `kubectl apply` leaves a copy of the values.
    secrets: Store<Secret>,
    /// ConfigMaps, for the client CA bundles Routes name (`config_maps()`).
    config_maps: Store<ConfigMap>,
    /// Proxy Pods: one store per namespace watched ([`PodScope`]).
    pods: Vec<Store<Pod>>,
    changed: Arc<Notify>,
}

impl Watched {
    pub(super) fn start(client: Client, args: &RunArgs) -> Watched {
        let changed = Arc::new(Notify::new());
        let (routes_api, services_api): (Api<DeserializeGuard<Route>>, Api<Service>) =
            match &args.namespace {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
        let depot_repos_api: Api<DeserializeGuard<DepotRepo>> = match &args.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let mock_provisions_api: Api<DeserializeGuard<MockProvision>> = match &args.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let secrets_api: Api<Secret> = match &args.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let config_maps_api: Api<ConfigMap> = match &args.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let pods_config = watcher::Config::default().labels(&args.proxy_selector);
        let pods = match PodScope::of(args) {
            PodScope::All => vec![Api::all(client.clone())],
            PodScope::Namespaces(namespaces) => namespaces
                .iter()
                .map(|ns| Api::namespaced(client.clone(), ns))
                .collect(),
        };
        Watched {
            // Only spec changes (generation) matter for Routes: our own status
            // writes must not wake us. Any change of a Service or Pod does.
            routes: spawn_reflector(
                routes_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.generation.map(|g| g.to_string()),
                keep_whole,
            ),
            depot_repos: spawn_reflector(
                depot_repos_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.generation.map(|g| g.to_string()),
                keep_whole,
            ),
            mock_provisions: spawn_reflector(
                mock_provisions_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.generation.map(|g| g.to_string()),
                keep_whole,
            ),
            services: spawn_reflector(
                services_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.resource_version.clone(),
                keep_whole,
            ),
            secrets: spawn_reflector(
                secrets_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.resource_version.clone(),
                strip_secret,
            ),
            config_maps: spawn_reflector(
                config_maps_api,
                watcher::Config::default(),
                changed.clone(),
                |m| m.resource_version.clone(),
                strip_config_map,
            ),
            pods: pods
                .into_iter()
                .map(|api: Api<Pod>| {
                    spawn_reflector(
                        api,
                        pods_config.clone(),
                        changed.clone(),
                        |m| m.resource_version.clone(),
                        keep_whole,
                    )
                })
                .collect(),
            changed,
        }
    }

    pub(super) async fn wait_until_ready(&self) {
        let _ = self.routes.wait_until_ready().await;
        let _ = self.services.wait_until_ready().await;
        for pods in &self.pods {
            let _ = pods.wait_until_ready().await;
        }
        // A cluster whose CRDs predate DepotRepo cannot list them: Routes
        // are served meanwhile (a depot backend stays unresolved), and the
        // watch keeps trying, so applying the CRD later brings them in.
        let listed = tokio::time::timeout(DEPOT_REPOS_GRACE, self.depot_repos.wait_until_ready());
        if listed.await.is_err() {
            tracing::warn!(
                "DepotRepos cannot be listed (is the DepotRepo CRD installed? `gatehouse-operator crds | kubectl apply -f -`); serving Routes without them until they can"
            );
        }
        let listed = tokio::time::timeout(DEPOT_REPOS_GRACE, self.secrets.wait_until_ready());
        if listed.await.is_err() {
            tracing::warn!(
                "Secrets cannot be listed (may the operator's service account list and watch secrets?); Routes with `access` answer 500, and their certificates are not served, until they can"
            );
        }
        let listed = tokio::time::timeout(DEPOT_REPOS_GRACE, self.config_maps.wait_until_ready());
        if listed.await.is_err() {
            tracing::warn!(
                "ConfigMaps cannot be listed (may the operator's service account list and watch configmaps?); Routes whose client CA is a ConfigMap have no certificate served until they can"
            );
        }
        let listed =
            tokio::time::timeout(DEPOT_REPOS_GRACE, self.mock_provisions.wait_until_ready());
        if listed.await.is_err() {
            tracing::warn!(
                "MockProvisions cannot be listed (is the MockProvision CRD installed? `gatehouse-operator crds | kubectl apply -f -`); serving Routes without them until they can"
            );
        }
    }

    /// Notified on every change of the watched objects.
    pub(super) fn changes(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    pub(super) fn routes(&self) -> Vec<Route> {
        super::valid_routes(&self.routes.state())
    }

    /// DepotRepos that deserialised; one that did not is left out (the
    /// API server's schema refuses most such objects before they exist).
    pub(super) fn depot_repos(&self) -> Vec<DepotRepo> {
        self.depot_repos
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok().cloned())
            .collect()
    }

    /// MockProvisions that deserialised; the mock engine checks the rest
    /// when they are compiled.
    pub(super) fn mock_provisions(&self) -> Vec<MockProvision> {
        self.mock_provisions
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok().cloned())
            .collect()
    }

    /// A reader of the DepotRepos as they are now, for the writer.
    pub(super) fn depot_repos_reader(&self) -> super::writer::FreshRepos {
        let store = self.depot_repos.clone();
        std::sync::Arc::new(move || {
            store
                .state()
                .iter()
                .filter_map(|g| g.0.as_ref().ok().cloned())
                .collect()
        })
    }

    /// Routes that did not deserialise, with their metadata and the error.
    pub(super) fn malformed_routes(&self) -> Vec<InvalidObject> {
        self.routes
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().err().cloned())
            .collect()
    }

    /// The Secrets `routes` name (access rules, certificates, client CAs;
    /// of their own namespace), as `compile` reads them.
    pub(super) fn secrets(&self, routes: &[Route]) -> Vec<KnownSecret> {
        named(&self.secrets, routes, Route::secret_names)
            .map(|secret| KnownSecret::from_secret(&secret))
            .collect()
    }

    /// The ConfigMaps `routes` name (client CA bundles, of their own
    /// namespace), read as Secrets are.
    pub(super) fn config_maps(&self, routes: &[Route]) -> Vec<KnownSecret> {
        named(&self.config_maps, routes, Route::config_map_names)
            .map(|map| KnownSecret::from_config_map(&map))
            .collect()
    }

    pub(super) fn services(&self) -> Vec<KnownService> {
        self.services
            .state()
            .iter()
            .map(|s| super::known_service(s))
            .collect()
    }

    /// Running proxy Pods with an IP, at their container port named `admin`.
    pub(super) fn proxy_endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints: Vec<Endpoint> = self
            .pods
            .iter()
            .flat_map(|pods| pods.state())
            .filter_map(|pod| Endpoint::of(&pod))
            .collect();
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        endpoints
    }
}

fn keep_whole<K>(_: &mut K) {}

/// What of a Secret the operator keeps: its name, type and values. Its
/// annotations go (`kubectl.kubernetes.io/last-applied-configuration`
/// holds the values again, in plain text for `stringData`), and so do
/// its managed fields.
/// The objects of `store` that `routes` name (`names` of each Route, in
/// the Route's own namespace).
fn named<'r, K, I>(
    store: &Store<K>,
    routes: &'r [Route],
    names: fn(&'r Route) -> I,
) -> impl Iterator<Item = Arc<K>>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
    I: Iterator<Item = &'r str>,
{
    let named: std::collections::HashSet<(&str, &str)> = routes
        .iter()
        .flat_map(|route| {
            let namespace = route.metadata.namespace.as_deref().unwrap_or("default");
            names(route).map(move |name| (namespace, name))
        })
        .collect();
    store.state().into_iter().filter(move |object| {
        let meta = object.meta();
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        let name = meta.name.as_deref().unwrap_or_default();
        named.contains(&(namespace, name))
    })
}

/// Annotations and managed fields are not read, and may be large.
fn strip_config_map(map: &mut ConfigMap) {
    map.metadata.annotations = None;
    map.metadata.managed_fields = None;
}

fn strip_secret(secret: &mut Secret) {
    secret.metadata.annotations = None;
    secret.metadata.managed_fields = None;
}

/// Mirrors `api` into a store; notifies `changed` when an object appears,
/// goes, or its `version` (generation, resourceVersion…) moves.
/// Where proxy Pods are looked for: the operator's own namespace, and with
/// `--sidecars` every namespace Routes are watched in (sidecar proxies
/// beside apps), all of them in one watch when that is every namespace.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PodScope {
    All,
    /// Each watched once.
    Namespaces(Vec<String>),
}

impl PodScope {
    pub(super) fn of(args: &RunArgs) -> PodScope {
        let own = args.operator_namespace.clone();
        match (args.sidecars, &args.namespace) {
            (false, _) => PodScope::Namespaces(vec![own]),
            (true, None) => PodScope::All,
            (true, Some(watched)) if *watched == own => PodScope::Namespaces(vec![own]),
            (true, Some(watched)) => PodScope::Namespaces(vec![own, watched.clone()]),
        }
    }
}

fn spawn_reflector<K>(
    api: Api<K>,
    config: watcher::Config,
    changed: Arc<Notify>,
    version: fn(&ObjectMeta) -> Option<String>,
    strip: fn(&mut K),
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(strip)
        .reflect(writer);
    tokio::spawn(async move {
        futures_util::pin_mut!(stream);
        let mut seen: HashMap<String, Option<String>> = HashMap::new();
        while let Some(event) = stream.next().await {
            let significant = match event {
                Ok(Event::Apply(object) | Event::InitApply(object)) => {
                    let meta = object.meta();
                    let uid = meta.uid.clone().unwrap_or_default();
                    seen.insert(uid, version(meta)) != Some(version(meta))
                }
                Ok(Event::Delete(object)) => {
                    seen.remove(&object.meta().uid.clone().unwrap_or_default());
                    true
                }
                Ok(Event::Init) => false,
                Ok(Event::InitDone) => true,
                Err(err) => {
                    tracing::warn!(error = %err, "watch failed; retrying with backoff");
                    false
                }
            };
            if significant {
                changed.notify_one();
            }
        }
    });
    reader
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        run: RunArgs,
    }

    fn scope(flags: &[&str]) -> PodScope {
        let flags = Flags::try_parse_from([&["gatehouse-operator"][..], flags].concat())
            .expect("the flags parse");
        PodScope::of(&flags.run)
    }

    fn namespaces(names: &[&str]) -> PodScope {
        PodScope::Namespaces(names.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn proxy_pods_are_looked_for_in_the_operators_namespace_unless_sidecars() {
        assert_eq!(scope(&["--operator-namespace", "gh"]), namespaces(&["gh"]));
        assert_eq!(
            scope(&["--operator-namespace", "gh", "--namespace", "apps"]),
            namespaces(&["gh"])
        );
    }

    #[test]
    fn with_sidecars_every_watched_namespace_is_looked_in_too() {
        assert_eq!(
            scope(&["--operator-namespace", "gh", "--sidecars"]),
            PodScope::All
        );
        assert_eq!(
            scope(&[
                "--operator-namespace",
                "gh",
                "--namespace",
                "apps",
                "--sidecars"
            ]),
            namespaces(&["gh", "apps"])
        );
        assert_eq!(
            scope(&[
                "--operator-namespace",
                "gh",
                "--namespace",
                "gh",
                "--sidecars"
            ]),
            namespaces(&["gh"])
        );
    }
}
