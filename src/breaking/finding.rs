//! Findings are plain data: which rule, where (file + descriptor path on both sides), what
//! changed, and how to fix it. Spans are resolved only when a report is rendered.

use std::fmt;

use serde::Serialize;

/// Where an element lives: a file name (as compiled, e.g. `acme/v1/user.proto`) and the
/// `SourceCodeInfo` path of the element inside it (e.g. `[4, 0, 2, 1]`, message 0, field 1).
///
/// An empty path means "the file itself, no precise location" (buf prints `1:1` for those).
///
/// A descriptor location, resolved to a line and column only when a report is rendered (see
/// [`annotate`](crate::breaking::annotate)); a place in a YAML fixture is a
/// `fake::Location` instead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// The file name, relative to its include path, e.g. `acme/v1/user.proto`.
    pub file: String,
    /// The descriptor path, e.g. `[4, 0, 2, 1]`.
    pub path: Vec<i32>,
}

impl Location {
    /// Creates a location.
    pub fn new(file: impl Into<String>, path: impl Into<Vec<i32>>) -> Self {
        Location {
            file: file.into(),
            path: path.into(),
        }
    }

    /// Gets this location extended by more path components (an option or sub-element).
    pub(crate) fn child(&self, extra: &[i32]) -> Self {
        let mut path = self.path.clone();
        path.extend_from_slice(extra);
        Location {
            file: self.file.clone(),
            path,
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// A breaking change: the check fails (exit code 100).
    Error,
    /// A change buf lets through but that loses data (the `LOSSY` category); reported, never
    /// fails the check on its own.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A field a finding is about, for `--explain`: the containing message (or the extendee, for an
/// extension) and the field number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FieldRef {
    /// Full name of the containing message, e.g. `acme.v1.User`.
    pub message: String,
    /// The field number.
    pub number: u32,
    /// Whether the field is an extension of `message`.
    pub extension: bool,
}

/// One violation of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule ID, e.g. `FIELD_NO_DELETE`.
    pub rule: &'static str,
    /// Error (breaking) or warning (lossy).
    pub severity: Severity,
    /// Where the change shows in the current schema; `None` when the element is gone with its
    /// file (e.g. `FILE_NO_DELETE`).
    pub current: Option<Location>,
    /// Where the element was in the previous schema.
    pub previous: Option<Location>,
    /// buf-style message, e.g. `Previously present field "2" with name "age" on message "User" was deleted.`
    pub message: String,
    /// How to fix it, e.g. `reserve number 2 and name "age"`.
    pub hint: Option<String>,
    /// The field the finding is about, when it is a field-level change.
    pub field: Option<FieldRef>,
}

impl Finding {
    /// Gets the file the finding is reported against: the current file, or the previous one for
    /// elements deleted with their file.
    pub fn file(&self) -> &str {
        self.current
            .as_ref()
            .or(self.previous.as_ref())
            .map_or("", |l| l.file.as_str())
    }
}

/// The sink rule functions write into; it stamps every finding with the running rule.
#[derive(Debug)]
pub(crate) struct Findings {
    rule: &'static str,
    severity: Severity,
    out: Vec<Finding>,
}

impl Findings {
    pub(crate) fn new() -> Self {
        Findings {
            rule: "",
            severity: Severity::Error,
            out: Vec::new(),
        }
    }

    pub(crate) fn start(&mut self, rule: &'static str, severity: Severity) {
        self.rule = rule;
        self.severity = severity;
    }

    /// Reports a finding for the running rule; returns it so that a hint or field can be added.
    pub(crate) fn push(
        &mut self,
        current: Option<Location>,
        previous: Option<Location>,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.out.push(Finding {
            rule: self.rule,
            severity: self.severity,
            current,
            previous,
            message: message.into(),
            hint: None,
            field: None,
        });
        let last = self.out.len() - 1;
        &mut self.out[last]
    }

    pub(crate) fn into_vec(self) -> Vec<Finding> {
        self.out
    }
}

impl Finding {
    /// Sets the fix-it hint.
    pub(crate) fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the field the finding is about.
    pub(crate) fn about(&mut self, field: FieldRef) -> &mut Self {
        self.field = Some(field);
        self
    }
}

/// A concrete counterexample for a wire-level finding: bytes the previous schema writes and how
/// both schemas read them. Plain data: `grpc_double::explain` fills it in, reports print it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The encoded message, as space-separated hex bytes, e.g. `10 85 80 80 80 10`.
    pub bytes_hex: String,
    /// What the previous schema wrote, e.g. `age (field 2, int64) = 4294967301`.
    pub previous: String,
    /// What the current schema reads, e.g. `age (field 2, int32) = 5`.
    pub current: String,
    /// The same value as proto3 JSON written by the current schema, and what the previous
    /// schema makes of it, when the change is visible in JSON (renamed fields and JSON names).
    pub json: Option<(String, String)>,
    /// A counterexample found and shrunk by the round-trip property (old writer, new reader),
    /// when the property finds one for this field: proof that data really changes.
    pub proven: Option<Proven>,
    /// When the property found no counterexample for this field: what it searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unproven: Option<Unproven>,
}

/// A property search that found no data whose meaning the finding's change alters: every
/// generated message setting that field (and no other) read back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unproven {
    /// The seed of the search.
    pub seed: u64,
    /// Generated cases.
    pub cases: u32,
    /// The field searched, e.g. `quantity`.
    pub field: String,
}

/// A minimal message the previous schema writes that the current schema reads differently,
/// found by property testing (`roundtrip::find_counterexample_where`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Proven {
    /// The seed that reproduces it with `grpc-double roundtrip --seed`.
    pub seed: u64,
    /// The message as proto3 JSON.
    pub json: String,
    /// Its encoding, as hex.
    pub hex: String,
    /// What the current schema reads.
    pub reading: String,
    /// The difference for this field, e.g. `[binary] `n` (1 int32 → 1 sint32): changed: wrote 1, read -1`.
    /// Generated messages set this field and no other, so the difference is this finding's.
    pub difference: String,
}
