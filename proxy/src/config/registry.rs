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
//! The depot binds one (`backends/depot/repos.rs`: each DepotRepo's
//! `Repo`, so its per-file locks outlive swaps); the mock's journals (#13)
//! will be the next. A state whose resource changed in a way the old state
//! cannot serve (a DepotRepo with new options) is replaced: `bind_checked`
//! asks whether the held one may be kept.

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
    #[cfg(test)]
    pub(crate) fn bind<'r>(
        &'r self,
        ids: impl IntoIterator<Item = ResourceId>,
        mut fresh: impl FnMut(&ResourceId) -> T,
    ) -> Binding<'r, T> {
        let (binding, failed) = self.bind_checked(
            ids,
            |_, _| true,
            |id| Ok::<_, std::convert::Infallible>(Arc::new(fresh(id))),
        );
        debug_assert!(failed.is_empty());
        binding
    }

    /// As `bind`, but a held state is kept only when `keep` says it still
    /// fits its resource (else `fresh` replaces it), and `fresh` may fail:
    /// a resource whose state cannot be made is left out of the binding,
    /// and returned with why.
    pub(crate) fn bind_checked<'r, E>(
        &'r self,
        ids: impl IntoIterator<Item = ResourceId>,
        mut keep: impl FnMut(&ResourceId, &T) -> bool,
        mut fresh: impl FnMut(&ResourceId) -> Result<Arc<T>, E>,
    ) -> (Binding<'r, T>, Vec<(ResourceId, E)>) {
        let held = lock(&self.entries);
        let mut entries = HashMap::new();
        let mut failed = Vec::new();
        for id in ids {
            let state = match held.get(&id) {
                Some(state) if keep(&id, state) => Ok(state.clone()),
                _ => fresh(&id),
            };
            match state {
                Ok(state) => {
                    entries.insert(id, state);
                }
                Err(why) => failed.push((id, why)),
            }
        }
        (
            Binding {
                registry: self,
                entries,
            },
            failed,
        )
    }

    /// The state held for `id` now.
    pub(crate) fn held(&self, id: &ResourceId) -> Option<Arc<T>> {
        lock(&self.entries).get(id).cloned()
    }

    /// How many resources have state now.
    #[cfg(test)]
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

    #[test]
    fn a_state_that_no_longer_fits_is_replaced_and_a_failed_one_left_out() {
        let registry = Registry::<Journal>::default();
        let first = registry
            .bind([id("a"), id("b")], |_| Journal::default())
            .commit();
        first[&id("a")].0.fetch_add(1, Ordering::Relaxed);
        first[&id("b")].0.fetch_add(1, Ordering::Relaxed);
        let (binding, failed) = registry.bind_checked(
            [id("a"), id("b"), id("c")],
            |id, _| id.name != "b",
            |id| match id.name.as_str() {
                "c" => Err("cannot"),
                _ => Ok(Arc::new(Journal::default())),
            },
        );
        assert_eq!(failed, vec![(id("c"), "cannot")]);
        let next = binding.commit();
        assert!(Arc::ptr_eq(&first[&id("a")], &next[&id("a")]), "kept");
        assert_eq!(next[&id("b")].0.load(Ordering::Relaxed), 0, "replaced");
        assert!(!next.contains_key(&id("c")));
    }
}
