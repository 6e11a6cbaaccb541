//! Semantic equality of two messages of the same type, reporting the first mismatch by path.
//!
//! `DynamicMessage`'s derived `PartialEq` compares storage, not meaning: NaN never equals itself,
//! an implicit-presence field stored with its default differs from an absent one, and an `Any`
//! holding a map compares its (unordered) payload bytes. This module compares what a reader
//! observes instead:
//! - floats are equal when both are NaN, or when `a == b` (so `-0.0 == 0.0`: prost-reflect, like
//!   the protobuf spec for implicit presence, does not write a zero of either sign);
//! - fields are compared through `get_field` (defaults included), plus presence where the field
//!   tracks it;
//! - `Any` payloads are decoded with the type the pool resolves and compared recursively;
//! - unknown fields are compared as their encodings, number by number, in order.

use std::fmt::Write as _;

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage as _, Value};

/// Where two messages first differ, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) path: String,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at `{}`: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

/// Compares two messages of the same type; `None` when equal.
pub(crate) fn diff(
    expected: &DynamicMessage,
    actual: &DynamicMessage,
    unknown: bool,
) -> Option<Mismatch> {
    diff_at(expected, actual, unknown, &mut String::new())
}

fn diff_at(
    a: &DynamicMessage,
    b: &DynamicMessage,
    unknown: bool,
    path: &mut String,
) -> Option<Mismatch> {
    if a.descriptor().full_name() == "google.protobuf.Any"
        && let Some(m) = diff_any(a, b, unknown, path)
    {
        return m;
    }
    for field in a.descriptor().fields() {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(field.name());
        let singular = !field.is_list() && !field.is_map();
        if singular && field.supports_presence() && a.has_field(&field) != b.has_field(&field) {
            return Some(Mismatch {
                path: path.clone(),
                expected: presence(a, &field),
                actual: presence(b, &field),
            });
        }
        // An unset message field reads as an empty message whose own message fields read as
        // empty messages: stop here rather than walk that infinite default.
        let unset_message = singular
            && matches!(field.kind(), Kind::Message(_))
            && !a.has_field(&field)
            && !b.has_field(&field);
        if unset_message {
            path.truncate(len);
            continue;
        }
        if let Some(m) = value_diff(
            &a.get_field(&field),
            &b.get_field(&field),
            &field.kind(),
            unknown,
            path,
        ) {
            return Some(m);
        }
        path.truncate(len);
    }
    if unknown && (a.unknown_fields().next().is_some() || b.unknown_fields().next().is_some()) {
        let ua = unknown_encodings(a);
        let ub = unknown_encodings(b);
        if ua != ub {
            let show = |u: &[Vec<u8>]| u.iter().map(|b| hex(b)).collect::<Vec<_>>().join(" ");
            return Some(Mismatch {
                path: format!("{path}<unknown fields>"),
                expected: show(&ua),
                actual: show(&ub),
            });
        }
    }
    let ea: Vec<_> = a
        .extensions()
        .map(|(d, v)| (d.number(), v.clone()))
        .collect();
    let eb: Vec<_> = b
        .extensions()
        .map(|(d, v)| (d.number(), v.clone()))
        .collect();
    if ea.len() != eb.len()
        || ea
            .iter()
            .zip(&eb)
            .any(|(x, y)| x.0 != y.0 || !value_eq(&x.1, &y.1))
    {
        return Some(Mismatch {
            path: format!("{path}<extensions>"),
            expected: format!("{} extensions", ea.len()),
            actual: format!("{} extensions", eb.len()),
        });
    }
    None
}

fn presence(m: &DynamicMessage, field: &FieldDescriptor) -> String {
    if m.has_field(field) {
        show(&m.get_field(field))
    } else {
        "unset".to_owned()
    }
}

/// `Some(result)` when both are `Any`s this function could judge.
fn diff_any(
    a: &DynamicMessage,
    b: &DynamicMessage,
    unknown: bool,
    path: &mut String,
) -> Option<Option<Mismatch>> {
    let (ta, pa) = any_payload(a)?;
    let (tb, pb) = any_payload(b)?;
    if ta != tb {
        return Some(Some(Mismatch {
            path: format!("{path}.type_url"),
            expected: format!("{ta:?}"),
            actual: format!("{tb:?}"),
        }));
    }
    Some(diff_at(&pa, &pb, unknown, path))
}

/// The type URL and decoded payload of an `Any` whose type the pool resolves.
pub(crate) fn any_payload(any: &DynamicMessage) -> Option<(String, DynamicMessage)> {
    let url = any.get_field_by_number(1)?.as_str()?.to_owned();
    let name = url.rsplit_once('/')?.1;
    let desc = any.descriptor().parent_pool().get_message_by_name(name)?;
    let bytes = any.get_field_by_number(2)?.as_bytes()?.clone();
    let payload = DynamicMessage::decode(desc, bytes).ok()?;
    Some((url, payload))
}

/// The encodings of a message's unknown fields, ordered by number (stable within a number).
pub(crate) fn unknown_encodings(m: &DynamicMessage) -> Vec<Vec<u8>> {
    let mut fields: Vec<(u32, Vec<u8>)> = m
        .unknown_fields()
        .map(|f| {
            let mut buf = Vec::new();
            f.encode(&mut buf);
            (f.number(), buf)
        })
        .collect();
    fields.sort_by_key(|(n, _)| *n);
    fields.into_iter().map(|(_, b)| b).collect()
}

fn value_diff(
    a: &Value,
    b: &Value,
    kind: &Kind,
    unknown: bool,
    path: &mut String,
) -> Option<Mismatch> {
    let mismatch = |path: &String| {
        Some(Mismatch {
            path: path.clone(),
            expected: show(a),
            actual: show(b),
        })
    };
    match (a, b) {
        (Value::Message(x), Value::Message(y)) => diff_at(x, y, unknown, path),
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return mismatch(path);
            }
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                if let Some(m) = value_diff(x, y, kind, unknown, path) {
                    return Some(m);
                }
                path.truncate(len);
            }
            None
        }
        (Value::Map(x), Value::Map(y)) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut keys: Vec<&MapKey> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let len = path.len();
                let _ = write!(path, "[{}]", show_key(key));
                match (x.get(key), y.get(key)) {
                    (Some(vx), Some(vy)) => {
                        if let Some(m) = value_diff(vx, vy, &value_kind, unknown, path) {
                            return Some(m);
                        }
                    }
                    (vx, vy) => {
                        return Some(Mismatch {
                            path: path.clone(),
                            expected: vx.map_or_else(|| "no entry".to_owned(), show),
                            actual: vy.map_or_else(|| "no entry".to_owned(), show),
                        });
                    }
                }
                path.truncate(len);
            }
            None
        }
        _ if value_eq(a, b) => None,
        _ => mismatch(path),
    }
}

/// Scalar equality with NaN equal to NaN; messages compare semantically.
pub(crate) fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::F64(x), Value::F64(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Message(x), Value::Message(y)) => diff(x, y, true).is_none(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| value_eq(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| value_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A short, human-readable rendering of a value (messages as proto3 JSON).
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::Bool(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => format!("{v:?}"),
        Value::F64(v) => format!("{v:?}"),
        Value::String(v) => format!("{v:?}"),
        Value::Bytes(v) if v.is_empty() => "empty bytes".to_owned(),
        Value::Bytes(v) => format!("0x{}", hex(v).replace(' ', "")),
        Value::EnumNumber(v) => v.to_string(),
        Value::Message(m) => message_json(m),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", show_key(k), show(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

pub(crate) fn show_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => format!("{v:?}"),
    }
}

/// A message as compact proto3 JSON with sorted keys (stable output even for maps); falls back to
/// the hex encoding when the message has no JSON form.
pub(crate) fn message_json(m: &DynamicMessage) -> String {
    match json_value(m) {
        Ok(value) => value.to_string(),
        Err(err) => format!("<no JSON form: {err}; binary {}>", hex(&m.encode_to_vec())),
    }
}

/// A message as a `serde_json::Value` with the canonical proto3 JSON mapping.
pub(crate) fn json_value(m: &DynamicMessage) -> Result<serde_json::Value, serde_json::Error> {
    m.serialize_with_options(
        serde_json::value::Serializer,
        &prost_reflect::SerializeOptions::new(),
    )
}

/// Lower-case hex, bytes separated by spaces.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}
