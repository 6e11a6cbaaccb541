//! What the rules stand on, like buf's `breaking_util`: the pair walker that indexes both sides
//! and pairs their elements ([`walk`]), the [`Field`] the field rules compare, element
//! locations, the per-file index of declarations, number ranges, buf's kind and cardinality
//! tables, and editions features.
//!
//! The rule files (`rules/`) are leaves: they import only this module, `finding` and `schema`,
//! never each other, so a rule is read (and changed) in one place. Anything two rule files
//! share lives here.

mod declared;
mod features;
mod field;
mod locate;
mod ranges;
mod types;
mod walk;

pub(crate) use self::{
    declared::Declared,
    features::{Feature, message_chain, resolve, resolve_extension},
    field::Field,
    locate::{TYPE_NAME, deleted_element_loc, loc, message_loc},
    ranges::{ENUM_MAX, MESSAGE_MAX, MESSAGE_SET_MAX, check_ranges, check_reserved_names},
    types::{Card, kind_name, lossy_witness, read_as, type_name, wire_group, wire_json_group},
    walk::{Pairs, Side, values_by_number},
};
