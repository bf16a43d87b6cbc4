//! `gatehouse-operator run`: watches Routes, the Services they name and the
//! proxy Pods; on any change (debounced on the leading edge: see `debounce`)
//! compiles one ProxyConfig with the same `api::compile` local mode uses,
//! writes it to a ConfigMap, pushes it to every proxy, and hands the outcome
//! to the writer, which writes the ConfigMap and each Route's status off the
//! push path.

mod admin_client;
#[cfg(test)]
mod api_server;
mod configmap;
mod debounce;
mod depot_status;
mod depot_usage;
mod endpoints;
mod events;
mod expiry;
mod leader;
mod mock_status;
mod proxies;
mod status;
mod watch;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gatehouse_api::{KnownService, Resources, Route, compile};
use kube::Client;

use debounce::Debounce;
use depot_usage::Poll;
use proxies::Proxies;
use watch::Watched;
use writer::{Outcome, Writer};

#[derive(clap::Args, Clone, Debug)]
pub(crate) struct RunArgs {
    /// Watch Routes in this namespace only (default: all namespaces).
    #[arg(long, env = "GATEHOUSE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Serve only Routes whose `spec.className` is this (unset means `gatehouse`).
    #[arg(long, env = "GATEHOUSE_CLASS", default_value = gatehouse_api::route::DEFAULT_CLASS)]
    pub class: String,
    /// The operator's own namespace: proxy Pods and the config ConfigMap live here.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub operator_namespace: String,
    /// Label selector of the proxy Pods.
    #[arg(
        long,
        env = "GATEHOUSE_PROXY_SELECTOR",
        default_value = "app.kubernetes.io/name=gatehouse-proxy"
    )]
    pub proxy_selector: String,
    /// Also find proxy Pods (by --proxy-selector) in every namespace this
    /// operator watches (all, or --namespace), not only in
    /// --operator-namespace: sidecar proxies beside apps get pushes too.
    /// Needs `pods` list and watch there (cluster-wide without --namespace).
    #[arg(long, env = "GATEHOUSE_SIDECARS")]
    pub sidecars: bool,
    /// ConfigMap the compiled config is written to (key `config.json`).
    #[arg(long, env = "GATEHOUSE_CONFIG_MAP", default_value = "gatehouse-config")]
    pub config_map: String,
    /// Bearer token for the proxies' admin API.
    #[arg(long, env = "GATEHOUSE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// PEM CA certificate(s) the proxies' admin certificates are signed by
    /// (a Secret mounted as a file): pushes then go over TLS only, to
    /// `https://<Pod IP>:<admin port>`.
    #[arg(long, env = "GATEHOUSE_ADMIN_CA_FILE")]
    pub admin_ca_file: Option<PathBuf>,
    /// The DNS name verified in the proxies' admin certificates (Pod IPs
    /// are in none): the chart's admin certificate carries it.
    #[arg(long, env = "GATEHOUSE_ADMIN_SERVER_NAME", default_value = admin_client::DEFAULT_SERVER_NAME)]
    pub admin_server_name: String,
    /// PEM client certificate shown to proxies that require one (their
    /// `--admin-client-ca`); it stands in for the token there.
    #[arg(long, env = "GATEHOUSE_ADMIN_CLIENT_CERT", requires_all = ["admin_client_key", "admin_ca_file"])]
    pub admin_client_cert: Option<PathBuf>,
    /// PEM private key of --admin-client-cert.
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_CLIENT_KEY",
        requires = "admin_client_cert"
    )]
    pub admin_client_key: Option<PathBuf>,
    /// This replica's name in the leader Lease (default: $POD_NAME, else host and pid).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// How long a leader's Lease holds without renewal before another replica takes over.
    #[arg(long, env = "GATEHOUSE_LEASE_DURATION", default_value = "15s", value_parser = gatehouse_api::duration::parse_duration)]
    pub lease_duration: Duration,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN", default_value = "0.0.0.0:9902")]
    pub metrics_listen: std::net::SocketAddr,
    /// Time for one push to one proxy.
    #[arg(long, env = "GATEHOUSE_PUSH_TIMEOUT", default_value = "5s", value_parser = gatehouse_api::duration::parse_duration)]
    pub push_timeout: Duration,
    /// How often the proxies are asked what each DepotRepo holds (files,
    /// bytes, last change) for its status; also soon after a push that
    /// changed the DepotRepos.
    #[arg(long, env = "GATEHOUSE_DEPOT_STATUS_INTERVAL", default_value = "30s", value_parser = gatehouse_api::duration::parse_duration)]
    pub depot_status_interval: Duration,
}

/// Changes within this of the last round are compiled once, at its end.
const DEBOUNCE: Duration = Duration::from_millis(100);

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let token = match &args.admin_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--admin-token-file {}: cannot read", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let admin = admin_client::AdminClient::from_args(&args, token)?;
    let client = Client::try_default().await.context(
        "cannot reach the Kubernetes API: set KUBECONFIG, or run in a Pod with a service account",
    )?;
    let metrics = Arc::new(endpoints::Metrics::new());
    let listener = endpoints::bind(args.metrics_listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    tokio::spawn(endpoints::serve(listener, metrics.clone()));
    let watched = Watched::start(client.clone(), &args);
    let mut debounce = Debounce::new(watched.changes(), DEBOUNCE);
    watched.wait_until_ready().await;
    metrics
        .ready
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::info!(class = %args.class, namespace = ?args.namespace, "watching Routes");
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    // One Lease per class: installs of different classes never contend.
    let lease = format!("gatehouse-operator-{}", args.class);
    let recorder = kube::runtime::events::Recorder::new(
        client.clone(),
        kube::runtime::events::Reporter {
            controller: "gatehouse-operator".into(),
            instance: Some(identity.clone()),
        },
    );
    let leadership = leader::spawn(
        client.clone(),
        &args.operator_namespace,
        lease,
        identity,
        args.lease_duration,
    );
    let proxies = Arc::new(Proxies::new(admin, metrics.clone()));
    let writer = Arc::new(Writer::spawn(
        client,
        recorder,
        writer::Targets {
            class: args.class.clone(),
            namespace: args.operator_namespace.clone(),
            config_map: args.config_map.clone(),
        },
        watched.depot_repos_reader(),
    ));
    let poll = Poll::spawn(
        proxies.clone(),
        leadership.clone(),
        writer.clone(),
        args.depot_status_interval.max(Duration::from_secs(1)),
    );
    // The DepotRepos of the last config every proxy took, and those
    // proxies: when either changes, the usage is asked for at once.
    let mut polled_depots = None;
    let mut last_revision = String::new();
    let mut term = 0;
    let mut was_leader = false;
    // Secrets whose users last read, for an edit that breaks one.
    let mut secret_history = gatehouse_api::compile::SecretHistory::default();
    loop {
        metrics.leader.set(i64::from(leadership.is_leader()));
        if !leadership.is_leader() {
            // Followers watch (warm caches) but neither push nor write. On
            // taking over, nothing another leader did is assumed: every proxy
            // is asked again (one that serves the revision answers at once).
            let _ = tokio::time::timeout(Duration::from_millis(500), leadership.changed.notified())
                .await;
            was_leader = false;
            proxies.forget();
            polled_depots = None;
            continue;
        }
        if !was_leader {
            was_leader = true;
            term += 1;
            last_revision.clear();
        }
        let routes = watched.routes();
        let services = watched.services();
        let depot_repos = watched.depot_repos();
        let mock_provisions = watched.mock_provisions();
        let secrets = secret_history.admit(watched.secrets(&routes));
        let config_maps = watched.config_maps(&routes);
        let compiled = compile(Resources {
            routes: &routes,
            depot_repos: &depot_repos,
            mock_provisions: &mock_provisions,
            services: Some(&services),
            secrets: &secrets,
            config_maps: &config_maps,
            class: &args.class,
        });
        if compiled.config.revision != last_revision {
            let revision = &compiled.config.revision;
            tracing::info!(%revision, resources = compiled.accepted.len(), "compiled");
            last_revision = revision.clone();
        }
        let endpoints = watched.proxy_endpoints();
        let all_acked = proxies.push(&compiled.config, &endpoints).await;
        let serving = proxies.serving(&compiled.config.revision, &endpoints);
        poll.endpoints(&endpoints);
        let depots = (compiled.config.depots.clone(), endpoints.clone());
        if all_acked && polled_depots.as_ref() != Some(&depots) {
            polled_depots = Some(depots);
            poll.soon();
        }
        let certificates = expiry::served(&compiled.config);
        let look_again = expiry::next_look(&certificates, unix_now());
        metrics.proxies.set(endpoints.len() as i64);
        metrics.proxies_in_sync.set(serving as i64);
        let result = if all_acked { "success" } else { "push_failed" };
        metrics.reconciles.with_label_values(&[result]).inc();
        writer.publish(Outcome {
            term,
            routes,
            depot_repos,
            mock_provisions,
            malformed: watched.malformed_routes(),
            compiled,
            certificates,
            serving,
            proxies: endpoints.len(),
        });
        // Wait for a change; retry sooner when a proxy did not take the
        // config, and look again when a certificate nears or reaches its
        // expiry, though nothing changed.
        let retry = (!all_acked).then(|| proxies.next_retry());
        let wake = [retry, look_again].into_iter().flatten().min();
        debounce.next_round(wake).await;
    }
}

/// Unix seconds: certificates' times are.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `host-pid`, unique enough outside a Pod.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{}", host.trim(), std::process::id())
}

/// The Services of the cluster, as `compile` checks backends against them.
fn known_service(service: &k8s_openapi::api::core::v1::Service) -> KnownService {
    KnownService {
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        name: service.metadata.name.clone().unwrap_or_default(),
        ports: service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| u16::try_from(p.port).ok())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Routes as `compile` takes them: the ones that deserialised.
fn valid_routes(guards: &[Arc<kube::core::DeserializeGuard<Route>>]) -> Vec<Route> {
    guards
        .iter()
        .filter_map(|g| g.0.as_ref().ok().cloned())
        .collect()
}
