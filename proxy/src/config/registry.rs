//! State that outlives a config swap: a depot's write locks, a mock's
//! request journal and scenario states, mappings made at run time. A config
//! is rebuilt whole at each swap; such state must not be, or every push
//! would forget what a mock was told and let two depot writers race.
//!
//! A `Registry<T>` holds one `T` per resource id, for a kind of state. At
//! each swap the new config's resources are bound (`bind`): a resource that
//! stays keeps its very `Arc<T>`, a new one gets a fresh `T`, and one that
//! went is let go once the swap is committed. A config that is refused
//! commits nothing, so a bad push never drops state. The served config
//! (`Active`) holds the `Arc`s, so requests under way on the old config
//! keep theirs until they finish. Binds happen under `State::apply`'s lock,
//! one swap at a time.
//!
//! No kind binds one yet: the depot's locks (#12) and the mock's journals
//! (#13) are the first. Until then only its tests use it.
#![cfg_attr(
    not(test),
    expect(dead_code, reason = "the depot and the mock bind the first registries")
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatehouse_api::ResourceId;

use crate::support::locks::lock;

pub(crate) struct Registry<T> {
    entries: Mutex<HashMap<ResourceId, Arc<T>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// The state of one config's resources, not yet the registry's.
pub(crate) struct Binding<'r, T> {
    registry: &'r Registry<T>,
    entries: HashMap<ResourceId, Arc<T>>,
}

impl<T> Registry<T> {
    /// The state of each of `ids`: kept for those the registry holds,
    /// made with `fresh` for the others. Nothing changes until `commit`.
    pub(crate) fn bind<'r>(
        &'r self,
        ids: impl IntoIterator<Item = ResourceId>,
        mut fresh: impl FnMut(&ResourceId) -> T,
    ) -> Binding<'r, T> {
        let held = lock(&self.entries);
        let entries = ids
            .into_iter()
            .map(|id| {
                let state = match held.get(&id) {
                    Some(state) => state.clone(),
                    None => Arc::new(fresh(&id)),
                };
                (id, state)
            })
            .collect();
        Binding {
            registry: self,
            entries,
        }
    }

    /// How many resources have state now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

impl<T> Binding<'_, T> {
    pub(crate) fn get(&self, id: &ResourceId) -> Option<&Arc<T>> {
        self.entries.get(id)
    }

    /// Makes this binding the registry's: the state of resources no longer
    /// in the config is let go. Returns the handles for the new config.
    pub(crate) fn commit(self) -> HashMap<ResourceId, Arc<T>> {
        *lock(&self.registry.entries) = self.entries.clone();
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use gatehouse_api::Kind;

    use super::*;

    fn id(name: &str) -> ResourceId {
        ResourceId::new(Kind::Route, "default", name)
    }

    /// A mock's journal, say: what was recorded must survive swaps.
    #[derive(Default)]
    struct Journal(AtomicU32);

    #[test]
    fn a_resource_that_stays_keeps_its_state_across_swaps() {
        let registry = Registry::<Journal>::default();
        let first = registry
            .bind([id("a"), id("b")], |_| Journal::default())
            .commit();
        first[&id("a")].0.fetch_add(3, Ordering::Relaxed);
        let second = registry
            .bind([id("a"), id("c")], |_| Journal::default())
            .commit();
        assert!(Arc::ptr_eq(&first[&id("a")], &second[&id("a")]));
        assert_eq!(second[&id("a")].0.load(Ordering::Relaxed), 3);
        assert_eq!(registry.len(), 2, "b went with the swap that left it out");
    }

    #[test]
    fn a_resource_that_goes_and_comes_back_starts_afresh() {
        let registry = Registry::<Journal>::default();
        let first = registry.bind([id("a")], |_| Journal::default()).commit();
        first[&id("a")].0.fetch_add(1, Ordering::Relaxed);
        registry.bind([], |_| Journal::default()).commit();
        let again = registry.bind([id("a")], |_| Journal::default()).commit();
        assert_eq!(again[&id("a")].0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_refused_config_drops_nothing() {
        let registry = Registry::<Journal>::default();
        let first = registry.bind([id("a")], |_| Journal::default()).commit();
        first[&id("a")].0.fetch_add(5, Ordering::Relaxed);
        // Bound, then refused (never committed): a config without `a`.
        let refused = registry.bind([id("b")], |_| Journal::default());
        assert!(refused.get(&id("a")).is_none());
        drop(refused);
        let next = registry.bind([id("a")], |_| Journal::default()).commit();
        assert_eq!(next[&id("a")].0.load(Ordering::Relaxed), 5);
    }
}
