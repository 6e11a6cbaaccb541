//! A method's handler and what one call keeps while it is answered: its metadata, its
//! environment (sequence number, clock, random source, listener, peer), its deadline and its
//! trailers slot.

use std::sync::{Arc, OnceLock};

use prost_reflect::DynamicMessage;
use tonic::{Extensions, metadata::MetadataMap};

use super::{
    listen::ConnInfo,
    route::MethodEntry,
    state::Shared,
    stream::{Deadline, Out},
    trailers::Slots,
};
use crate::fake::{model::Call, template::Received};

/// Answers the calls of one method.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) entry: Arc<MethodEntry>,
    pub(crate) shared: Arc<Shared>,
}

/// What one call keeps while it is answered.
pub(crate) struct Setup {
    pub(crate) metadata: MetadataMap,
    pub(crate) extensions: Extensions,
    pub(crate) cache: OnceLock<minijinja::Value>,
    pub(crate) out: Out,
}

impl Handler {
    pub(crate) fn setup(&self, metadata: MetadataMap, extensions: Extensions) -> Setup {
        let mut env = self.shared.call_env();
        let conn = extensions.get::<ConnInfo>().cloned();
        if let Some(conn) = &conn {
            env.listener = conn.local.to_string();
            env.listener_index = conn.listener;
            env.peer = conn.peer.to_string();
        }
        let deadline = extensions.get::<Deadline>().map(|d| d.0);
        Setup {
            metadata,
            extensions,
            cache: OnceLock::new(),
            out: Out {
                env: Arc::new(env),
                deadline,
                shared: self.shared.clone(),
                conn,
                slots: Arc::new(Slots::default()),
            },
        }
    }

    pub(crate) fn call<'a>(
        &'a self,
        setup: &'a Setup,
        request: Option<&'a Arc<DynamicMessage>>,
        received: &'a Arc<Received>,
        len: usize,
    ) -> Call<'a> {
        Call::new(
            &self.entry.name,
            request,
            received,
            len,
            &setup.metadata,
            &setup.cache,
            &setup.out.env,
        )
    }
}
