//! The size budget: the largest encoded size a generated message may reach, shared out over its
//! tree.
//!
//! Depth alone does not bound a recursive type: `message Tree { repeated Tree children = 1;
//! map<string, Tree> named = 2; }` holds up to `(2 × max_len)^depth` messages, and at depth 8
//! one case took gigabytes. So every message strategy is built with a budget, in bytes: its own
//! fields (each costed at its largest encoded size) come out of it, and what is left is split
//! evenly over the slots that hold messages (a repeated field or a map has `max_len` slots, a
//! oneof one). A field whose message type no longer fits its share is not generated, as at
//! depth 0. By induction no generated message encodes to more than its budget, or, when even
//! its own fields exceed it, to more than those (a flat message is never cut).
//!
//! The bound is on the worst case, so typical values are far smaller: each field is set with
//! some probability, and strings, lists and large `bytes` values are usually shorter than
//! their limits. Budgets are rounded down to 4 significant bits, so that strategies memoised
//! per `(type, depth, budget)` stay few.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::StrategyConfig;

/// The largest length prefix: a varint of a length below 2^35.
const LEN_PREFIX: usize = 5;

/// A message's key and length prefix, as a field of its parent (keys take up to five bytes).
const HEADER: usize = 5 + LEN_PREFIX;

/// Rounds a budget down to its 4 most significant bits (at most 1/8 lost).
pub(super) fn round_down(budget: usize) -> usize {
    let bits = usize::BITS - budget.leading_zeros();
    match bits.checked_sub(4) {
        Some(shift) if shift > 0 => (budget >> shift) << shift,
        _ => budget,
    }
}

/// The encoded size of a field's key.
fn key_len(field: &FieldDescriptor) -> usize {
    prost::encoding::key_len(field.number())
}

/// The largest encoded size of one value of `kind` (without its key), for a non-message kind.
pub(super) fn scalar_len(kind: &Kind, config: &StrategyConfig) -> usize {
    match kind {
        Kind::Bool => 1,
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => 4,
        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => 8,
        // Up to four bytes a character; map keys are shorter.
        Kind::String => LEN_PREFIX + 4 * config.max_string.max(8),
        Kind::Bytes => LEN_PREFIX + config.max_bytes.max(33),
        // Varints, enums included (a negative number takes ten bytes).
        _ => 10,
    }
}

/// How many values a field holds at most: 1, or `max_len` for a list or a map.
fn multiplicity(field: &FieldDescriptor, config: &StrategyConfig) -> usize {
    if field.is_list() || field.is_map() {
        config.max_len
    } else {
        1
    }
}

/// The message type a field's values hold, if they are messages (a map's value type).
pub(super) fn message_of(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => match entry.map_entry_value_field().kind() {
            Kind::Message(value) => Some(value),
            _ => None,
        },
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

/// The largest encoded size of a message's own fields, with everything it holds that is not a
/// message: its header as a field of its parent, scalars, lists of scalars, map keys (and map
/// values that are not messages), each entry's header, the header of a required message.
pub(super) fn own_len(desc: &MessageDescriptor, config: &StrategyConfig) -> usize {
    if desc.full_name() == "google.protobuf.Any" {
        // The type URL of a packed well-known type, and the payload's length prefix.
        return HEADER + (1 + LEN_PREFIX + 64) + (1 + LEN_PREFIX);
    }
    let mut len = HEADER;
    for field in desc.fields() {
        let key = key_len(&field);
        let n = multiplicity(&field, config);
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            let key_field = entry.map_entry_key_field();
            let value_field = entry.map_entry_value_field();
            let mut entry_len = key + LEN_PREFIX + 1 + scalar_len(&key_field.kind(), config);
            if message_of(&field).is_none() {
                entry_len += 1 + scalar_len(&value_field.kind(), config);
            }
            len += n * entry_len;
        } else if message_of(&field).is_none() {
            len += n * (key + scalar_len(&field.kind(), config));
        } else if field.is_required() {
            // Set even when its type does not fit: then as an empty message.
            len += HEADER;
        }
    }
    len
}
