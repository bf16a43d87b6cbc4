//! A rule's `scenario`, `whenState` and `newState`. A `whenState` no rule
//! moves its scenario to is refused: a typo there would leave a rule that
//! never answers.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Checker, Fields, join};
use crate::state::scenarios::{STARTED, Scenarios, Step};

/// What the rules said of scenarios, kept until every rule is read.
#[derive(Default)]
pub(super) struct ScenarioNotes {
    names: Vec<String>,
    /// Per rule in a scenario: the scenario, its `whenState` and where the
    /// rule is.
    wants: Vec<(usize, Arc<str>, String)>,
    /// States some rule's `newState` moves to, per scenario.
    reached: HashSet<(usize, Arc<str>)>,
}

impl Checker {
    /// A rule's part in a scenario: `Ok(None)` when it has none, `Err`
    /// when a field is wrong (the problem is recorded).
    pub(super) fn scenario_step(
        &mut self,
        at: &str,
        fields: &Fields<'_>,
    ) -> Result<Option<Step>, ()> {
        let before = self.problems.len();
        let state = |me: &mut Self, field: &str| -> Option<Arc<str>> {
            let at = join(at, field);
            let text = me.text(&at, fields.get(field)?)?;
            if text.is_empty() {
                me.problem(
                    &at,
                    "a state cannot be empty",
                    "name it, such as `Started` or `Done`",
                );
                return None;
            }
            Some(Arc::from(text))
        };
        let when = state(self, "whenState");
        let then = state(self, "newState");
        let scenario = match fields.get("scenario") {
            None => {
                for field in ["whenState", "newState"] {
                    if fields.get(field).is_some() {
                        self.problem(
                            &join(at, field),
                            format!("`{field}` needs a `scenario`"),
                            "add `scenario: NAME` to this rule (every scenario starts in `Started`)",
                        );
                    }
                }
                None
            }
            Some(v) => {
                let at = join(at, "scenario");
                match self.text(&at, v) {
                    Some(name) if name.is_empty() => {
                        self.problem(&at, "a scenario's name cannot be empty", "");
                        None
                    }
                    Some(name) => {
                        if when.is_none() && then.is_none() && self.problems.len() == before {
                            self.problem(
                                &at,
                                "a rule in a scenario needs `whenState`, `newState` or both",
                                "add `whenState: Started` to answer only in the first state, or remove `scenario`",
                            );
                        }
                        Some(name)
                    }
                    None => None,
                }
            }
        };
        if self.problems.len() != before {
            return Err(());
        }
        let Some(name) = scenario else {
            return Ok(None);
        };
        let notes = &mut self.scenarios;
        let index = match notes.names.iter().position(|n| *n == name) {
            Some(index) => index,
            None => {
                notes.names.push(name);
                notes.names.len() - 1
            }
        };
        if let Some(when) = &when {
            notes
                .wants
                .push((index, when.clone(), join(at, "whenState")));
        }
        if let Some(then) = &then {
            notes.reached.insert((index, then.clone()));
        }
        Ok(Some(Step {
            scenario: index,
            when,
            then,
        }))
    }

    /// Every rule read: checks each `whenState` can be reached.
    pub(super) fn scenarios(&mut self) -> Scenarios {
        let notes = std::mem::take(&mut self.scenarios);
        for (index, when, at) in &notes.wants {
            if &**when == STARTED || notes.reached.contains(&(*index, when.clone())) {
                continue;
            }
            let mut states: Vec<&str> = notes
                .reached
                .iter()
                .filter(|(i, _)| i == index)
                .map(|(_, s)| &**s)
                .collect();
            states.sort_unstable();
            states.insert(0, STARTED);
            let name = &notes.names[*index];
            self.problem(
                at,
                format!("no rule moves scenario `{name}` to `{when}`, so this rule never answers"),
                &format!(
                    "use a state it reaches ({}; names are case-sensitive), or add `newState: {when}` to the rule that leads there",
                    states.join(", ")
                ),
            );
        }
        Scenarios::new(notes.names)
    }
}
