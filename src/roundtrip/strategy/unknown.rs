//! Raw encoded fields whose numbers a message type does not declare: what an older or newer
//! writer's extra fields look like to this reader, for the unknown-fields property.

use proptest::{collection::vec, prelude::*};
use prost::{
    bytes::BufMut,
    encoding::{WireType, encode_key, encode_varint},
};
use prost_reflect::MessageDescriptor;

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
