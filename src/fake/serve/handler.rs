//! A method's handler and what one call keeps while it is answered: its metadata, its
//! environment (sequence number, clock, random source, listener, peer), its deadline and its
//! trailers slot.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tonic::{Extensions, metadata::MetadataMap};

use super::{
    journal::Capture,
    listen::ConnInfo,
    route::{Choice, Lookup, MethodEntry, choose},
    state::Shared,
    store::Snapshot,
    stream::{Deadline, Out},
    trailers::Slots,
};
use crate::fake::{
    model::{Call, Stub},
    template::{CallScope, Received, RequestMetadata},
};

/// Answers the calls of one method, from the stubs of one snapshot.
#[derive(Clone)]
pub(crate) struct Handler {
    /// The shared route: the method's descriptors, name and the stubs every call sees.
    pub(crate) entry: Arc<MethodEntry>,
    /// The route of the call's session, when the session has stubs of its own (tried first).
    pub(crate) session_entry: Option<Arc<MethodEntry>>,
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) session: Option<String>,
    pub(crate) shared: Arc<Shared>,
}

/// What one call keeps while it is answered.
pub(crate) struct Setup {
    pub(crate) metadata: Arc<RequestMetadata>,
    pub(crate) out: Out,
    /// What the journal records of the call.
    pub(crate) capture: Option<Arc<Capture>>,
    /// The stub last noted in the capture (see [`Handler::choose`]), 0 for none.
    noted: AtomicUsize,
}

impl Handler {
    pub(crate) fn setup(&self, metadata: MetadataMap, extensions: Extensions) -> Setup {
        let mut env = self.shared.call_env();
        let conn = extensions.get::<ConnInfo>().cloned();
        if let Some(conn) = &conn {
            env.listener = Some(conn.local);
            env.listener_index = conn.listener;
            env.peer = Some(conn.peer);
        }
        let deadline = extensions.get::<Deadline>().map(|d| d.0);
        let capture = extensions.get::<Arc<Capture>>().cloned();
        Setup {
            metadata: Arc::new(RequestMetadata::new(metadata)),
            out: Out {
                env: Arc::new(env),
                deadline,
                shared: self.shared.clone(),
                conn,
                slots: Arc::new(Slots::default()),
                capture: capture.clone(),
            },
            capture,
            noted: AtomicUsize::new(0),
        }
    }

    /// The routes to try, the session's first.
    fn routes(&self) -> impl Iterator<Item = &Arc<MethodEntry>> {
        self.session_entry
            .iter()
            .chain(std::iter::once(&self.entry))
    }

    /// Whether a stub answers bidi calls after they half-close.
    pub(crate) fn has_collect(&self) -> bool {
        self.routes().any(|r| r.has_collect)
    }

    /// Every stub of the method, the session's first.
    pub(crate) fn stubs(&self) -> impl Iterator<Item = &Stub> {
        self.routes().flat_map(|r| r.stubs.iter())
    }

    /// Chooses the stub that answers, and notes it (or the near miss) for the journal and log.
    pub(crate) fn choose(
        &self,
        call: &Call<'_>,
        setup: &Setup,
        accept: impl Fn(&Stub) -> bool,
    ) -> Result<Choice, tonic::Status> {
        let lookup = Lookup {
            scenarios: &self.snapshot.scenarios,
            session: self.session.as_deref(),
        };
        let chosen = match &self.session_entry {
            Some(session) => choose(&[session, &self.entry], call, &lookup, accept),
            None => choose(&[&self.entry], call, &lookup, accept),
        };
        if let Some(capture) = &setup.capture {
            // A stream whose messages the same stub answers notes it once, not per message.
            let key = match &chosen {
                Ok(choice) => {
                    let session = self
                        .session_entry
                        .as_ref()
                        .is_some_and(|s| Arc::ptr_eq(s, &choice.entry));
                    choice.stub * 2 + usize::from(session) + 1
                }
                Err(_) => 0,
            };
            if key == 0 || setup.noted.load(Ordering::Relaxed) != key {
                setup.noted.store(key, Ordering::Relaxed);
                capture.with(|c| match &chosen {
                    Ok(choice) => {
                        c.stub = Some(choice.stub_ref());
                        c.near_miss = None;
                    }
                    Err(status) => c.near_miss = Some(status.message().to_owned()),
                });
            }
        }
        chosen
    }

    /// Chooses a conversation at the call's start, if one matches (no near miss noted).
    pub(crate) fn conversation(&self, call: &Call<'_>, setup: &Setup) -> Option<Choice> {
        let any = self
            .stubs()
            .any(|s| matches!(s.then, crate::fake::model::Respond::Conversation(_)));
        if !any {
            return None;
        }
        let choice = self
            .choose(call, setup, |s| {
                matches!(s.then, crate::fake::model::Respond::Conversation(_))
            })
            .ok();
        if choice.is_none()
            && let Some(capture) = &setup.capture
        {
            capture.with(|c| c.near_miss = None);
        }
        choice
    }

    /// What every message of a call shares: its messages (`received`), headers, method and
    /// environment.
    pub(crate) fn scope(&self, setup: &Setup, received: Arc<Received>) -> Arc<CallScope> {
        Arc::new(CallScope {
            received,
            metadata: setup.metadata.clone(),
            method: self.entry.name.clone(),
            env: setup.out.env.clone(),
        })
    }
}
