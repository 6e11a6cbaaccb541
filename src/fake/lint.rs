//! What `grpc-double check` says about fixtures that load: stubs that can never answer,
//! scenario states nothing reaches, and which RPCs the stubs cover.
//!
//! Loading already rejects what cannot work (unknown fields, templates that refer to nothing,
//! templates where none may stand); the lints are about fixtures that work but probably not as
//! meant.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{
    Schema,
    fake::model::{Computed, FixtureLocation, Fixtures, Matcher, Respond, START_STATE, Step, Stub},
    schema::method_name,
};

/// How much a lint matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LintLevel {
    /// Worth knowing (e.g. an RPC without stubs).
    Note,
    /// Probably a mistake; `check --deny-warnings` fails on it.
    Warning,
}

/// One thing `check` says about loaded fixtures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lint {
    /// How much it matters.
    pub level: LintLevel,
    /// A stable code, e.g. `grpc_double::lint::shadowed`.
    pub code: &'static str,
    /// What it is, e.g. "stub `b` can never match: stub `a` has no `when` and is tried first".
    pub message: String,
    /// Where, when it is about a stub.
    pub location: Option<FixtureLocation>,
}

/// How many stubs answer one RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Coverage {
    /// `package.Service/Method`.
    pub method: String,
    /// Stubs for it.
    pub stubs: usize,
}

impl Fixtures {
    /// Lints the fixtures against the schema they loaded with.
    pub fn lint(&self, schema: &Schema) -> Vec<Lint> {
        let mut out = Vec::new();
        shadowed(&self.stubs, &mut out);
        unreachable_states(&self.stubs, &mut out);
        for entry in self.coverage(schema) {
            if entry.stubs == 0 {
                out.push(Lint {
                    level: LintLevel::Note,
                    code: "grpc_double::lint::uncovered",
                    message: format!(
                        "{} has no stub; calls to it answer UNIMPLEMENTED",
                        entry.method
                    ),
                    location: None,
                });
            }
        }
        out
    }

    /// Gets every RPC of the schema's services with its number of stubs, in schema order.
    pub fn coverage(&self, schema: &Schema) -> Vec<Coverage> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for stub in &self.stubs {
            *counts.entry(stub.method_name()).or_default() += 1;
        }
        schema
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .map(|m| {
                let method = method_name(&m);
                let stubs = counts.get(&method).copied().unwrap_or_default();
                Coverage { method, stubs }
            })
            .collect()
    }
}

/// A stub after a catch-all (no `when`, no `times`) of its method never answers.
fn shadowed(stubs: &[Stub], out: &mut Vec<Lint>) {
    let mut catch_all: HashMap<String, &Stub> = HashMap::new();
    for stub in stubs {
        let method = stub.method_name();
        match catch_all.get(&method) {
            Some(first) => out.push(Lint {
                level: LintLevel::Warning,
                code: "grpc_double::lint::shadowed",
                message: format!(
                    "{stub} can never match: {first} has no `when` and is tried first"
                ),
                location: stub.origin.clone(),
            }),
            None if stub.when.is_empty()
                && stub.times.is_none()
                && !matches!(stub.then, Respond::Conversation(_)) =>
            {
                catch_all.insert(method, stub);
            }
            None => {}
        }
    }
}

/// States that a stub requires (`when.state`) but no stub sets and no scenario starts in.
fn unreachable_states(stubs: &[Stub], out: &mut Vec<Lint>) {
    let mut set: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut templated: BTreeSet<&str> = BTreeSet::new();
    for stub in stubs {
        let Some(scenario) = stub.scenario.as_deref() else {
            continue;
        };
        let mut effects: Vec<&crate::fake::model::Effects> = stub
            .then
            .replies()
            .into_iter()
            .map(|r| &r.effects)
            .collect();
        if let Respond::Conversation(steps) = &stub.then {
            effects.extend(steps.iter().filter_map(|s| match s {
                Step::Effects(e) => Some(e),
                _ => None,
            }));
        }
        for effect in effects {
            match &effect.set_state {
                Some(Computed::Fixed(state)) => {
                    set.entry(scenario).or_default().insert(state.clone());
                }
                Some(Computed::Template(_)) => {
                    templated.insert(scenario);
                }
                None => {}
            }
        }
    }
    for stub in stubs {
        let Some(scenario) = stub.scenario.as_deref() else {
            continue;
        };
        if templated.contains(scenario) {
            continue;
        }
        for state in required_states(&stub.when) {
            let reachable =
                state == START_STATE || set.get(scenario).is_some_and(|s| s.contains(state));
            if !reachable {
                out.push(Lint {
                    level: LintLevel::Warning,
                    code: "grpc_double::lint::unreachable_state",
                    message: format!(
                        "{stub} needs scenario `{scenario}` in state `{state}`, but no stub moves it there (it starts in `{START_STATE}`)"
                    ),
                    location: stub.origin.clone(),
                });
            }
        }
    }
}

fn required_states(matchers: &[Matcher]) -> Vec<&str> {
    matchers
        .iter()
        .flat_map(|m| match m {
            Matcher::State(states) => states.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}
