//! Template results to protobuf values, by the field they land in: a number for an `int32`, a
//! list for a repeated field, a mapping for a map or a message, the JSON string forms of the
//! well-known types (`Timestamp`, `Duration`, wrappers).

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, Value};

use super::context::MessageObject;
use crate::schema::{
    find_field, parse_float, parse_int,
    value::kinds::{kind_name, map_key},
};

/// Converts a template result into the value of `field` (one element of it when `element`).
pub(crate) fn from_jinja(
    value: &minijinja::Value,
    field: &FieldDescriptor,
    element: bool,
) -> Result<Value, String> {
    if element && field.is_map() {
        // One value of a map: converted as the entry's value field.
        let Kind::Message(entry) = field.kind() else {
            return Err("not a map".into());
        };
        return kind_from_jinja(value, &entry.map_entry_value_field().kind());
    }
    if !element && field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return Err("not a map".into());
        };
        let key_kind = entry.map_entry_key_field().kind();
        let value_field = entry.map_entry_value_field();
        let mut map = std::collections::HashMap::new();
        for key in value
            .try_iter()
            .map_err(|e| format!("`{}` needs a mapping: {e}", field.name()))?
        {
            let item = value.get_item(&key).map_err(|e| e.to_string())?;
            let key = map_key(scalar_from_jinja(&key, &key_kind)?)
                .ok_or_else(|| "invalid map key".to_owned())?;
            map.insert(key, kind_from_jinja(&item, &value_field.kind())?);
        }
        return Ok(Value::Map(map));
    }
    if !element && field.is_list() {
        if value.as_str().is_some() {
            return Err(format!(
                "`{}` is a repeated field but the template produced text; end the expression with `| list`",
                field.name()
            ));
        }
        let items = value.try_iter().map_err(|e| {
            format!(
                "`{}` is a repeated field; the template must produce a list: {e}",
                field.name()
            )
        })?;
        return items
            .map(|item| kind_from_jinja(&item, &field.kind()))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    kind_from_jinja(value, &field.kind())
}

pub(crate) fn kind_from_jinja(value: &minijinja::Value, kind: &Kind) -> Result<Value, String> {
    let Kind::Message(desc) = kind else {
        return scalar_from_jinja(value, kind);
    };
    if let Some(obj) = value.downcast_object_ref::<MessageObject>()
        && obj.0.descriptor() == *desc
    {
        return Ok(Value::Message((*obj.0).clone()));
    }
    if value.is_undefined() || value.is_none() {
        return Ok(Value::Message(DynamicMessage::new(desc.clone())));
    }
    if let Some(text) = value.as_str() {
        // Well-known types in their JSON string forms (Timestamp, Duration, FieldMask, wrappers).
        return DynamicMessage::deserialize(
            desc.clone(),
            serde_json::Value::String(text.to_owned()),
        )
        .map(Value::Message)
        .map_err(|e| format!("`{text}` is not a valid {}: {e}", desc.full_name()));
    }
    let mut message = DynamicMessage::new(desc.clone());
    for key in value.try_iter().map_err(|e| e.to_string())? {
        let name = key.as_str().unwrap_or_default().to_owned();
        let field = find_field(desc, &name)
            .ok_or_else(|| format!("`{}` has no field `{name}`", desc.full_name()))?;
        let item = value.get_item(&key).map_err(|e| e.to_string())?;
        let converted = from_jinja(&item, &field, false)?;
        message
            .try_set_field(&field, converted)
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(Value::Message(message))
}

pub(crate) fn scalar_from_jinja(value: &minijinja::Value, kind: &Kind) -> Result<Value, String> {
    use minijinja::value::ValueKind;
    let text = || {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)
    };
    let mismatch = |what: &str| {
        format!(
            "expected {what} for a {} field, the template produced `{value}`",
            kind_name(kind)
        )
    };
    let int = || -> Result<i128, String> {
        match value.kind() {
            ValueKind::Number => i64::try_from(value.clone())
                .map(i128::from)
                .or_else(|_| u64::try_from(value.clone()).map(i128::from))
                .map_err(|_| mismatch("an integer")),
            ValueKind::Bool => Ok(i128::from(value.is_true())),
            _ => parse_int(&text()).ok_or_else(|| mismatch("an integer")),
        }
    };
    let range = |n: i128| format!("{n} is out of range for {}", kind_name(kind));
    Ok(match kind {
        Kind::String => Value::String(if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            text()
        }),
        Kind::Bool => match value.kind() {
            ValueKind::Bool => Value::Bool(value.is_true()),
            _ => match text().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::Bool(value.is_true()),
            },
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let n = int()?;
            Value::I32(i32::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let n = int()?;
            Value::I64(i64::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let n = int()?;
            Value::U32(u32::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = int()?;
            Value::U64(u64::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Double | Kind::Float => {
            let f = match value.kind() {
                ValueKind::Number => {
                    f64::try_from(value.clone()).map_err(|_| mismatch("a number"))?
                }
                _ => parse_float(&text()).ok_or_else(|| mismatch("a number"))?,
            };
            if matches!(kind, Kind::Float) {
                Value::F32(f as f32)
            } else {
                Value::F64(f)
            }
        }
        Kind::Bytes => Value::Bytes(match value.as_bytes() {
            Some(b) => bytes::Bytes::copy_from_slice(b),
            None => bytes::Bytes::from(text().into_bytes()),
        }),
        Kind::Enum(e) => {
            let t = text();
            match e.get_value_by_name(&t) {
                Some(v) => Value::EnumNumber(v.number()),
                None => {
                    let n = int()
                        .map_err(|_| format!("unknown value `{t}` of enum `{}`", e.full_name()))?;
                    Value::EnumNumber(i32::try_from(n).map_err(|_| range(n))?)
                }
            }
        }
        Kind::Message(_) => return Err(mismatch("a message")),
    })
}
