//! Message-level rules: deleted fields and oneofs, reserved and extension ranges, required
//! fields, message options and the JSON-format feature.

use std::collections::BTreeSet;

use prost_reflect::{Cardinality, MessageDescriptor};

use crate::breaking::{
    engine::{
        Feature, Field, MESSAGE_MAX, MESSAGE_SET_MAX, check_ranges, check_reserved_names,
        message_chain, message_loc, resolve,
    },
    finding::Findings,
};

/// `DescriptorProto.options`.
const OPTIONS: i32 = 7;

fn message_set(m: &MessageDescriptor) -> bool {
    m.descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|o| o.message_set_wire_format())
}

fn max_tag(m: &MessageDescriptor) -> i64 {
    if message_set(m) {
        MESSAGE_SET_MAX
    } else {
        MESSAGE_MAX
    }
}

fn field_no_delete_with(
    previous: &MessageDescriptor,
    current: &MessageDescriptor,
    out: &mut Findings,
    allow_number_reserved: bool,
    allow_name_reserved: bool,
) {
    for prev_field in previous.fields() {
        let number = prev_field.number();
        if current.get_field(number).is_some() {
            continue;
        }
        let name = prev_field.name();
        let number_reserved = current.reserved_ranges().any(|r| r.contains(&number));
        let name_reserved = current.reserved_names().any(|n| n == name);
        if (allow_number_reserved && number_reserved) || (allow_name_reserved && name_reserved) {
            continue;
        }
        let suffix = if allow_number_reserved {
            format!(" without reserving the number \"{number}\"")
        } else if allow_name_reserved {
            format!(" without reserving the name \"{name}\"")
        } else {
            String::new()
        };
        let description = Field::Normal(prev_field.clone()).description();
        let description = lower_first(&description);
        let mut reserve = Vec::new();
        if !number_reserved {
            reserve.push(format!("reserved {number};"));
        }
        if !name_reserved {
            reserve.push(format!("reserved \"{name}\";"));
        }
        let hint = if allow_number_reserved || allow_name_reserved {
            format!(
                "reserve number {number} and name \"{name}\" in message \"{}\": {}",
                current.name(),
                reserve.join(" ")
            )
        } else {
            format!(
                "keep field {number} \"{name}\" and mark it [deprecated = true]; deleting it breaks generated code even when reserved ({})",
                if reserve.is_empty() {
                    "it is".to_owned()
                } else {
                    reserve.join(" ")
                }
            )
        };
        out.push(
            Some(message_loc(current)),
            Some(message_loc(previous)),
            format!("Previously present {description} was deleted{suffix}."),
        )
        .hint(hint)
        .about(Field::Normal(prev_field).field_ref());
    }
}

pub(crate) fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// FIELD_NO_DELETE
pub(crate) fn field_no_delete(p: &MessageDescriptor, c: &MessageDescriptor, out: &mut Findings) {
    field_no_delete_with(p, c, out, false, false);
}

/// FIELD_NO_DELETE_UNLESS_NAME_RESERVED
pub(crate) fn field_no_delete_unless_name_reserved(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    field_no_delete_with(p, c, out, false, true);
}

/// FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED
pub(crate) fn field_no_delete_unless_number_reserved(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    field_no_delete_with(p, c, out, true, false);
}

fn exclusive(ranges: impl Iterator<Item = std::ops::Range<u32>>) -> Vec<(i64, i64)> {
    ranges
        .map(|r| (i64::from(r.start), i64::from(r.end) - 1))
        .collect()
}

/// EXTENSION_MESSAGE_NO_DELETE
pub(crate) fn extension_message_no_delete(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    check_ranges(
        "extension",
        "message",
        c.name(),
        max_tag(c),
        exclusive(p.extension_ranges()),
        exclusive(c.extension_ranges()),
        (message_loc(p), message_loc(c)),
        out,
    );
}

/// RESERVED_MESSAGE_NO_DELETE
pub(crate) fn reserved_message_no_delete(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    check_ranges(
        "reserved",
        "message",
        c.name(),
        max_tag(c),
        exclusive(p.reserved_ranges()),
        exclusive(c.reserved_ranges()),
        (message_loc(p), message_loc(c)),
        out,
    );
    check_reserved_names(
        "message",
        c.name(),
        p.reserved_names(),
        c.reserved_names(),
        (message_loc(p), message_loc(c)),
        " so the name is never reused with another meaning",
        out,
    );
}

/// ONEOF_NO_DELETE
pub(crate) fn oneof_no_delete(p: &MessageDescriptor, c: &MessageDescriptor, out: &mut Findings) {
    for oneof in p.oneofs().filter(|o| !o.is_synthetic()) {
        if c.oneofs().any(|o| o.name() == oneof.name()) {
            continue;
        }
        out.push(
            Some(message_loc(c)),
            Some(message_loc(p)),
            format!(
                "Previously present oneof \"{}\" on message \"{}\" was deleted.",
                oneof.name(),
                c.name()
            ),
        )
        .hint(format!(
            "keep oneof \"{}\"; generated code exposes it as a case enum or sealed type",
            oneof.name()
        ));
    }
}

fn required(m: &MessageDescriptor) -> BTreeSet<u32> {
    m.fields()
        .filter(|f| f.cardinality() == Cardinality::Required)
        .map(|f| f.number())
        .collect()
}

/// MESSAGE_SAME_REQUIRED_FIELDS
pub(crate) fn message_same_required_fields(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    const WHY: &str = "Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage.";
    let (before, after) = (required(p), required(c));
    for number in before.difference(&after) {
        out.push(
            Some(message_loc(c)),
            Some(message_loc(p)),
            format!(
                "Message \"{}\" had required field \"{number}\" deleted. {WHY}",
                p.name()
            ),
        )
        .hint(format!(
            "keep field {number} required (required fields can never be removed safely)"
        ));
    }
    for number in after.difference(&before) {
        let Some(field) = c.get_field(*number) else {
            continue;
        };
        out.push(
            Some(Field::Normal(field.clone()).loc(&[])),
            None,
            format!(
                "Message \"{}\" had required field \"{number}\" added. {WHY}",
                c.name()
            ),
        )
        .hint(format!(
            "make field {number} \"{}\" optional instead of required",
            field.name()
        ));
    }
}

fn option_flag(m: &MessageDescriptor, pick: fn(&prost_types::MessageOptions) -> bool) -> bool {
    m.descriptor_proto().options.as_ref().is_some_and(pick)
}

/// MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR
pub(crate) fn message_no_remove_standard_descriptor_accessor(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    let before = option_flag(p, |o| o.no_standard_descriptor_accessor());
    let after = option_flag(c, |o| o.no_standard_descriptor_accessor());
    if !before && after {
        out.push(
            Some(message_loc(c).child(&[OPTIONS, 2])),
            Some(message_loc(p).child(&[OPTIONS, 2])),
            "Message option \"no_standard_descriptor_accessor\" changed from \"false\" to \"true\".",
        )
        .hint("remove option no_standard_descriptor_accessor; it deletes the generated descriptor() accessor");
    }
}

/// MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT (deprecated)
pub(crate) fn message_same_message_set_wire_format(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    let (before, after) = (message_set(p), message_set(c));
    if before != after {
        out.push(
            Some(message_loc(c).child(&[OPTIONS, 1])),
            Some(message_loc(p).child(&[OPTIONS, 1])),
            format!(
                "Message option \"message_set_wire_format\" changed from \"{before}\" to \"{after}\"."
            ),
        )
        .hint(format!("set message_set_wire_format back to {before}; the two encodings are not compatible"));
    }
}

/// MESSAGE_SAME_JSON_FORMAT
pub(crate) fn message_same_json_format(
    p: &MessageDescriptor,
    c: &MessageDescriptor,
    out: &mut Findings,
) {
    let before = resolve(Feature::JsonFormat, &p.parent_file(), || message_chain(p));
    let after = resolve(Feature::JsonFormat, &c.parent_file(), || message_chain(c));
    if before == 1 && after != 1 {
        out.push(
            Some(message_loc(c).child(&[OPTIONS, 12, 6])),
            Some(message_loc(p).child(&[OPTIONS, 12, 6])),
            format!(
                "Message \"{}\" JSON format support changed from {} to {}.",
                c.name(),
                Feature::JsonFormat.value_name(before),
                Feature::JsonFormat.value_name(after)
            ),
        )
        .hint("keep features.json_format = ALLOW; JSON clients of this message would break");
    }
}
