//! Decoding a message whose fields are all singular scalars (the usual request: ids, names,
//! numbers) straight into a [`DynamicMessage`].
//!
//! prost-reflect's decoder is general: per field it looks the field up by number, asks for its
//! kind, makes a default value and merges into it. For a flat message the field's decoding is
//! known when the type is loaded, so [`FlatDecoder`] keeps one slot per field number and sets
//! each value as it reads it. Anything it does not handle — an unknown or repeated field, a
//! nested message, a wire type that does not match, invalid UTF-8, a truncated buffer — makes it
//! give up (`None`), and the caller decodes with prost-reflect, which keeps unknown fields and
//! reports errors as before. Both give equal messages (a property test below checks it).

use bytes::Bytes;
use prost::encoding::decode_varint;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

/// Field numbers above this are not kept in slots (the type is decoded the general way).
const MAX_NUMBER: u32 = 256;

/// How a field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Enum,
    Fixed32,
    Sfixed32,
    Float,
    Fixed64,
    Sfixed64,
    Double,
    String,
    Bytes,
}

impl Scalar {
    fn of(kind: &Kind) -> Option<Self> {
        Some(match kind {
            Kind::Bool => Scalar::Bool,
            Kind::Int32 => Scalar::Int32,
            Kind::Int64 => Scalar::Int64,
            Kind::Uint32 => Scalar::Uint32,
            Kind::Uint64 => Scalar::Uint64,
            Kind::Sint32 => Scalar::Sint32,
            Kind::Sint64 => Scalar::Sint64,
            Kind::Enum(_) => Scalar::Enum,
            Kind::Fixed32 => Scalar::Fixed32,
            Kind::Sfixed32 => Scalar::Sfixed32,
            Kind::Float => Scalar::Float,
            Kind::Fixed64 => Scalar::Fixed64,
            Kind::Sfixed64 => Scalar::Sfixed64,
            Kind::Double => Scalar::Double,
            Kind::String => Scalar::String,
            Kind::Bytes => Scalar::Bytes,
            Kind::Message(_) => return None,
        })
    }

    /// The wire type its values come in (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit).
    fn wire_type(self) -> u64 {
        match self {
            Scalar::Bool
            | Scalar::Int32
            | Scalar::Int64
            | Scalar::Uint32
            | Scalar::Uint64
            | Scalar::Sint32
            | Scalar::Sint64
            | Scalar::Enum => 0,
            Scalar::Fixed64 | Scalar::Sfixed64 | Scalar::Double => 1,
            Scalar::String | Scalar::Bytes => 2,
            Scalar::Fixed32 | Scalar::Sfixed32 | Scalar::Float => 5,
        }
    }
}

/// A field's value as the bytes hold it: strings and bytes borrowed, nothing allocated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarRef<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Enum(i32),
    /// A string's bytes, checked as UTF-8 when the message was accepted (see
    /// [`ScalarRef::text`]).
    Str(&'a [u8]),
    Bytes(&'a [u8]),
}

impl<'a> ScalarRef<'a> {
    /// The text of a string value.
    pub(crate) fn text(text: &'a [u8]) -> &'a str {
        // Checked when the bytes were accepted; checking again is the only way to a `&str`
        // without unsafe code, and a short string's check costs little next to a lookup.
        std::str::from_utf8(text).unwrap_or_default()
    }

    /// A singular scalar value of prost-reflect's, borrowed; `None` for lists, maps and
    /// messages.
    pub(crate) fn of(value: &'a Value) -> Option<Self> {
        Some(match value {
            Value::Bool(v) => ScalarRef::Bool(*v),
            Value::I32(v) => ScalarRef::I32(*v),
            Value::I64(v) => ScalarRef::I64(*v),
            Value::U32(v) => ScalarRef::U32(*v),
            Value::U64(v) => ScalarRef::U64(*v),
            Value::F32(v) => ScalarRef::F32(*v),
            Value::F64(v) => ScalarRef::F64(*v),
            Value::EnumNumber(v) => ScalarRef::Enum(*v),
            Value::String(s) => ScalarRef::Str(s.as_bytes()),
            Value::Bytes(b) => ScalarRef::Bytes(b),
            Value::Message(_) | Value::List(_) | Value::Map(_) => return None,
        })
    }

    /// The value as prost-reflect holds it.
    pub(crate) fn to_value(self) -> Value {
        match self {
            ScalarRef::Bool(v) => Value::Bool(v),
            ScalarRef::I32(v) => Value::I32(v),
            ScalarRef::I64(v) => Value::I64(v),
            ScalarRef::U32(v) => Value::U32(v),
            ScalarRef::U64(v) => Value::U64(v),
            ScalarRef::F32(v) => Value::F32(v),
            ScalarRef::F64(v) => Value::F64(v),
            ScalarRef::Enum(v) => Value::EnumNumber(v),
            ScalarRef::Str(s) => Value::String(Self::text(s).to_owned()),
            ScalarRef::Bytes(b) => Value::Bytes(Bytes::copy_from_slice(b)),
        }
    }
}

/// Types of up to this many fields keep, per accepted message under 64 KiB, where each
/// field's value is (see [`Offsets`]); larger ones are scanned per read.
const INDEXED: usize = 20;

/// Not set (an offset no indexed message reaches: they are shorter).
const UNSET: u16 = u16::MAX;

/// Where each field's kept value starts in an accepted message's bytes (after its key), by
/// the field's position in its type: a read is one lookup, whatever the message's size.
///
/// Small on purpose (40 bytes, most request types have fewer fields): every message of a
/// stream carries one, and moving a larger one into its `Arc` cost more than the lookups it
/// saves (measured on 100-frame client streams).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offsets([u16; INDEXED]);

/// One field of the type, by number.
#[derive(Debug)]
struct Slot {
    field: FieldDescriptor,
    scalar: Scalar,
    /// The field's position in its type (its place in [`Offsets`]).
    position: usize,
    /// The positions of the other members of its (real, not synthetic) oneof: a later
    /// member on the wire replaces it.
    siblings: Vec<usize>,
    /// What a read of the field gives when the bytes do not set it (its declared default).
    default: Value,
}

/// Decodes one flat message type (see the module documentation).
#[derive(Debug)]
pub(crate) struct FlatDecoder {
    message: MessageDescriptor,
    /// By field number.
    slots: Vec<Option<Slot>>,
    /// The type has at most [`INDEXED`] fields: accepted messages get [`Offsets`].
    indexed: bool,
}

impl FlatDecoder {
    /// A decoder for `message`, or `None` when one of its fields is not a singular scalar
    /// (or is numbered above 256).
    pub(crate) fn new(message: &MessageDescriptor) -> Option<Self> {
        let mut slots: Vec<Option<Slot>> = Vec::new();
        let fields: Vec<FieldDescriptor> = message.fields().collect();
        for (position, field) in fields.iter().enumerate() {
            if field.is_list() || field.is_map() || field.number() > MAX_NUMBER {
                return None;
            }
            let scalar = Scalar::of(&field.kind())?;
            let number = field.number() as usize;
            if slots.len() <= number {
                slots.resize_with(number + 1, || None);
            }
            let oneof = field.containing_oneof().filter(|o| !o.is_synthetic());
            let siblings = fields
                .iter()
                .enumerate()
                .filter(|(other, f)| {
                    *other != position && oneof.is_some() && f.containing_oneof() == oneof
                })
                .map(|(other, _)| other)
                .collect();
            slots[number] = Some(Slot {
                field: field.clone(),
                scalar,
                position,
                siblings,
                default: field.default_value(),
            });
        }
        Some(Self {
            message: message.clone(),
            slots,
            indexed: fields.len() <= INDEXED,
        })
    }

    /// The type it decodes.
    pub(crate) fn descriptor(&self) -> &MessageDescriptor {
        &self.message
    }

    /// The message `bytes` encode, or `None` when they need the general decoder.
    pub(crate) fn decode(&self, bytes: &[u8]) -> Option<DynamicMessage> {
        let mut message = DynamicMessage::new(self.message.clone());
        self.walk(bytes, |slot, value, _| {
            message.set_field(&slot.field, value.to_value());
        })?;
        Some(message)
    }

    /// Whether [`decode`](Self::decode) answers for `bytes` — the same reads, nothing built —
    /// and if so where each field's value is (`None` inside for types not indexed).
    #[cfg(test)]
    pub(crate) fn accept(&self, bytes: &[u8]) -> Option<Option<Offsets>> {
        let mut offsets = None;
        self.accept_into(bytes, &mut offsets).then_some(offsets)
    }

    /// [`accept`](Self::accept), writing the offsets into `out` (where the message keeps
    /// them: copying them right after these narrow writes stalls on each of them).
    pub(crate) fn accept_into(&self, bytes: &[u8], out: &mut Option<Offsets>) -> bool {
        *out = (self.indexed && bytes.len() < UNSET as usize).then_some(Offsets([UNSET; INDEXED]));
        let accepted = self
            .walk(bytes, |slot, _, at| {
                if let Some(offsets) = out {
                    for &sibling in &slot.siblings {
                        offsets.0[sibling] = UNSET;
                    }
                    offsets.0[slot.position] = at as u16;
                }
            })
            .is_some();
        if !accepted {
            *out = None;
        }
        accepted
    }

    /// The value of `field` that [`decode`](Self::decode) would keep from `bytes` (the last on
    /// the wire, unless a later member of its oneof replaced it), as
    /// [`DynamicMessage::get_field`] gives it (its default when it is not set); `None` when
    /// `field` is not one of the type's or the bytes need the general decoder.
    ///
    /// Meant for bytes this decoder [accepted](Self::accept), with the offsets it gave: a
    /// read is then one lookup; without them, other fields are skipped by their length.
    #[inline]
    pub(crate) fn read<'a>(
        &'a self,
        bytes: &'a [u8],
        offsets: Option<&Offsets>,
        field: &FieldDescriptor,
    ) -> Option<ScalarRef<'a>> {
        let (target, found) = self.find(bytes, offsets, field)?;
        match found {
            Some(value) => Some(value),
            None => ScalarRef::of(&target.default),
        }
    }

    /// `field`'s slot and the value the bytes set it to (`None` when they do not).
    #[inline(always)]
    fn find<'a>(
        &self,
        bytes: &'a [u8],
        offsets: Option<&Offsets>,
        field: &FieldDescriptor,
    ) -> Option<(&Slot, Option<ScalarRef<'a>>)> {
        let number = u64::from(field.number());
        let target = self
            .slots
            .get(number as usize)
            .and_then(Option::as_ref)
            .filter(|slot| slot.field == *field)?;
        if let Some(offsets) = offsets {
            let at = offsets.0[target.position];
            if at == UNSET {
                return Some((target, None));
            }
            let mut buf = bytes.get(at as usize..)?;
            return Some((target, Some(read(target.scalar, &mut buf, false)?)));
        }
        let mut buf = bytes;
        let mut found = None;
        while !buf.is_empty() {
            let key = decode_varint(&mut buf).ok()?;
            let slot = self.slots.get(usize::try_from(key >> 3).ok()?)?.as_ref()?;
            if key & 7 != slot.scalar.wire_type() {
                return None;
            }
            if key >> 3 == number {
                found = Some(read(slot.scalar, &mut buf, false)?);
                continue;
            }
            if target.siblings.contains(&slot.position) {
                found = None;
            }
            skip(slot.scalar.wire_type(), &mut buf)?;
        }
        Some((target, found))
    }

    /// Reads every field of `bytes` in wire order (with where its value starts), or `None` as
    /// soon as one needs the general decoder.
    fn walk<'a>(
        &self,
        bytes: &'a [u8],
        mut each: impl FnMut(&Slot, ScalarRef<'a>, usize),
    ) -> Option<()> {
        let mut buf = bytes;
        while !buf.is_empty() {
            let key = decode_varint(&mut buf).ok()?;
            let number = usize::try_from(key >> 3).ok()?;
            let slot = self.slots.get(number)?.as_ref()?;
            if key & 7 != slot.scalar.wire_type() {
                return None;
            }
            let at = bytes.len() - buf.len();
            each(slot, read(slot.scalar, &mut buf, true)?, at);
        }
        Some(())
    }
}

/// Reads one value; a string is checked as UTF-8 when `check` is set (else it was checked
/// when the bytes were accepted).
// Always inlined: a returned `ScalarRef` goes through memory otherwise, and copying it back
// field by field stalls on the stores that wrote it (measured: most of a read's time).
#[inline(always)]
fn read<'a>(scalar: Scalar, buf: &mut &'a [u8], check: bool) -> Option<ScalarRef<'a>> {
    Some(match scalar {
        Scalar::Bool => ScalarRef::Bool(decode_varint(buf).ok()? != 0),
        Scalar::Int32 => ScalarRef::I32(decode_varint(buf).ok()? as i32),
        Scalar::Int64 => ScalarRef::I64(decode_varint(buf).ok()? as i64),
        Scalar::Uint32 => ScalarRef::U32(decode_varint(buf).ok()? as u32),
        Scalar::Uint64 => ScalarRef::U64(decode_varint(buf).ok()?),
        Scalar::Sint32 => {
            let n = decode_varint(buf).ok()? as u32;
            ScalarRef::I32(((n >> 1) as i32) ^ -((n & 1) as i32))
        }
        Scalar::Sint64 => {
            let n = decode_varint(buf).ok()?;
            ScalarRef::I64(((n >> 1) as i64) ^ -((n & 1) as i64))
        }
        Scalar::Enum => ScalarRef::Enum(decode_varint(buf).ok()? as i32),
        Scalar::Fixed32 => ScalarRef::U32(u32::from_le_bytes(take(buf, 4)?.try_into().ok()?)),
        Scalar::Sfixed32 => ScalarRef::I32(i32::from_le_bytes(take(buf, 4)?.try_into().ok()?)),
        Scalar::Float => ScalarRef::F32(f32::from_le_bytes(take(buf, 4)?.try_into().ok()?)),
        Scalar::Fixed64 => ScalarRef::U64(u64::from_le_bytes(take(buf, 8)?.try_into().ok()?)),
        Scalar::Sfixed64 => ScalarRef::I64(i64::from_le_bytes(take(buf, 8)?.try_into().ok()?)),
        Scalar::Double => ScalarRef::F64(f64::from_le_bytes(take(buf, 8)?.try_into().ok()?)),
        Scalar::String => {
            let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
            let text = take(buf, len)?;
            if check {
                std::str::from_utf8(text).ok()?;
            }
            ScalarRef::Str(text)
        }
        Scalar::Bytes => {
            let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
            ScalarRef::Bytes(take(buf, len)?)
        }
    })
}

/// Passes over one value of wire type `wire`.
fn skip(wire: u64, buf: &mut &[u8]) -> Option<()> {
    match wire {
        0 => {
            decode_varint(buf).ok()?;
        }
        1 => {
            take(buf, 8)?;
        }
        5 => {
            take(buf, 4)?;
        }
        _ => {
            let len = usize::try_from(decode_varint(buf).ok()?).ok()?;
            take(buf, len)?;
        }
    }
    Some(())
}

/// The next `n` bytes, or `None` when fewer are left.
fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = buf.split_at_checked(n)?;
    *buf = rest;
    Some(head)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use crate::schema::Schema;

    const PROTO: &str = r#"
        syntax = "proto3";
        package flat;
        enum Color { RED = 0; GREEN = 1; }
        message Scalars {
          bool b = 1; int32 i32 = 2; int64 i64 = 3; uint32 u32 = 4; uint64 u64 = 5;
          sint32 s32 = 6; sint64 s64 = 7; Color color = 8; fixed32 f32 = 9; sfixed32 sf32 = 10;
          float fl = 11; fixed64 f64 = 12; sfixed64 sf64 = 13; double d = 14; string s = 15;
          bytes by = 16; optional int32 opt = 17;
          oneof choice { string left = 18; int64 right = 19; }
        }
        message Nested { Scalars inner = 1; }
        message Listed { repeated int32 values = 1; }
    "#;

    fn varint(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(value, &mut out);
        out
    }

    fn scalars() -> MessageDescriptor {
        let schema = Schema::from_sources([("flat.proto", PROTO)]).unwrap();
        schema.pool().get_message_by_name("flat.Scalars").unwrap()
    }

    /// One wire field: a key (any number, any wire type) and a payload fitting the wire type,
    /// or garbage.
    fn wire_field() -> impl Strategy<Value = Vec<u8>> {
        let number = prop_oneof![1u64..=20, Just(0u64), 21u64..=300];
        let payload = prop_oneof![
            (0u64..=2u64.pow(40)).prop_map(|v| (0u64, varint(v))),
            any::<u64>().prop_map(|v| (0u64, varint(v))),
            any::<[u8; 8]>().prop_map(|b| (1u64, b.to_vec())),
            any::<[u8; 4]>().prop_map(|b| (5u64, b.to_vec())),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(|b| {
                let mut out = varint(b.len() as u64);
                out.extend(b);
                (2u64, out)
            }),
            "[a-zé]{0,6}".prop_map(|s| {
                let mut out = varint(s.len() as u64);
                out.extend(s.as_bytes());
                (2u64, out)
            }),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(|b| (3u64, b)),
        ];
        (number, payload).prop_map(|(number, (wire, payload))| {
            let mut out = varint((number << 3) | wire);
            out.extend(payload);
            out
        })
    }

    fn general(message: &MessageDescriptor, bytes: &[u8]) -> Option<DynamicMessage> {
        DynamicMessage::decode(message.clone(), bytes).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whenever the flat decoder answers, prost-reflect decodes the same bytes to an
        /// equal message (the same fields, values and encoding).
        #[test]
        fn the_flat_decoder_agrees_with_prost_reflect(fields in proptest::collection::vec(wire_field(), 0..8)) {
            let message = scalars();
            let flat = FlatDecoder::new(&message).unwrap();
            let bytes = fields.concat();
            if let Some(decoded) = flat.decode(&bytes) {
                let expected = general(&message, &bytes);
                prop_assert_eq!(Some(&decoded), expected.as_ref());
                prop_assert_eq!(decoded.encode_to_vec(), expected.unwrap().encode_to_vec());
            }
        }

        /// `accept` says yes exactly when `decode` answers, and reading any one field from
        /// accepted bytes gives what the decoded message holds for it (repeats, oneof
        /// switches and unset fields included).
        #[test]
        fn reading_a_field_gives_what_decoding_keeps(fields in proptest::collection::vec(wire_field(), 0..8)) {
            let message = scalars();
            let flat = FlatDecoder::new(&message).unwrap();
            let bytes = fields.concat();
            let decoded = flat.decode(&bytes);
            let offsets = flat.accept(&bytes);
            prop_assert_eq!(offsets.is_some(), decoded.is_some());
            if let (Some(decoded), Some(offsets)) = (decoded, offsets) {
                prop_assert!(offsets.is_some(), "the type is indexed");
                for field in message.fields() {
                    // With the offsets, and by scanning.
                    for offsets in [offsets.as_ref(), None] {
                        let read = flat.read(&bytes, offsets, &field).unwrap();
                        prop_assert_eq!(&read.to_value(), &*decoded.get_field(&field), "{}", field.name());
                    }
                }
            }
        }

        /// Encoded messages (fields set in any order, some twice, oneof members replacing
        /// each other) always take the flat path, and decode to what was encoded.
        #[test]
        fn encoded_messages_take_the_flat_path(picks in proptest::collection::vec((1u32..=19, any::<u64>(), "[a-z]{0,5}"), 0..10)) {
            let message = scalars();
            let flat = FlatDecoder::new(&message).unwrap();
            let mut bytes = Vec::new();
            for (number, n, text) in &picks {
                let field = message.get_field(*number).unwrap();
                let value = match field.kind() {
                    Kind::Bool => Value::Bool(n % 2 == 1),
                    Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(*n as i32),
                    Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(*n as i64),
                    Kind::Uint32 | Kind::Fixed32 => Value::U32(*n as u32),
                    Kind::Uint64 | Kind::Fixed64 => Value::U64(*n),
                    Kind::Enum(_) => Value::EnumNumber((n % 2) as i32),
                    Kind::Float => Value::F32(*n as f32),
                    Kind::Double => Value::F64(*n as f64),
                    Kind::String => Value::String(text.clone()),
                    Kind::Bytes => Value::Bytes(Bytes::from(text.clone().into_bytes())),
                    Kind::Message(_) => unreachable!("Scalars is flat"),
                };
                // Each field encoded on its own and appended: repeats and oneof switches
                // reach the decoder as they would from a client.
                let mut one = DynamicMessage::new(message.clone());
                one.set_field(&field, value);
                bytes.extend(one.encode_to_vec());
            }
            let decoded = flat.decode(&bytes);
            prop_assert!(decoded.is_some(), "{:?}", picks);
            prop_assert_eq!(decoded, general(&message, &bytes));
        }

        /// Arbitrary bytes: the flat decoder never answers what prost-reflect rejects.
        #[test]
        fn the_flat_decoder_never_accepts_what_prost_reflect_rejects(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let message = scalars();
            let flat = FlatDecoder::new(&message).unwrap();
            if let Some(decoded) = flat.decode(&bytes) {
                prop_assert_eq!(Some(decoded), general(&message, &bytes));
            }
        }
    }

    #[test]
    fn well_formed_messages_of_every_scalar_kind_take_the_flat_path() {
        let message = scalars();
        let flat = FlatDecoder::new(&message).unwrap();
        let mut full = DynamicMessage::new(message.clone());
        for (name, value) in [
            ("b", Value::Bool(true)),
            ("i32", Value::I32(-5)),
            ("i64", Value::I64(-1 << 40)),
            ("u32", Value::U32(7)),
            ("u64", Value::U64(u64::MAX)),
            ("s32", Value::I32(-3)),
            ("s64", Value::I64(-300)),
            ("color", Value::EnumNumber(1)),
            ("f32", Value::U32(9)),
            ("sf32", Value::I32(-9)),
            ("fl", Value::F32(1.5)),
            ("f64", Value::U64(10)),
            ("sf64", Value::I64(-10)),
            ("d", Value::F64(-2.25)),
            ("s", Value::String("héllo".into())),
            ("by", Value::Bytes(Bytes::from_static(b"\x00\xff"))),
            ("opt", Value::I32(0)),
            ("right", Value::I64(4)),
        ] {
            full.set_field_by_name(name, value);
        }
        let bytes = full.encode_to_vec();
        assert_eq!(flat.decode(&bytes), Some(full));
        // A nested message or a repeated field: the general decoder's.
        let schema = Schema::from_sources([("flat.proto", PROTO)]).unwrap();
        for name in ["flat.Nested", "flat.Listed"] {
            let other = schema.pool().get_message_by_name(name).unwrap();
            assert!(FlatDecoder::new(&other).is_none(), "{name}");
        }
        // Invalid UTF-8 and an unknown field: left to the general decoder.
        assert_eq!(flat.decode(&[0x7a, 0x01, 0xff]), None);
        assert_eq!(flat.decode(&[0xa8, 0x01, 0x01]), None);
    }
}
