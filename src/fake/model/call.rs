//! A call as matchers and templates see it: the method, the message being answered, every
//! message received so far, the request metadata, and its environment (sequence number, clock,
//! random source, listener and peer).

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use crate::fake::template::{self, CallScope, CallVars, RequestMetadata};
use crate::schema::value::lazy::LazyMessage;

/// The scenario state of a stub without a scenario: one shared empty string, so that trying
/// a stub allocates nothing.
pub(crate) fn no_state() -> Arc<str> {
    static EMPTY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));
    EMPTY.clone()
}

/// One call, or one message of a stream, being answered.
pub(crate) struct Call<'a> {
    /// What every message of the call shares: its messages, headers, method and environment.
    scope: &'a Arc<CallScope>,
    /// The message being answered (the last one, for client streams); `None` for an empty
    /// client stream, or a conversation's start.
    pub(crate) request: Option<&'a Arc<LazyMessage>>,
    /// This call's `requests` are the first `len` messages its scope received.
    pub(crate) len: usize,
    /// The scenario state of the stub being tried (set by the server before its matchers run),
    /// when it has one; `has_state` says whether it is set, so that trying the many stubs
    /// without a scenario takes no lock.
    state: Mutex<Option<Arc<str>>>,
    has_state: AtomicBool,
    /// The template context, built on first use.
    context: OnceLock<minijinja::Value>,
}

impl<'a> Call<'a> {
    /// The call of `scope` answering `request`, after `len` messages.
    pub(crate) fn new(
        scope: &'a Arc<CallScope>,
        request: Option<&'a Arc<LazyMessage>>,
        len: usize,
    ) -> Self {
        Self {
            scope,
            request,
            len,
            state: Mutex::new(None),
            has_state: AtomicBool::new(false),
            context: OnceLock::new(),
        }
    }

    /// Gets the template context: `request`, `requests`, `metadata`, `method` and the call's
    /// environment.
    pub(crate) fn context(&self) -> &minijinja::Value {
        self.context
            .get_or_init(|| template::context(self.vars(None, None)))
    }

    /// The context of a reply chosen for this call: the call's, with the stub's `attempt` and
    /// scenario `state`.
    pub(crate) fn reply_context(&self, attempt: u64, state: Arc<str>) -> minijinja::Value {
        template::context(self.vars(Some(attempt), Some(state)))
    }

    fn vars(&self, attempt: Option<u64>, state: Option<Arc<str>>) -> CallVars {
        CallVars {
            request: self.request.cloned(),
            scope: self.scope.clone(),
            len: self.len,
            attempt,
            state,
        }
    }

    /// The request headers (their `metadata` template variable is built at most once per
    /// call, and shared by every message of a stream).
    pub(crate) fn metadata(&self) -> &RequestMetadata {
        &self.scope.metadata
    }

    /// Calls `f` with the messages received so far.
    pub(crate) fn requests<R>(&self, f: impl FnOnce(&[Arc<LazyMessage>]) -> R) -> R {
        self.scope.received.with(self.len, f)
    }

    /// Sets the scenario state that `when.state` compares with.
    pub(crate) fn set_scenario_state(&self, state: Arc<str>) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        // Relaxed: a call is tried by one task at a time.
        self.has_state.store(true, Ordering::Relaxed);
    }

    /// Forgets the scenario state: the stub tried next has no scenario (its state is empty).
    pub(crate) fn clear_scenario_state(&self) {
        // A load and a store, not a swap: plain moves, where a swap is a locked instruction.
        if self.has_state.load(Ordering::Relaxed) {
            self.has_state.store(false, Ordering::Relaxed);
            *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Gets the scenario state of the stub being tried (empty without a scenario).
    pub(crate) fn scenario_state(&self) -> Arc<str> {
        if !self.has_state.load(Ordering::Relaxed) {
            return no_state();
        }
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        state.unwrap_or_else(no_state)
    }

    /// A draw in `[0, 1)` from the call's seeded random source.
    pub(crate) fn draw(&self) -> f64 {
        self.scope.env.draw()
    }
}
