//! Enum-level rules: deleted values, reserved ranges and names, renamed numbers, open/closed
//! semantics and the JSON-format feature.

use prost_reflect::{EnumDescriptor, EnumValueDescriptor};

use crate::{
    breaking::{
        engine::{
            ENUM_MAX, Feature, check_ranges, check_reserved_names, loc, message_chain, resolve,
            values_by_number,
        },
        finding::{Findings, Location},
    },
    schema::enum_is_closed,
};

/// `EnumDescriptorProto.options`.
const OPTIONS: i32 = 3;
/// `EnumOptions.features`.
const FEATURES: i32 = 7;

fn enum_loc(e: &EnumDescriptor) -> Location {
    loc(&e.parent_file(), e.path())
}

/// ENUM_SAME_TYPE
pub(crate) fn enum_same_type(p: &EnumDescriptor, c: &EnumDescriptor, out: &mut Findings) {
    let (before, after) = (enum_is_closed(p), enum_is_closed(c));
    if before != after {
        let name = |closed: bool| if closed { "closed" } else { "open" };
        out.push(
            Some(enum_loc(c).child(&[OPTIONS, FEATURES, 2])),
            Some(enum_loc(p).child(&[OPTIONS, FEATURES, 2])),
            format!(
                "Enum \"{}\" changed from {} to {}.",
                c.name(),
                name(before),
                name(after)
            ),
        )
        .hint(format!(
            "keep the enum {}: {}",
            name(before),
            if before {
                "open enums keep unknown numbers in the field where closed ones moved them to unknown fields"
            } else {
                "closed enums move unknown numbers to unknown fields, so readers lose values they used to see"
            }
        ));
    }
}

fn json_format(e: &EnumDescriptor) -> i32 {
    resolve(Feature::JsonFormat, &e.parent_file(), || {
        let mut chain = vec![e.options()];
        if let Some(parent) = e.parent_message() {
            chain.extend(message_chain(&parent));
        }
        chain
    })
}

/// ENUM_SAME_JSON_FORMAT
pub(crate) fn enum_same_json_format(p: &EnumDescriptor, c: &EnumDescriptor, out: &mut Findings) {
    let (before, after) = (json_format(p), json_format(c));
    if before == 1 && after != 1 {
        out.push(
            Some(enum_loc(c).child(&[OPTIONS, FEATURES, 6])),
            Some(enum_loc(p).child(&[OPTIONS, FEATURES, 6])),
            format!(
                "Enum \"{}\" JSON format support changed from {} to {}.",
                c.name(),
                Feature::JsonFormat.value_name(before),
                Feature::JsonFormat.value_name(after)
            ),
        )
        .hint("keep features.json_format = ALLOW; JSON clients of this enum would break");
    }
}

fn value_no_delete_with(
    p: &EnumDescriptor,
    c: &EnumDescriptor,
    out: &mut Findings,
    allow_number_reserved: bool,
    allow_name_reserved: bool,
) {
    let current = values_by_number(c);
    for (number, values) in values_by_number(p) {
        if current.contains_key(&number) {
            continue;
        }
        let names: Vec<&str> = values.iter().map(EnumValueDescriptor::name).collect();
        let number_reserved = c.reserved_ranges().any(|r| r.contains(&number));
        let names_reserved = names.iter().all(|n| c.reserved_names().any(|r| r == *n));
        if (allow_number_reserved && number_reserved) || (allow_name_reserved && names_reserved) {
            continue;
        }
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let suffix = if allow_number_reserved {
            format!(" without reserving the number \"{number}\"")
        } else if allow_name_reserved {
            format!(
                " without reserving the name{} {}",
                if names.len() > 1 { "s" } else { "" },
                quoted.join(", ")
            )
        } else {
            String::new()
        };
        let hint = if allow_number_reserved || allow_name_reserved {
            format!(
                "reserve number {number} and name{} {} in enum \"{}\": reserved {number}; reserved {};",
                if names.len() > 1 { "s" } else { "" },
                quoted.join(", "),
                c.name(),
                quoted.join(", ")
            )
        } else {
            format!(
                "keep {} = {number} and mark it [deprecated = true]; deleting a value breaks generated code even when reserved",
                names.first().copied().unwrap_or_default()
            )
        };
        out.push(
            Some(enum_loc(c)),
            Some(enum_loc(p)),
            format!(
                "Previously present enum value \"{number}\" on enum \"{}\" was deleted{suffix}.",
                c.name()
            ),
        )
        .hint(hint);
    }
}

/// ENUM_VALUE_NO_DELETE
pub(crate) fn enum_value_no_delete(p: &EnumDescriptor, c: &EnumDescriptor, out: &mut Findings) {
    value_no_delete_with(p, c, out, false, false);
}

/// ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED
pub(crate) fn enum_value_no_delete_unless_name_reserved(
    p: &EnumDescriptor,
    c: &EnumDescriptor,
    out: &mut Findings,
) {
    value_no_delete_with(p, c, out, false, true);
}

/// ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED
pub(crate) fn enum_value_no_delete_unless_number_reserved(
    p: &EnumDescriptor,
    c: &EnumDescriptor,
    out: &mut Findings,
) {
    value_no_delete_with(p, c, out, true, false);
}

/// RESERVED_ENUM_NO_DELETE
pub(crate) fn reserved_enum_no_delete(p: &EnumDescriptor, c: &EnumDescriptor, out: &mut Findings) {
    let ranges = |e: &EnumDescriptor| {
        e.reserved_ranges()
            .map(|r| (i64::from(*r.start()), i64::from(*r.end())))
            .collect::<Vec<_>>()
    };
    check_ranges(
        "reserved",
        "enum",
        c.name(),
        ENUM_MAX,
        ranges(p),
        ranges(c),
        (enum_loc(p), enum_loc(c)),
        out,
    );
    check_reserved_names(
        "enum",
        c.name(),
        p.reserved_names(),
        c.reserved_names(),
        (enum_loc(p), enum_loc(c)),
        "",
        out,
    );
}

/// ENUM_VALUE_SAME_NAME
pub(crate) fn enum_value_same_name(
    p: &[EnumValueDescriptor],
    c: &[EnumValueDescriptor],
    out: &mut Findings,
) {
    let before: Vec<&str> = p.iter().map(EnumValueDescriptor::name).collect();
    let after: Vec<&str> = c.iter().map(EnumValueDescriptor::name).collect();
    if before.iter().all(|name| after.contains(name)) {
        return;
    }
    let quote = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plural = if before.len() > 1 && after.len() > 1 {
        "s"
    } else {
        ""
    };
    for value in c {
        let previous = p
            .iter()
            .find(|v| v.name() == value.name())
            .map(|v| loc(&v.parent_file(), v.path()).child(&[2]));
        out.push(
            Some(loc(&value.parent_file(), value.path()).child(&[2])),
            previous,
            format!(
                "Enum value \"{}\" on enum \"{}\" changed name{plural} from {} to {}.",
                value.number(),
                value.parent_enum().name(),
                quote(&before),
                quote(&after)
            ),
        )
        .hint(format!(
            "keep the old name as an alias: option allow_alias = true; {} = {};",
            before.first().copied().unwrap_or_default(),
            value.number()
        ));
    }
}
