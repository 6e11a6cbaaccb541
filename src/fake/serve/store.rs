//! The stubs the server answers from, and how they change while it runs: fixture files
//! (reloaded when they change), stubs added by tests (the admin API and the Rust builder),
//! shared or scoped to a session.
//!
//! Calls read an immutable [`Snapshot`] (one `Arc` clone per call); every change builds a new one
//! and swaps it in at once, so no call ever sees half of a change. A stub keeps its counters
//! (sequences, `times`) across rebuilds; scenarios keep their states across reloads.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use prost_reflect::ServiceDescriptor;

use super::{
    route::{Counter, MethodEntry},
    state::Scenario,
};
use crate::{
    fake::model::{Fixtures, Stub},
    schema::method_name,
};

/// A stub as the store keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) uid: u64,
    pub(crate) stub: Stub,
    /// `None` for file stubs and shared admin stubs.
    pub(crate) session: Option<String>,
    /// Added at run time (admin API, Rust builder), not loaded from a file.
    pub(crate) added: bool,
    pub(crate) counter: Arc<Counter>,
    /// The stub as it was sent (admin API, Rust API), as JSON.
    pub(crate) definition: Option<Arc<serde_json::Value>>,
}

/// Routes by path (`/package.Service/Method`).
pub(crate) type Routes = HashMap<String, Arc<MethodEntry>>;

/// Stubs per method name, each with its counter, in priority order.
type ByMethod = HashMap<String, Vec<(Stub, Arc<Counter>)>>;

/// What calls read: every route, shared and per session, and the scenarios.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) shared: Routes,
    pub(crate) sessions: HashMap<String, Routes>,
    pub(crate) scenarios: HashMap<String, Arc<Scenario>>,
    /// When each known session was last used, in milliseconds since the store started.
    pub(crate) session_used: HashMap<String, Arc<AtomicU64>>,
    epoch: Option<Instant>,
}

impl Snapshot {
    /// Gets a scenario by name.
    pub(crate) fn scenario(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.get(name).map(|s| &**s)
    }

    /// Notes that a session is in use (lock-free: one atomic store).
    pub(crate) fn touch(&self, session: &str) {
        if let (Some(used), Some(epoch)) = (self.session_used.get(session), self.epoch) {
            used.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
    }
}

/// The store: what the snapshot is built from.
#[derive(Debug)]
pub(crate) struct Store {
    services: Vec<ServiceDescriptor>,
    stubs: Vec<Stored>,
    scenarios: HashMap<String, Arc<Scenario>>,
    next_uid: u64,
    published: Arc<ArcSwap<Snapshot>>,
    /// When each session was last used (for the idle TTL), in milliseconds since `epoch`.
    sessions: HashMap<String, Arc<AtomicU64>>,
    epoch: Instant,
}

impl Store {
    pub(crate) fn new(services: Vec<ServiceDescriptor>, fixtures: Fixtures) -> Self {
        let mut store = Self {
            services,
            stubs: Vec::new(),
            scenarios: HashMap::new(),
            next_uid: 0,
            published: Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            sessions: HashMap::new(),
            epoch: Instant::now(),
        };
        for stub in fixtures.stubs {
            store.insert(stub, None, None);
        }
        store.rebuild();
        store
    }

    /// Stores a stub; `definition` is `Some` for added stubs.
    fn insert(
        &mut self,
        stub: Stub,
        session: Option<String>,
        definition: Option<Option<serde_json::Value>>,
    ) -> u64 {
        self.next_uid += 1;
        if let Some(name) = &stub.scenario {
            self.scenarios.entry(name.clone()).or_default();
        }
        self.stubs.push(Stored {
            uid: self.next_uid,
            stub,
            session,
            added: definition.is_some(),
            counter: Arc::new(Counter::default()),
            definition: definition.flatten().map(Arc::new),
        });
        self.next_uid
    }

    /// Where calls read the snapshot (it changes with every change to the store).
    pub(crate) fn published(&self) -> Arc<ArcSwap<Snapshot>> {
        self.published.clone()
    }

    /// Builds the snapshot again from the stubs, and swaps it in.
    fn rebuild(&mut self) {
        // Priority order (stable): higher first; at equal priority, added stubs (in the order
        // they were added) before file stubs (in file order).
        let mut order: Vec<&Stored> = self.stubs.iter().collect();
        order.sort_by_key(|s| (std::cmp::Reverse(s.stub.priority), !s.added));
        let mut shared: ByMethod = HashMap::new();
        let mut sessions: HashMap<String, ByMethod> = HashMap::new();
        for stored in order {
            let name = method_name(&stored.stub.method);
            let target = match &stored.session {
                None => shared.entry(name).or_default(),
                Some(s) => sessions
                    .entry(s.clone())
                    .or_default()
                    .entry(name)
                    .or_default(),
            };
            target.push((stored.stub.clone(), stored.counter.clone()));
        }
        let routes = |mut by_method: ByMethod, all: bool| {
            let mut routes = Routes::new();
            for service in &self.services {
                for method in service.methods() {
                    let name = method_name(&method);
                    let stubs = by_method.remove(&name).unwrap_or_default();
                    if stubs.is_empty() && !all {
                        continue;
                    }
                    routes.insert(
                        format!("/{name}"),
                        Arc::new(MethodEntry::new(method, name.into(), stubs)),
                    );
                }
            }
            routes
        };
        let snapshot = Snapshot {
            shared: routes(shared, true),
            sessions: sessions
                .into_iter()
                .map(|(session, by_method)| (session, routes(by_method, false)))
                .collect(),
            scenarios: self.scenarios.clone(),
            session_used: self.sessions.clone(),
            epoch: Some(self.epoch),
        };
        self.published.store(Arc::new(snapshot));
    }

    /// Replaces the stubs loaded from files (a reload), keeping added stubs and scenario states.
    pub(crate) fn set_files(&mut self, fixtures: Fixtures) {
        self.stubs.retain(|s| s.added);
        for stub in fixtures.stubs {
            self.insert(stub, None, None);
        }
        self.rebuild();
    }

    /// Adds stubs (to a session, when given); returns their ids in the store.
    pub(crate) fn add(
        &mut self,
        stubs: Vec<(Stub, Option<serde_json::Value>)>,
        session: Option<&str>,
    ) -> Vec<u64> {
        let uids = stubs
            .into_iter()
            .map(|(stub, definition)| {
                self.insert(stub, session.map(str::to_owned), Some(definition))
            })
            .collect();
        if let Some(session) = session {
            self.touch(session);
        }
        self.rebuild();
        uids
    }

    /// Removes the added stubs that `keep` rejects; returns how many.
    pub(crate) fn remove(&mut self, mut remove: impl FnMut(&Stored) -> bool) -> usize {
        let before = self.stubs.len();
        self.stubs.retain(|s| !(s.added && remove(s)));
        let removed = before - self.stubs.len();
        if removed > 0 {
            self.rebuild();
        }
        removed
    }

    /// Replaces an added stub, keeping its place and its session.
    pub(crate) fn replace(
        &mut self,
        uid: u64,
        stub: Stub,
        definition: Option<serde_json::Value>,
    ) -> bool {
        let Some(stored) = self.stubs.iter_mut().find(|s| s.uid == uid && s.added) else {
            return false;
        };
        if let Some(name) = &stub.scenario {
            self.scenarios.entry(name.clone()).or_default();
        }
        stored.stub = stub;
        stored.counter = Arc::new(Counter::default());
        stored.definition = definition.map(Arc::new);
        self.rebuild();
        true
    }

    /// Gets every stub, in priority order.
    pub(crate) fn stubs(&self) -> Vec<Stored> {
        let mut order = self.stubs.clone();
        order.sort_by_key(|s| (std::cmp::Reverse(s.stub.priority), !s.added));
        order
    }

    /// Back to the files: added stubs removed (of one session, when given), counters and
    /// scenario states cleared.
    pub(crate) fn reset(&mut self, session: Option<&str>) {
        match session {
            None => {
                self.stubs.retain(|s| !s.added);
                for stored in &mut self.stubs {
                    stored.counter = Arc::new(Counter::default());
                }
                for scenario in self.scenarios.values() {
                    scenario.lock().clear();
                }
                self.sessions.clear();
            }
            Some(session) => {
                self.stubs
                    .retain(|s| !(s.added && s.session.as_deref() == Some(session)));
                for stored in &mut self.stubs {
                    stored.counter.forget_session(session);
                }
                for scenario in self.scenarios.values() {
                    scenario.forget_session(session);
                }
                self.sessions.remove(session);
            }
        }
        self.rebuild();
    }

    /// Gets the scenarios.
    pub(crate) fn scenarios(&self) -> &HashMap<String, Arc<Scenario>> {
        &self.scenarios
    }

    /// Notes that a session was used now (it is known from now on).
    pub(crate) fn touch(&mut self, session: &str) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.sessions
            .entry(session.to_owned())
            .or_default()
            .store(now, Ordering::Relaxed);
    }

    /// The sessions idle for longer than `ttl`.
    pub(crate) fn idle_sessions(&self, ttl: Duration) -> Vec<String> {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.sessions
            .iter()
            .filter(|(_, used)| {
                now.saturating_sub(used.load(Ordering::Relaxed)) > ttl.as_millis() as u64
            })
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The sessions known, with how long each has been idle.
    pub(crate) fn sessions(&self) -> Vec<(String, Duration)> {
        let now = self.epoch.elapsed().as_millis() as u64;
        let mut out: Vec<(String, Duration)> = self
            .sessions
            .iter()
            .map(|(s, used)| {
                (
                    s.clone(),
                    Duration::from_millis(now.saturating_sub(used.load(Ordering::Relaxed))),
                )
            })
            .collect();
        out.sort();
        out
    }
}
