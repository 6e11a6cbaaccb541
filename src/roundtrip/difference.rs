//! What the old-writer/new-reader check observes: one [`Difference`] per field whose value a
//! new reader sees otherwise than the old writer wrote, classified by [`DifferenceKind`].

use std::fmt;

use serde::Serialize;

use super::Encoding;

/// What changed for one field between what the old writer wrote and what the new reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DifferenceKind {
    /// The new reader rejected the whole message (e.g. `bytes` → `string` with invalid UTF-8, or
    /// an incompatible wire type).
    Rejected,
    /// The new reader rejected the JSON (a key it no longer accepts, a value of the wrong JSON type).
    JsonRejected,
    /// The new type has no field with this number (binary) or JSON name (JSON); on the wire the
    /// value is only kept as an unknown field.
    Dropped,
    /// The value reads back with the opposite sign (e.g. `int32` -1 read as `uint32` 4294967295).
    SignFlipped,
    /// The value does not fit the new type and was truncated (e.g. `int64` 2^32+1 read as `int32` 1).
    Truncated,
    /// The value reads as an enum number the new enum does not declare.
    EnumValueUnknown,
    /// A singular value now reads as a list, or a list as a single value.
    Cardinality,
    /// The new reader sees the value, but not that it was set (explicit → implicit presence).
    PresenceLost,
    /// A field the new type requires is missing.
    RequiredMissing,
    /// The new reader sees a different value.
    Changed,
}

impl DifferenceKind {
    /// Gets the short description used in reports, e.g. `sign flipped`.
    pub fn describe(self) -> &'static str {
        match self {
            DifferenceKind::Rejected => "message rejected",
            DifferenceKind::JsonRejected => "JSON rejected",
            DifferenceKind::Dropped => "dropped",
            DifferenceKind::SignFlipped => "sign flipped",
            DifferenceKind::Truncated => "truncated",
            DifferenceKind::EnumValueUnknown => "unknown enum value",
            DifferenceKind::Cardinality => "cardinality changed",
            DifferenceKind::PresenceLost => "presence lost",
            DifferenceKind::RequiredMissing => "required field missing",
            DifferenceKind::Changed => "changed",
        }
    }
}

/// One observed difference between what an old writer wrote and what a new reader sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Which encoding carried the data.
    pub encoding: Encoding,
    /// What happened.
    pub kind: DifferenceKind,
    /// The field path in the old message, e.g. `user.tags[1]` (empty for the whole message).
    pub path: String,
    /// The old field's number and type, e.g. `2 int32` (empty for the whole message).
    pub old_field: String,
    /// The new field's number and type, e.g. `2 sint32`, or empty when there is none.
    pub new_field: String,
    /// What the old writer wrote.
    pub wrote: String,
    /// What the new reader sees (or its error).
    pub read: String,
}

impl Difference {
    /// Gets the key that identifies what this difference explains: encoding, kind and field path
    /// without list indices or map keys, e.g. `binary/changed/items.price`.
    pub fn key(&self) -> String {
        let mut path = String::with_capacity(self.path.len());
        let mut chars = self.path.chars();
        while let Some(ch) = chars.next() {
            if ch != '[' {
                path.push(ch);
                continue;
            }
            // Skip an index or a map key; string keys are quoted and may contain brackets.
            let (mut quoted, mut escaped) = (false, false);
            for c in chars.by_ref() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if quoted => escaped = true,
                    '"' => quoted = !quoted,
                    ']' if !quoted => break,
                    _ => {}
                }
            }
        }
        format!("{}/{:?}/{path}", self.encoding.name(), self.kind)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enc = match self.encoding {
            Encoding::Binary => "binary",
            Encoding::Json => "json",
            Encoding::Both => "both",
        };
        if self.path.is_empty() {
            return write!(f, "[{enc}] {}: {}", self.kind.describe(), self.read);
        }
        write!(f, "[{enc}] `{}` ({}", self.path, self.old_field)?;
        if !self.new_field.is_empty() && self.new_field != self.old_field {
            write!(f, " → {}", self.new_field)?;
        }
        write!(
            f,
            "): {}: wrote {}, read {}",
            self.kind.describe(),
            self.wrote,
            self.read
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Difference, DifferenceKind, Encoding};

    #[test]
    fn roundtrip_difference_keys_ignore_indices_and_map_keys() {
        let d = Difference {
            encoding: Encoding::Binary,
            kind: DifferenceKind::Changed,
            path: "items[2].tags[\"a]b\"].n".to_owned(),
            old_field: String::new(),
            new_field: String::new(),
            wrote: String::new(),
            read: String::new(),
        };
        assert_eq!(d.key(), "binary/Changed/items.tags.n");
    }
}
