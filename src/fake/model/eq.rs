//! Proto-aware equality for matching: presence counts for fields that track it, NaN equals NaN,
//! `Any` payloads compare as messages; unknown fields and extensions are ignored.

use prost_reflect::{DynamicMessage, ReflectMessage, Value};

/// Proto-aware equality: presence counts for fields that track it, NaN equals NaN.
pub(crate) fn message_eq(a: &DynamicMessage, b: &DynamicMessage) -> bool {
    let desc = a.descriptor();
    if desc != b.descriptor() {
        return false;
    }
    if desc.full_name() == "google.protobuf.Any"
        && let (Some(x), Some(y)) = (unpack_any(a), unpack_any(b))
    {
        // The packed bytes of equal messages may differ (map entries have no fixed order).
        return message_eq(&x, &y);
    }
    desc.fields().all(|f| {
        if f.supports_presence() {
            // Both unset: equal, without descending into (possibly recursive) default messages.
            match (a.has_field(&f), b.has_field(&f)) {
                (false, false) => return true,
                (true, true) => {}
                _ => return false,
            }
        }
        value_eq(&a.get_field(&f), &b.get_field(&f))
    })
}

/// The message packed in an `Any`, when the pool knows its type and the bytes decode.
fn unpack_any(any: &DynamicMessage) -> Option<DynamicMessage> {
    let type_url = any.get_field_by_name("type_url")?;
    let name = type_url.as_str()?.rsplit('/').next()?;
    let desc = any.descriptor().parent_pool().get_message_by_name(name)?;
    let value = any.get_field_by_name("value")?;
    DynamicMessage::decode(desc, value.as_bytes()?.as_ref()).ok()
}

/// Value equality for matching (messages compared with [`message_eq`]).
pub(crate) fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x == y || x.is_nan() && y.is_nan(),
        (Value::F64(x), Value::F64(y)) => x == y || x.is_nan() && y.is_nan(),
        (Value::Message(x), Value::Message(y)) => message_eq(x, y),
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
