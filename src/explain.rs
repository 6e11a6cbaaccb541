//! `--explain`: breaking findings proved by the round-trip engine. This is the one module that
//! uses two capabilities: [`breaking`](crate::breaking) reports what changed and knows nothing of
//! payloads, [`roundtrip`](crate::roundtrip) searches for data that changes meaning and knows
//! nothing of rules. Here a wire-level finding gets a concrete payload written by the previous
//! schema, what each schema reads from it and, when the property finds one, a minimal
//! counterexample.
//!
//! The payload is hand-built: one value of the changed field, chosen to show the difference
//! (a 64-bit value for narrowing, a negative number for sign changes, invalid UTF-8 for
//! bytes -> string). The proof is searched with a fixed seed, so output is reproducible.
//!
//! # Examples
//!
//! ```
//! use grpc_double::{Schema, breaking::{self, Config}, explain};
//!
//! // Arrange: `n` narrowed from int64 to int32.
//! let previous = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package p; message M { int64 n = 1; }")])?;
//! let current = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package p; message M { int32 n = 1; }")])?;
//! let findings = breaking::check(&previous, &current, &Config::parse("version: v2\nbreaking:\n  use: [WIRE_JSON]\n")?)?;
//! // Act
//! let explanation = explain::explain(&findings[0], previous.pool(), current.pool()).expect("a wire finding");
//! // Assert
//! assert_eq!(explanation.current, "n (field 1, int32) = 5");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};
use prost_types::SourceCodeInfo;

use crate::breaking::{
    Annotation, Explanation, Finding, PathDisplay, Proven, Unproven, annotate_with, lossy_witness,
};
use crate::schema::value::{
    kinds::short_name,
    show::{Style, hex, show},
};

/// Seed and cases of the property search behind `--explain`: fixed, so output is reproducible.
const PROOF_SEED: u64 = 1;
const PROOF_CASES: u32 = 256;

/// Runs the old-writer/new-reader property on the finding's field alone (generated messages
/// set it and nothing else), so a counterexample is this finding's and no other's.
fn prove(
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    field: &FieldDescriptor,
) -> Result<Proven, Unproven> {
    let unproven = || Unproven {
        seed: PROOF_SEED,
        cases: PROOF_CASES,
        field: field.name().to_owned(),
    };
    let found = crate::roundtrip::find_field_counterexample(
        old,
        new,
        field.number(),
        PROOF_SEED,
        PROOF_CASES,
        crate::roundtrip::Encoding::Both,
    )
    .ok_or_else(unproven)?;
    let difference = found
        .differences
        .first()
        .map(ToString::to_string)
        .ok_or_else(unproven)?;
    Ok(Proven {
        seed: PROOF_SEED,
        json: found.json,
        hex: found.hex,
        reading: found.reading,
        difference,
    })
}

/// Rules whose findings can be shown with a payload.
const WIRE_RULES: &[&str] = &[
    "FIELD_NO_DELETE",
    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_SAME_CARDINALITY",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_LABEL",
    "FIELD_SAME_NAME",
    "FIELD_SAME_TYPE",
    "FIELD_WIRE_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_COMPATIBLE_TYPE",
    "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
    "FIELD_WIRE_LOSSY_TYPE",
];

/// Explains a field-level finding with a payload, when it has one.
pub fn explain(
    finding: &Finding,
    previous: &DescriptorPool,
    current: &DescriptorPool,
) -> Option<Explanation> {
    if !WIRE_RULES.contains(&finding.rule) {
        return None;
    }
    let field_ref = finding.field.as_ref().filter(|f| !f.extension)?;
    let old_message = previous.get_message_by_name(&field_ref.message)?;
    let new_message = current.get_message_by_name(&field_ref.message)?;
    let old_field = old_message.get_field(field_ref.number)?;
    let new_field = new_message.get_field(field_ref.number);

    let witness = new_field
        .as_ref()
        .and_then(|nf| lossy_witness(&old_field.kind(), &nf.kind()));
    let value = sample(&old_field, witness)?;
    let mut message = DynamicMessage::new(old_message.clone());
    message.try_set_field(&old_field, value.clone()).ok()?;
    let bytes = message.encode_to_vec();
    let bytes_hex = hex(&bytes);
    let previous_text = describe(&old_field, &value);
    let current_text = match DynamicMessage::decode(new_message.clone(), bytes.as_slice()) {
        Err(err) => format!("decode error: {err}"),
        Ok(decoded) => read_back(&decoded, &new_message, field_ref.number),
    };
    // JSON breaks in the other direction: parsers accept the proto name and the JSON name, so
    // the break is what new writers emit and old readers do not know.
    let json = if matches!(finding.rule, "FIELD_SAME_JSON_NAME" | "FIELD_SAME_NAME") {
        DynamicMessage::decode(new_message.clone(), bytes.as_slice())
            .ok()
            .and_then(|written| serde_json::to_string(&written).ok())
            .map(|text| {
                let mut de = serde_json::Deserializer::from_str(&text);
                let read = match DynamicMessage::deserialize(old_message.clone(), &mut de) {
                    Ok(m) => serde_json::to_string(&m).unwrap_or_default(),
                    Err(err) => format!("rejected: {err}"),
                };
                (text, read)
            })
    } else {
        None
    };
    let (proven, unproven) = match prove(&old_message, &new_message, &old_field) {
        Ok(proven) => (Some(proven), None),
        Err(unproven) => (None, Some(unproven)),
    };
    Some(Explanation {
        bytes_hex,
        previous: previous_text,
        current: current_text,
        json,
        proven,
        unproven,
    })
}

/// Resolves spans and display paths, sorts and de-duplicates ([`breaking::annotate`]), and
/// with `with_explanations` explains each wire finding.
///
/// [`breaking::annotate`]: crate::breaking::annotate
pub fn annotate(
    findings: &[Finding],
    previous: &DescriptorPool,
    current: &DescriptorPool,
    display: &PathDisplay,
    with_explanations: bool,
) -> Vec<Annotation> {
    annotate_with_sources(
        findings,
        previous,
        current,
        display,
        with_explanations,
        &|_| None,
    )
}

/// Like [`annotate`], for a current schema compiled without source info: `sources` gives the
/// source info of a current file by name (compiled again on demand), asked only for files with
/// findings.
pub fn annotate_with_sources(
    findings: &[Finding],
    previous: &DescriptorPool,
    current: &DescriptorPool,
    display: &PathDisplay,
    with_explanations: bool,
    sources: &dyn Fn(&str) -> Option<SourceCodeInfo>,
) -> Vec<Annotation> {
    let explanation = |f: &Finding| {
        if with_explanations {
            explain(f, previous, current)
        } else {
            None
        }
    };
    annotate_with(findings, current, display, sources, &explanation)
}

fn read_back(decoded: &DynamicMessage, desc: &MessageDescriptor, number: u32) -> String {
    if let Some(field) = desc.get_field(number) {
        if decoded.has_field(&field) || field.is_list() || field.is_map() {
            return describe(&field, &decoded.get_field(&field));
        }
        let unknown = decoded.unknown_fields().count();
        return format!(
            "{} (field {number}, {}) is not set{}",
            field.name(),
            kind_label(&field),
            if unknown > 0 {
                "; the bytes were kept as an unknown field"
            } else {
                ""
            }
        );
    }
    if decoded.unknown_fields().any(|f| f.number() == number) {
        format!(
            "no field {number}: the value is kept as an unknown field, invisible to generated code"
        )
    } else {
        format!("no field {number}: the value is lost")
    }
}

fn kind_label(field: &FieldDescriptor) -> String {
    let name = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        scalar => short_name(&scalar).to_owned(),
    };
    if field.is_map() {
        "map".to_owned()
    } else if field.is_list() {
        format!("repeated {name}")
    } else {
        name
    }
}

fn describe(field: &FieldDescriptor, value: &Value) -> String {
    format!(
        "{} (field {}, {}) = {}",
        field.name(),
        field.number(),
        kind_label(field),
        show(value, Some(&field.kind()), Style::EXPLAIN)
    )
}

/// One value of a field's kind that makes differences visible.
fn scalar(kind: &Kind, witness: Option<i128>) -> Value {
    let w = witness;
    match kind {
        Kind::Int32 => Value::I32(w.map_or(-1, |w| w as i32)),
        Kind::Int64 => Value::I64(w.map_or(4_294_967_301, |w| w as i64)),
        Kind::Uint32 => Value::U32(w.map_or(u32::MAX, |w| w as u32)),
        Kind::Uint64 => Value::U64(w.map_or(4_294_967_301, |w| w as u64)),
        Kind::Sint32 => Value::I32(w.map_or(-3, |w| w as i32)),
        Kind::Sint64 => Value::I64(w.map_or(4_294_967_297, |w| w as i64)),
        Kind::Fixed32 => Value::U32(w.map_or(u32::MAX, |w| w as u32)),
        Kind::Fixed64 => Value::U64(w.map_or(4_294_967_301, |w| w as u64)),
        Kind::Sfixed32 => Value::I32(w.map_or(-1, |w| w as i32)),
        Kind::Sfixed64 => Value::I64(w.map_or(-1, |w| w as i64)),
        Kind::Bool => Value::Bool(true),
        Kind::Float => Value::F32(1.5),
        Kind::Double => Value::F64(1.5),
        Kind::String => Value::String("héllo".to_owned()),
        Kind::Bytes => Value::Bytes(bytes::Bytes::from_static(&[0xc3, 0x28])),
        Kind::Enum(e) => Value::EnumNumber(e.values().last().map_or(1, |v| v.number())),
        Kind::Message(m) => Value::Message(DynamicMessage::new(m.clone())),
    }
}

fn sample(field: &FieldDescriptor, witness: Option<i128>) -> Option<Value> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key = match entry.map_entry_key_field().kind() {
            Kind::String => MapKey::String("k".into()),
            Kind::Bool => MapKey::Bool(true),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(1),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(1),
            Kind::Uint32 | Kind::Fixed32 => MapKey::U32(1),
            _ => MapKey::U64(1),
        };
        let value = scalar(&entry.map_entry_value_field().kind(), None);
        return Some(Value::Map(HashMap::from([(key, value)])));
    }
    let one = scalar(&field.kind(), witness);
    if field.is_list() {
        Some(Value::List(vec![one.clone(), one]))
    } else {
        Some(one)
    }
}
