//! What each fixture key and scalar meant when it loaded, for fixture drift
//! (`check --against`): a later load against other protos is compared offset by offset.

/// What a fixture key or value meant when it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A key resolved to a field: its full name, number and type.
    Field {
        name: String,
        number: u32,
        kind: String,
    },
    /// A scalar as the field stores it (an enum name as its number, base64 as bytes…).
    Value(String),
    /// A method: its input and output types and streaming flags.
    Method(String),
}

/// What each key and scalar of one source meant, by byte offset.
pub(crate) type Trace = Vec<(usize, Meaning)>;
