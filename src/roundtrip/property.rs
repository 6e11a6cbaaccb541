//! The round-trip properties checked for one message, as pure functions.
//!
//! Each returns `Err(reason)` with the first observed difference. Their scope is deliberate:
//! - **binary**: `decode(encode(m)) == m`, semantically (see `schema::value::eq`).
//! - **stable**: `encode(decode(encode(m))) == encode(m)` byte for byte, except when a map has two
//!   or more entries: protobuf leaves map entry order unspecified (prost-reflect iterates a hash
//!   map), so there the lengths must match and the bytes must decode to the same message.
//! - **unknown fields**: fields the reader does not declare survive decode → encode → decode, with
//!   their numbers, wire types and payloads.
//! - **json**: `from_json(to_json(m)) == m` with the canonical mapping, and re-serialising the
//!   result gives the same JSON value. JSON has no unknown fields, so this property is checked on
//!   messages without them.

use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, ReflectMessage as _, SerializeOptions};

use super::strategy::has_unordered_map;
use crate::schema::value::{
    eq::{EqOptions, diff, unknown_encodings},
    show::hex,
};

/// Unknown fields aside, everything counts: the unknown-fields property compares the known part.
const KNOWN_ONLY: EqOptions = EqOptions {
    unknown_fields: false,
    ..EqOptions::EXACT
};

/// Binary encode → decode gives back the same message.
pub(crate) fn binary(m: &DynamicMessage) -> Result<(), String> {
    binary_with(m, &m.encode_to_vec()).map(drop)
}

/// [`binary`] on an encoding already made; returns the decoded message.
fn binary_with(m: &DynamicMessage, bytes: &[u8]) -> Result<DynamicMessage, String> {
    let decoded = DynamicMessage::decode(m.descriptor(), bytes)
        .map_err(|err| format!("binary decoding of the encoding failed: {err}"))?;
    match diff(m, &decoded, EqOptions::EXACT) {
        None => Ok(decoded),
        Some(mismatch) => Err(format!("binary round trip changed the message {mismatch}")),
    }
}

/// Re-encoding the decoded message gives the same bytes (or, with unordered maps, an equivalent
/// encoding of the same length).
pub(crate) fn stable(m: &DynamicMessage) -> Result<(), String> {
    let first = m.encode_to_vec();
    let decoded = DynamicMessage::decode(m.descriptor(), first.as_slice())
        .map_err(|err| format!("binary decoding of the encoding failed: {err}"))?;
    stable_with(m, &first, &decoded)
}

/// [`stable`] given the first encoding and its decoding.
fn stable_with(m: &DynamicMessage, first: &[u8], decoded: &DynamicMessage) -> Result<(), String> {
    let second = decoded.encode_to_vec();
    if first == second.as_slice() {
        return Ok(());
    }
    if has_unordered_map(m) && first.len() == second.len() {
        let again = DynamicMessage::decode(m.descriptor(), second.as_slice())
            .map_err(|err| format!("binary decoding of the re-encoding failed: {err}"))?;
        if let Some(mismatch) = diff(decoded, &again, EqOptions::EXACT) {
            return Err(format!("re-encoding changed the message {mismatch}"));
        }
        return Ok(());
    }
    Err(format!(
        "re-encoding is not stable: first encoding {} ({} bytes), re-encoding {} ({} bytes)",
        hex(first),
        first.len(),
        hex(&second),
        second.len()
    ))
}

/// The binary, stable and unknown-fields properties, sharing one encoding and one decoding;
/// the error is `"<property>: <reason>"`.
pub(crate) fn all_binary(m: &DynamicMessage, unknown: &[u8]) -> Result<(), String> {
    let mut bytes = m.encode_to_vec();
    let decoded = binary_with(m, &bytes).map_err(|r| format!("binary: {r}"))?;
    stable_with(m, &bytes, &decoded).map_err(|r| format!("stable: {r}"))?;
    if !unknown.is_empty() {
        bytes.extend_from_slice(unknown);
        unknown_fields_with(m, &bytes, unknown).map_err(|r| format!("unknown fields: {r}"))?;
    }
    Ok(())
}

/// Unknown fields appended to the encoding (`bytes` is the message's encoding followed by
/// `unknown`) survive decode → encode → decode, and leave the known fields alone.
fn unknown_fields_with(m: &DynamicMessage, bytes: &[u8], unknown: &[u8]) -> Result<(), String> {
    let desc = m.descriptor();
    let decoded = DynamicMessage::decode(desc.clone(), bytes)
        .map_err(|err| format!("decoding with unknown fields failed: {err}"))?;
    if let Some(mismatch) = diff(m, &decoded, KNOWN_ONLY) {
        return Err(format!(
            "unknown fields disturbed the known ones {mismatch}"
        ));
    }
    let mut wanted = Vec::new();
    let mut rest = unknown;
    while !rest.is_empty() {
        let field = prost_reflect::UnknownField::decode(
            &mut rest,
            prost::encoding::DecodeContext::default(),
        )
        .map_err(|err| format!("the generated unknown fields do not decode: {err}"))?;
        let mut buf = Vec::new();
        field.encode(&mut buf);
        wanted.push((field.number(), buf));
    }
    wanted.sort_by_key(|(n, _)| *n);
    let wanted: Vec<Vec<u8>> = wanted.into_iter().map(|(_, b)| b).collect();
    let kept: Vec<Vec<u8>> = unknown_encodings(&decoded);
    if kept != wanted {
        return Err(format!(
            "unknown fields were not kept: wrote {}, decoded {}",
            hex(&wanted.concat()),
            hex(&kept.concat())
        ));
    }
    let again = DynamicMessage::decode(desc, decoded.encode_to_vec().as_slice())
        .map_err(|err| format!("decoding the re-encoding failed: {err}"))?;
    match diff(&decoded, &again, EqOptions::EXACT) {
        None => Ok(()),
        Some(mismatch) => Err(format!("unknown fields changed on re-encoding {mismatch}")),
    }
}

/// Serialises `m` as canonical proto3 JSON text.
pub(crate) fn to_json(m: &DynamicMessage) -> Result<String, String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::new(&mut out);
    m.serialize_with_options(&mut ser, &SerializeOptions::new())
        .map_err(|err| format!("JSON encoding failed: {err}"))?;
    String::from_utf8(out).map_err(|err| format!("JSON encoding is not UTF-8: {err}"))
}

/// Parses canonical proto3 JSON (unknown keys rejected, as a strict reader does).
pub(crate) fn from_json(
    desc: prost_reflect::MessageDescriptor,
    json: &str,
) -> Result<DynamicMessage, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let m = DynamicMessage::deserialize_with_options(desc, &mut de, &DeserializeOptions::new())
        .map_err(|err| err.to_string())?;
    de.end().map_err(|err| err.to_string())?;
    Ok(m)
}

/// JSON encode → decode gives back the same message, and its JSON is stable.
pub(crate) fn json(m: &DynamicMessage) -> Result<(), String> {
    let text = to_json(m)?;
    let decoded = from_json(m.descriptor(), &text)
        .map_err(|err| format!("JSON decoding of {text} failed: {err}"))?;
    if let Some(mismatch) = diff(m, &decoded, EqOptions::EXACT) {
        return Err(format!(
            "JSON round trip via {text} changed the message {mismatch}"
        ));
    }
    // Stable: the decoded message serialises to the same JSON value (objects compare unordered).
    // Both sides go through text: serde_json's `Value` serializer widens `f32` to `f64`.
    let again = to_json(&decoded)?;
    let parse = |t: &str| {
        serde_json::from_str::<serde_json::Value>(t)
            .map_err(|err| format!("the JSON encoding {t} does not parse: {err}"))
    };
    if parse(&text)? != parse(&again)? {
        return Err(format!("JSON is not stable: {text} re-encoded as {again}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, Value};

    use super::{all_binary, binary_with, json, stable_with};
    use crate::Schema;

    fn user(age: i32) -> DynamicMessage {
        let schema = Schema::bundled();
        let desc = schema
            .pool()
            .get_message_by_name("userservice.UserResponse");
        let mut m = DynamicMessage::new(desc.unwrap_or_else(|| unreachable!()));
        m.set_field_by_name("age", Value::I32(age));
        m
    }

    #[test]
    fn roundtrip_properties_hold_for_a_plain_message_and_fail_on_other_bytes() {
        let m = user(-7);
        assert_eq!(all_binary(&m, &[0xa8, 0x1f, 0x01]), Ok(()));
        assert_eq!(json(&m), Ok(()));
        // Bytes of another message: the binary property must notice.
        let other = user(8).encode_to_vec();
        let err = binary_with(&m, &other).unwrap_err();
        assert!(err.contains("at `age`: expected -7, got 8"), "{err}");
        // A first encoding that is not what re-encoding gives: the stable property must notice.
        let decoded = binary_with(&m, &m.encode_to_vec()).unwrap_or_else(|e| panic!("{e}"));
        let err = stable_with(&m, &other, &decoded).unwrap_err();
        assert!(err.starts_with("re-encoding is not stable"), "{err}");
    }
}
