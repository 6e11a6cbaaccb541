//! Kinds, type names and cardinalities of fields as buf compares them: its spelling of kinds,
//! its wire and wire-and-JSON compatibility groups, its five cardinalities, and a value that a
//! wire-compatible but lossy type change reads differently (shared with `--explain`).

use prost_reflect::{Cardinality, Kind};

use super::field::Field;
use crate::schema::value::{
    int::{int_range, reinterpret},
    kinds::{number_text, short_name},
};

/// The kind as buf spells it (`protoreflect.Kind.String()`): the `.proto` keyword, and `group`
/// for groups.
pub(crate) fn kind_name(field: &Field) -> &'static str {
    match field.kind() {
        Kind::Message(_) if field.is_group() => "group",
        kind => short_name(&kind),
    }
}

/// The full name of the referenced message or enum.
pub(crate) fn type_name(field: &Field) -> Option<String> {
    match field.kind() {
        Kind::Message(m) => Some(m.full_name().to_owned()),
        Kind::Enum(e) => Some(e.full_name().to_owned()),
        _ => None,
    }
}

/// buf's wire compatibility groups.
pub(crate) fn wire_group(kind: &str) -> u8 {
    match kind {
        "int32" | "int64" | "uint32" | "uint64" | "bool" => 1,
        "sint32" | "sint64" => 2,
        "string" => 3,
        "bytes" => 4,
        "fixed32" | "sfixed32" => 5,
        "fixed64" | "sfixed64" => 6,
        "double" => 7,
        "float" => 8,
        "group" => 9,
        "message" => 10,
        _ => 11, // enum
    }
}

/// buf's wire-and-JSON compatibility groups.
pub(crate) fn wire_json_group(kind: &str) -> u8 {
    match kind {
        "int32" | "uint32" => 1,
        "int64" | "uint64" => 2,
        "fixed32" | "sfixed32" => 3,
        "fixed64" | "sfixed64" => 4,
        "bool" => 5,
        "sint32" => 6,
        "sint64" => 7,
        "string" => 8,
        "bytes" => 9,
        "double" => 10,
        "float" => 11,
        "group" => 12,
        "message" => 13,
        _ => 14, // enum
    }
}

/// What a reader of `new` makes of an integer written as `old`, as text.
pub(crate) fn read_as(value: i128, old: &Kind, new: &Kind) -> Option<String> {
    reinterpret(value, old, new).and_then(|v| number_text(&v))
}

/// A value of the old type that the new type reads differently, for a wire-compatible but
/// lossy change (int64 -> int32, uint32 -> int32, int64 -> bool, ...).
pub(crate) fn lossy_witness(old: &Kind, new: &Kind) -> Option<i128> {
    let (omin, omax) = int_range(old)?;
    let (nmin, nmax) = int_range(new)?;
    if wire_group(short_name(old)) != wire_group(short_name(new)) || (omin >= nmin && omax <= nmax)
    {
        return None;
    }
    [
        4_294_967_301,
        i128::from(u64::MAX),
        -1,
        i128::from(u32::MAX),
        2,
    ]
    .into_iter()
    .filter(|w| (omin..=omax).contains(w))
    .find(|w| read_as(*w, old, new).is_some_and(|r| r != w.to_string()))
}

/// buf's five cardinalities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    Explicit,
    Implicit,
    Required,
    Repeated,
    Map,
}

impl Card {
    pub(crate) fn of(field: &Field) -> Card {
        if field.is_map() {
            Card::Map
        } else if field.is_list() {
            Card::Repeated
        } else if field.cardinality() == Cardinality::Required {
            Card::Required
        } else if field.supports_presence() {
            Card::Explicit
        } else {
            Card::Implicit
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Card::Explicit => "optional with explicit presence",
            Card::Implicit => "optional with implicit presence",
            Card::Required => "required",
            Card::Repeated => "repeated",
            Card::Map => "map",
        }
    }

    pub(crate) fn wire_group(self) -> u8 {
        match self {
            Card::Explicit | Card::Implicit => 1,
            Card::Required => 2,
            Card::Repeated | Card::Map => 3,
        }
    }

    pub(crate) fn wire_json_group(self) -> u8 {
        match self {
            Card::Map => 4,
            other => other.wire_group(),
        }
    }
}
