//! Scalars by the field they land in: `012` is "012" in a `string` field and 12 in an `int32`;
//! enums by name or number; 64-bit integers as numbers or strings; bytes as base64 — the proto3
//! JSON mapping, spelled in YAML. Also the JSON form of a node, for well-known types.

use prost_reflect::{EnumDescriptor, Kind, Value};

pub(crate) use crate::schema::value::kinds::map_key;

use super::{
    diagnostic::{Code, FixtureError},
    yaml::{Node, NodeKind, Scalar},
};
use crate::schema::{
    decode_base64, parse_float, parse_int, suggest,
    value::kinds::{kind_name, number_text},
};

/// `google.protobuf.Value` takes `null` as a value (`NullValue`); everywhere else `null` means
/// the default.
pub(crate) fn holds_json_null(kind: &Kind) -> bool {
    matches!(kind, Kind::Message(m) if m.full_name() == "google.protobuf.Value")
}

pub(crate) fn short_label(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .to_owned()
}

pub(crate) fn expected_text(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double | Kind::Float => "a number",
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64 => "an integer",
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => "a non-negative integer",
        Kind::Bool => "true or false",
        Kind::String => "a string",
        Kind::Bytes => "base64 text",
        Kind::Enum(_) => "an enum value name or number",
        Kind::Message(_) => "a mapping",
    }
}

pub(crate) fn wkt_help(name: &str) -> String {
    match name {
        "Timestamp" => "write an RFC 3339 time, e.g. `2024-05-01T12:00:00Z`".into(),
        "Duration" => "write seconds with an `s` suffix, e.g. `1.5s`".into(),
        "FieldMask" => "write comma-separated lowerCamel paths, e.g. `userId,profile.name`".into(),
        _ => format!("write the proto3 JSON form of `google.protobuf.{name}`"),
    }
}

/// Parses a scalar into a value of a non-message kind.
pub(crate) fn parse_scalar(scalar: &Scalar, kind: &Kind) -> Result<Value, FixtureError> {
    let text = scalar.text.as_str();
    let number = |what: &str| {
        FixtureError::new(
            Code::TypeMismatch,
            format!("expected {what}, found `{text}`"),
        )
    };
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => match scalar.as_bool() {
            Some(b) => Value::Bool(b),
            None => {
                return Err(FixtureError::new(
                    Code::TypeMismatch,
                    format!("expected true or false, found `{text}`"),
                )
                .help("write `true` or `false` without quotes"));
            }
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            int_in_range(text, i64::from(i32::MIN), i64::from(i32::MAX), kind)
                .map_err(|p| p.unwrap_or_else(|| number("an integer")))? as i32,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            int_in_range(text, i64::MIN, i64::MAX, kind)
                .map_err(|p| p.unwrap_or_else(|| number("an integer")))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            uint_in_range(text, u64::from(u32::MAX), kind)
                .map_err(|p| p.unwrap_or_else(|| number("a non-negative integer")))?
                as u32,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            uint_in_range(text, u64::MAX, kind)
                .map_err(|p| p.unwrap_or_else(|| number("a non-negative integer")))?,
        ),
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| number("a number"))?),
        Kind::Float => {
            let v = parse_float(text).ok_or_else(|| number("a number"))?;
            if v.is_finite() && (v as f32).is_infinite() {
                return Err(FixtureError::new(
                    Code::OutOfRange,
                    format!("{text} is out of range for float"),
                ));
            }
            Value::F32(v as f32)
        }
        Kind::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| {
            FixtureError::new(
                Code::BadBytes,
                format!("expected base64 for a bytes field, found `{text}`"),
            )
            .help(
                "bytes are written in base64 (standard or URL-safe), e.g. `aGVsbG8=` for \"hello\"",
            )
        })?),
        Kind::Enum(e) => Value::EnumNumber(enum_number(text, e)?),
        Kind::Message(m) => {
            return Err(FixtureError::new(
                Code::TypeMismatch,
                format!(
                    "expected the fields of `{}` as a mapping, found `{text}`",
                    m.full_name()
                ),
            ));
        }
    })
}

fn enum_number(text: &str, e: &EnumDescriptor) -> Result<i32, FixtureError> {
    if let Some(v) = e.get_value_by_name(text) {
        return Ok(v.number());
    }
    if let Some(n) = parse_int(text).and_then(|n| i32::try_from(n).ok()) {
        if e.get_value(n).is_some() || !crate::schema::enum_is_closed(e) {
            return Ok(n);
        }
        return Err(FixtureError::new(
            Code::UnknownEnumValue,
            format!("{n} is not a value of closed enum `{}`", e.full_name()),
        ));
    }
    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    let help = match suggest(text, names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("`{}` has the values: {}", e.full_name(), names.join(", ")),
    };
    Err(FixtureError::new(
        Code::UnknownEnumValue,
        format!("unknown value `{text}` of enum `{}`", e.full_name()),
    )
    .help(help))
}

fn range_problem(
    text: &str,
    kind: &Kind,
    min: &dyn std::fmt::Display,
    max: &dyn std::fmt::Display,
) -> FixtureError {
    FixtureError::new(
        Code::OutOfRange,
        format!(
            "{text} is out of range for {} ({min}..={max})",
            kind_name(kind)
        ),
    )
}

fn int_in_range(text: &str, min: i64, max: i64, kind: &Kind) -> Result<i64, Option<FixtureError>> {
    match parse_int(text) {
        Some(n) if n >= i128::from(min) && n <= i128::from(max) => Ok(n as i64),
        Some(_) => Err(Some(range_problem(text, kind, &min, &max))),
        None => Err(None),
    }
}

fn uint_in_range(text: &str, max: u64, kind: &Kind) -> Result<u64, Option<FixtureError>> {
    match parse_int(text) {
        Some(n) if n >= 0 && n <= i128::from(max) => Ok(n as u64),
        Some(_) => Err(Some(range_problem(text, kind, &0, &max))),
        None => Err(None),
    }
}

/// A node as JSON with the YAML 1.2 core schema (for `Struct`, `Value` and other JSON forms).
pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    match &node.kind {
        NodeKind::Scalar(s) if s.is_null() => serde_json::Value::Null,
        NodeKind::Scalar(s) if s.plain => {
            if let Some(b) = s.as_bool() {
                serde_json::Value::Bool(b)
            } else if let Ok(i) = s.text.parse::<i64>() {
                serde_json::Value::from(i)
            } else if let Some(f) = s.text.parse::<f64>().ok().filter(|f| f.is_finite()) {
                serde_json::Value::from(f)
            } else {
                serde_json::Value::String(s.text.clone())
            }
        }
        NodeKind::Scalar(s) => serde_json::Value::String(s.text.clone()),
        NodeKind::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

/// A scalar as the wire sees it, independent of the Rust variant (int32 30 and int64 30 agree).
pub(crate) fn wire_text(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Bytes(b) => format!("the bytes {b:?}"),
        Value::EnumNumber(n) => format!("enum number {n}"),
        other => number_text(other).unwrap_or_default(),
    }
}
