//! What the server keeps between calls: the call counter, the seeded random source, the clock,
//! scenario states, health, and the limits every call obeys.
//!
//! No lock is shared by every call: counters are atomics, each scenario has its own lock (taken
//! only by the stubs of that scenario), and health is tonic's reporter.

use std::{
    collections::HashMap,
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
}

/// One scenario's states, per key (`""` without a key).
#[derive(Debug, Default)]
pub(crate) struct Scenario {
    states: Mutex<HashMap<String, Arc<str>>>,
}

impl Scenario {
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
    pub(crate) scenarios: HashMap<String, Scenario>,
    pub(crate) health: HealthReporter,
    pub(crate) limits: Limits,
}

impl Shared {
    pub(crate) fn new(
        scenarios: impl IntoIterator<Item = String>,
        health: HealthReporter,
        seed: u64,
        clock: Option<SystemTime>,
        limits: Limits,
    ) -> Self {
        Self {
            seq: AtomicU64::new(0),
            seed,
            clock,
            scenarios: scenarios
                .into_iter()
                .map(|name| (name, Scenario::default()))
                .collect(),
            health,
            limits,
        }
    }

    /// The environment of a new call: the next sequence number, the clock, a random source.
    pub(crate) fn call_env(&self) -> CallEnv {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        CallEnv::new(seq, self.seed, self.clock.unwrap_or_else(SystemTime::now))
    }

    /// Sets the health of a service.
    pub(crate) async fn set_health(&self, service: &str, health: Health) {
        let status = match health {
            Health::Serving => ServingStatus::Serving,
            Health::NotServing => ServingStatus::NotServing,
            Health::Unknown => ServingStatus::Unknown,
        };
        self.health.set_service_status(service, status).await;
    }
}
