//! The one proto-value core every capability shares: equality, display, kind names and integer
//! reinterpretation of prost-reflect [`Value`](prost_reflect::Value)s.
//!
//! The fake server matches requests, the round-trip properties compare decoded messages, the
//! old-writer/new-reader check classifies changed integers and the breaking checker explains
//! findings with payloads. All of them ask the same questions of proto values, so the answers
//! live here once, with a small options or style parameter where the capabilities really differ:
//!
//! - [`eq`]: semantic equality (`message_eq`, `value_eq`) and the first difference with its
//!   path (`diff`); `EqOptions` says whether unknown fields and extensions count.
//! - [`show`]: one display of values, map keys and messages, in a `Style` per audience.
//! - [`kinds`]: type names of kinds and map-key conversions.
//! - [`int`]: integers as the wire carries them, read back as another integer kind.
//! - [`flat`] and [`lazy`]: messages of singular scalar fields decoded directly, or kept as
//!   bytes and read field by field until the whole message is needed.
//!
//! Nothing here knows about a capability: `schema` sits below `fake`, `breaking` and `roundtrip`.

pub(crate) mod eq;
pub(crate) mod flat;
pub(crate) mod int;
pub(crate) mod kinds;
pub(crate) mod lazy;
pub(crate) mod show;
