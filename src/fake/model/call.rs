//! A call as matchers and templates see it: the method, the message being answered, every
//! message received so far, and the request metadata.

use std::sync::{Arc, OnceLock};

use prost_reflect::DynamicMessage;
use tonic::metadata::MetadataMap;

use crate::fake::template::{self, Received};

/// One call, or one message of a stream, being answered.
pub(crate) struct Call<'a> {
    /// `package.Service/Method`.
    pub(crate) method: &'a str,
    /// The message being answered (the last one, for client streams); `None` for an empty
    /// client stream.
    pub(crate) request: Option<&'a Arc<DynamicMessage>>,
    /// Every message received on the call; the first `len` are this call's `requests`.
    pub(crate) received: &'a Arc<Received>,
    pub(crate) len: usize,
    pub(crate) metadata: &'a MetadataMap,
    /// The `metadata` template variable, built at most once per call (shared by every message
    /// of a stream).
    pub(crate) metadata_value: &'a OnceLock<minijinja::Value>,
    /// The template context, built on first use.
    context: OnceLock<minijinja::Value>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(
        method: &'a str,
        request: Option<&'a Arc<DynamicMessage>>,
        received: &'a Arc<Received>,
        len: usize,
        metadata: &'a MetadataMap,
        metadata_value: &'a OnceLock<minijinja::Value>,
    ) -> Self {
        Self {
            method,
            request,
            received,
            len,
            metadata,
            metadata_value,
            context: OnceLock::new(),
        }
    }

    /// Gets the template context: `request`, `requests`, `metadata`, `method`.
    pub(crate) fn context(&self) -> &minijinja::Value {
        self.context.get_or_init(|| {
            let metadata = self
                .metadata_value
                .get_or_init(|| template::metadata_value(self.metadata))
                .clone();
            template::context(self.request, self.received, self.len, metadata, self.method)
        })
    }

    /// Calls `f` with the messages received so far.
    pub(crate) fn requests<R>(&self, f: impl FnOnce(&[Arc<DynamicMessage>]) -> R) -> R {
        self.received.with(self.len, f)
    }
}
