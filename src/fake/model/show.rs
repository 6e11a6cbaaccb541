//! Values as the fixture author would write them, for the explanation of an unmatched call.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, Value};

/// A value as the fixture author would write it, for mismatch messages.
pub(crate) fn show_value(value: &Value, field: &FieldDescriptor) -> String {
    match value {
        Value::List(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| show_element(v, &field.kind()))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => {
            let value_kind = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}: {}", show_key(k), show_element(v, &value_kind)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => show_element(other, &field.kind()),
    }
}

/// A value without its field: strings quoted, bytes in base64, enums by number.
pub(crate) fn show_plain(value: &Value) -> String {
    match value {
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show_plain).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(map) => {
            let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}: {}", show_key(k), show_plain(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => show_element(other, &Kind::Bool),
    }
}

fn show_key(key: &MapKey) -> String {
    match key {
        MapKey::String(s) => format!("{s:?}"),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
    }
}

fn show_element(value: &Value, kind: &Kind) -> String {
    use base64::Engine as _;
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => format!(
            "{:?} (base64)",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
            _ => n.to_string(),
        },
        Value::Message(m) => show_message(m),
        other => number_text(other).unwrap_or_else(|| format!("{other:?}")),
    }
}

/// A message as compact proto3 JSON with proto field names.
pub(crate) fn show_message(message: &DynamicMessage) -> String {
    let options = prost_reflect::SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    match message.serialize_with_options(&mut serializer, &options) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => format!("{message:?}"),
    }
}

/// A boolean or number as written in YAML; `None` for other values.
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

/// Cuts `text` to at most `max` bytes (on a character boundary), marking the cut with `…`.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
