//! The breaking checker's rule fixtures against the old-writer/new-reader property: every pair
//! whose change really loses or alters data gets a counterexample, and the pairs buf flags that
//! are in fact wire-safe are confirmed safe.

use grpc_double::{
    Schema,
    roundtrip::{Encoding, Options, check_compat},
};

fn pair(rule: &str) -> (Schema, Schema) {
    let load = |side: &str| {
        Schema::compile(
            [format!("fixtures/breaking/{rule}/{side}")],
            [] as [&str; 0],
        )
        .unwrap_or_else(|e| panic!("{rule}/{side}: {e}"))
    };
    (load("previous"), load("current"))
}

fn holds(rule: &str, encoding: Encoding) -> bool {
    let (previous, current) = pair(rule);
    let options = Options {
        seed: 1,
        cases: 128,
        encoding,
        ..Options::default()
    };
    check_compat(&previous, &current, &options)
        .unwrap()
        .passed()
}

#[test]
fn every_data_altering_rule_fixture_has_a_counterexample() {
    for rule in [
        "field_no_delete",
        "field_no_delete_unless_name_reserved",
        "field_no_delete_unless_number_reserved",
        "field_same_cardinality",
        "field_same_oneof",
        "field_wire_compatible_cardinality",
        "field_wire_json_compatible_cardinality",
        "field_wire_compatible_type",
        "field_wire_json_compatible_type",
        "field_wire_lossy_type",
        "message_same_required_fields",
    ] {
        for encoding in [Encoding::Binary, Encoding::Json] {
            assert!(
                !holds(rule, encoding),
                "{rule} ({}): the property found no counterexample",
                encoding.name()
            );
        }
    }
}

#[test]
fn renames_buf_flags_are_safe_on_the_wire_and_json_breaks_are_json_only() {
    // FIELD_SAME_TYPE's pair widens int32 → int64 and renames a message type to an identical one:
    // buf flags both, yet every value survives in binary and in JSON.
    assert!(holds("field_same_type", Encoding::Binary));
    assert!(holds("field_same_type", Encoding::Json));
    // A renamed field keeps its number: binary readers see the same data, JSON readers do not.
    assert!(holds("field_same_name", Encoding::Binary));
    assert!(!holds("field_same_name", Encoding::Json));
}
