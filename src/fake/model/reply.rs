//! What a stub answers: messages (listed or generated from the request), a status with typed
//! details, headers, trailers, delays, and effects on the server (scenario state, health,
//! faults).
//!
//! Anything a reply says can be a template ([`Computed::Template`]); what holds no template is
//! fixed when the fixtures load — messages encoded to bytes, header values parsed, a status
//! without templates encoded once.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, MapKey};
use tonic::Code;

use crate::fake::template::Template;

/// A part of a reply that is fixed when the fixtures load, or rendered per call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Computed<T> {
    /// The same for every call.
    Fixed(T),
    /// Rendered per call; the result is converted to `T`.
    Template(Template),
}

impl<T: Default> Default for Computed<T> {
    fn default() -> Self {
        Computed::Fixed(T::default())
    }
}

impl<T> Computed<T> {
    /// Whether rendering needs the call's template context.
    pub fn is_template(&self) -> bool {
        matches!(self, Computed::Template(_))
    }
}

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

/// How a templated value inside a reply message is produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Fill {
    /// One template; its value (or text) becomes the field's value.
    Template(Template),
    /// A JSON document whose strings may be templates: the JSON form of a well-known type
    /// (`google.protobuf.Struct`, `Value`, `ListValue`) with templated leaves.
    Json(JsonTemplate),
}

/// A JSON value whose strings may be templates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum JsonTemplate {
    /// A value without templates.
    Fixed(serde_json::Value),
    /// A string that is a template (its value keeps its type when it is one expression).
    Template(Template),
    /// A list.
    List(Vec<JsonTemplate>),
    /// An object.
    Object(Vec<(String, JsonTemplate)>),
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
    pub fill: Fill,
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
        /// The constant fields encoded once, when every hole is a scalar field of the message
        /// itself: a call then encodes only its holes, between those bytes.
        splice: Option<Splice>,
    },
}

/// A templated message as bytes: its constant fields encoded once, in field-number order, in
/// the gaps between its holes, so that a call encodes only the values of the holes, where
/// they belong — the same bytes as encoding the whole message, without building it.
#[derive(Debug, Clone)]
pub struct Splice {
    /// The constant bytes before each hole, and after the last (one more than the holes).
    pub(crate) gaps: Vec<Bytes>,
    /// The holes in field-number order (indexes into the payload's holes).
    pub(crate) order: Vec<usize>,
    /// By hole: how its value can be encoded without converting a rendered value.
    pub(crate) shortcuts: Vec<Option<Shortcut>>,
}

/// A hole whose value goes into the reply's bytes directly.
#[derive(Debug, Clone)]
pub(crate) enum Shortcut {
    /// `{{ request.<field> }}` of a field of the hole's own kind: the request's bytes are
    /// copied.
    Echo(FieldDescriptor),
    /// A string field filled by text put together from request fields (`"Echo: {{
    /// request.message }}"`): the text is encoded as it is.
    Text,
}

impl Splice {
    /// The plan for `base` and `holes`, or `None` when a hole is not a scalar field of the
    /// message itself (nested, an element, repeated, a message, in a oneof) or the base holds
    /// what field order alone cannot place (extensions, unknown fields).
    fn plan(base: &DynamicMessage, holes: &[Hole]) -> Option<Self> {
        let mut order: Vec<usize> = (0..holes.len()).collect();
        for hole in holes {
            let field = &hole.field;
            let top_level = matches!(&hole.path[..], [PathStep::Field(f)] if f == field);
            let in_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
            if !top_level
                || hole.element
                || field.is_list()
                || field.is_map()
                || in_oneof
                || matches!(field.kind(), prost_reflect::Kind::Message(_))
            {
                return None;
            }
        }
        order.sort_by_key(|&i| holes[i].field.number());
        if order
            .windows(2)
            .any(|w| holes[w[0]].field.number() == holes[w[1]].field.number())
        {
            return None;
        }
        let mut rest = base.clone();
        for hole in holes {
            rest.clear_field(&hole.field);
        }
        if rest.extensions().next().is_some() || rest.unknown_fields().next().is_some() {
            return None;
        }
        // The constant fields between consecutive holes, each gap encoded on its own.
        let bounds: Vec<u32> = order.iter().map(|&i| holes[i].field.number()).collect();
        let mut gaps = Vec::with_capacity(bounds.len() + 1);
        for gap in 0..=bounds.len() {
            let after = gap.checked_sub(1).map_or(0, |i| bounds[i]);
            let before = bounds.get(gap).copied().unwrap_or(u32::MAX);
            let mut part = DynamicMessage::new(prost_reflect::ReflectMessage::descriptor(base));
            for (field, value) in rest.fields() {
                if field.number() > after && field.number() < before {
                    part.set_field(&field, value.clone());
                }
            }
            gaps.push(Bytes::from(part.encode_to_vec()));
        }
        let shortcuts = holes
            .iter()
            .map(|hole| match &hole.fill {
                Fill::Template(template) => match template.echo() {
                    Some(source) => {
                        (source.kind() == hole.field.kind()).then(|| Shortcut::Echo(source.clone()))
                    }
                    None => (template.is_interpolated()
                        && hole.field.kind() == prost_reflect::Kind::String)
                        .then_some(Shortcut::Text),
                },
                Fill::Json(_) => None,
            })
            .collect();
        Some(Self {
            gaps,
            order,
            shortcuts,
        })
    }
}

impl Payload {
    /// A message with its holes; encoded now when there are none.
    pub fn new(message: DynamicMessage, holes: Vec<Hole>) -> Self {
        if holes.is_empty() {
            Payload::Static(message.encode_to_vec().into())
        } else {
            let splice = Splice::plan(&message, &holes);
            Payload::Template {
                base: message,
                holes,
                splice,
            }
        }
    }

    /// Whether the payload is rendered per call.
    pub fn is_template(&self) -> bool {
        matches!(self, Payload::Template { .. })
    }
}

/// A delay: a fixed or templated base, plus up to `jitter` more, drawn per call.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Delay {
    /// The base delay.
    pub base: Computed<Duration>,
    /// Up to this much is added, uniformly at random (seeded).
    pub jitter: Duration,
}

impl Delay {
    /// A fixed delay.
    pub fn fixed(base: Duration) -> Self {
        Self {
            base: Computed::Fixed(base),
            jitter: Duration::ZERO,
        }
    }

    /// Whether nothing is ever waited.
    pub fn is_zero(&self) -> bool {
        matches!(self.base, Computed::Fixed(d) if d.is_zero()) && self.jitter.is_zero()
    }
}

/// One header or trailer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetadataEntry {
    /// The lowercase name; names ending in `-bin` carry bytes.
    pub name: String,
    /// The value: text, or bytes for `-bin` names (a template's text is read as base64 there,
    /// bytes as they are).
    pub value: Computed<Bytes>,
}

impl MetadataEntry {
    /// Whether the entry carries bytes (`-bin`).
    pub fn is_binary(&self) -> bool {
        self.name.ends_with("-bin")
    }
}

/// Headers or trailers, in order.
pub type Metadata = Vec<MetadataEntry>;

/// A message of a stream, a generated run of messages, or a fault.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamPart {
    /// One message, sent after its delay.
    Message(StreamItem),
    /// One message per element of a list the request gives (`for_each`).
    Each(Generated),
    /// Reset the stream here (RST_STREAM with this HTTP/2 error code).
    Abort(u32),
}

/// One message of a stream, sent after its delay.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamItem {
    /// The message.
    pub payload: Payload,
    /// Waited before it is sent.
    pub delay: Delay,
}

impl StreamItem {
    /// A message sent after `delay`.
    pub fn new(payload: Payload, delay: Duration) -> Self {
        Self {
            payload,
            delay: Delay::fixed(delay),
        }
    }
}

/// Messages generated per element of a list: `for_each: "{{ request.items }}"`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Generated {
    /// A template whose value is the list (or a number `n`, for `0..n`).
    pub items: Template,
    /// The name each element has in the templates of the item, e.g. `item`.
    pub var: String,
    /// The message sent per element.
    pub payload: Payload,
    /// Waited before each message.
    pub delay: Delay,
}

/// `google.rpc.Status` details: typed messages packed as `Any`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Detail {
    /// The `Any` type URL, e.g. `type.googleapis.com/google.rpc.ErrorInfo`.
    pub type_url: String,
    /// The packed message.
    pub payload: Payload,
}

/// The status a reply ends with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusReply {
    /// The gRPC status code (a template renders a name or a number).
    pub code: Computed<Code>,
    /// The status message.
    pub message: Computed<String>,
    /// Typed details, sent in `grpc-status-details-bin` as a `google.rpc.Status` whose code and
    /// message are the status's own.
    pub details: Vec<Detail>,
    /// The encoded `google.rpc.Status`, when nothing in it is a template.
    pub encoded_details: Option<Bytes>,
}

impl StatusReply {
    /// A status with a fixed code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code: Computed::Fixed(code),
            message: Computed::Fixed(message.into()),
            details: Vec::new(),
            encoded_details: None,
        }
    }

    /// Whether the status is fixed and OK.
    pub fn is_ok(&self) -> bool {
        matches!(self.code, Computed::Fixed(Code::Ok))
    }

    /// Whether anything of it is rendered per call.
    pub(crate) fn is_template(&self) -> bool {
        self.code.is_template()
            || self.message.is_template()
            || self.details.iter().any(|d| d.payload.is_template())
    }
}

/// The health of a service, as the health service reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// `SERVING`.
    Serving,
    /// `NOT_SERVING`.
    NotServing,
    /// `UNKNOWN`.
    Unknown,
}

impl Health {
    /// Gets the name the health protocol and the fixture language use (`SERVING`, …).
    pub fn name(self) -> &'static str {
        match self {
            Health::Serving => "SERVING",
            Health::NotServing => "NOT_SERVING",
            Health::Unknown => "UNKNOWN",
        }
    }
}

/// What a reply does to the server besides answering.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Effects {
    /// Moves the stub's scenario to this state.
    pub set_state: Option<Computed<String>>,
    /// Sets the health of services, e.g. `userservice.UserService` to NOT_SERVING.
    pub health: Vec<(String, Health)>,
    /// Closes the connection gracefully (GOAWAY) once its calls are done.
    pub goaway: bool,
    /// Refuses new connections on the listener that took the call for this long, and closes
    /// the open ones.
    pub outage: Option<Duration>,
}

impl Effects {
    /// Whether the reply has no effect beyond answering.
    pub fn is_empty(&self) -> bool {
        self.set_state.is_none() && self.health.is_empty() && !self.goaway && self.outage.is_none()
    }
}

/// Everything a stub's `then` says.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Reply {
    /// Waited before anything is sent.
    pub delay: Delay,
    /// Response headers.
    pub headers: Metadata,
    /// Response trailers.
    pub trailers: Metadata,
    /// The messages sent, in order (one for unary and client-streaming methods).
    pub stream: Vec<StreamPart>,
    /// The status the call ends with; `None` is OK.
    pub status: Option<StatusReply>,
    /// Send the status alone, in the response headers (no messages, no separate trailers).
    pub trailers_only: bool,
    /// What the reply does to the server.
    pub effects: Effects,
}

impl Reply {
    /// Whether the reply may end the call with an error status (a templated code may).
    pub fn fails(&self) -> bool {
        self.status.as_ref().is_some_and(|s| !s.is_ok())
    }

    /// Whether sending it renders a template (and so needs the call's template context).
    ///
    /// Every templated part of a reply must be named here: a reply that says it reads nothing
    /// is rendered without a context.
    pub(crate) fn reads_call(&self) -> bool {
        let metadata = |entries: &Metadata| entries.iter().any(|e| e.value.is_template());
        self.delay.base.is_template()
            || metadata(&self.headers)
            || metadata(&self.trailers)
            || self.stream.iter().any(|part| match part {
                StreamPart::Message(item) => {
                    item.payload.is_template() || item.delay.base.is_template()
                }
                StreamPart::Each(_) => true,
                StreamPart::Abort(_) => false,
            })
            || self.status.as_ref().is_some_and(StatusReply::is_template)
            || self
                .effects
                .set_state
                .as_ref()
                .is_some_and(Computed::is_template)
    }

    /// The messages of a reply that lists them (no generated parts).
    pub fn messages(&self) -> impl Iterator<Item = &StreamItem> {
        self.stream.iter().filter_map(|part| match part {
            StreamPart::Message(item) => Some(item),
            _ => None,
        })
    }
}

/// One reply of a sequence, answered `repeat` times in a row.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SequenceItem {
    /// The reply.
    pub reply: Reply,
    /// How many successive calls it answers (at least 1).
    pub repeat: u64,
}

/// A step of a scripted conversation on a client or bidi stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Step {
    /// Sends the response headers now (else they go with the first message).
    Headers(Metadata),
    /// Waits for the next client message; it must meet these conditions (none: any message).
    Expect(Vec<super::Matcher>),
    /// Waits until the client half-closes (messages until then are ignored).
    HalfClose,
    /// Sends messages, without waiting for input.
    Send(Vec<StreamPart>),
    /// Waits.
    Wait(Delay),
    /// Ends the call with this status and trailers.
    Close {
        /// The status; `None` is OK.
        status: Option<StatusReply>,
        /// Trailers.
        trailers: Metadata,
    },
    /// Applies effects (scenario state, health, faults).
    Effects(Effects),
}

/// How a stub answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Respond {
    /// The same reply to every call (`then`).
    Reply(Box<Reply>),
    /// A reply per successive matching call (`sequence`); the last one repeats.
    Sequence(Vec<SequenceItem>),
    /// A script for a whole client or bidi stream (`conversation`), chosen when the call starts.
    Conversation(Vec<Step>),
}

impl Respond {
    /// The reply for the `attempt`-th matching call (1-based), for replies and sequences.
    pub fn reply_for(&self, attempt: u64) -> Option<&Reply> {
        match self {
            Respond::Reply(reply) => Some(&**reply),
            Respond::Sequence(items) => {
                let mut left = attempt.max(1);
                for item in items {
                    if left <= item.repeat {
                        return Some(&item.reply);
                    }
                    left -= item.repeat;
                }
                items.last().map(|item| &item.reply)
            }
            Respond::Conversation(_) => None,
        }
    }

    /// Every reply it may send (for checks over all of them).
    pub fn replies(&self) -> Vec<&Reply> {
        match self {
            Respond::Reply(reply) => vec![&**reply],
            Respond::Sequence(items) => items.iter().map(|i| &i.reply).collect(),
            Respond::Conversation(_) => Vec::new(),
        }
    }
}
