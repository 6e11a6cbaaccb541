//! Proto-aware equality of messages and values, and the first difference by path.
//!
//! `DynamicMessage`'s derived `PartialEq` compares storage, not meaning: NaN never equals itself,
//! an implicit-presence field stored with its default differs from an absent one, and an `Any`
//! holding a map compares its (unordered) payload bytes. This module compares what a reader
//! observes instead:
//! - floats are equal when both are NaN, or when `a == b` (so `-0.0 == 0.0`: prost-reflect, like
//!   the protobuf spec for implicit presence, does not write a zero of either sign);
//! - fields are compared through `get_field` (defaults included), plus presence where the field
//!   tracks it; a message field unset on both sides is equal without descending into it, so
//!   recursive types end;
//! - `Any` payloads whose type the pool resolves are decoded and compared as messages (the packed
//!   bytes of equal messages may differ: map entries have no fixed order);
//! - unknown fields (compared as their encodings, number by number) and extensions count only
//!   when [`EqOptions`] says so: request matching ignores them, round trips compare them.
//!
//! One walker serves [`message_eq`], [`value_eq`] and [`diff`]. It is generic over what a
//! difference produces: nothing at all for the equalities (no strings are built, equal or not,
//! which keeps request matching cheap), or a [`Mismatch`] whose path is assembled on the way back
//! up the recursion, only once a difference is found.

use prost_reflect::{DynamicMessage, FieldDescriptor, MapKey, ReflectMessage as _, Value};

use super::{
    kinds::key_text,
    show::{Style, hex, show},
};

/// What counts besides the declared fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EqOptions {
    /// Compare unknown fields (as their encodings, ordered by number).
    pub(crate) unknown_fields: bool,
    /// Compare extensions.
    pub(crate) extensions: bool,
}

impl EqOptions {
    /// Declared fields only: what the fake's request matchers use.
    pub(crate) const MATCHING: Self = Self {
        unknown_fields: false,
        extensions: false,
    };
    /// Everything a reader can observe: what the round-trip properties use.
    pub(crate) const EXACT: Self = Self {
        unknown_fields: true,
        extensions: true,
    };
}

/// Where two messages first differ, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The field path, e.g. `items[2].tags["a"]`; empty for the whole message.
    pub(crate) path: String,
    pub(crate) expected: String,
    pub(crate) actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at `{}`: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

/// Whether two messages are equal (see the module docs for what counts).
pub(crate) fn message_eq(a: &DynamicMessage, b: &DynamicMessage, opts: EqOptions) -> bool {
    messages::<Equal>(a, b, opts).is_ok()
}

/// Whether two values are equal; NaN equals NaN and messages compare as in [`message_eq`].
pub(crate) fn value_eq(a: &Value, b: &Value, opts: EqOptions) -> bool {
    values::<Equal>(a, b, opts).is_ok()
}

/// Compares two messages of the same type; `None` when equal, else the first difference.
pub(crate) fn diff(
    expected: &DynamicMessage,
    actual: &DynamicMessage,
    opts: EqOptions,
) -> Option<Mismatch> {
    messages::<Found>(expected, actual, opts)
        .err()
        .map(Found::into_mismatch)
}

/// The message packed in an `Any`, when the pool knows its type (the name after the type URL's
/// last `/`; a URL without one is invalid, as for prost-reflect's JSON mapping) and the bytes
/// decode.
pub(crate) fn unpack_any(any: &DynamicMessage) -> Option<DynamicMessage> {
    let type_url = any.get_field_by_number(1)?;
    let name = type_url.as_str()?.rsplit_once('/')?.1;
    let desc = any.descriptor().parent_pool().get_message_by_name(name)?;
    let value = any.get_field_by_number(2)?;
    DynamicMessage::decode(desc, value.as_bytes()?.as_ref()).ok()
}

/// The encodings of a message's unknown fields, ordered by number (stable within a number).
pub(crate) fn unknown_encodings(m: &DynamicMessage) -> Vec<Vec<u8>> {
    let mut fields: Vec<(u32, Vec<u8>)> = m
        .unknown_fields()
        .map(|f| {
            let mut buf = Vec::new();
            f.encode(&mut buf);
            (f.number(), buf)
        })
        .collect();
    fields.sort_by_key(|(n, _)| *n);
    fields.into_iter().map(|(_, b)| b).collect()
}

/// One step of a path, borrowed while comparing.
enum Step<'a> {
    /// A field name, joined with `.`.
    Field(&'a str),
    /// A list index, `[i]`.
    Index(usize),
    /// A map key, `[key]`.
    Key(&'a MapKey),
    /// Text appended as is (`.type_url`, `<unknown fields>`).
    Raw(&'static str),
}

/// What the walker returns for a difference.
trait Outcome: Sized {
    /// Whether the difference is described; if not, the cheapest comparison is enough.
    const DESCRIBES: bool;
    /// A difference here, with how each side shows (called only when it is described).
    fn differ(expected: impl FnOnce() -> String, actual: impl FnOnce() -> String) -> Self;
    /// The same difference, seen from one step further out.
    fn within(self, step: Step<'_>) -> Self;
}

/// A difference that is only counted, for the equalities.
struct Equal;

impl Outcome for Equal {
    const DESCRIBES: bool = false;
    fn differ(_: impl FnOnce() -> String, _: impl FnOnce() -> String) -> Self {
        Equal
    }
    fn within(self, _: Step<'_>) -> Self {
        self
    }
}

/// The path segments, innermost first, as rendered.
enum Segment {
    Field(String),
    Text(String),
}

/// A described difference, for [`diff`].
struct Found {
    segments: Vec<Segment>,
    expected: String,
    actual: String,
}

impl Outcome for Found {
    const DESCRIBES: bool = true;
    fn differ(expected: impl FnOnce() -> String, actual: impl FnOnce() -> String) -> Self {
        Found {
            segments: Vec::new(),
            expected: expected(),
            actual: actual(),
        }
    }
    fn within(mut self, step: Step<'_>) -> Self {
        self.segments.push(match step {
            Step::Field(name) => Segment::Field(name.to_owned()),
            Step::Index(i) => Segment::Text(format!("[{i}]")),
            Step::Key(key) => Segment::Text(format!("[{}]", key_text(key))),
            Step::Raw(text) => Segment::Text(text.to_owned()),
        });
        self
    }
}

impl Found {
    fn into_mismatch(self) -> Mismatch {
        let mut path = String::new();
        for segment in self.segments.iter().rev() {
            match segment {
                Segment::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Segment::Text(text) => path.push_str(text),
            }
        }
        Mismatch {
            path,
            expected: self.expected,
            actual: self.actual,
        }
    }
}

/// How round-trip mismatches show values.
fn shown(value: &Value) -> String {
    show(value, None, Style::EXACT)
}

fn presence(m: &DynamicMessage, field: &FieldDescriptor) -> String {
    if m.has_field(field) {
        shown(&m.get_field(field))
    } else {
        "unset".to_owned()
    }
}

fn type_url(any: &DynamicMessage) -> String {
    let url = any.get_field_by_number(1);
    format!("{:?}", url.as_deref().and_then(Value::as_str).unwrap_or(""))
}

fn messages<O: Outcome>(a: &DynamicMessage, b: &DynamicMessage, opts: EqOptions) -> Result<(), O> {
    let desc = a.descriptor();
    if desc != b.descriptor() {
        return Err(O::differ(
            || desc.full_name().to_owned(),
            || b.descriptor().full_name().to_owned(),
        ));
    }
    if desc.full_name() == "google.protobuf.Any"
        && let (Some(x), Some(y)) = (unpack_any(a), unpack_any(b))
    {
        if x.descriptor() != y.descriptor() {
            return Err(O::differ(|| type_url(a), || type_url(b)).within(Step::Raw(".type_url")));
        }
        return messages(&x, &y, opts);
    }
    for field in desc.fields() {
        let within = |o: O| o.within(Step::Field(field.name()));
        if !field.is_list() && !field.is_map() && field.supports_presence() {
            match (a.has_field(&field), b.has_field(&field)) {
                // Both unset: equal, without descending into (possibly recursive) defaults.
                (false, false) => continue,
                (true, true) => {}
                _ => {
                    return Err(within(O::differ(
                        || presence(a, &field),
                        || presence(b, &field),
                    )));
                }
            }
        }
        values(&a.get_field(&field), &b.get_field(&field), opts).map_err(within)?;
    }
    if opts.unknown_fields
        && (a.unknown_fields().next().is_some() || b.unknown_fields().next().is_some())
    {
        let (ua, ub) = (unknown_encodings(a), unknown_encodings(b));
        if ua != ub {
            let show = |u: &[Vec<u8>]| u.iter().map(|b| hex(b)).collect::<Vec<_>>().join(" ");
            return Err(O::differ(|| show(&ua), || show(&ub)).within(Step::Raw("<unknown fields>")));
        }
    }
    if opts.extensions {
        let (na, nb) = (a.extensions().count(), b.extensions().count());
        let differ = na != nb
            || a.extensions()
                .zip(b.extensions())
                .any(|((da, va), (db, vb))| da.number() != db.number() || !value_eq(va, vb, opts));
        if differ {
            return Err(
                O::differ(|| format!("{na} extensions"), || format!("{nb} extensions"))
                    .within(Step::Raw("<extensions>")),
            );
        }
    }
    Ok(())
}

fn values<O: Outcome>(a: &Value, b: &Value, opts: EqOptions) -> Result<(), O> {
    match (a, b) {
        (Value::Message(x), Value::Message(y)) => messages(x, y, opts),
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Err(O::differ(|| shown(a), || shown(b)));
            }
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                values(x, y, opts).map_err(|o: O| o.within(Step::Index(i)))?;
            }
            Ok(())
        }
        (Value::Map(x), Value::Map(y)) if !O::DESCRIBES => {
            let equal = x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| value_eq(v, w, opts)));
            if equal {
                Ok(())
            } else {
                Err(O::differ(String::new, String::new))
            }
        }
        (Value::Map(x), Value::Map(y)) => {
            // The first differing key in key order, so that the report is stable.
            let mut keys: Vec<&MapKey> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                match (x.get(key), y.get(key)) {
                    (Some(vx), Some(vy)) => {
                        values(vx, vy, opts).map_err(|o: O| o.within(Step::Key(key)))?;
                    }
                    (vx, vy) => {
                        let entry =
                            |v: Option<&Value>| v.map_or_else(|| "no entry".to_owned(), shown);
                        return Err(O::differ(|| entry(vx), || entry(vy)).within(Step::Key(key)));
                    }
                }
            }
            Ok(())
        }
        (Value::F32(x), Value::F32(y)) if x == y || (x.is_nan() && y.is_nan()) => Ok(()),
        (Value::F64(x), Value::F64(y)) if x == y || (x.is_nan() && y.is_nan()) => Ok(()),
        _ if a == b => Ok(()),
        _ => Err(O::differ(|| shown(a), || shown(b))),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, MapKey, MessageDescriptor, ReflectMessage as _, Value};

    use super::{EqOptions, diff, message_eq, value_eq};
    use crate::Schema;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        import "google/protobuf/any.proto";
        message Node {
            int32 n = 1;
            optional int32 o = 2;
            Node child = 3;
            repeated double xs = 4;
            map<string, Node> kids = 5;
            google.protobuf.Any any = 6;
            string s = 7;
        }
    "#;

    fn node() -> MessageDescriptor {
        let schema = Schema::from_sources([("t.proto", PROTO)]).unwrap_or_else(|e| panic!("{e}"));
        schema
            .pool()
            .get_message_by_name("t.Node")
            .unwrap_or_else(|| unreachable!())
    }

    fn both(a: &DynamicMessage, b: &DynamicMessage) -> (bool, bool) {
        (
            message_eq(a, b, EqOptions::MATCHING),
            message_eq(a, b, EqOptions::EXACT),
        )
    }

    #[test]
    fn nan_equals_nan_and_zeros_of_either_sign_are_equal() {
        let (nan, zero) = (Value::F64(f64::NAN), Value::F64(0.0));
        assert!(value_eq(&nan, &nan.clone(), EqOptions::EXACT));
        assert!(value_eq(&zero, &Value::F64(-0.0), EqOptions::MATCHING));
        assert!(!value_eq(&nan, &zero, EqOptions::MATCHING));
        assert!(value_eq(
            &Value::F32(f32::NAN),
            &Value::F32(f32::NAN),
            EqOptions::EXACT
        ));
    }

    #[test]
    fn presence_counts_where_the_field_tracks_it() {
        let desc = node();
        let unset = DynamicMessage::new(desc.clone());
        let mut zero = DynamicMessage::new(desc);
        zero.set_field_by_name("o", Value::I32(0));
        assert_eq!(both(&unset, &zero), (false, false));
        let m = diff(&unset, &zero, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `o`: expected unset, got 0");
        // Implicit presence: a zero reads like an unset field.
        let mut n = unset.clone();
        n.set_field_by_name("n", Value::I32(0));
        assert_eq!(both(&unset, &n), (true, true));
    }

    #[test]
    fn recursive_types_compare_without_walking_unset_defaults() {
        let desc = node();
        let a = DynamicMessage::new(desc.clone());
        assert_eq!(both(&a, &a.clone()), (true, true));
        let mut deep = DynamicMessage::new(desc.clone());
        let mut child = DynamicMessage::new(desc.clone());
        child.set_field_by_name("n", Value::I32(3));
        deep.set_field_by_name("child", Value::Message(child));
        let mut other = deep.clone();
        let mut child = DynamicMessage::new(desc);
        child.set_field_by_name("n", Value::I32(4));
        other.set_field_by_name("child", Value::Message(child));
        let m = diff(&deep, &other, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `child.n`: expected 3, got 4");
    }

    #[test]
    fn paths_name_list_indices_and_map_keys() {
        let desc = node();
        let mut a = DynamicMessage::new(desc.clone());
        a.set_field_by_name("xs", Value::List(vec![Value::F64(1.0), Value::F64(2.0)]));
        let mut b = a.clone();
        b.set_field_by_name("xs", Value::List(vec![Value::F64(1.0), Value::F64(2.5)]));
        let m = diff(&a, &b, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `xs[1]`: expected 2.0, got 2.5");
        b.set_field_by_name("xs", Value::List(vec![Value::F64(1.0)]));
        let m = diff(&a, &b, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `xs`: expected [1.0, 2.0], got [1.0]");

        let kid = |n| {
            let mut k = DynamicMessage::new(desc.clone());
            k.set_field_by_name("n", Value::I32(n));
            Value::Message(k)
        };
        let map = |entries: Vec<(&str, Value)>| {
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (MapKey::String(k.to_owned()), v))
                    .collect(),
            )
        };
        let mut a = DynamicMessage::new(desc.clone());
        a.set_field_by_name("kids", map(vec![("a", kid(1)), ("b", kid(2))]));
        let mut b = DynamicMessage::new(desc.clone());
        b.set_field_by_name("kids", map(vec![("a", kid(1)), ("b", kid(5))]));
        assert_eq!(both(&a, &b), (false, false));
        let m = diff(&a, &b, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `kids[\"b\"].n`: expected 2, got 5");
        b.set_field_by_name("kids", map(vec![("a", kid(1))]));
        let m = diff(&a, &b, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(
            m.to_string(),
            "at `kids[\"b\"]`: expected {\"n\":2}, got no entry"
        );
    }

    #[test]
    fn unknown_fields_count_only_when_exact() {
        let desc = node();
        let a = DynamicMessage::new(desc.clone());
        // Field 99, varint 1.
        let b = DynamicMessage::decode(desc, [0x98, 0x06, 0x01].as_slice())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(both(&a, &b), (true, false));
        let m = diff(&a, &b, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(
            m.to_string(),
            "at `<unknown fields>`: expected , got 98 06 01"
        );
        let without = EqOptions {
            unknown_fields: false,
            extensions: true,
        };
        assert_eq!(diff(&a, &b, without), None);
    }

    #[test]
    fn any_payloads_compare_decoded_whatever_their_byte_order() {
        let desc = node();
        let any_desc = match desc.get_field_by_name("any").map(|f| f.kind()) {
            Some(prost_reflect::Kind::Message(m)) => m,
            _ => unreachable!(),
        };
        let pack = |payload: &DynamicMessage, bytes: Vec<u8>| {
            let mut any = DynamicMessage::new(any_desc.clone());
            any.set_field_by_number(
                1,
                Value::String(format!(
                    "type.googleapis.com/{}",
                    payload.descriptor().full_name()
                )),
            );
            any.set_field_by_number(2, Value::Bytes(bytes.into()));
            let mut m = DynamicMessage::new(desc.clone());
            m.set_field_by_name("any", Value::Message(any));
            m
        };
        let mut payload = DynamicMessage::new(desc.clone());
        payload.set_field_by_name("n", Value::I32(1));
        payload.set_field_by_name("s", Value::String("x".into()));
        // The same fields in the other order on the wire.
        let forward = payload.encode_to_vec();
        let mut backward = Vec::new();
        backward.extend_from_slice(&forward[2..]);
        backward.extend_from_slice(&forward[..2]);
        let (a, b) = (pack(&payload, forward), pack(&payload, backward));
        assert_eq!(both(&a, &b), (true, true));
        let mut other = payload.clone();
        other.set_field_by_name("n", Value::I32(2));
        let c = pack(&other, other.encode_to_vec());
        let m = diff(&a, &c, EqOptions::EXACT).unwrap_or_else(|| unreachable!());
        assert_eq!(m.to_string(), "at `any.n`: expected 1, got 2");
    }
}
