//! Tests on one value: equality (proto-aware), regular expressions, globs, containment,
//! presence, order, length, order-insensitive lists, and their combinations.
//!
//! A test reads the value as protobuf stores it (`Value`), with whether the field is present, so
//! `present` sees proto3 `optional` and oneof members, `gt` compares numbers, enum numbers,
//! `Timestamp`s and `Duration`s, and `contains` looks into strings, repeated fields and maps.

use std::{borrow::Cow, cmp::Ordering};

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};

use crate::schema::value::{
    eq::{self, EqOptions},
    show::{Style, show, show_field as show_value},
};

/// Equality as matchers see it: declared fields only (unknown fields and extensions ignored).
fn value_eq(a: &Value, b: &Value) -> bool {
    eq::value_eq(a, b, EqOptions::MATCHING)
}

/// A value without its field: strings quoted, bytes in base64, enums by number.
pub(crate) fn show_plain(value: &Value) -> String {
    show(value, None, Style::MATCHING)
}

/// One field (possibly nested) and the test its value must pass.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FieldCheck {
    /// Message fields from the top-level message down to the tested field.
    pub path: Vec<FieldDescriptor>,
    /// The test; a plain value in YAML is [`Test::Equals`], where a default value matches only
    /// an unset field.
    pub test: Test,
}

impl FieldCheck {
    /// Checks the field at `path` with `test`.
    pub fn new(path: Vec<FieldDescriptor>, test: Test) -> Self {
        Self { path, test }
    }

    fn name(&self) -> String {
        self.path
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The value at `path` in `message` (borrowed when set), whether it is present, and the
    /// field.
    pub(crate) fn actual<'m>(
        &self,
        message: &'m DynamicMessage,
    ) -> Option<(Cow<'m, Value>, bool, &FieldDescriptor)> {
        let (last, parents) = self.path.split_last()?;
        let mut current = message;
        for field in parents {
            match current.get_field(field) {
                Cow::Borrowed(Value::Message(m)) if current.has_field(field) => current = m,
                // An unset parent: every field below it reads as its default and is absent.
                _ => {
                    return Some((
                        Cow::Owned(Value::default_value_for_field(last)),
                        false,
                        last,
                    ));
                }
            }
        }
        Some((current.get_field(last), current.has_field(last), last))
    }

    pub(crate) fn holds(&self, message: &DynamicMessage) -> bool {
        self.actual(message)
            .is_none_or(|(actual, present, _)| self.test.passes(&actual, present))
    }

    /// Pushes why the check fails, with how far the value is from passing (0..1).
    pub(crate) fn explain(&self, message: &DynamicMessage, out: &mut Vec<Miss>) {
        if let Some((actual, present, field)) = self.actual(message)
            && !self.test.passes(&actual, present)
        {
            out.push(Miss {
                reason: format!(
                    "field `{}`: expected {}, got {}",
                    self.name(),
                    self.test.describe(Some(field)),
                    if present || !field.supports_presence() {
                        show_value(&actual, field)
                    } else {
                        "unset".to_owned()
                    }
                ),
                distance: self.test.distance(&actual),
            });
        }
    }
}

/// Why a stub did not match, and how close it came (0: nearly, 1: not at all).
#[derive(Debug, Clone)]
pub(crate) struct Miss {
    pub(crate) reason: String,
    pub(crate) distance: f64,
}

impl Miss {
    pub(crate) fn whole(reason: String) -> Self {
        Self {
            reason,
            distance: 1.0,
        }
    }
}

/// An order comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cmp {
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
}

impl Cmp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Gt => ordering == Ordering::Greater,
            Cmp::Gte => ordering != Ordering::Less,
            Cmp::Lt => ordering == Ordering::Less,
            Cmp::Lte => ordering != Ordering::Greater,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }
}

/// A test on one value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Test {
    /// Equal, proto-aware (a default value equals an unset field).
    Equals(Value),
    /// A message whose listed fields pass their checks.
    Partial(Vec<FieldCheck>),
    /// Text that the regular expression matches somewhere (linear-time engine).
    Regex(regex::Regex),
    /// Text that the glob (`*`, `?`, `[abc]`) matches whole; kept as written and as a regex.
    Glob(String, regex::Regex),
    /// Text containing the substring; a repeated field with an element passing the test; a map
    /// with the key (and, when given, a value passing the test).
    Contains(Contains),
    /// Present (`true`) or absent (`false`): field presence, or a header that is sent.
    Present(bool),
    /// An order comparison with a number, an enum, a string, a `Timestamp` or a `Duration`.
    Compare(Cmp, Value),
    /// The length (characters of text, bytes, items of a repeated field or map) passes the test.
    Len(Box<Test>),
    /// A repeated field with these elements, in any order.
    Unordered(Vec<Value>),
    /// At least one test passes.
    AnyOf(Vec<Test>),
    /// Every test passes.
    AllOf(Vec<Test>),
    /// The test fails.
    Not(Box<Test>),
}

/// What `contains` looks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Contains {
    /// A substring of text.
    Text(String),
    /// An element of a repeated field that passes the test.
    Element(Box<Test>),
    /// A map key, with a test on its value or not.
    Entry(MapKey, Option<Box<Test>>),
}

impl Test {
    /// Whether `value` (with its presence, of `field` when it is one) passes.
    pub(crate) fn passes(&self, value: &Value, present: bool) -> bool {
        match self {
            Test::Equals(expected) => value_eq(value, expected),
            Test::Partial(checks) => match value {
                Value::Message(m) => checks.iter().all(|c| c.holds(m)),
                _ => false,
            },
            Test::Regex(re) => text(value).is_some_and(|t| re.is_match(&t)),
            Test::Glob(_, re) => text(value).is_some_and(|t| re.is_match(&t)),
            Test::Contains(contains) => contains.holds(value),
            Test::Present(want) => present == *want,
            Test::Compare(cmp, expected) => {
                compare(value, expected).is_some_and(|ordering| cmp.holds(ordering))
            }
            Test::Len(test) => {
                length(value).is_some_and(|n| test.passes(&Value::U64(n as u64), true))
            }
            Test::Unordered(expected) => match value {
                Value::List(items) => unordered_eq(items, expected),
                _ => false,
            },
            Test::AnyOf(tests) => tests.iter().any(|t| t.passes(value, present)),
            Test::AllOf(tests) => tests.iter().all(|t| t.passes(value, present)),
            Test::Not(test) => !test.passes(value, present),
        }
    }

    /// How far `actual` is from passing, 0 (nearly) to 1 (not at all), for ranking near misses.
    pub(crate) fn distance(&self, actual: &Value) -> f64 {
        match (self, actual) {
            (Test::Equals(Value::String(expected)), Value::String(actual)) => {
                1.0 - strsim::jaro_winkler(expected, actual)
            }
            (Test::Equals(expected), actual) => match (number(expected), number(actual)) {
                (Some(a), Some(b)) if a != b => {
                    let scale = a.abs().max(b.abs()).max(1.0);
                    ((a - b).abs() / scale).min(1.0)
                }
                _ => 1.0,
            },
            _ => 1.0,
        }
    }

    /// The expectation in words, for explanations, e.g. `"ada"` or `a string matching /^u-/`.
    pub(crate) fn describe(&self, field: Option<&FieldDescriptor>) -> String {
        match self {
            Test::Equals(value) => match field {
                Some(field) => show_value(value, field),
                None => show_plain(value),
            },
            Test::Partial(checks) => format!(
                "a message with {}",
                checks
                    .iter()
                    .map(|c| {
                        let name: Vec<&str> = c.path.iter().map(|f| f.name()).collect();
                        format!("`{}` {}", name.join("."), c.test.describe(c.path.last()))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Test::Regex(re) => format!("text matching /{}/", re.as_str()),
            Test::Glob(glob, _) => format!("text matching the glob {glob:?}"),
            Test::Contains(Contains::Text(t)) => format!("text containing {t:?}"),
            Test::Contains(Contains::Element(test)) => {
                format!("an element that is {}", test.describe(field))
            }
            Test::Contains(Contains::Entry(key, None)) => format!("the key {}", show_key(key)),
            Test::Contains(Contains::Entry(key, Some(test))) => {
                format!("the key {} with {}", show_key(key), test.describe(None))
            }
            Test::Present(true) => "it to be present".into(),
            Test::Present(false) => "it to be absent".into(),
            Test::Compare(cmp, value) => format!("{} {}", cmp.symbol(), show_plain(value)),
            Test::Len(test) => format!("a length {}", test.describe(None)),
            Test::Unordered(values) => format!(
                "[{}] in any order",
                values.iter().map(show_plain).collect::<Vec<_>>().join(", ")
            ),
            Test::AnyOf(tests) => tests
                .iter()
                .map(|t| t.describe(field))
                .collect::<Vec<_>>()
                .join(" or "),
            Test::AllOf(tests) => tests
                .iter()
                .map(|t| t.describe(field))
                .collect::<Vec<_>>()
                .join(" and "),
            Test::Not(test) => format!("not {}", test.describe(field)),
        }
    }
}

impl Contains {
    fn holds(&self, value: &Value) -> bool {
        match (self, value) {
            (Contains::Text(needle), _) => text(value).is_some_and(|t| t.contains(needle.as_str())),
            (Contains::Element(test), Value::List(items)) => {
                items.iter().any(|item| test.passes(item, true))
            }
            (Contains::Entry(key, test), Value::Map(map)) => map
                .get(key)
                .is_some_and(|v| test.as_ref().is_none_or(|t| t.passes(v, true))),
            _ => false,
        }
    }
}

fn show_key(key: &MapKey) -> String {
    match key {
        MapKey::String(s) => format!("{s:?}"),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
    }
}

/// Text of a string (or of bytes, when they are UTF-8).
fn text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(s.as_str().into()),
        Value::Bytes(b) => std::str::from_utf8(b).ok().map(Into::into),
        _ => None,
    }
}

fn length(value: &Value) -> Option<usize> {
    Some(match value {
        Value::String(s) => s.chars().count(),
        Value::Bytes(b) => b.len(),
        Value::List(items) => items.len(),
        Value::Map(map) => map.len(),
        _ => return None,
    })
}

fn number(value: &Value) -> Option<f64> {
    Some(match value {
        Value::I32(v) => f64::from(*v),
        Value::I64(v) => *v as f64,
        Value::U32(v) => f64::from(*v),
        Value::U64(v) => *v as f64,
        Value::F32(v) => f64::from(*v),
        Value::F64(v) => *v,
        Value::EnumNumber(v) => f64::from(*v),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => return None,
    })
}

/// Seconds and nanos of a `Timestamp` or `Duration`.
fn seconds_nanos(message: &DynamicMessage) -> Option<(i64, i32)> {
    let name = message.descriptor().full_name().to_owned();
    if name != "google.protobuf.Timestamp" && name != "google.protobuf.Duration" {
        return None;
    }
    let seconds = message.get_field_by_name("seconds")?.as_i64()?;
    let nanos = message.get_field_by_name("nanos")?.as_i32()?;
    Some((seconds, nanos))
}

/// The order of two values of comparable kinds.
pub(crate) fn compare(actual: &Value, expected: &Value) -> Option<Ordering> {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Message(a), Value::Message(b)) => {
            let (a, b) = (seconds_nanos(a)?, seconds_nanos(b)?);
            Some(a.cmp(&b))
        }
        (Value::I64(a), Value::I64(b)) => Some(a.cmp(b)),
        (Value::U64(a), Value::U64(b)) => Some(a.cmp(b)),
        _ => number(actual)?.partial_cmp(&number(expected)?),
    }
}

fn unordered_eq(items: &[Value], expected: &[Value]) -> bool {
    if items.len() != expected.len() {
        return false;
    }
    let mut used = vec![false; expected.len()];
    items.iter().all(|item| {
        let found = expected
            .iter()
            .enumerate()
            .position(|(i, e)| !used[i] && value_eq(item, e));
        match found {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// A glob as an anchored regular expression: `*` any text, `?` one character, `[…]` a class.
pub(crate) fn glob_regex(glob: &str) -> Result<regex::Regex, regex::Error> {
    let mut pattern = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => pattern.push_str(".*"),
            '?' => pattern.push('.'),
            '[' => {
                pattern.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    pattern.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '^' {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
                pattern.push(']');
            }
            other => pattern.push_str(&regex::escape(&other.to_string())),
        }
    }
    pattern.push('$');
    regex::Regex::new(&pattern)
}

/// Whether an `Equals` test can key the route index (a hashable scalar).
pub(crate) fn is_indexable(kind: &Kind) -> bool {
    !matches!(kind, Kind::Message(_) | Kind::Float | Kind::Double)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_text() {
        let re = glob_regex("user-*.v?").unwrap();
        assert!(re.is_match("user-42.v1"));
        assert!(!re.is_match("xuser-42.v1"));
        assert!(glob_regex("[ab]c").unwrap().is_match("bc"));
        assert!(!glob_regex("[!ab]c").unwrap().is_match("bc"));
        assert!(glob_regex("a.b").unwrap().is_match("a.b"));
        assert!(!glob_regex("a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn comparisons_cover_numbers_and_text() {
        assert_eq!(
            compare(&Value::I32(5), &Value::I64(3)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&Value::String("b".into()), &Value::String("a".into())),
            Some(Ordering::Greater)
        );
        let test = Test::Len(Box::new(Test::Compare(Cmp::Gte, Value::U64(2))));
        assert!(test.passes(&Value::List(vec![Value::I32(1), Value::I32(2)]), true));
        assert!(!test.passes(&Value::List(vec![]), true));
        let unordered = Test::Unordered(vec![Value::I32(1), Value::I32(2)]);
        assert!(unordered.passes(&Value::List(vec![Value::I32(2), Value::I32(1)]), true));
    }
}
