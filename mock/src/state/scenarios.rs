//! WireMock's scenarios: a rule with `scenario` and `whenState` matches only
//! while its scenario is in that state; with `newState`, answering moves
//! the scenario. Every scenario starts in `Started`.
//!
//! Race-free: [`Provision::answer`](crate::Provision::answer) takes the lock
//! at the first scenario rule whose request conditions hold and keeps it
//! until the answer is chosen, so checking a state and moving it are one
//! step, and two requests never both take a `Started → Done` rule. Rules
//! tried before that one do not depend on any state; a provision without
//! scenarios never locks.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Where every scenario starts, and where a reset puts it back.
pub(crate) const STARTED: &str = "Started";

/// Every scenario's current state, by the scenario's index.
#[derive(Debug, Default)]
pub(crate) struct Scenarios {
    /// Names in order of first appearance in the file.
    pub(crate) names: Vec<String>,
    current: Mutex<Vec<Arc<str>>>,
    started: Arc<str>,
}

/// The current states, locked.
pub(crate) type Locked<'a> = MutexGuard<'a, Vec<Arc<str>>>;

/// A rule's part in a scenario.
#[derive(Debug)]
pub(crate) struct Step {
    /// Index into [`Scenarios::names`].
    pub(crate) scenario: usize,
    /// Matches only in this state; `None`: in any state.
    pub(crate) when: Option<Arc<str>>,
    /// Where answering moves the scenario; `None`: it stays.
    pub(crate) then: Option<Arc<str>>,
}

impl Scenarios {
    pub(crate) fn new(names: Vec<String>) -> Self {
        let started: Arc<str> = Arc::from(STARTED);
        Self {
            current: Mutex::new(vec![started.clone(); names.len()]),
            names,
            started,
        }
    }

    pub(crate) fn lock(&self) -> Locked<'_> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn reset(&self) {
        let mut current = self.lock();
        current.iter_mut().for_each(|s| *s = self.started.clone());
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, String)> {
        let current = self.lock();
        self.names
            .iter()
            .zip(current.iter())
            .map(|(name, state)| (name.clone(), state.to_string()))
            .collect()
    }
}

impl Step {
    /// Whether the rule may answer in the current state; if so, moves the
    /// scenario to `then`. The caller holds the lock until it answers.
    pub(crate) fn take(&self, current: &mut Locked<'_>) -> bool {
        let state = &mut current[self.scenario];
        if self.when.as_ref().is_some_and(|when| when != state) {
            return false;
        }
        if let Some(then) = &self.then {
            *state = then.clone();
        }
        true
    }
}
