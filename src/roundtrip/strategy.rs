//! Descriptor-driven proptest strategies: arbitrary [`DynamicMessage`]s for any message type.
//!
//! The strategies are built once per `(message type, remaining depth)` and memoised, so a schema
//! with deep or recursive types costs `types × depth` strategies rather than a tree that grows
//! with every nested field. Every strategy is bounded (collection lengths, string and byte
//! lengths, nesting depth), so proptest's shrinking converges on small counterexamples: unset
//! fields, empty collections, zero and the first enum value.

use std::collections::HashMap;

use crate::schema::value::eq::unpack_any;
use proptest::{
    collection::{hash_map, vec},
    option,
    prelude::*,
    sample::select,
    strategy::{BoxedStrategy, Just, Union},
};
use prost::{
    Message as _,
    bytes::{BufMut, Bytes},
    encoding::{WireType, encode_key, encode_varint},
};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage as _, Value,
};

/// Bounds for generated messages.
///
/// The defaults keep single cases small (fast, and shrinking yields readable counterexamples)
/// while still reaching every kind of value: nested messages three levels deep, up to four
/// repeated elements or map entries, strings of up to 16 characters and, now and then, a large
/// `bytes` value.
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
    Builder::new(config).message(desc, config.depth)
}

/// Gets a strategy producing raw encoded fields whose numbers the message type does not declare
/// (varints, 32- and 64-bit values, length-delimited payloads and groups): what an older or newer
/// writer's extra fields look like to this reader.
pub fn arb_unknown_fields(desc: &MessageDescriptor) -> BoxedStrategy<Vec<u8>> {
    let desc = desc.clone();
    let field = (1u32..=536_870_911, arb_unknown_payload()).prop_map(move |(n, payload)| {
        let number = free_number(&desc, n);
        let mut buf = Vec::new();
        payload.encode(number, &mut buf);
        buf
    });
    vec(field, 0..=3).prop_map(|fields| fields.concat()).boxed()
}

#[derive(Debug, Clone)]
enum UnknownPayload {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
    Delimited(Vec<u8>),
    Group(u64),
}

impl UnknownPayload {
    fn encode(&self, number: u32, buf: &mut Vec<u8>) {
        match self {
            UnknownPayload::Varint(v) => {
                encode_key(number, WireType::Varint, buf);
                encode_varint(*v, buf);
            }
            UnknownPayload::Fixed32(v) => {
                encode_key(number, WireType::ThirtyTwoBit, buf);
                buf.put_u32_le(*v);
            }
            UnknownPayload::Fixed64(v) => {
                encode_key(number, WireType::SixtyFourBit, buf);
                buf.put_u64_le(*v);
            }
            UnknownPayload::Delimited(bytes) => {
                encode_key(number, WireType::LengthDelimited, buf);
                encode_varint(bytes.len() as u64, buf);
                buf.extend_from_slice(bytes);
            }
            UnknownPayload::Group(v) => {
                encode_key(number, WireType::StartGroup, buf);
                encode_key(1, WireType::Varint, buf);
                encode_varint(*v, buf);
                encode_key(number, WireType::EndGroup, buf);
            }
        }
    }
}

fn arb_unknown_payload() -> impl Strategy<Value = UnknownPayload> {
    prop_oneof![
        any::<u64>().prop_map(UnknownPayload::Varint),
        any::<u32>().prop_map(UnknownPayload::Fixed32),
        any::<u64>().prop_map(UnknownPayload::Fixed64),
        vec(any::<u8>(), 0..=16).prop_map(UnknownPayload::Delimited),
        any::<u64>().prop_map(UnknownPayload::Group),
    ]
}

/// The first number at or after `n` (wrapping) that is neither a field nor an extension range.
fn free_number(desc: &MessageDescriptor, n: u32) -> u32 {
    const MAX: u32 = 536_870_911;
    let mut n = n.clamp(1, MAX);
    for _ in 0..64 {
        if let Some(range) = desc.extension_ranges().find(|r| r.contains(&n)) {
            n = if range.end > MAX { 1 } else { range.end };
            continue;
        }
        if desc.get_field(n).is_some() {
            n = if n == MAX { 1 } else { n + 1 };
            continue;
        }
        return n;
    }
    // Unreachable for real descriptors (fields and ranges cannot cover every number).
    n
}

type FieldPart = BoxedStrategy<Option<(FieldDescriptor, Value)>>;

struct Builder<'a> {
    config: &'a StrategyConfig,
    memo: HashMap<(String, u32), BoxedStrategy<DynamicMessage>>,
}

impl<'a> Builder<'a> {
    fn new(config: &'a StrategyConfig) -> Self {
        Self {
            config,
            memo: HashMap::new(),
        }
    }

    /// A message whose message-typed fields nest at most `depth` more levels.
    fn message(&mut self, desc: &MessageDescriptor, depth: u32) -> BoxedStrategy<DynamicMessage> {
        let key = (desc.full_name().to_owned(), depth);
        if let Some(strategy) = self.memo.get(&key) {
            return strategy.clone();
        }
        let strategy = match self.well_known(desc, depth) {
            Some(strategy) => strategy,
            None => self.plain_message(desc, depth),
        };
        self.memo.insert(key, strategy.clone());
        strategy
    }

    fn plain_message(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
    ) -> BoxedStrategy<DynamicMessage> {
        let p = self.config.field_probability;
        let mut parts: Vec<FieldPart> = Vec::new();
        for field in desc.fields() {
            if field
                .containing_oneof()
                .is_some_and(|oneof| !oneof.is_synthetic())
            {
                continue;
            }
            if field.is_required() {
                let value = self.field_value(&field, depth);
                let f = field.clone();
                parts.push(value.prop_map(move |v| Some((f.clone(), v))).boxed());
                continue;
            }
            if depth == 0 && holds_message(&field) {
                continue;
            }
            let value = self.field_value(&field, depth);
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
            let share = ((p * 100.0) / members.len().max(1) as f64).ceil().max(1.0) as u32;
            for field in members {
                if depth == 0 && holds_message(&field) {
                    continue;
                }
                let value = self.field_value(&field, depth);
                let f = field.clone();
                options.push((share, value.prop_map(move |v| Some((f.clone(), v))).boxed()));
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

    /// The value of a whole field: a map, a list, or one value.
    fn field_value(&mut self, field: &FieldDescriptor, depth: u32) -> BoxedStrategy<Value> {
        let kind = field.kind();
        if field.is_map() {
            let Kind::Message(entry) = kind else {
                unreachable!("map fields have an entry message")
            };
            let key = map_key(&entry.map_entry_key_field().kind());
            let value = self.singular(&entry.map_entry_value_field().kind(), depth);
            return hash_map(key, value, 0..=self.config.max_len)
                .prop_map(Value::Map)
                .boxed();
        }
        let one = self.singular(&kind, depth);
        if field.is_list() {
            return vec(one, 0..=self.config.max_len)
                .prop_map(Value::List)
                .boxed();
        }
        one
    }

    /// One value of the given kind; messages nest one level deeper.
    fn singular(&mut self, kind: &Kind, depth: u32) -> BoxedStrategy<Value> {
        match kind {
            // Only required fields reach here at depth 0: they get an empty message.
            Kind::Message(desc) if depth == 0 => {
                let desc = desc.clone();
                Just(())
                    .prop_map(move |()| Value::Message(DynamicMessage::new(desc.clone())))
                    .boxed()
            }
            Kind::Message(desc) => self
                .message(desc, depth - 1)
                .prop_map(Value::Message)
                .boxed(),
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

    /// Strategies for well-known types whose legal values are narrower than their fields.
    fn well_known(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
    ) -> Option<BoxedStrategy<DynamicMessage>> {
        let d = desc.clone();
        let strategy = match desc.full_name() {
            "google.protobuf.Timestamp" => (
                -62_135_596_800i64..=253_402_300_799,
                prop_oneof![Just(0), 0..=999_999_999i32],
            )
                .prop_map(move |(seconds, nanos)| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::I64(seconds));
                    m.set_field_by_number(2, Value::I32(nanos));
                    m
                })
                .boxed(),
            "google.protobuf.Duration" => (
                -315_576_000_000i64..=315_576_000_000,
                prop_oneof![Just(0), 0..=999_999_999i32],
                any::<bool>(),
            )
                .prop_map(move |(seconds, nanos, negative)| {
                    let negative = seconds < 0 || (seconds == 0 && negative);
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::I64(seconds));
                    m.set_field_by_number(2, Value::I32(if negative { -nanos } else { nanos }));
                    m
                })
                .boxed(),
            "google.protobuf.FieldMask" => vec(arb_field_path(), 0..=3)
                .prop_map(move |paths| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(
                        1,
                        Value::List(paths.into_iter().map(Value::String).collect()),
                    );
                    m
                })
                .boxed(),
            "google.protobuf.Value" => self.wkt_value(desc, depth),
            "google.protobuf.FloatValue" if self.config.json_compatible => finite_f32()
                .prop_map(move |v| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::F32(json_safe_f32(v)));
                    m
                })
                .boxed(),
            "google.protobuf.DoubleValue" if self.config.json_compatible => finite_f64()
                .prop_map(move |v| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::F64(v));
                    m
                })
                .boxed(),
            "google.protobuf.Any" => self.wkt_any(desc, depth),
            _ => return None,
        };
        Some(strategy)
    }

    /// `google.protobuf.Value` always has its `kind` set (an unset kind has no JSON form) and
    /// only finite numbers (the JSON mapping has no NaN for `Value`).
    fn wkt_value(&mut self, desc: &MessageDescriptor, depth: u32) -> BoxedStrategy<DynamicMessage> {
        let d = desc.clone();
        let set = move |number: u32, value: Value| {
            let mut m = DynamicMessage::new(d.clone());
            m.set_field_by_number(number, value);
            m
        };
        let (s1, s2, s3, s4) = (set.clone(), set.clone(), set.clone(), set.clone());
        let mut options: Vec<BoxedStrategy<DynamicMessage>> = vec![
            Just(())
                .prop_map(move |()| s1(1, Value::EnumNumber(0)))
                .boxed(),
            finite_f64().prop_map(move |v| s2(2, Value::F64(v))).boxed(),
            arb_string(self.config.max_string)
                .prop_map(move |v| s3(3, Value::String(v)))
                .boxed(),
            any::<bool>()
                .prop_map(move |v| s4(4, Value::Bool(v)))
                .boxed(),
        ];
        if depth > 0 {
            for number in [5u32, 6] {
                let Some(field) = desc.get_field(number) else {
                    continue;
                };
                let Kind::Message(inner) = field.kind() else {
                    continue;
                };
                let s = set.clone();
                options.push(
                    self.message(&inner, depth - 1)
                        .prop_map(move |m| s(number, Value::Message(m)))
                        .boxed(),
                );
            }
        }
        Union::new(options).boxed()
    }

    /// `google.protobuf.Any` packs a type the pool resolves: a few well-known types, and
    /// `google.rpc.Status` (always in a [`Schema`](crate::Schema)) while depth remains.
    fn wkt_any(&mut self, desc: &MessageDescriptor, depth: u32) -> BoxedStrategy<DynamicMessage> {
        let pool = desc.parent_pool().clone();
        let mut names = vec![
            "google.protobuf.Empty",
            "google.protobuf.StringValue",
            "google.protobuf.Int64Value",
            "google.protobuf.Timestamp",
            "google.protobuf.Duration",
        ];
        if depth > 0 {
            names.extend(["google.protobuf.Struct", "google.rpc.Status"]);
        }
        let mut options = Vec::new();
        for name in names {
            let Some(inner) = pool.get_message_by_name(name) else {
                continue;
            };
            let d = desc.clone();
            let url = format!("type.googleapis.com/{name}");
            options.push(
                self.message(&inner, depth.saturating_sub(1))
                    .prop_map(move |payload| {
                        let mut m = DynamicMessage::new(d.clone());
                        m.set_field_by_number(1, Value::String(url.clone()));
                        m.set_field_by_number(
                            2,
                            Value::Bytes(Bytes::from(payload.encode_to_vec())),
                        );
                        m
                    })
                    .boxed(),
            );
        }
        if options.is_empty() {
            let d = desc.clone();
            return Just(())
                .prop_map(move |()| DynamicMessage::new(d.clone()))
                .boxed();
        }
        Union::new(options).boxed()
    }
}

/// Whether a field's values (or map values) are messages: such fields stop at depth 0.
fn holds_message(field: &FieldDescriptor) -> bool {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => {
            matches!(entry.map_entry_value_field().kind(), Kind::Message(_))
        }
        Kind::Message(_) => true,
        _ => false,
    }
}

fn map_key(kind: &Kind) -> BoxedStrategy<MapKey> {
    match kind {
        Kind::Bool => any::<bool>().prop_map(MapKey::Bool).boxed(),
        Kind::String => arb_string(8).prop_map(MapKey::String).boxed(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => arb_i32().prop_map(MapKey::I32).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => arb_i64().prop_map(MapKey::I64).boxed(),
        Kind::Uint32 | Kind::Fixed32 => arb_u32().prop_map(MapKey::U32).boxed(),
        Kind::Uint64 | Kind::Fixed64 => arb_u64().prop_map(MapKey::U64).boxed(),
        // protoc rejects other key types; keep the generator total anyway.
        _ => arb_string(8).prop_map(MapKey::String).boxed(),
    }
}

/// Known values first (so shrinking lands on the enum's first value); open enums also draw any
/// number, which readers must keep. `google.protobuf.NullValue` only has `NULL_VALUE`: its JSON
/// form is `null` whatever the number.
fn arb_enum(desc: &EnumDescriptor) -> BoxedStrategy<i32> {
    let known: Vec<i32> = desc.values().map(|v| v.number()).collect();
    if desc.full_name() == "google.protobuf.NullValue" || known.is_empty() {
        return Just(known.first().copied().unwrap_or(0)).boxed();
    }
    let known = select(known);
    if crate::schema::enum_is_closed(desc) {
        known.boxed()
    } else {
        prop_oneof![4 => known, 1 => any::<i32>()].boxed()
    }
}

macro_rules! int_strategy {
    ($name:ident, $t:ty, [$($edge:expr),*]) => {
        fn $name() -> BoxedStrategy<$t> {
            prop_oneof![
                3 => any::<$t>(),
                1 => select(vec![$($edge),*]),
            ]
            .boxed()
        }
    };
}

int_strategy!(arb_i32, i32, [0, 1, -1, i32::MIN, i32::MAX]);
int_strategy!(
    arb_i64,
    i64,
    [0, 1, -1, i64::MIN, i64::MAX, i64::from(i32::MIN) - 1]
);
int_strategy!(arb_u32, u32, [0, 1, u32::MAX, 1 << 31]);
int_strategy!(arb_u64, u64, [0, 1, u64::MAX, 1 << 63, 1 << 32]);

fn arb_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => proptest::num::f64::ANY,
        1 => select(vec![0.0, -0.0, f64::MIN, f64::MAX, f64::MIN_POSITIVE, f64::EPSILON, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
    ]
    .boxed()
}

fn arb_f32() -> BoxedStrategy<f32> {
    prop_oneof![
        3 => proptest::num::f32::ANY,
        1 => select(vec![0.0, -0.0, f32::MIN, f32::MAX, f32::MIN_POSITIVE, f32::EPSILON, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
    ]
    .boxed()
}

/// prost-reflect 0.16 reads a JSON `float` as an `f64` and rejects it when it exceeds `f32::MAX`,
/// so `±f32::MAX` (written as `3.4028235e38`, which is slightly larger as an `f64`) cannot come
/// back from JSON. JSON-checked runs use the next float towards zero instead.
pub(crate) fn json_safe_f32(v: f32) -> f32 {
    let too_large = v.is_finite()
        && format!("{v}")
            .parse::<f64>()
            .is_ok_and(|p| p.abs() > f64::from(f32::MAX));
    if too_large {
        v.abs().next_down().copysign(v)
    } else {
        v
    }
}

fn finite_f64() -> BoxedStrategy<f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

fn finite_f32() -> BoxedStrategy<f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

/// Any Unicode scalar values, including control characters and astral planes; empty strings
/// come first when shrinking.
fn arb_string(max: usize) -> BoxedStrategy<String> {
    // Lower-case letters first, so that shrinking ends on `"a"` rather than `"\u{0}"`.
    let ch = prop_oneof![2 => proptest::char::range('a', 'z'), 1 => any::<char>()];
    vec(ch, 0..=max).prop_map(String::from_iter).boxed()
}

fn arb_bytes(max: usize) -> BoxedStrategy<Bytes> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..=32),
        1 => vec(any::<u8>(), 0..=max.max(33)),
    ]
    .prop_map(Bytes::from)
    .boxed()
}

/// A `FieldMask` path (`a.b_c`) whose segments survive snake_case → lowerCamelCase → snake_case.
fn arb_field_path() -> BoxedStrategy<String> {
    let segment = proptest::string::string_regex("[a-z][a-z0-9]{0,5}(_[a-z][a-z0-9]{0,3}){0,2}")
        .unwrap_or_else(|err| unreachable!("the field-path regex is valid: {err}"));
    vec(segment, 1..=3)
        .prop_map(|parts| parts.join("."))
        .boxed()
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

#[cfg(test)]
mod tests {
    use super::json_safe_f32;

    #[test]
    fn roundtrip_json_safe_f32_only_moves_the_largest_floats() {
        assert_eq!(json_safe_f32(1.5), 1.5);
        assert_eq!(json_safe_f32(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
        assert!(json_safe_f32(f32::NAN).is_nan());
        assert_eq!(json_safe_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(json_safe_f32(f32::MAX), f32::MAX.next_down());
        assert_eq!(json_safe_f32(f32::MIN), f32::MIN.next_up());
    }
}
