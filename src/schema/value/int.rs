//! Integers as the wire carries them: what a reader of one integer kind makes of a value written
//! as another, and why it changed.
//!
//! Varints carry 64 bits (negative `int32`s are sign-extended) and 32-bit readers keep the low
//! 32; `sint*` zigzag-encode; fixed-width kinds carry raw bits that the reader's signedness
//! interprets; `bool` reads any non-zero varint as `true`. The breaking checker uses this to find
//! a value that a lossy type change alters, the round-trip engine to classify what it observed.

use prost_reflect::{Kind, Value};

/// The integer a value holds (bools as 0 and 1, enum numbers as numbers); `None` for others.
pub(crate) fn as_int(value: &Value) -> Option<i128> {
    Some(match value {
        Value::Bool(b) => i128::from(*b),
        Value::I32(v) | Value::EnumNumber(v) => i128::from(*v),
        Value::I64(v) => i128::from(*v),
        Value::U32(v) => i128::from(*v),
        Value::U64(v) => i128::from(*v),
        _ => return None,
    })
}

/// The values an integer kind (or `bool`) can hold: `(min, max)`.
pub(crate) fn int_range(kind: &Kind) -> Option<(i128, i128)> {
    Some(match kind {
        Kind::Bool => (0, 1),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => (i32::MIN.into(), i32::MAX.into()),
        Kind::Uint32 | Kind::Fixed32 => (0, u32::MAX.into()),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => (i64::MIN.into(), i64::MAX.into()),
        Kind::Uint64 | Kind::Fixed64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

/// How many bits a kind keeps: 64, 1 for `bool`, else 32 (enums included).
fn width(kind: &Kind) -> u32 {
    match kind {
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => 64,
        Kind::Bool => 1,
        _ => 32,
    }
}

/// The wire bits of an integer written as `kind` (the varint's value, or the fixed-width bits).
fn encode_bits(value: i128, kind: &Kind) -> Option<u64> {
    Some(match kind {
        Kind::Int32 | Kind::Int64 | Kind::Sfixed64 => value as i64 as u64,
        Kind::Uint32 | Kind::Uint64 | Kind::Fixed64 => value as u64,
        Kind::Bool => u64::from(value != 0),
        Kind::Sint32 => {
            let v = value as i32;
            u64::from(((v << 1) ^ (v >> 31)) as u32)
        }
        Kind::Sint64 => {
            let v = value as i64;
            ((v << 1) ^ (v >> 63)) as u64
        }
        Kind::Fixed32 => u64::from(value as u32),
        Kind::Sfixed32 => u64::from(value as i32 as u32),
        _ => return None,
    })
}

/// What a reader of `kind` makes of wire bits.
fn decode_bits(bits: u64, kind: &Kind) -> Option<Value> {
    Some(match kind {
        Kind::Int32 | Kind::Sfixed32 => Value::I32(bits as u32 as i32),
        Kind::Int64 | Kind::Sfixed64 => Value::I64(bits as i64),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(bits as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(bits),
        Kind::Bool => Value::Bool(bits != 0),
        Kind::Sint32 => {
            let b = bits as u32;
            Value::I32(((b >> 1) as i32) ^ -((b & 1) as i32))
        }
        Kind::Sint64 => Value::I64(((bits >> 1) as i64) ^ -((bits & 1) as i64)),
        _ => return None,
    })
}

/// Reads an integer written as `old` back as `new`, following the wire format: varints are
/// truncated to 32 bits for 32-bit types, zigzag is undone, fixed-width bits are reinterpreted.
/// `None` when either kind is not an integer kind or `bool`.
pub(crate) fn reinterpret(value: i128, old: &Kind, new: &Kind) -> Option<Value> {
    decode_bits(encode_bits(value, old)?, new)
}

/// Why an integer read back as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntChange {
    /// A narrower kind kept the low bits.
    Truncated,
    /// The same bits, read with the other signedness.
    SignFlipped,
    /// Anything else (zigzag against two's complement, `bool`).
    Changed,
}

/// Classifies `old` (written as `old_kind`) read back as a different `new` (of `new_kind`).
pub(crate) fn classify(old: i128, old_kind: &Kind, new: i128, new_kind: &Kind) -> IntChange {
    let (ob, nb) = (width(old_kind), width(new_kind));
    if nb == 1 || ob == 1 {
        return IntChange::Changed;
    }
    let low = |v: i128, b: u32| v.rem_euclid(1i128 << b);
    if nb < ob && low(old, nb) == low(new, nb) {
        return IntChange::Truncated;
    }
    let width = nb.min(ob);
    if low(old, width) == low(new, width) && (old < 0) != (new < 0) {
        return IntChange::SignFlipped;
    }
    IntChange::Changed
}

#[cfg(test)]
mod tests {
    use prost_reflect::{Kind, Value};

    use super::reinterpret;

    #[test]
    fn reinterpret_follows_the_wire_format() {
        let r = |v, old: Kind, new: Kind| reinterpret(v, &old, &new);
        assert_eq!(
            r(4_294_967_301, Kind::Int64, Kind::Int32),
            Some(Value::I32(5))
        );
        assert_eq!(
            r(i128::from(u32::MAX), Kind::Uint32, Kind::Int32),
            Some(Value::I32(-1))
        );
        assert_eq!(r(2, Kind::Int64, Kind::Bool), Some(Value::Bool(true)));
        assert_eq!(r(-1, Kind::Int32, Kind::Int64), Some(Value::I64(-1)));
        assert_eq!(
            r(4_294_967_301, Kind::Sint64, Kind::Sint32),
            Some(Value::I32(5))
        );
        assert_eq!(r(-1, Kind::Int32, Kind::Sint32), Some(Value::I32(i32::MIN)));
        assert_eq!(r(1, Kind::Int32, Kind::String), None);
    }
}
