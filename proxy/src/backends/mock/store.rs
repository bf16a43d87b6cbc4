//! Where mocks live across config swaps. Each MockProvision's checked
//! provision is kept in a `Registry` while its spec stays the same, so its
//! state (scenarios, collections, counters) survives swaps of everything
//! else, and is made afresh when its own spec changes. Its journal is kept
//! as long as the MockProvision is served, whatever its spec. The
//! provisions folder (`--provisions-dir`) is one more mock, bound to no
//! resource (`dir.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_api::config::MockConfig;
use gatehouse_api::{Kind, ResourceId};
use gatehouse_mock::Provision;

use super::dir::ProvisionsDir;
use super::journal::Journal;
use super::metrics::MockMetrics;
use super::{Mock, Served};
use crate::config::registry::{Binding, Registry};
use crate::observe::metrics::Metrics;
use crate::support::locks::lock;

pub(crate) struct MockStore {
    provisions: Registry<Served>,
    journals: Registry<Journal>,
    dir: Option<Arc<ProvisionsDir>>,
    pub(crate) metrics: Arc<MockMetrics>,
    /// The MockProvisions served now, by id: the admin API's listing.
    served: std::sync::Mutex<HashMap<String, Arc<Served>>>,
}

impl MockStore {
    pub(crate) fn new(dir: Option<Arc<ProvisionsDir>>, metrics: &Metrics) -> MockStore {
        MockStore {
            provisions: Registry::default(),
            journals: Registry::default(),
            dir,
            metrics: Arc::new(MockMetrics::new(metrics)),
            served: std::sync::Mutex::default(),
        }
    }

    /// The provisions folder, when the proxy has one.
    pub(crate) fn dir(&self) -> Option<&Arc<ProvisionsDir>> {
        self.dir.as_ref()
    }

    /// The MockProvision `namespace/name` served now.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Served>> {
        lock(&self.served).get(id).cloned()
    }

    /// Every MockProvision served now, by id.
    pub(crate) fn all(&self) -> Vec<Arc<Served>> {
        let mut all: Vec<Arc<Served>> = lock(&self.served).values().cloned().collect();
        all.sort_by(|a, b| a.label.cmp(&b.label));
        all
    }

    /// Binds a config's provisions: one whose spec is unchanged keeps its
    /// very `Served` (and state); a changed or new one is built. Nothing
    /// is the store's until `commit`.
    pub(crate) fn bind(&self, mocks: &[MockConfig]) -> Bound<'_> {
        let ids = || {
            mocks
                .iter()
                .map(|m| ResourceId::from_key(Kind::MockProvision, &m.id))
        };
        let specs: HashMap<ResourceId, &MockConfig> = ids().zip(mocks).collect();
        let (journals, _) = self.journals.bind_checked(
            ids(),
            |_, _| true,
            |_| Ok::<_, std::convert::Infallible>(Arc::default()),
        );
        let (provisions, failed) = self.provisions.bind_checked(
            ids(),
            |id, held| specs.get(id).is_some_and(|m| m.provision == held.source),
            |id| {
                let config = specs[id];
                let text = serde_json::to_string(&config.provision).expect("JSON serialises");
                let provision = Provision::parse(&config.id, &text).map_err(|errors| {
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                })?;
                let journal = journals.get(id).cloned().unwrap_or_default();
                Ok(Arc::new(Served::new(
                    config.id.as_str().into(),
                    config.provision.clone(),
                    provision,
                    journal,
                )))
            },
        );
        Bound {
            store: self,
            provisions,
            journals,
            failed: failed
                .into_iter()
                .map(|(id, why)| (id.key(), why))
                .collect(),
        }
    }
}

/// A config's provisions, bound at its swap.
pub(crate) struct Bound<'s> {
    store: &'s MockStore,
    provisions: Binding<'s, Served>,
    journals: Binding<'s, Journal>,
    failed: HashMap<String, String>,
}

impl Bound<'_> {
    /// What a `mock` backend naming `provision` serves (`None`: the
    /// provisions folder); `Err` is why it cannot (answered 500).
    pub(crate) fn mock(&self, provision: Option<&str>) -> Result<Mock, String> {
        let Some(id) = provision else {
            return Ok(match &self.store.dir {
                Some(dir) => Mock::Dir(dir.clone()),
                None => Mock::NoDir,
            });
        };
        if let Some(why) = self.failed.get(id) {
            return Err(format!("MockProvision {id}: {why}"));
        }
        self.provisions
            .get(&ResourceId::from_key(Kind::MockProvision, id))
            .map(|served| Mock::Provision(served.clone()))
            .ok_or_else(|| format!("MockProvision {id} is not among the config's mocks"))
    }

    /// The config was accepted: its provisions become the store's; the
    /// metric series of those let go are dropped.
    pub(crate) fn commit(self) {
        self.journals.commit();
        let kept = self.provisions.commit();
        let mut served = lock(&self.store.served);
        for id in served.keys() {
            if !kept.contains_key(&ResourceId::from_key(Kind::MockProvision, id)) {
                tracing::info!(mock = %id, "mock provision no longer served");
                self.store.metrics.forget(id);
            }
        }
        *served = kept
            .into_iter()
            .map(|(id, served)| (id.key(), served))
            .collect();
    }
}
