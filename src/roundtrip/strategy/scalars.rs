//! Strategies for single values: every scalar over its full range with a bias towards edge
//! values, strings and bytes, enum numbers, map keys and `FieldMask` paths.

use proptest::{collection::vec, prelude::*, sample::select, strategy::BoxedStrategy};
use prost::bytes::Bytes;
use prost_reflect::{EnumDescriptor, Kind, MapKey};

pub(super) fn map_key(kind: &Kind) -> BoxedStrategy<MapKey> {
    match kind {
        Kind::Bool => any::<bool>().prop_map(MapKey::Bool).boxed(),
        Kind::String => arb_string(8).prop_map(MapKey::String).boxed(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => arb_i32().prop_map(MapKey::I32).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => arb_i64().prop_map(MapKey::I64).boxed(),
        Kind::Uint32 | Kind::Fixed32 => arb_u32().prop_map(MapKey::U32).boxed(),
        Kind::Uint64 | Kind::Fixed64 => arb_u64().prop_map(MapKey::U64).boxed(),
        // protoc rejects other key types; keep the generator total anyway.
        _ => arb_string(8).prop_map(MapKey::String).boxed(),
    }
}

/// Known values first (so shrinking lands on the enum's first value); open enums also draw any
/// number, which readers must keep. `google.protobuf.NullValue` only has `NULL_VALUE`: its JSON
/// form is `null` whatever the number.
pub(super) fn arb_enum(desc: &EnumDescriptor) -> BoxedStrategy<i32> {
    let known: Vec<i32> = desc.values().map(|v| v.number()).collect();
    if desc.full_name() == "google.protobuf.NullValue" || known.is_empty() {
        return Just(known.first().copied().unwrap_or(0)).boxed();
    }
    let known = select(known);
    if crate::schema::enum_is_closed(desc) {
        known.boxed()
    } else {
        prop_oneof![4 => known, 1 => any::<i32>()].boxed()
    }
}

macro_rules! int_strategy {
    ($name:ident, $t:ty, [$($edge:expr),*]) => {
        pub(super) fn $name() -> BoxedStrategy<$t> {
            prop_oneof![
                3 => any::<$t>(),
                1 => select(vec![$($edge),*]),
            ]
            .boxed()
        }
    };
}

int_strategy!(arb_i32, i32, [0, 1, -1, i32::MIN, i32::MAX]);
int_strategy!(
    arb_i64,
    i64,
    [0, 1, -1, i64::MIN, i64::MAX, i64::from(i32::MIN) - 1]
);
int_strategy!(arb_u32, u32, [0, 1, u32::MAX, 1 << 31]);
int_strategy!(arb_u64, u64, [0, 1, u64::MAX, 1 << 63, 1 << 32]);

pub(super) fn arb_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => proptest::num::f64::ANY,
        1 => select(vec![0.0, -0.0, f64::MIN, f64::MAX, f64::MIN_POSITIVE, f64::EPSILON, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
    ]
    .boxed()
}

pub(super) fn arb_f32() -> BoxedStrategy<f32> {
    prop_oneof![
        3 => proptest::num::f32::ANY,
        1 => select(vec![0.0, -0.0, f32::MIN, f32::MAX, f32::MIN_POSITIVE, f32::EPSILON, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
    ]
    .boxed()
}

/// prost-reflect 0.16 reads a JSON `float` as an `f64` and rejects it when it exceeds `f32::MAX`,
/// so `±f32::MAX` (written as `3.4028235e38`, which is slightly larger as an `f64`) cannot come
/// back from JSON. JSON-checked runs use the next float towards zero instead.
pub(super) fn json_safe_f32(v: f32) -> f32 {
    let too_large = v.is_finite()
        && format!("{v}")
            .parse::<f64>()
            .is_ok_and(|p| p.abs() > f64::from(f32::MAX));
    if too_large {
        v.abs().next_down().copysign(v)
    } else {
        v
    }
}

pub(super) fn finite_f64() -> BoxedStrategy<f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

pub(super) fn finite_f32() -> BoxedStrategy<f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).boxed()
}

/// Any Unicode scalar values, including control characters and astral planes; empty strings
/// come first when shrinking.
pub(super) fn arb_string(max: usize) -> BoxedStrategy<String> {
    // Lower-case letters first, so that shrinking ends on `"a"` rather than `"\u{0}"`.
    let ch = prop_oneof![2 => proptest::char::range('a', 'z'), 1 => any::<char>()];
    vec(ch, 0..=max).prop_map(String::from_iter).boxed()
}

pub(super) fn arb_bytes(max: usize) -> BoxedStrategy<Bytes> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..=32),
        1 => vec(any::<u8>(), 0..=max.max(33)),
    ]
    .prop_map(Bytes::from)
    .boxed()
}

/// A `FieldMask` path (`a.b_c`) whose segments survive snake_case → lowerCamelCase → snake_case.
pub(super) fn arb_field_path() -> BoxedStrategy<String> {
    let segment = proptest::string::string_regex("[a-z][a-z0-9]{0,5}(_[a-z][a-z0-9]{0,3}){0,2}")
        .unwrap_or_else(|err| unreachable!("the field-path regex is valid: {err}"));
    vec(segment, 1..=3)
        .prop_map(|parts| parts.join("."))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::json_safe_f32;

    #[test]
    fn roundtrip_json_safe_f32_only_moves_the_largest_floats() {
        assert_eq!(json_safe_f32(1.5), 1.5);
        assert_eq!(json_safe_f32(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
        assert!(json_safe_f32(f32::NAN).is_nan());
        assert_eq!(json_safe_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(json_safe_f32(f32::MAX), f32::MAX.next_down());
        assert_eq!(json_safe_f32(f32::MIN), f32::MIN.next_up());
    }
}
