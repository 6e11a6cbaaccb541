//! What a stub answers: messages, a status, headers, trailers and delays.
//!
//! Replies without templates are encoded to bytes once, when the fixtures load, and written
//! straight into the response frame. Templated replies keep a pre-built base message and fill
//! only their holes per call.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, Value};
use tonic::{Code, Status, metadata::MetadataMap};

use super::{
    template::{TemplateId, from_jinja, render},
    value::{Hole, PathStep},
};

/// A reply message: bytes encoded at load time, or a base message with template holes.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    Static(Bytes),
    Template {
        base: DynamicMessage,
        holes: Vec<Hole>,
    },
}

impl Payload {
    pub(crate) fn new(message: DynamicMessage, holes: Vec<Hole>) -> Self {
        if holes.is_empty() {
            Payload::Static(message.encode_to_vec().into())
        } else {
            Payload::Template {
                base: message,
                holes,
            }
        }
    }

    pub(crate) fn is_template(&self) -> bool {
        matches!(self, Payload::Template { .. })
    }

    /// The encoded message for this call.
    pub(crate) fn render(
        &self,
        env: &minijinja::Environment<'static>,
        ctx: &minijinja::Value,
    ) -> Result<Bytes, String> {
        match self {
            Payload::Static(bytes) => Ok(bytes.clone()),
            Payload::Template { base, holes } => {
                let mut message = base.clone();
                for hole in holes {
                    let value = render(env, &hole.template, ctx)?;
                    let value = from_jinja(&value, &hole.field, hole.element)?;
                    set_at(&mut message, &hole.path, value);
                }
                Ok(message.encode_to_vec().into())
            }
        }
    }
}

fn set_at(message: &mut DynamicMessage, path: &[PathStep], value: Value) {
    if let [PathStep::Field(field), rest @ ..] = path {
        if rest.is_empty() {
            // The value was converted for this field, so the type always fits.
            let _ = message.try_set_field(field, value);
        } else {
            set_in(message.get_field_mut(field), rest, value);
        }
    }
}

fn set_in(slot: &mut Value, path: &[PathStep], value: Value) {
    match (slot, path) {
        (slot, []) => *slot = value,
        (Value::List(items), [PathStep::Index(i), rest @ ..]) => {
            if let Some(item) = items.get_mut(*i) {
                set_in(item, rest, value);
            }
        }
        (Value::Map(map), [PathStep::Key(key), rest @ ..]) => {
            if let Some(item) = map.get_mut::<MapKey>(key) {
                set_in(item, rest, value);
            }
        }
        (Value::Message(message), path @ [PathStep::Field(_), ..]) => set_at(message, path, value),
        _ => {}
    }
}

/// A status message: fixed text or a template.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Static(String),
    Template(TemplateId),
}

/// The status a reply ends with.
#[derive(Debug, Clone)]
pub(crate) struct StatusReply {
    pub(crate) code: Code,
    pub(crate) message: Text,
    /// An encoded `google.rpc.Status` carrying typed details, or empty.
    pub(crate) details: Bytes,
}

/// One message of a stream, sent after its delay.
#[derive(Debug, Clone)]
pub(crate) struct StreamItem {
    pub(crate) payload: Payload,
    pub(crate) delay: Duration,
}

/// Everything a stub's `then` says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    /// Waited before anything is sent.
    pub(crate) delay: Duration,
    pub(crate) headers: MetadataMap,
    pub(crate) trailers: MetadataMap,
    /// The messages sent, in order (one for unary and client-streaming methods).
    pub(crate) messages: Vec<StreamItem>,
    /// The status the call ends with; `None` is OK.
    pub(crate) status: Option<StatusReply>,
}

impl Reply {
    /// Whether rendering needs the template context.
    pub(crate) fn needs_context(&self) -> bool {
        self.messages.iter().any(|m| m.payload.is_template())
            || matches!(
                &self.status,
                Some(StatusReply {
                    message: Text::Template(_),
                    ..
                })
            )
    }

    /// Whether the reply ends the call with an error status.
    pub(crate) fn fails(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.code != Code::Ok)
    }

    /// The error status to end with, or `None` for OK. Trailers ride on the status, and so do
    /// the headers when the error is the whole response (`with_headers`).
    pub(crate) fn error(
        &self,
        env: &minijinja::Environment<'static>,
        ctx: &minijinja::Value,
        with_headers: bool,
    ) -> Option<Status> {
        let status = self.status.as_ref().filter(|s| s.code != Code::Ok)?;
        let message = match &status.message {
            Text::Static(text) => text.clone(),
            Text::Template(id) => match render(env, id, ctx) {
                Ok(v) => v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                Err(err) => {
                    return Some(Status::internal(format!(
                        "status message template failed: {err}"
                    )));
                }
            },
        };
        let mut metadata = if with_headers {
            self.headers.clone()
        } else {
            MetadataMap::new()
        };
        for (key, value) in self.trailers.clone().into_headers() {
            if let Some(key) = key {
                metadata.as_mut().append(key, value);
            }
        }
        Some(Status::with_details_and_metadata(
            status.code,
            message,
            status.details.clone(),
            metadata,
        ))
    }
}
