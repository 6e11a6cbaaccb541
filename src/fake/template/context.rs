//! What templates see of a call, built without copying its messages.
//!
//! Messages are shared (`Arc`), so a template context costs a few pointers whatever the size of
//! the request. The messages of a stream are kept in one append-only [`Received`] list; a
//! context's `requests` is a view of its first `len` entries, so answering the 10,000th message
//! of a bidi stream costs what answering the first did.

use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock, RwLock},
};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use prost_reflect::{FieldDescriptor, Kind, MapKey, Value};
use tonic::metadata::{KeyAndValueRef, MetadataMap};

use super::helpers::{CallEnv, ENV_VAR};
use crate::schema::{
    find_field,
    value::{flat::ScalarRef, lazy::LazyMessage},
};

/// The messages received on one call, in order; shared by every context built during it.
#[derive(Debug, Default)]
pub(crate) struct Received {
    messages: RwLock<Vec<Arc<LazyMessage>>>,
}

impl Received {
    /// A list holding one message (unary and server-streaming calls).
    pub(crate) fn one(message: Arc<LazyMessage>) -> Arc<Self> {
        Arc::new(Self {
            messages: RwLock::new(vec![message]),
        })
    }

    /// A list of the given messages (a client stream, after it half-closed).
    pub(crate) fn all(messages: Vec<Arc<LazyMessage>>) -> Arc<Self> {
        Arc::new(Self {
            messages: RwLock::new(messages),
        })
    }

    /// Appends a message; returns how many there are now.
    pub(crate) fn push(&self, message: Arc<LazyMessage>) -> usize {
        let mut messages = self.messages.write().unwrap_or_else(|e| e.into_inner());
        messages.push(message);
        messages.len()
    }

    /// Gets message `index`.
    pub(crate) fn get(&self, index: usize) -> Option<Arc<LazyMessage>> {
        let messages = self.messages.read().unwrap_or_else(|e| e.into_inner());
        messages.get(index).cloned()
    }

    /// Calls `f` with the first `len` messages.
    pub(crate) fn with<R>(&self, len: usize, f: impl FnOnce(&[Arc<LazyMessage>]) -> R) -> R {
        let messages = self.messages.read().unwrap_or_else(|e| e.into_inner());
        f(&messages[..len.min(messages.len())])
    }
}

/// The request headers of a call, and their template form (`metadata`), built the first time a
/// template reads it and then shared by every message of the call.
#[derive(Debug, Default)]
pub(crate) struct RequestMetadata {
    map: MetadataMap,
    value: OnceLock<minijinja::Value>,
}

impl RequestMetadata {
    pub(crate) fn new(map: MetadataMap) -> Self {
        Self {
            map,
            value: OnceLock::new(),
        }
    }

    /// Gets the `metadata` variable.
    fn value(&self) -> minijinja::Value {
        self.value.get_or_init(|| metadata_value(&self.map)).clone()
    }
}

impl std::ops::Deref for RequestMetadata {
    type Target = MetadataMap;

    fn deref(&self) -> &MetadataMap {
        &self.map
    }
}

/// What a call's template context is made of: shared handles, nothing copied or written out.
#[derive(Debug, Clone)]
pub(crate) struct CallVars {
    /// The message being answered.
    pub(crate) request: Option<Arc<LazyMessage>>,
    /// What every context of the call shares; the first `len` messages it received are
    /// `requests`.
    pub(crate) scope: Arc<CallScope>,
    pub(crate) len: usize,
    /// The chosen stub's turn and scenario state (a reply's context only).
    pub(crate) attempt: Option<u64>,
    pub(crate) state: Option<Arc<str>>,
}

/// What every template context of one call shares, put together once per call: a stream's
/// message contexts then hold one pointer to it instead of four.
#[derive(Debug)]
pub(crate) struct CallScope {
    /// Every message received on the call.
    pub(crate) received: Arc<Received>,
    pub(crate) metadata: Arc<RequestMetadata>,
    /// `package.Service/Method`.
    pub(crate) method: Arc<str>,
    pub(crate) env: Arc<CallEnv>,
}

#[cfg(test)]
impl CallVars {
    /// The variables of a call of `method` that received `messages` (the last is `request`),
    /// without headers, as call 1 with seed 0: two built alike draw the same random numbers.
    pub(crate) fn of_messages(method: &str, messages: Vec<Arc<LazyMessage>>) -> Self {
        Self {
            request: messages.last().cloned(),
            len: messages.len(),
            scope: Arc::new(CallScope {
                received: Received::all(messages),
                metadata: Arc::new(RequestMetadata::default()),
                method: Arc::from(method),
                env: Arc::new(CallEnv::new(1, 0, std::time::SystemTime::now())),
            }),
            attempt: None,
            state: None,
        }
    }
}

/// The template context: `request`, `requests` (the first `len` received), `metadata`,
/// `method`, `seq`, `listener`, `peer`, `attempt` and `state` (for a reply), and the helpers'
/// call environment.
///
/// It is one object that answers each variable when a template reads it: building it costs
/// one allocation, and a template that reads only `request.user_id` never pays for the
/// headers map or the addresses written out.
pub(crate) fn context(vars: CallVars) -> minijinja::Value {
    minijinja::Value::from_object(vars)
}

const BASE_VARS: &[&str] = &[
    "request", "requests", "metadata", "method", "seq", "listener", "peer", ENV_VAR,
];
const REPLY_VARS: &[&str] = &[
    "request", "requests", "metadata", "method", "seq", "listener", "peer", "attempt", "state",
    ENV_VAR,
];

impl Object for CallVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let address = |addr: Option<std::net::SocketAddr>| {
            minijinja::Value::from(addr.map(|a| a.to_string()).unwrap_or_default())
        };
        Some(match key.as_str()? {
            "request" => minijinja::Value::from_object(MessageObject(self.request.clone()?)),
            "requests" => minijinja::Value::from_object(RequestsObject {
                received: self.scope.received.clone(),
                len: self.len,
            }),
            "metadata" => self.scope.metadata.value(),
            "method" => minijinja::Value::from(self.scope.method.clone()),
            "seq" => minijinja::Value::from(self.scope.env.seq),
            "listener" => address(self.scope.env.listener),
            "peer" => address(self.scope.env.peer),
            "attempt" => minijinja::Value::from(self.attempt?),
            "state" => minijinja::Value::from(self.state.clone()?),
            ENV_VAR => minijinja::Value::from_dyn_object(self.scope.env.clone()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(if self.attempt.is_some() {
            REPLY_VARS
        } else {
            BASE_VARS
        })
    }
}

/// `base` with more variables (they win over the base's).
pub(crate) fn with_vars(
    base: &minijinja::Value,
    vars: impl IntoIterator<Item = (String, minijinja::Value)>,
) -> minijinja::Value {
    let extra: BTreeMap<minijinja::Value, minijinja::Value> = vars
        .into_iter()
        .map(|(k, v)| (minijinja::Value::from(k), v))
        .collect();
    minijinja::value::merge_maps([minijinja::Value::from_object(extra), base.clone()])
}

/// The `metadata` variable: request headers, lowercase names to their first value; `-bin`
/// headers as bytes.
pub(crate) fn metadata_value(metadata: &MetadataMap) -> minijinja::Value {
    let mut map = BTreeMap::new();
    for entry in metadata.iter() {
        match entry {
            KeyAndValueRef::Ascii(key, value) => {
                if let Ok(text) = value.to_str() {
                    map.entry(minijinja::Value::from(key.as_str()))
                        .or_insert_with(|| minijinja::Value::from(text));
                }
            }
            KeyAndValueRef::Binary(key, value) => {
                if let Ok(bytes) = value.to_bytes() {
                    map.entry(minijinja::Value::from(key.as_str()))
                        .or_insert_with(|| minijinja::Value::from_bytes(bytes.to_vec()));
                }
            }
        }
    }
    minijinja::Value::from_object(map)
}

/// `requests`: a view of the first `len` messages of a call.
#[derive(Debug)]
struct RequestsObject {
    received: Arc<Received>,
    len: usize,
}

impl Object for RequestsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let index = key.as_usize()?;
        if index >= self.len {
            return None;
        }
        let message = self.received.get(index)?;
        Some(minijinja::Value::from_object(MessageObject(message)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len)
    }
}

/// A message seen by templates: fields by proto or JSON name.
#[derive(Debug)]
pub(super) struct MessageObject(pub(super) Arc<LazyMessage>);

impl Object for MessageObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let field = find_field(&self.0.descriptor(), key.as_str()?)?;
        Some(field_value(&self.0, &field))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<minijinja::Value> = self
            .0
            .descriptor()
            .fields()
            .map(|f| minijinja::Value::from(f.name()))
            .collect();
        Enumerator::Iter(Box::new(names.into_iter()))
    }
}

/// A field of a message as templates see it (`request.<field>`); a scalar is read from the
/// message's bytes while it is not decoded.
pub(super) fn field_value(message: &LazyMessage, field: &FieldDescriptor) -> minijinja::Value {
    message.with_scalar(field, |value| match value {
        Some(value) => scalar_to_jinja(value, field),
        None => field_to_jinja(&message.field(field), field),
    })
}

/// Whether [`field_value`] is true (`selectattr`), without building a string or bytes value.
pub(super) fn field_is_true(message: &LazyMessage, field: &FieldDescriptor) -> bool {
    message.with_scalar(field, |value| match value {
        Some(ScalarRef::Str(text)) => !text.is_empty(),
        Some(ScalarRef::Bytes(bytes)) => !bytes.is_empty(),
        Some(value) => scalar_to_jinja(value, field).is_true(),
        None => field_to_jinja(&message.field(field), field).is_true(),
    })
}

/// A scalar as templates see it: what [`element_to_jinja`] gives for its value.
fn scalar_to_jinja(value: ScalarRef<'_>, field: &FieldDescriptor) -> minijinja::Value {
    match value {
        ScalarRef::Bool(b) => b.into(),
        ScalarRef::I32(v) => v.into(),
        ScalarRef::I64(v) => v.into(),
        ScalarRef::U32(v) => v.into(),
        ScalarRef::U64(v) => v.into(),
        ScalarRef::F32(v) => f64::from(v).into(),
        ScalarRef::F64(v) => v.into(),
        ScalarRef::Str(text) => ScalarRef::text(text).into(),
        ScalarRef::Bytes(bytes) => minijinja::Value::from_bytes(bytes.to_vec()),
        ScalarRef::Enum(n) => element_to_jinja(&Value::EnumNumber(n), &field.kind()),
    }
}

/// A message as templates see it (an element of `requests`).
pub(super) fn message_value(message: Arc<LazyMessage>) -> minijinja::Value {
    minijinja::Value::from_object(MessageObject(message))
}

fn field_to_jinja(value: &Value, field: &FieldDescriptor) -> minijinja::Value {
    match value {
        Value::List(items) => items
            .iter()
            .map(|v| element_to_jinja(v, &field.kind()))
            .collect(),
        Value::Map(map) => {
            let value_kind = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let entries: BTreeMap<minijinja::Value, minijinja::Value> = map
                .iter()
                .map(|(k, v)| (map_key_to_jinja(k), element_to_jinja(v, &value_kind)))
                .collect();
            minijinja::Value::from_object(entries)
        }
        other => element_to_jinja(other, &field.kind()),
    }
}

fn map_key_to_jinja(key: &MapKey) -> minijinja::Value {
    match key {
        MapKey::Bool(b) => (*b).into(),
        MapKey::I32(v) => (*v).into(),
        MapKey::I64(v) => (*v).into(),
        MapKey::U32(v) => (*v).into(),
        MapKey::U64(v) => (*v).into(),
        MapKey::String(s) => s.as_str().into(),
    }
}

fn element_to_jinja(value: &Value, kind: &Kind) -> minijinja::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::I32(v) => (*v).into(),
        Value::I64(v) => (*v).into(),
        Value::U32(v) => (*v).into(),
        Value::U64(v) => (*v).into(),
        Value::F32(v) => f64::from(*v).into(),
        Value::F64(v) => (*v).into(),
        Value::String(s) => s.as_str().into(),
        Value::Bytes(b) => minijinja::Value::from_bytes(b.to_vec()),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| (*n).into(), |v| v.name().into()),
            _ => (*n).into(),
        },
        // A nested message is copied only when a template reads it.
        Value::Message(m) => {
            minijinja::Value::from_object(MessageObject(Arc::new(m.clone().into())))
        }
        Value::List(items) => items.iter().map(|v| element_to_jinja(v, kind)).collect(),
        Value::Map(_) => minijinja::Value::UNDEFINED,
    }
}
