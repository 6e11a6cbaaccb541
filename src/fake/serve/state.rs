//! What the server keeps between calls: the call counter, the seeded random source, the clock,
//! scenario states, health, and the limits every call obeys.
//!
//! No lock is shared by every call: counters are atomics, each scenario has its own lock (taken
//! only by the stubs of that scenario), and health is tonic's reporter.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use tonic_health::{ServingStatus, server::HealthReporter};

use crate::fake::{model::Health, template::CallEnv};

use crate::fake::model::START_STATE as START;

/// Limits of one call.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The most messages one reply sends (a generated stream is cut there, with an error).
    pub(crate) max_stream_messages: usize,
    /// The largest reply message (4 MiB unless `--max-message-size`).
    pub(crate) max_message: usize,
}

impl Limits {
    /// RESOURCE_EXHAUSTED for a reply message over the limit (as grpc-go and C-core answer; a
    /// client would refuse it anyway).
    pub(crate) fn fits(&self, message: &bytes::Bytes) -> Result<(), tonic::Status> {
        if message.len() > self.max_message {
            return Err(tonic::Status::resource_exhausted(format!(
                "the reply is {} bytes, over the {}-byte limit (--max-message-size; gRPC clients \
                 refuse more than 4 MiB by default)",
                message.len(),
                self.max_message
            )));
        }
        Ok(())
    }
}

/// One scenario's states, per key (`""` without a key).
#[derive(Debug, Default)]
pub(crate) struct Scenario {
    states: Mutex<HashMap<String, Arc<str>>>,
}

/// The key a scenario state or a counter is kept under: the session's, then the stub's key.
pub(crate) fn scoped_key(session: Option<&str>, key: Option<&str>) -> Option<String> {
    match (session, key) {
        (None, None) => None,
        (None, Some(key)) => Some(key.to_owned()),
        (Some(session), key) => Some(format!("{session}\u{1}{}", key.unwrap_or(""))),
    }
}

/// Whether a scoped key belongs to `session`.
pub(crate) fn in_session(scoped: &str, session: &str) -> bool {
    scoped
        .strip_prefix(session)
        .is_some_and(|rest| rest.starts_with('\u{1}'))
}

impl Scenario {
    /// Forgets the states of one session.
    pub(crate) fn forget_session(&self, session: &str) {
        self.lock().retain(|key, _| !in_session(key, session));
    }

    /// Gets every state, by scoped key.
    pub(crate) fn states(&self) -> Vec<(String, Arc<str>)> {
        let mut out: Vec<(String, Arc<str>)> = self
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.sort();
        out
    }

    /// Locks the scenario for a read-check-write.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<str>>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Gets the state for `key`.
pub(crate) fn state_of(states: &HashMap<String, Arc<str>>, key: &str) -> Arc<str> {
    states.get(key).cloned().unwrap_or_else(|| Arc::from(START))
}

/// What the server shares between calls.
#[derive(Debug)]
pub(crate) struct Shared {
    seq: AtomicU64,
    seed: u64,
    clock: Option<SystemTime>,
    pub(crate) health: HealthReporter,
    /// The health last set per service, to read back (tonic's reporter only writes).
    health_now: Mutex<BTreeMap<String, Health>>,
    pub(crate) limits: Limits,
}

impl Shared {
    pub(crate) fn new(
        health: HealthReporter,
        seed: u64,
        clock: Option<SystemTime>,
        limits: Limits,
    ) -> Self {
        Self {
            seq: AtomicU64::new(0),
            seed,
            clock,
            health,
            health_now: Mutex::new(BTreeMap::new()),
            limits,
        }
    }

    /// The environment of a new call: the next sequence number, the clock, a random source.
    pub(crate) fn call_env(&self) -> CallEnv {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        CallEnv::new(seq, self.seed, self.clock.unwrap_or_else(SystemTime::now))
    }

    /// Gets the health last set per service.
    pub(crate) fn health_now(&self) -> BTreeMap<String, Health> {
        self.health_now
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the health of a service.
    pub(crate) async fn set_health(&self, service: &str, health: Health) {
        self.health_now
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(service.to_owned(), health);
        let status = match health {
            Health::Serving => ServingStatus::Serving,
            Health::NotServing => ServingStatus::NotServing,
            Health::Unknown => ServingStatus::Unknown,
        };
        self.health.set_service_status(service, status).await;
    }
}
