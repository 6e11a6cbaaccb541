//! What a stub answers: messages, a status, headers, trailers and delays.
//!
//! Replies without templates are encoded to bytes once, when the fixtures load, and written
//! straight into the response frame. Templated replies keep a pre-built base message and fill
//! only their holes per call.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, MapKey, Value};
use tonic::{Code, metadata::MetadataMap};

use crate::fake::template::{Template, from_jinja};

/// One step from a message to a value inside it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PathStep {
    /// A field of the message.
    Field(FieldDescriptor),
    /// An item of a repeated field.
    Index(usize),
    /// An entry of a map field.
    Key(MapKey),
}

/// A templated value inside a reply message, filled in per call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Hole {
    /// From the reply message down to the value; ends in the field, or an index/key in it.
    pub path: Vec<PathStep>,
    /// The field the value belongs to.
    pub field: FieldDescriptor,
    /// Whether the value is one element of a repeated or map field (else the whole field).
    pub element: bool,
    /// What fills the hole.
    pub template: Template,
}

/// A reply message: bytes encoded at load time, or a base message with template holes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Payload {
    /// The encoded message, sent as is.
    Static(Bytes),
    /// A message whose holes are rendered per call.
    Template {
        /// The message with every constant field set.
        base: DynamicMessage,
        /// The templated values.
        holes: Vec<Hole>,
    },
}

impl Payload {
    /// A message with its holes; encoded now when there are none.
    pub fn new(message: DynamicMessage, holes: Vec<Hole>) -> Self {
        if holes.is_empty() {
            Payload::Static(message.encode_to_vec().into())
        } else {
            Payload::Template {
                base: message,
                holes,
            }
        }
    }

    /// Whether the payload is rendered per call.
    pub fn is_template(&self) -> bool {
        matches!(self, Payload::Template { .. })
    }

    /// Gets the encoded message for a call with this template context.
    pub(crate) fn render(&self, ctx: &minijinja::Value) -> Result<Bytes, String> {
        match self {
            Payload::Static(bytes) => Ok(bytes.clone()),
            Payload::Template { base, holes } => {
                let mut message = base.clone();
                for hole in holes {
                    let value = hole.template.render(ctx)?;
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
#[non_exhaustive]
pub enum Text {
    /// Sent as written.
    Static(String),
    /// Rendered per call.
    Template(Template),
}

/// The status a reply ends with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusReply {
    /// The gRPC status code.
    pub code: Code,
    /// The status message.
    pub message: Text,
    /// An encoded `google.rpc.Status` carrying typed details, or empty.
    pub details: Bytes,
}

/// One message of a stream, sent after its delay.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamItem {
    /// The message.
    pub payload: Payload,
    /// Waited before it is sent.
    pub delay: Duration,
}

impl StreamItem {
    /// A message sent after `delay`.
    pub fn new(payload: Payload, delay: Duration) -> Self {
        Self { payload, delay }
    }
}

/// Everything a stub's `then` says.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Reply {
    /// Waited before anything is sent.
    pub delay: Duration,
    /// Response headers.
    pub headers: MetadataMap,
    /// Response trailers.
    pub trailers: MetadataMap,
    /// The messages sent, in order (one for unary and client-streaming methods).
    pub messages: Vec<StreamItem>,
    /// The status the call ends with; `None` is OK.
    pub status: Option<StatusReply>,
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
    pub fn fails(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.code != Code::Ok)
    }
}
