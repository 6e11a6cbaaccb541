//! One method's route: its stubs, their counters, an index, and the choice of the stub that
//! answers a call.
//!
//! Choosing asks each matcher only whether it matches; the explanation of a miss — the closest
//! stub and why it was passed over — is built only when no stub matched. With many stubs on a
//! method, the route indexes them by the field most of them compare for equality (`user_id:
//! "42"`), so a call tries the stubs for its value and those without such a condition, in
//! priority order. A stub that counts (`times`, `sequence`) or moves a scenario claims its turn
//! atomically, so concurrent calls never share an attempt or skip a state.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use prost_reflect::{FieldDescriptor, MethodDescriptor, Value};
use tonic::Status;

use super::{
    journal::StubRef,
    state::{Scenario, in_session, scoped_key, state_of},
};
use crate::fake::model::{Call, Computed, Miss, Reply, Respond, Stub, closeness, no_state};
use crate::schema::value::{
    flat::FlatDecoder,
    lazy::LazyMessage,
    show::{Style, show_message},
};

/// Per-stub counts of matching calls, per key (and session).
#[derive(Debug, Default)]
pub(crate) struct Counter {
    plain: AtomicU64,
    keyed: Mutex<HashMap<String, u64>>,
}

impl Counter {
    /// Gets how many calls the stub answered, over every key.
    pub(crate) fn total(&self) -> u64 {
        let keyed: u64 = self
            .keyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum();
        self.plain.load(Ordering::Relaxed) + keyed
    }

    /// Gets how many calls of one session the stub answered.
    pub(crate) fn in_session(&self, session: &str) -> u64 {
        self.keyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(key, _)| in_session(key, session))
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets the counts of one session.
    pub(crate) fn forget_session(&self, session: &str) {
        self.keyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key, _| !in_session(key, session));
    }

    /// Claims the next attempt (1-based), unless `times` are used up.
    fn claim(&self, key: Option<&str>, times: Option<u64>) -> Option<u64> {
        let limit = times.unwrap_or(u64::MAX);
        match key {
            None => self
                .plain
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                })
                .ok()
                .map(|n| n + 1),
            Some(key) => {
                let mut keyed = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
                let n = keyed.entry(key.to_owned()).or_insert(0);
                (*n < limit).then(|| {
                    *n += 1;
                    *n
                })
            }
        }
    }
}

/// A hashable form of an indexed field's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IndexKey {
    Text(String),
    Bytes(Vec<u8>),
    Int(i128),
    Bool(bool),
}

fn index_key(value: &Value) -> Option<IndexKey> {
    Some(match value {
        Value::String(s) => IndexKey::Text(s.clone()),
        Value::Bytes(b) => IndexKey::Bytes(b.to_vec()),
        Value::Bool(b) => IndexKey::Bool(*b),
        Value::I32(v) | Value::EnumNumber(v) => IndexKey::Int(i128::from(*v)),
        Value::I64(v) => IndexKey::Int(i128::from(*v)),
        Value::U32(v) => IndexKey::Int(i128::from(*v)),
        Value::U64(v) => IndexKey::Int(i128::from(*v)),
        _ => return None,
    })
}

/// Stubs by the value they require of one field; the others apart.
#[derive(Debug)]
struct Index {
    field: FieldDescriptor,
    by_value: HashMap<IndexKey, Vec<usize>>,
    rest: Vec<usize>,
}

impl Index {
    /// The index over the field most stubs compare, when enough of them do to pay off.
    fn build(stubs: &[Stub]) -> Option<Self> {
        const WORTH_IT: usize = 8;
        let mut counts: HashMap<String, (FieldDescriptor, usize)> = HashMap::new();
        for stub in stubs {
            for matcher in &stub.when {
                if let Some((field, _)) = matcher.index_key() {
                    counts
                        .entry(field.full_name().to_owned())
                        .or_insert_with(|| (field.clone(), 0))
                        .1 += 1;
                }
            }
        }
        let (field, count) = counts.into_values().max_by_key(|(_, n)| *n)?;
        if count < WORTH_IT {
            return None;
        }
        let mut by_value: HashMap<IndexKey, Vec<usize>> = HashMap::new();
        let mut rest = Vec::new();
        for (i, stub) in stubs.iter().enumerate() {
            let key = stub
                .when
                .iter()
                .filter_map(|m| m.index_key())
                .find(|(f, _)| **f == field)
                .and_then(|(_, value)| index_key(value));
            match key {
                Some(key) => by_value.entry(key).or_default().push(i),
                None => rest.push(i),
            }
        }
        Some(Self {
            field,
            by_value,
            rest,
        })
    }

    /// The stubs that may match `request`, in priority order.
    fn candidates(&self, request: &LazyMessage) -> Vec<usize> {
        let value = request.field(&self.field);
        let keyed = index_key(&value)
            .and_then(|k| self.by_value.get(&k))
            .map_or(&[][..], Vec::as_slice);
        // Both lists are sorted: merge them.
        let rest = &self.rest;
        let mut out = Vec::with_capacity(keyed.len() + rest.len());
        let (mut i, mut j) = (0, 0);
        while i < keyed.len() || j < rest.len() {
            if j >= rest.len() || (i < keyed.len() && keyed[i] < rest[j]) {
                out.push(keyed[i]);
                i += 1;
            } else {
                out.push(rest[j]);
                j += 1;
            }
        }
        out
    }
}

/// The stub that answers a call, and for which turn.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// The route it came from: the session's, or the shared one.
    pub(crate) entry: Arc<MethodEntry>,
    pub(crate) stub: usize,
    /// This stub's matching calls so far (for its key), this one included.
    pub(crate) attempt: u64,
    pub(crate) key: Option<String>,
    /// The stub's scenario state when it matched.
    pub(crate) state: Arc<str>,
}

/// One method: descriptors, kind and its stubs, highest priority first.
#[derive(Debug)]
pub(crate) struct MethodEntry {
    pub(crate) method: MethodDescriptor,
    /// `package.Service/Method`.
    pub(crate) name: Arc<str>,
    /// `/package.Service/Method`, as the journal names the calls.
    pub(crate) path: Arc<str>,
    /// Decodes the input type directly when all its fields are singular scalars.
    pub(crate) flat: Option<Arc<FlatDecoder>>,
    pub(crate) stubs: Vec<Stub>,
    counters: Vec<Arc<Counter>>,
    /// How the journal names each stub, made once (not per call).
    refs: Vec<StubRef>,
    index: Option<Index>,
    /// Whether some stub answers a bidi call after it half-closes (`mode: collect`).
    pub(crate) has_collect: bool,
}

impl MethodEntry {
    pub(crate) fn new(
        method: MethodDescriptor,
        name: Arc<str>,
        stubs: Vec<(Stub, Arc<Counter>)>,
    ) -> Self {
        let (stubs, counters): (Vec<Stub>, Vec<Arc<Counter>>) = stubs.into_iter().unzip();
        let flat = FlatDecoder::new(&method.input()).map(Arc::new);
        let index = Index::build(&stubs);
        let refs = stubs
            .iter()
            .map(|stub| StubRef {
                label: stub.label.clone(),
                id: stub.id.as_deref().map(Arc::from),
            })
            .collect();
        let has_collect = stubs
            .iter()
            .any(|s| s.mode == crate::fake::model::Mode::Collect);
        Self {
            counters,
            refs,
            method,
            path: format!("/{name}").into(),
            flat,
            name,
            stubs,
            index,
            has_collect,
        }
    }

    /// Chooses the first stub (by priority, then file order) whose conditions hold and whose
    /// turn is free; `accept` says which stubs take part (e.g. conversations at a call's start).
    pub(crate) fn find(
        self: &Arc<Self>,
        call: &Call<'_>,
        lookup: &Lookup<'_>,
        accept: &impl Fn(&Stub) -> bool,
    ) -> Option<Choice> {
        let try_one = |i: usize| {
            let stub = &self.stubs[i];
            if !accept(stub) {
                return None;
            }
            self.try_stub(i, stub, call, lookup)
        };
        match (&self.index, call.request) {
            (Some(index), Some(request)) => index.candidates(request).into_iter().find_map(try_one),
            _ => (0..self.stubs.len()).find_map(try_one),
        }
    }

    /// The stub's key for this call (`key: "{{ request.job_id }}"`), scoped to the session.
    fn key(stub: &Stub, call: &Call<'_>, session: Option<&str>) -> Option<String> {
        let key = stub
            .key
            .as_ref()
            .map(|t| t.render_text(call.context()).unwrap_or_default());
        scoped_key(session, key.as_deref())
    }

    fn try_stub(
        self: &Arc<Self>,
        i: usize,
        stub: &Stub,
        call: &Call<'_>,
        lookup: &Lookup<'_>,
    ) -> Option<Choice> {
        let key = Self::key(stub, call, lookup.session);
        let scenario: Option<&Scenario> = stub
            .scenario
            .as_ref()
            .and_then(|s| lookup.scenarios.get(s).map(|s| &**s));
        let Some(scenario) = scenario else {
            call.clear_scenario_state();
            if !stub.when.iter().all(|m| m.matches(call)) {
                return None;
            }
            let attempt = self.counters[i].claim(key.as_deref(), stub.times)?;
            return Some(Choice {
                entry: self.clone(),
                stub: i,
                attempt,
                key,
                state: no_state(),
            });
        };
        // Read, check and move the scenario under its lock: concurrent calls see each state
        // exactly once.
        let mut states = scenario.lock();
        let scenario_key = key.clone().unwrap_or_default();
        let state = state_of(&states, &scenario_key);
        call.set_scenario_state(state.clone());
        if !stub.when.iter().all(|m| m.matches(call)) {
            return None;
        }
        let attempt = self.counters[i].claim(key.as_deref(), stub.times)?;
        let choice = Choice {
            entry: self.clone(),
            stub: i,
            attempt,
            key,
            state,
        };
        if let Some(reply) = stub.then.reply_for(attempt)
            && let Some(next) = &reply.effects.set_state
        {
            let next = match next {
                Computed::Fixed(s) => s.clone(),
                Computed::Template(t) => t
                    .render_text(&reply_context(call, &choice))
                    .unwrap_or_default(),
            };
            states.insert(scenario_key, Arc::from(next));
        }
        Some(choice)
    }

    /// The closest stub to a call none matched, with its reasons and its distance.
    pub(crate) fn closest(
        &self,
        call: &Call<'_>,
        lookup: &Lookup<'_>,
        accept: &impl Fn(&Stub) -> bool,
    ) -> Option<(Vec<Miss>, &Stub, f64)> {
        self.stubs
            .iter()
            .filter(|stub| accept(stub))
            .map(|stub| {
                let state = stub
                    .scenario
                    .as_ref()
                    .and_then(|s| lookup.scenarios.get(s).map(|s| &**s))
                    .map_or_else(
                        || Arc::from(""),
                        |s| {
                            state_of(
                                &s.lock(),
                                &Self::key(stub, call, lookup.session).unwrap_or_default(),
                            )
                        },
                    );
                call.set_scenario_state(state);
                let mut misses: Vec<Miss> = Vec::new();
                stub.when
                    .iter()
                    .for_each(|m| m.mismatches(call, &mut misses));
                let held: usize = stub.when.iter().map(|m| m.held(call)).sum();
                if misses.is_empty() {
                    misses.push(Miss {
                        reason: format!(
                            "it matched, but has answered its {} calls (`times`)",
                            stub.times.unwrap_or_default()
                        ),
                        distance: 0.0,
                    });
                }
                // Each miss costs 0.5 to 1 (by how near the value came); each check that held
                // takes off a little.
                let distance = closeness(&misses) - 0.1 * held as f64;
                (misses, stub, distance)
            })
            // Closest first; ties keep priority order.
            .min_by(|(_, _, a), (_, _, b)| a.total_cmp(b))
    }
}

impl Choice {
    /// The stub that answers.
    pub(crate) fn stub(&self) -> &Stub {
        &self.entry.stubs[self.stub]
    }

    /// How the journal names the stub.
    pub(crate) fn stub_ref(&self) -> StubRef {
        self.entry.refs[self.stub].clone()
    }

    /// The reply it answers with (`None` for a conversation).
    pub(crate) fn reply(&self) -> Option<&Reply> {
        self.stub().then.reply_for(self.attempt)
    }

    /// How the stub answers.
    pub(crate) fn respond(&self) -> &Respond {
        &self.stub().then
    }
}

/// Cuts `text` to at most `max` bytes (on a character boundary), marking the cut with `…`.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Where a call looks stubs up: the published scenarios and its session.
pub(crate) struct Lookup<'a> {
    pub(crate) scenarios: &'a HashMap<String, Arc<Scenario>>,
    pub(crate) session: Option<&'a str>,
}

/// Chooses among the session's route (first) and the shared one; UNIMPLEMENTED naming the
/// closest stub of either when none matched.
pub(crate) fn choose(
    routes: &[&Arc<MethodEntry>],
    call: &Call<'_>,
    lookup: &Lookup<'_>,
    accept: impl Fn(&Stub) -> bool,
) -> Result<Choice, Status> {
    if let Some(choice) = routes
        .iter()
        .find_map(|entry| entry.find(call, lookup, &accept))
    {
        return Ok(choice);
    }
    let Some(first) = routes.last() else {
        return Err(Status::unimplemented("no route"));
    };
    let name = &first.name;
    let request = match call.request {
        Some(message) if call.len <= 1 => truncate(&show_message(message, Style::MATCHING), 200),
        _ => format!("{} messages", call.len),
    };
    let closest = routes
        .iter()
        .filter_map(|entry| entry.closest(call, lookup, &accept))
        .min_by(|(_, _, a), (_, _, b)| a.total_cmp(b));
    let message = match closest {
        None => format!(
            "no stub for {name}; add one to your fixtures: `- method: {name}` (request: {request})"
        ),
        Some((misses, stub, _)) => format!(
            "no stub matched {name} (request: {request}); closest is {stub}: {}",
            misses
                .iter()
                .map(|m| m.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    Err(Status::unimplemented(message))
}

/// The context a chosen reply renders with: none at all (undefined) when nothing in the reply
/// is a template, which is what lets a constant reply skip building one per call.
pub(crate) fn context_for(call: &Call<'_>, choice: &Choice) -> minijinja::Value {
    match choice.reply() {
        Some(reply) if !reply.reads_call() => minijinja::Value::UNDEFINED,
        _ => reply_context(call, choice),
    }
}

/// The template context of a chosen reply: the call's, with `attempt` and `state`.
pub(crate) fn reply_context(call: &Call<'_>, choice: &Choice) -> minijinja::Value {
    call.reply_context(choice.attempt, choice.state.clone())
}
