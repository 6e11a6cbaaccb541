//! What a rule is: an ID, a purpose, its categories, and one small pure function fed by a pair
//! walker (see `engine/walk.rs`). Rules are declared once, in `registry.rs`.

use std::fmt;

use prost_reflect::{
    EnumDescriptor, EnumValueDescriptor, FileDescriptor, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor,
};

use super::{
    engine::{Field, Pairs, Side},
    finding::{Findings, Severity},
};

/// A rule category, as in buf (`FILE`, `PACKAGE`, `WIRE_JSON`, `WIRE`, `CSR`), plus `LOSSY`, our
/// own category of warnings for changes buf lets through although they lose data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Category {
    /// Breaks generated source code per file (the default).
    File,
    /// Breaks generated source code per package.
    Package,
    /// Breaks the binary or the JSON encoding.
    WireJson,
    /// Breaks the binary encoding.
    Wire,
    /// Confluent Schema Registry compatibility.
    Csr,
    /// grpc-double only: wire-compatible changes that silently lose data (warnings).
    Lossy,
}

impl Category {
    /// Every category, in listing order.
    pub const ALL: [Category; 6] = [
        Category::File,
        Category::Package,
        Category::WireJson,
        Category::Wire,
        Category::Csr,
        Category::Lossy,
    ];

    /// Gets the ID, e.g. `WIRE_JSON`.
    pub fn id(self) -> &'static str {
        match self {
            Category::File => "FILE",
            Category::Package => "PACKAGE",
            Category::WireJson => "WIRE_JSON",
            Category::Wire => "WIRE",
            Category::Csr => "CSR",
            Category::Lossy => "LOSSY",
        }
    }

    /// Parses a category ID (case-insensitive).
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.id().eq_ignore_ascii_case(id))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Which pair walker feeds a rule, and the rule's function. Every function takes the previous
/// element, the current element, and the findings sink.
#[derive(Clone, Copy)]
pub(crate) enum Scope {
    /// Both whole inputs (file and package deletions).
    Schema(fn(&Side, &Side, &mut Findings)),
    /// Files paired by path.
    File(fn(&FileDescriptor, &FileDescriptor, &mut Findings)),
    /// Messages paired by full name.
    Message(fn(&MessageDescriptor, &MessageDescriptor, &mut Findings)),
    /// Fields paired by number in paired messages, and extensions paired by extendee and number.
    Field(fn(&Field, &Field, &mut Findings)),
    /// Enums paired by full name.
    Enum(fn(&EnumDescriptor, &EnumDescriptor, &mut Findings)),
    /// Enum values paired by number (all the names of one number, for aliases).
    EnumValue(fn(&[EnumValueDescriptor], &[EnumValueDescriptor], &mut Findings)),
    /// Services paired by full name.
    Service(fn(&ServiceDescriptor, &ServiceDescriptor, &mut Findings)),
    /// RPCs paired by name in paired services.
    Method(fn(&MethodDescriptor, &MethodDescriptor, &mut Findings)),
}

impl Scope {
    /// Feeds every pair of the rule's elements to the rule function.
    pub(crate) fn run(&self, previous: &Side, current: &Side, pairs: &Pairs, out: &mut Findings) {
        match *self {
            Scope::Schema(f) => f(previous, current, out),
            Scope::File(f) => pairs.files.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Message(f) => pairs.messages.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Field(f) => pairs.fields.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Enum(f) => pairs.enums.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::EnumValue(f) => pairs.enum_values.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Service(f) => pairs.services.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Method(f) => pairs.methods.iter().for_each(|(p, c)| f(p, c, out)),
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Schema(_) => "Schema",
            Scope::File(_) => "File",
            Scope::Message(_) => "Message",
            Scope::Field(_) => "Field",
            Scope::Enum(_) => "Enum",
            Scope::EnumValue(_) => "EnumValue",
            Scope::Service(_) => "Service",
            Scope::Method(_) => "Method",
        })
    }
}

/// A breaking-change rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// buf-compatible ID, e.g. `FIELD_NO_DELETE`.
    pub id: &'static str,
    /// One sentence, e.g. "Checks that fields are not deleted from a given message."
    pub purpose: &'static str,
    /// The categories the rule belongs to (buf's v2 assignment).
    pub categories: &'static [Category],
    /// Whether the rule is in the default set (`FILE`).
    pub default: bool,
    /// Deprecated rules run only when listed by ID.
    pub deprecated: bool,
    /// The pair walker and the rule function.
    pub(crate) scope: Scope,
}

impl Rule {
    /// Gets the severity of the rule's findings: warnings for `LOSSY` rules, errors otherwise.
    pub(crate) fn severity(&self) -> Severity {
        if self.categories.contains(&Category::Lossy) {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}
