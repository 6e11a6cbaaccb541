//! Names of kinds and the small conversions between values, map keys and text that every
//! display and every diagnostic needs.

use prost_reflect::{Kind, MapKey, Value};

/// The proto type name of a kind for diagnostics, e.g. `int32` or ``message `acme.User` ``.
pub(crate) fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!("message `{}`", m.full_name()),
        Kind::Enum(e) => format!("enum `{}`", e.full_name()),
        scalar => short_name(scalar).to_owned(),
    }
}

/// The kind as `.proto` files spell it: `int32`, `bytes`, …, and `message` or `enum` for named
/// types (buf's `protoreflect.Kind.String()`).
pub(crate) fn short_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "message",
        Kind::Enum(_) => "enum",
    }
}

/// The map key holding a scalar value; `None` for values that cannot be keys.
pub(crate) fn map_key(value: Value) -> Option<MapKey> {
    Some(match value {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::String(s) => MapKey::String(s),
        _ => return None,
    })
}

/// A map key as written in a path or a map display: numbers plain, strings quoted.
pub(crate) fn key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => format!("{v:?}"),
    }
}

/// A number or bool as plain text (`Display`, so `1.5`, `-0`, `NaN`); `None` for other values.
pub(crate) fn number_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use prost_reflect::{Kind, MapKey, Value};

    use super::{key_text, kind_name, map_key, number_text, short_name};

    #[test]
    fn kinds_are_named_as_proto_files_spell_them() {
        assert_eq!(kind_name(&Kind::Sfixed64), "sfixed64");
        assert_eq!(short_name(&Kind::Bytes), "bytes");
        let schema = crate::Schema::bundled();
        let user = schema
            .pool()
            .get_message_by_name("userservice.UserRequest")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            kind_name(&Kind::Message(user.clone())),
            "message `userservice.UserRequest`"
        );
        assert_eq!(short_name(&Kind::Message(user)), "message");
    }

    #[test]
    fn map_keys_convert_and_show() {
        assert_eq!(map_key(Value::I64(-3)), Some(MapKey::I64(-3)));
        assert_eq!(map_key(Value::F32(1.0)), None);
        assert_eq!(key_text(&MapKey::String("a\"b".into())), "\"a\\\"b\"");
        assert_eq!(key_text(&MapKey::U32(7)), "7");
        assert_eq!(number_text(&Value::F64(1.0)).as_deref(), Some("1"));
        assert_eq!(number_text(&Value::String("1".into())), None);
    }
}
