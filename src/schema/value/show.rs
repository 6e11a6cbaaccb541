//! One display of proto values, in the style each audience reads.
//!
//! A fixture author reads a mismatch the way they wrote the stub (enum names, base64 bytes,
//! messages as proto-named JSON); a round-trip counterexample must be exact and stable (floats
//! with their full `Debug` form, hex bytes, canonical JSON with sorted keys); `--explain` shows a
//! payload with enum names and numbers. [`show`] renders every value kind once; [`Style`] holds
//! the few choices that differ, with one constant per audience.

use std::fmt::Write as _;

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, SerializeOptions, Value};

use super::kinds::{key_text, number_text};

/// How values are shown.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    floats: Floats,
    bytes: Bytes,
    enums: Enums,
    messages: Messages,
    maps: Maps,
}

#[derive(Clone, Copy, Debug)]
enum Floats {
    /// `1`, `0.1`: as people write them.
    Display,
    /// `1.0`, `1e-7`: unambiguous, every digit that round-trips.
    Debug,
}

#[derive(Clone, Copy, Debug)]
enum Bytes {
    /// `"AAE=" (base64)`, as YAML fixtures write bytes.
    Base64,
    /// `0x0001`; `empty` for no bytes.
    Hex { empty: &'static str },
}

#[derive(Clone, Copy, Debug)]
enum Enums {
    /// `3`.
    Number,
    /// `ACTIVE` when the kind is known and declares the number, else `3`.
    Name,
    /// `ACTIVE (3)`, or `3 (unknown enum number)`, when the kind is known.
    NameAndNumber,
}

#[derive(Clone, Copy, Debug)]
enum Messages {
    /// Compact JSON with proto field names and 64-bit integers as numbers.
    ProtoNames,
    /// Canonical proto3 JSON with sorted keys (stable even for maps).
    CanonicalSorted,
    /// Canonical proto3 JSON in field order.
    Canonical,
}

#[derive(Clone, Copy, Debug)]
enum Maps {
    /// `{"a": 1}`: keys as in paths, values with the map's value kind, sorted by key.
    Typed,
    /// `{String("a"): 1}`: keys in their Rust debug form, values without their kind, sorted as text.
    Raw,
}

impl Style {
    /// As a fixture author writes values: what the fake's mismatch messages use.
    pub(crate) const MATCHING: Self = Self {
        floats: Floats::Display,
        bytes: Bytes::Base64,
        enums: Enums::Name,
        messages: Messages::ProtoNames,
        maps: Maps::Typed,
    };
    /// Exact and stable: what round-trip mismatches and counterexamples use.
    pub(crate) const EXACT: Self = Self {
        floats: Floats::Debug,
        bytes: Bytes::Hex {
            empty: "empty bytes",
        },
        enums: Enums::Number,
        messages: Messages::CanonicalSorted,
        maps: Maps::Typed,
    };
    /// A payload with names and numbers: what `breaking --explain` uses.
    pub(crate) const EXPLAIN: Self = Self {
        floats: Floats::Display,
        bytes: Bytes::Hex { empty: "0x" },
        enums: Enums::NameAndNumber,
        messages: Messages::Canonical,
        maps: Maps::Raw,
    };
}

/// Shows a value; `kind` is the field's kind (the element kind of a list, the entry message of
/// a map), when known.
pub(crate) fn show(value: &Value, kind: Option<&Kind>, style: Style) -> String {
    match value {
        Value::F32(v) if matches!(style.floats, Floats::Debug) => format!("{v:?}"),
        Value::F64(v) if matches!(style.floats, Floats::Debug) => format!("{v:?}"),
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => match style.bytes {
            Bytes::Base64 => {
                use base64::Engine as _;
                format!(
                    "{:?} (base64)",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }
            Bytes::Hex { empty } if b.is_empty() => empty.to_owned(),
            Bytes::Hex { .. } => format!("0x{}", hex_compact(b)),
        },
        Value::EnumNumber(n) => {
            let declared = match kind {
                Some(Kind::Enum(e)) => Some(e.get_value(*n)),
                _ => None,
            };
            match (style.enums, declared) {
                (Enums::Name, Some(Some(v))) => v.name().to_owned(),
                (Enums::NameAndNumber, Some(Some(v))) => format!("{} ({n})", v.name()),
                (Enums::NameAndNumber, Some(None)) => format!("{n} (unknown enum number)"),
                _ => n.to_string(),
            }
        }
        Value::Message(m) => show_message(m, style),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|v| show(v, kind, style)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => match style.maps {
            Maps::Typed => {
                let value_kind = match kind {
                    Some(Kind::Message(entry)) => Some(entry.map_entry_value_field().kind()),
                    other => other.cloned(),
                };
                let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let entries: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| {
                        format!("{}: {}", key_text(k), show(v, value_kind.as_ref(), style))
                    })
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
            Maps::Raw => {
                let mut entries: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k:?}: {}", show(v, None, style)))
                    .collect();
                entries.sort();
                format!("{{{}}}", entries.join(", "))
            }
        },
        // Bools, integers and floats shown as people write them.
        other => number_text(other).unwrap_or_default(),
    }
}

/// A field's value as the fixture author would write it, for the fake's mismatch messages.
pub(crate) fn show_field(value: &Value, field: &FieldDescriptor) -> String {
    show(value, Some(&field.kind()), Style::MATCHING)
}

/// A message as JSON in the style's form; a message without a JSON form still shows.
pub(crate) fn show_message(message: &DynamicMessage, style: Style) -> String {
    match style.messages {
        Messages::ProtoNames => {
            let options = SerializeOptions::new()
                .use_proto_field_name(true)
                .stringify_64_bit_integers(false);
            let mut out = Vec::new();
            let mut serializer = serde_json::Serializer::new(&mut out);
            match message.serialize_with_options(&mut serializer, &options) {
                Ok(()) => String::from_utf8(out).unwrap_or_default(),
                Err(_) => format!("{message:?}"),
            }
        }
        // Through `serde_json::Value`, whose objects sort their keys.
        Messages::CanonicalSorted => {
            match message
                .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
            {
                Ok(value) => value.to_string(),
                Err(err) => format!(
                    "<no JSON form: {err}; binary {}>",
                    hex(&message.encode_to_vec())
                ),
            }
        }
        Messages::Canonical => serde_json::to_string(message).unwrap_or_else(|_| "{..}".to_owned()),
    }
}

/// Lower-case hex, bytes separated by spaces, e.g. `08 96 01`.
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

fn hex_compact(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage as _, Value};

    use super::{Style, hex, show, show_field, show_message};
    use crate::Schema;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        enum Color { RED = 0; GREEN = 1; }
        message M {
            int64 id = 1;
            string display_name = 2;
            repeated Color colors = 3;
            map<string, Color> named = 4;
            bytes data = 5;
            double ratio = 6;
        }
    "#;

    fn sample() -> DynamicMessage {
        let schema = Schema::from_sources([("t.proto", PROTO)]).unwrap_or_else(|e| panic!("{e}"));
        let desc = schema
            .pool()
            .get_message_by_name("t.M")
            .unwrap_or_else(|| unreachable!());
        let mut m = DynamicMessage::new(desc);
        m.set_field_by_name("id", Value::I64(7));
        m.set_field_by_name("display_name", Value::String("Ada".into()));
        m.set_field_by_name(
            "colors",
            Value::List(vec![Value::EnumNumber(1), Value::EnumNumber(9)]),
        );
        m.set_field_by_name(
            "named",
            Value::Map(HashMap::from([
                (MapKey::String("b".into()), Value::EnumNumber(0)),
                (MapKey::String("a".into()), Value::EnumNumber(1)),
            ])),
        );
        m.set_field_by_name("data", Value::Bytes(vec![0, 1].into()));
        m.set_field_by_name("ratio", Value::F64(1.0));
        m
    }

    fn field(m: &DynamicMessage, name: &str) -> (Value, prost_reflect::FieldDescriptor) {
        let f = m
            .descriptor()
            .get_field_by_name(name)
            .unwrap_or_else(|| unreachable!());
        (m.get_field(&f).into_owned(), f)
    }

    #[test]
    fn matching_style_shows_values_as_fixtures_write_them() {
        let m = sample();
        let shown = |name| {
            let (v, f) = field(&m, name);
            show_field(&v, &f)
        };
        assert_eq!(shown("colors"), "[GREEN, 9]");
        assert_eq!(shown("named"), "{\"a\": GREEN, \"b\": RED}");
        assert_eq!(shown("data"), "\"AAE=\" (base64)");
        assert_eq!(shown("ratio"), "1");
        assert_eq!(shown("display_name"), "\"Ada\"");
        assert_eq!(
            show_message(&DynamicMessage::new(m.descriptor()), Style::MATCHING),
            "{}"
        );
        let (v, _) = field(&m, "id");
        assert_eq!(show(&v, None, Style::MATCHING), "7");
    }

    #[test]
    fn exact_style_is_unambiguous_and_sorted() {
        let m = sample();
        let (colors, _) = field(&m, "colors");
        assert_eq!(show(&colors, None, Style::EXACT), "[1, 9]");
        let (named, _) = field(&m, "named");
        assert_eq!(show(&named, None, Style::EXACT), "{\"a\": 1, \"b\": 0}");
        assert_eq!(show(&Value::F64(1.0), None, Style::EXACT), "1.0");
        assert_eq!(
            show(&Value::Bytes(vec![0, 1].into()), None, Style::EXACT),
            "0x0001"
        );
        assert_eq!(
            show(&Value::Bytes(Vec::new().into()), None, Style::EXACT),
            "empty bytes"
        );
        assert_eq!(
            show_message(&m, Style::EXACT),
            r#"{"colors":["GREEN",9],"data":"AAE=","displayName":"Ada","id":"7","named":{"a":"GREEN","b":"RED"},"ratio":1.0}"#
        );
        assert_eq!(hex(&[8, 0x96, 1]), "08 96 01");
    }

    #[test]
    fn explain_style_names_and_numbers_enums() {
        let m = sample();
        let (colors, f) = field(&m, "colors");
        assert_eq!(
            show(&colors, Some(&f.kind()), Style::EXPLAIN),
            "[GREEN (1), 9 (unknown enum number)]"
        );
        let (named, f) = field(&m, "named");
        assert_eq!(
            show(&named, Some(&f.kind()), Style::EXPLAIN),
            "{String(\"a\"): 1, String(\"b\"): 0}"
        );
        assert_eq!(
            show(&Value::Bytes(Vec::new().into()), None, Style::EXPLAIN),
            "0x"
        );
        assert_eq!(
            show(&Value::F32(1.5), Some(&Kind::Float), Style::EXPLAIN),
            "1.5"
        );
    }
}
