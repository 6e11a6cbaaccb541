//! What a running server can be asked and told while it serves: its stubs (list, add,
//! replace, remove, reset), its journal (query, clear, verify), which stubs were used, the
//! calls nobody answered, scenario states, health, sessions, and a new set of fixture files.
//!
//! The admin API, the Rust API and hot reload all go through here. Changes take the store's
//! lock (calls never do: they read the published snapshot).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use super::{
    journal::{Journal, Query, ReceivedCall},
    state::{Shared, scoped_key},
    store::{Store, Stored},
    verify::{Verification, verify},
};
use crate::fake::model::{Expect, Fixtures, Health, Matcher, Stub};

/// A stub as the admin API and the Rust API list it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct StubInfo {
    /// The server's number for the stub (stable while it lives; file stubs get new numbers
    /// when the files reload).
    pub uid: u64,
    /// The stub's own `id`, if it has one.
    pub id: Option<String>,
    /// Its `name`, if it has one.
    pub name: Option<String>,
    /// `package.Service/Method`.
    pub method: String,
    /// How logs and errors name it, e.g. ``stub `missing-user` (fixtures/users.yaml:12:3)``.
    pub label: String,
    /// `file` (loaded from a fixture file) or `added` (admin API, Rust API).
    pub source: &'static str,
    /// The session an added stub belongs to; `None` for shared stubs.
    pub session: Option<String>,
    /// Higher is tried first.
    pub priority: i64,
    /// Calls it answered (in the session asked about, when one is).
    pub calls: u64,
    /// What it expects (`expect:`), e.g. `exactly 1 call`.
    pub expect: Option<String>,
    /// Whether the calls meet the expectation (`None` without one).
    pub expect_met: Option<bool>,
    /// Where a file stub was written, `file:line:col`.
    pub origin: Option<String>,
    /// An added stub as it was sent, as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<serde_json::Value>,
}

/// One scenario's state for one key.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ScenarioState {
    /// The scenario's name.
    pub scenario: String,
    /// The session it belongs to (`None` when shared).
    pub session: Option<String>,
    /// The stub's `key` value (`""` without a key).
    pub key: String,
    /// The state it is in.
    pub state: String,
}

/// A session the server has seen, and how long it has been idle.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's name.
    pub session: String,
    /// Milliseconds since a call or an admin request last used it.
    pub idle_ms: u64,
    /// Stubs added to it.
    pub stubs: usize,
}

/// A running server's control surface (shared by the admin API, the Rust API and reload).
#[derive(Debug)]
pub(crate) struct Control {
    store: Mutex<Store>,
    pub(crate) journal: Arc<Journal>,
    pub(crate) shared: Arc<Shared>,
    services: Vec<String>,
}

impl Control {
    pub(crate) fn new(
        store: Store,
        journal: Arc<Journal>,
        shared: Arc<Shared>,
        services: Vec<String>,
    ) -> Self {
        Self {
            store: Mutex::new(store),
            journal,
            shared,
            services,
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gets the full names of the services served.
    pub(crate) fn services(&self) -> &[String] {
        &self.services
    }

    /// Every stub in priority order, with its calls; `session` narrows to the shared stubs
    /// and that session's (and counts that session's calls).
    pub(crate) fn stubs(&self, session: Option<&str>) -> Vec<StubInfo> {
        self.store()
            .stubs()
            .iter()
            .filter(|s| s.session.is_none() || s.session.as_deref() == session || session.is_none())
            .map(|s| info(s, session))
            .collect()
    }

    /// Finds a stub by its number or its `id` (the session's first).
    pub(crate) fn find(&self, reference: &str, session: Option<&str>) -> Option<(StubInfo, Stub)> {
        let store = self.store();
        let stubs = store.stubs();
        let visible = |s: &&Stored| s.session.is_none() || s.session.as_deref() == session;
        let by_uid = reference
            .parse::<u64>()
            .ok()
            .and_then(|uid| stubs.iter().filter(visible).find(|s| s.uid == uid));
        let found = by_uid.or_else(|| {
            stubs
                .iter()
                .filter(visible)
                .filter(|s| s.stub.id.as_deref() == Some(reference))
                .min_by_key(|s| s.session.is_none())
        })?;
        Some((info(found, session), found.stub.clone()))
    }

    /// Adds stubs (to a session, when given); returns them as listed.
    ///
    /// # Errors
    ///
    /// A stub's `id` is already taken by a stub the same calls see; nothing is added then.
    pub(crate) fn add(
        &self,
        stubs: Vec<(Stub, Option<serde_json::Value>)>,
        session: Option<&str>,
    ) -> Result<Vec<StubInfo>, String> {
        let mut store = self.store();
        for (stub, _) in &stubs {
            if let Some(id) = &stub.id
                && let Some(taken) = store.stubs().iter().find(|s| {
                    s.stub.id.as_deref() == Some(id)
                        && (s.session.is_none() || s.session.as_deref() == session)
                })
            {
                return Err(format!(
                    "stub id `{id}` is taken by {}; give the new stub another id, or replace that one (PUT /api/stubs/{id})",
                    taken.stub
                ));
            }
        }
        let uids = store.add(stubs, session);
        let all = store.stubs();
        Ok(uids
            .iter()
            .filter_map(|uid| all.iter().find(|s| s.uid == *uid))
            .map(|s| info(s, session))
            .collect())
    }

    /// Replaces an added stub (found by number or id); `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// The stub was loaded from a file (files change by editing them).
    pub(crate) fn replace(
        &self,
        reference: &str,
        session: Option<&str>,
        stub: Stub,
        definition: Option<serde_json::Value>,
    ) -> Result<Option<StubInfo>, String> {
        let Some((found, _)) = self.find(reference, session) else {
            return Ok(None);
        };
        if found.source == "file" {
            return Err(file_stub(&found));
        }
        let mut store = self.store();
        store.replace(found.uid, stub, definition);
        Ok(store
            .stubs()
            .iter()
            .find(|s| s.uid == found.uid)
            .map(|s| info(s, session)))
    }

    /// Removes an added stub (found by number or id); `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// The stub was loaded from a file.
    pub(crate) fn remove(
        &self,
        reference: &str,
        session: Option<&str>,
    ) -> Result<Option<StubInfo>, String> {
        let Some((found, _)) = self.find(reference, session) else {
            return Ok(None);
        };
        if found.source == "file" {
            return Err(file_stub(&found));
        }
        self.store().remove(|s| s.uid == found.uid);
        Ok(Some(found))
    }

    /// Removes every added stub (of one session, when given); returns how many.
    pub(crate) fn remove_added(&self, session: Option<&str>) -> usize {
        self.store()
            .remove(|s| session.is_none() || s.session.as_deref() == session)
    }

    /// Back to the files: added stubs removed, counters and scenario states cleared, the
    /// journal cleared — all of them, or one session's.
    pub(crate) fn reset(&self, session: Option<&str>) {
        self.store().reset(session);
        self.journal.clear(session);
    }

    /// Replaces the stubs loaded from files (a reload): added stubs, counters of stubs that
    /// stay, and scenario states are kept.
    pub(crate) fn set_files(&self, fixtures: Fixtures) {
        self.store().set_files(fixtures);
    }

    /// The recorded calls a query wants, oldest first.
    pub(crate) fn calls(&self, query: &Query) -> Vec<ReceivedCall> {
        self.journal
            .entries(query)
            .iter()
            .map(|e| e.to_call())
            .collect()
    }

    /// Counts the recorded calls of `method` that `when` matches (in one session, when given).
    pub(crate) fn verify(
        &self,
        method: &str,
        when: &[Matcher],
        expect: Expect,
        session: Option<&str>,
    ) -> Verification {
        let query = Query {
            method: Some(method.to_owned()),
            session: session.map(|s| Some(s.to_owned())),
            ..Query::default()
        };
        verify(&self.journal.entries(&query), method, when, expect)
    }

    /// Every scenario's states.
    pub(crate) fn scenarios(&self) -> Vec<ScenarioState> {
        let store = self.store();
        let mut out = Vec::new();
        for (name, scenario) in store.scenarios() {
            let states = scenario.states();
            if states.is_empty() {
                out.push(ScenarioState {
                    scenario: name.clone(),
                    session: None,
                    key: String::new(),
                    state: crate::fake::model::START_STATE.to_owned(),
                });
            }
            for (scoped, state) in states {
                let (session, key) = match scoped.split_once('\u{1}') {
                    Some((session, key)) => (Some(session.to_owned()), key.to_owned()),
                    None => (None, scoped),
                };
                out.push(ScenarioState {
                    scenario: name.clone(),
                    session,
                    key,
                    state: state.to_string(),
                });
            }
        }
        out.sort_by(|a, b| {
            (&a.scenario, &a.session, &a.key).cmp(&(&b.scenario, &b.session, &b.key))
        });
        out
    }

    /// Sets a scenario's state (for a key and session); `false` when there is no such
    /// scenario.
    pub(crate) fn set_scenario(
        &self,
        name: &str,
        key: Option<&str>,
        session: Option<&str>,
        state: &str,
    ) -> bool {
        let store = self.store();
        let Some(scenario) = store.scenarios().get(name) else {
            return false;
        };
        let key = scoped_key(session, key.filter(|k| !k.is_empty())).unwrap_or_default();
        scenario.lock().insert(key, Arc::from(state));
        true
    }

    /// Gets the names of the scenarios.
    pub(crate) fn scenario_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.store().scenarios().keys().cloned().collect();
        names.sort();
        names
    }

    /// Gets each service's health (`""` is the server as a whole).
    pub(crate) fn health(&self) -> BTreeMap<String, Health> {
        self.shared.health_now()
    }

    /// Sets a service's health.
    pub(crate) async fn set_health(&self, service: &str, health: Health) {
        self.shared.set_health(service, health).await;
    }

    /// The sessions seen, with their idle times and stubs.
    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        let store = self.store();
        let stubs = store.stubs();
        store
            .sessions()
            .into_iter()
            .map(|(session, idle)| SessionInfo {
                stubs: stubs
                    .iter()
                    .filter(|s| s.session.as_deref() == Some(session.as_str()))
                    .count(),
                session,
                idle_ms: idle.as_millis() as u64,
            })
            .collect()
    }

    /// Forgets the sessions idle for longer than `ttl`: their stubs, counters, states and
    /// journal entries. Returns them.
    pub(crate) fn expire_sessions(&self, ttl: Duration) -> Vec<String> {
        let idle = self.store().idle_sessions(ttl);
        for session in &idle {
            self.reset(Some(session));
        }
        idle
    }
}

fn file_stub(found: &StubInfo) -> String {
    format!(
        "{} comes from a fixture file: edit the file (the server reloads it), or add a stub with a higher `priority`",
        found.label
    )
}

fn info(stored: &Stored, session: Option<&str>) -> StubInfo {
    let calls = match session {
        Some(session) => stored.counter.in_session(session),
        None => stored.counter.total(),
    };
    let stub = &stored.stub;
    StubInfo {
        uid: stored.uid,
        id: stub.id.clone(),
        name: stub.name.clone(),
        method: stub.method_name(),
        label: stub.to_string(),
        source: if stored.added { "added" } else { "file" },
        session: stored.session.clone(),
        priority: stub.priority,
        calls,
        expect: stub.expect.map(|e| e.to_string()),
        expect_met: stub.expect.map(|e| e.holds(calls)),
        origin: stub.origin.as_ref().map(ToString::to_string),
        definition: stored.definition.as_deref().cloned(),
    }
}
