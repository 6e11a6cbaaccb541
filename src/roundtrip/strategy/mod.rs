//! Descriptor-driven proptest strategies: arbitrary [`DynamicMessage`]s for any message type.
//!
//! The strategies are built once per `(message type, remaining depth, size budget)` and
//! memoised, so a schema with deep or recursive types costs a few strategies per type and level
//! rather than a tree that grows with every nested field. Every strategy is bounded (collection
//! lengths, string and byte lengths, nesting depth, and the encoded size of the whole tree), so
//! proptest's shrinking converges on small counterexamples: unset fields, empty collections,
//! zero and the first enum value.
//!
//! This file builds messages field by field; `scalars.rs` holds the strategies of single values
//! (edge-biased numbers, strings, bytes, enums, map keys), `wkt.rs` those of well-known types
//! with narrower legal values, `size.rs` the size budget shared over a tree, and `unknown.rs`
//! raw fields a reader does not declare.

mod scalars;
mod size;
mod unknown;
mod wkt;

use std::collections::HashMap;

use proptest::{
    collection::{hash_map, vec},
    option,
    prelude::*,
    strategy::{BoxedStrategy, Just, Union},
};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage as _, Value,
};

use self::scalars::{
    arb_bytes, arb_enum, arb_f32, arb_f64, arb_i32, arb_i64, arb_string, arb_u32, arb_u64,
    json_safe_f32, map_key,
};
pub use self::unknown::arb_unknown_fields;
use crate::schema::value::eq::unpack_any;

/// Bounds for generated messages.
///
/// The defaults keep single cases small (fast, and shrinking yields readable counterexamples)
/// while still reaching every kind of value: nested messages three levels deep, up to four
/// repeated elements or map entries, strings of up to 16 characters and, now and then, a large
/// `bytes` value. `max_size` bounds the whole tree, whatever the depth: a recursive type at
/// depth 12 has as many levels as fit in it, not `(fields × max_len)^12` messages.
///
/// # Examples
///
/// ```
/// use grpc_double::roundtrip::StrategyConfig;
///
/// let config = StrategyConfig { depth: 1, ..StrategyConfig::default() };
/// assert_eq!(config.max_len, 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyConfig {
    /// How many levels of message-typed fields below the top-level message are generated.
    /// Recursive types stop here; a required message field at the bottom is left empty.
    pub depth: u32,
    /// The largest number of elements of a repeated field, or entries of a map.
    pub max_len: usize,
    /// The longest generated string, in characters.
    pub max_string: usize,
    /// The largest "large" `bytes` value (one value in nine is drawn up to this length; the
    /// others up to 32 bytes).
    pub max_bytes: usize,
    /// The probability that an optional field (or a oneof) is set.
    pub field_probability: f64,
    /// Only generate values that protobuf JSON can carry with prost-reflect: NaN and infinities
    /// are kept out of `google.protobuf.FloatValue`/`DoubleValue`, which prost-reflect 0.16 writes
    /// as JSON `null` instead of `"NaN"`/`"Infinity"`. Plain `float`/`double` fields keep them.
    pub json_compatible: bool,
    /// The largest encoded size of a generated message, in bytes, counting every field at its
    /// largest (so typical values are much smaller). Nested messages share it: a field whose
    /// type no longer fits in its share is left unset, as at the last level of `depth`. A
    /// message whose own non-message fields exceed it is still generated in full.
    pub max_size: usize,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self {
            depth: 3,
            max_len: 4,
            max_string: 16,
            max_bytes: 4096,
            field_probability: 0.6,
            json_compatible: true,
            // gRPC's default limit on a received message.
            max_size: 4 << 20,
        }
    }
}

/// Gets a strategy producing arbitrary messages of the given type.
///
/// Every scalar covers its full range with a bias towards edge values (0, ±1, minimum and
/// maximum, NaN and infinities, `-0.0`, empty and non-ASCII strings); open enums also take
/// numbers the enum does not declare; oneofs set at most one member; proto3 `optional`, proto2
/// presence are respected and required fields are always set. Well-known types are
/// generated in their legal ranges: `Timestamp` between years 1 and 9999, `Duration` within
/// ±10,000 years with consistent signs, `Value` with finite numbers, `FieldMask` paths that
/// survive the JSON camelCase mapping, `Any` packing a type the pool resolves. Extensions are not
/// generated.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{StrategyConfig, arb_message, sample}};
/// use prost_reflect::ReflectMessage as _;
///
/// // Arrange
/// let schema = Schema::bundled();
/// let desc = schema.pool().get_message_by_name("userservice.UserResponse").unwrap();
/// let strategy = arb_message(&desc, &StrategyConfig::default());
/// // Act: one value (in a test, hand `strategy` to proptest's `TestRunner` or `proptest!`).
/// let message = sample(&strategy, 7);
/// // Assert
/// assert_eq!(message.descriptor().full_name(), "userservice.UserResponse");
/// ```
pub fn arb_message(
    desc: &MessageDescriptor,
    config: &StrategyConfig,
) -> BoxedStrategy<DynamicMessage> {
    Builder::new(config).message(desc, config.depth, config.max_size)
}

type FieldPart = BoxedStrategy<Option<(FieldDescriptor, Value)>>;

struct Builder<'a> {
    config: &'a StrategyConfig,
    memo: HashMap<(String, u32, usize), BoxedStrategy<DynamicMessage>>,
    own: HashMap<String, usize>,
}

/// What each message held by a message's fields may take: `(depth, budget)`, or `None` at the
/// last level (or when no message fits).
type Share = Option<(u32, usize)>;

impl<'a> Builder<'a> {
    fn new(config: &'a StrategyConfig) -> Self {
        Self {
            config,
            memo: HashMap::new(),
            own: HashMap::new(),
        }
    }

    /// A message whose message-typed fields nest at most `depth` more levels, encoding to at
    /// most `budget` bytes (or to its own fields, when they alone exceed it).
    fn message(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
        budget: usize,
    ) -> BoxedStrategy<DynamicMessage> {
        let budget = size::round_down(budget);
        let key = (desc.full_name().to_owned(), depth, budget);
        if let Some(strategy) = self.memo.get(&key) {
            return strategy.clone();
        }
        let strategy = match self.well_known(desc, depth, budget) {
            Some(strategy) => strategy,
            None => self.plain_message(desc, depth, budget),
        };
        self.memo.insert(key, strategy.clone());
        strategy
    }

    /// The largest encoded size of a message's own (non-message) fields, memoised.
    fn own_len(&mut self, desc: &MessageDescriptor) -> usize {
        if let Some(len) = self.own.get(desc.full_name()) {
            return *len;
        }
        let len = size::own_len(desc, self.config);
        self.own.insert(desc.full_name().to_owned(), len);
        len
    }

    /// Whether a message of this type fits in `share`.
    fn fits(&mut self, desc: &MessageDescriptor, share: Share) -> bool {
        share.is_some_and(|(_, budget)| self.own_len(desc) <= budget)
    }

    /// Shares what `budget` leaves after the message's own fields among the slots that hold
    /// messages: a field with `max_len` values has `max_len` slots, a oneof one. Slots whose
    /// types do not fit are given up, which leaves more for the others.
    fn share(&mut self, desc: &MessageDescriptor, depth: u32, budget: usize) -> Share {
        if depth == 0 {
            return None;
        }
        let left = budget.checked_sub(self.own_len(desc))?;
        // (slots, the message types any of which may fill them), one group per oneof.
        let mut groups: Vec<(usize, Vec<MessageDescriptor>)> = Vec::new();
        let mut oneofs: HashMap<String, usize> = HashMap::new();
        for field in desc.fields() {
            let Some(message) = size::message_of(&field) else {
                continue;
            };
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(oneof) => match oneofs.get(oneof.name()) {
                    Some(&group) => groups[group].1.push(message),
                    None => {
                        oneofs.insert(oneof.name().to_owned(), groups.len());
                        groups.push((1, vec![message]));
                    }
                },
                None if field.is_list() || field.is_map() => {
                    groups.push((self.config.max_len, vec![message]));
                }
                None => groups.push((1, vec![message])),
            }
        }
        loop {
            let slots: usize = groups.iter().map(|(n, _)| n).sum();
            let each = size::round_down(left / slots.max(1));
            let before = groups.len();
            groups.retain(|(_, types)| types.iter().any(|t| self.own_len(t) <= each));
            if groups.len() == before {
                return Some((depth - 1, each));
            }
        }
    }

    fn plain_message(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
        budget: usize,
    ) -> BoxedStrategy<DynamicMessage> {
        let p = self.config.field_probability;
        let share = self.share(desc, depth, budget);
        let mut parts: Vec<FieldPart> = Vec::new();
        for field in desc.fields() {
            if field
                .containing_oneof()
                .is_some_and(|oneof| !oneof.is_synthetic())
            {
                continue;
            }
            let fits = match size::message_of(&field) {
                Some(message) => self.fits(&message, share),
                None => true,
            };
            if field.is_required() {
                let value = self.field_value(&field, share.filter(|_| fits));
                let f = field.clone();
                parts.push(value.prop_map(move |v| Some((f.clone(), v))).boxed());
                continue;
            }
            if !fits {
                continue;
            }
            let value = self.field_value(&field, share);
            let f = field.clone();
            parts.push(
                option::weighted(p, value)
                    .prop_map(move |v| v.map(|v| (f.clone(), v)))
                    .boxed(),
            );
        }
        for oneof in desc.oneofs().filter(|o| !o.is_synthetic()) {
            let mut options: Vec<(u32, FieldPart)> = vec![(
                ((1.0 - p) * 100.0).round().max(1.0) as u32,
                Just(None).boxed(),
            )];
            let members: Vec<FieldDescriptor> = oneof.fields().collect();
            let weight = ((p * 100.0) / members.len().max(1) as f64).ceil().max(1.0) as u32;
            for field in members {
                if let Some(message) = size::message_of(&field)
                    && !self.fits(&message, share)
                {
                    continue;
                }
                let value = self.field_value(&field, share);
                let f = field.clone();
                options.push((
                    weight,
                    value.prop_map(move |v| Some((f.clone(), v))).boxed(),
                ));
            }
            parts.push(Union::new_weighted(options).boxed());
        }
        let desc = desc.clone();
        parts
            .prop_map(move |fields| {
                let mut message = DynamicMessage::new(desc.clone());
                for (field, value) in fields.into_iter().flatten() {
                    message.set_field(&field, value);
                }
                message
            })
            .boxed()
    }

    /// The value of a whole field: a map, a list, or one value; messages get `share` each.
    fn field_value(&mut self, field: &FieldDescriptor, share: Share) -> BoxedStrategy<Value> {
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = kind else {
                unreachable!("map fields have an entry message")
            };
            let key = map_key(&entry.map_entry_key_field().kind());
            let value = self.singular(&entry.map_entry_value_field().kind(), share);
            return hash_map(key, value, 0..=self.config.max_len)
                .prop_map(Value::Map)
                .boxed();
        }
        let one = self.singular(&kind, share);
        if field.is_list() {
            return vec(one, 0..=self.config.max_len)
                .prop_map(Value::List)
                .boxed();
        }
        one
    }

    /// One value of the given kind; messages nest one level deeper, within `share`.
    fn singular(&mut self, kind: &Kind, share: Share) -> BoxedStrategy<Value> {
        match kind {
            Kind::Message(desc) => match share {
                Some((depth, budget)) => self
                    .message(desc, depth, budget)
                    .prop_map(Value::Message)
                    .boxed(),
                // Only required fields reach here with no share: they get an empty message.
                None => {
                    let desc = desc.clone();
                    Just(())
                        .prop_map(move |()| Value::Message(DynamicMessage::new(desc.clone())))
                        .boxed()
                }
            },
            Kind::Enum(desc) => arb_enum(desc).prop_map(Value::EnumNumber).boxed(),
            Kind::Double => arb_f64().prop_map(Value::F64).boxed(),
            Kind::Float if self.config.json_compatible => {
                arb_f32().prop_map(|v| Value::F32(json_safe_f32(v))).boxed()
            }
            Kind::Float => arb_f32().prop_map(Value::F32).boxed(),
            Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Kind::String => arb_string(self.config.max_string)
                .prop_map(Value::String)
                .boxed(),
            Kind::Bytes => arb_bytes(self.config.max_bytes)
                .prop_map(Value::Bytes)
                .boxed(),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => arb_i32().prop_map(Value::I32).boxed(),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => arb_i64().prop_map(Value::I64).boxed(),
            Kind::Uint32 | Kind::Fixed32 => arb_u32().prop_map(Value::U32).boxed(),
            Kind::Uint64 | Kind::Fixed64 => arb_u64().prop_map(Value::U64).boxed(),
        }
    }
}

/// Whether any map in the message (at any depth) has two or more entries: their order on the
/// wire is unspecified, so byte-for-byte comparisons do not apply.
pub(crate) fn has_unordered_map(message: &DynamicMessage) -> bool {
    fn value(v: &Value) -> bool {
        match v {
            Value::Map(map) => map.len() > 1 || map.values().any(value),
            Value::List(list) => list.iter().any(value),
            Value::Message(m) => has_unordered_map(m),
            _ => false,
        }
    }
    message.fields().any(|(_, v)| value(v))
        || (message.descriptor().full_name() == "google.protobuf.Any"
            && any_payload_has_map(message))
}

fn any_payload_has_map(any: &DynamicMessage) -> bool {
    unpack_any(any).is_some_and(|m| has_unordered_map(&m))
}
