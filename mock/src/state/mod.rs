//! What a provision remembers between requests: its scenarios' states and
//! its collections' items. It all lives inside the [`Provision`]
//! (crate::Provision), so a provision rebuilt from new text starts fresh and
//! [`reset_state`](crate::Provision::reset_state) puts it back as read.
//! Answering happens on many threads at once: each part has its own lock,
//! and no request holds two.
//!
//! - [`scenarios`]: WireMock's scenarios (`scenario`, `whenState`,
//!   `newState` on a rule);
//! - [`collections`]: REST collections answered like an API (CRUD);
//! - [`store`]: a collection's items, in insertion order;
//! - [`keys`]: item keys, and their form in a URL;
//! - [`patch`]: JSON merge patch, for `PATCH`.

pub(crate) mod collections;
pub(crate) mod keys;
pub(crate) mod patch;
pub(crate) mod scenarios;
pub(crate) mod store;

use std::borrow::Cow;

use crate::answer::{Answer, Matched, PathParams, Request};
use crate::provision::Provision;
use collections::Collection;
use scenarios::Scenarios;

/// A provision's state, as read and as it is now.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) scenarios: Scenarios,
    /// In file order; tried after every rule, before `default`.
    pub(crate) collections: Vec<Collection>,
}

impl State {
    /// The answer of the first collection whose path the request is on.
    pub(crate) fn answer<'p>(&'p self, request: &Request<'_>) -> Option<Answer<'p>> {
        self.collections.iter().find_map(|collection| {
            let reply = collection.answer(request)?;
            Some(Answer {
                status: reply.status,
                headers: Cow::Owned(reply.headers),
                body: reply.body,
                matched: Matched::Collection {
                    name: &collection.name,
                },
                params: PathParams::default(),
                delay: None,
                fault: None,
                script: None,
            })
        })
    }
}

impl Provision {
    /// Puts every scenario back in `Started` and every collection back to
    /// its `seed`, as when the provision was read (the admin API's reset).
    pub fn reset_state(&self) {
        self.state.scenarios.reset();
        for collection in &self.state.collections {
            collection.reset();
        }
    }

    /// Each scenario's name and current state, in the order they first
    /// appear in the file.
    pub fn scenario_states(&self) -> Vec<(String, String)> {
        self.state.scenarios.snapshot()
    }

    /// The collections' names, in file order.
    pub fn collection_names(&self) -> impl Iterator<Item = &str> {
        self.state.collections.iter().map(|c| c.name.as_str())
    }
}
