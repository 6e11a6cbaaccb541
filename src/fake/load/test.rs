//! Tests on one value, as fixtures write them: a plain value means `equals`; a mapping of
//! operators (`regex`, `glob`, `contains`, `any_of`, `all_of`, `not`, `present`, `gt`, `gte`,
//! `lt`, `lte`, `len`, `ignore_order`) combines them. Several operators in one mapping must all
//! hold.
//!
//! A mapping on a message-typed field is a nested partial match unless every key is an operator
//! and none is a field of the message (`equals:` spells a literal match of such a message).

use std::collections::HashMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, Value};

use super::{
    convert::Converter,
    diagnostic::Code,
    scalar::{map_key, parse_scalar},
    yaml::{Node, NodeKind, Scalar},
};
use crate::fake::model::{Cmp, Contains, FieldCheck, Test, glob_regex};

/// The operator keys.
pub(crate) const OPERATORS: [&str; 14] = [
    "equals",
    "regex",
    "glob",
    "contains",
    "any_of",
    "all_of",
    "not",
    "present",
    "gt",
    "gte",
    "lt",
    "lte",
    "len",
    "ignore_order",
];

/// Whether `node` is a mapping of operators for a value of `kind` (not a literal message).
pub(crate) fn is_operators(node: &Node, kind: &Kind) -> bool {
    let Some(entries) = node.as_map() else {
        return false;
    };
    !entries.is_empty()
        && entries.iter().all(|(k, _)| {
            let key = k.as_scalar().map_or("", |s| s.text.as_str());
            OPERATORS.contains(&key)
                && match kind {
                    Kind::Message(m) => m.get_field_by_name(key).is_none(),
                    _ => true,
                }
        })
}

/// `when.message`: each written key becomes a check, even when it holds the default value
/// (`page_size: 0` matches only requests that leave `page_size` unset). Nested messages written
/// as mappings are matched field by field.
pub(crate) fn partial(
    conv: &mut Converter<'_>,
    node: &Node,
    desc: &MessageDescriptor,
    prefix: &[FieldDescriptor],
) -> Vec<FieldCheck> {
    if node.is_null() {
        return Vec::new();
    }
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            Code::ExpectedMessage,
            format!(
                "expected fields of `{}` to match, found {}",
                desc.full_name(),
                node.describe()
            ),
        )
        .label("expected a mapping")
        .emit(conv);
        return Vec::new();
    };
    let mut checks = Vec::new();
    let mut oneofs = HashMap::new();
    for (key, value) in entries {
        let Some(field) = conv.field_for_key(key, desc) else {
            continue;
        };
        if !conv.oneof_allows(key, &field, &mut oneofs) {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(field.clone());
        let nested = match field.kind() {
            Kind::Message(m)
                if !field.is_list()
                    && !field.is_map()
                    && !m.full_name().starts_with("google.protobuf.") =>
            {
                Some(m)
            }
            _ => None,
        };
        if let Some(m) = &nested
            && value.as_map().is_some_and(|e| !e.is_empty())
            && !is_operators(value, &field.kind())
        {
            checks.extend(partial(conv, value, m, &path));
            continue;
        }
        if let Some(test) = field_test(conv, value, &field) {
            checks.push(FieldCheck::new(path, test));
        }
    }
    checks
}

/// The test a node states for a whole field.
pub(crate) fn field_test(
    conv: &mut Converter<'_>,
    node: &Node,
    field: &FieldDescriptor,
) -> Option<Test> {
    if !is_operators(node, &field.kind()) {
        return conv.field_value(node, field).map(Test::Equals);
    }
    operators(conv, node, Target::Field(field))
}

/// What a test is on: a whole field, one element of a repeated field, or text (metadata).
#[derive(Clone, Copy)]
pub(crate) enum Target<'f> {
    Field(&'f FieldDescriptor),
    Element(&'f FieldDescriptor),
    /// A header value: text, or bytes for `-bin` headers (written in base64).
    Text {
        binary: bool,
    },
}

impl Target<'_> {
    fn kind(&self) -> Option<Kind> {
        match self {
            Target::Field(f) | Target::Element(f) => Some(f.kind()),
            Target::Text { .. } => None,
        }
    }

    fn is_list(&self) -> bool {
        matches!(self, Target::Field(f) if f.is_list())
    }
}

/// A literal value for the target.
fn literal(conv: &mut Converter<'_>, node: &Node, target: Target<'_>) -> Option<Value> {
    match target {
        Target::Field(field) => conv.field_value(node, field),
        Target::Element(field) => conv.element(node, field),
        Target::Text { binary } => {
            let Some(scalar) = node.as_scalar() else {
                conv.error(
                    node.span.clone(),
                    Code::BadHeader,
                    "header values are strings",
                )
                .label("expected a string")
                .emit(conv);
                return None;
            };
            if binary {
                match crate::schema::decode_base64(&scalar.text) {
                    Some(bytes) => Some(Value::Bytes(bytes)),
                    None => {
                        conv.error(
                            node.span.clone(),
                            Code::BadHeader,
                            "binary headers (`-bin`) are written in base64",
                        )
                        .label("not base64")
                        .emit(conv);
                        None
                    }
                }
            } else {
                Some(Value::String(scalar.text.clone()))
            }
        }
    }
}

/// A test for the target: a literal (equality), or a mapping of operators.
pub(crate) fn test(conv: &mut Converter<'_>, node: &Node, target: Target<'_>) -> Option<Test> {
    let kind = target.kind().unwrap_or(Kind::String);
    if let Target::Element(field) = target
        && let Kind::Message(m) = field.kind()
        && node.as_map().is_some()
        && !is_operators(node, &kind)
        && !m.full_name().starts_with("google.protobuf.")
    {
        return Some(Test::Partial(partial(conv, node, &m, &[])));
    }
    if node.as_map().is_some() && is_operators(node, &kind) {
        return operators(conv, node, target);
    }
    literal(conv, node, target).map(Test::Equals)
}

fn operators(conv: &mut Converter<'_>, node: &Node, target: Target<'_>) -> Option<Test> {
    let entries = node.as_map()?;
    let ignore_order = entries
        .iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "ignore_order"))
        .map(|(_, v)| v);
    let mut tests = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let op = key.as_scalar().map_or("", |s| s.text.as_str());
        let parsed = match op {
            "equals" => {
                let unordered = ignore_order
                    .and_then(Node::as_scalar)
                    .and_then(Scalar::as_bool)
                    .unwrap_or(false);
                match literal(conv, value, target)? {
                    Value::List(items) if unordered => Some(Test::Unordered(items)),
                    other => Some(Test::Equals(other)),
                }
            }
            "ignore_order" => {
                if !target.is_list()
                    || !entries
                        .iter()
                        .any(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "equals"))
                {
                    conv.error(
                        key.span.clone(),
                        Code::BadOperator,
                        "`ignore_order` goes with `equals` on a repeated field",
                    )
                    .label("nothing to reorder")
                    .help("write `{ equals: [a, b], ignore_order: true }` on a repeated field")
                    .emit(conv);
                    ok = false;
                }
                continue;
            }
            "regex" | "glob" => {
                let Some(text) = value.as_scalar().map(|s| s.text.clone()) else {
                    conv.error(
                        value.span.clone(),
                        Code::BadOperator,
                        format!("`{op}` takes a pattern"),
                    )
                    .label("expected text")
                    .emit(conv);
                    return None;
                };
                if !matches!(target.kind(), None | Some(Kind::String | Kind::Bytes))
                    || target.is_list()
                {
                    conv.error(
                        key.span.clone(),
                        Code::BadOperator,
                        format!("`{op}` applies to string fields and headers"),
                    )
                    .label("not a string")
                    .help("compare numbers with `gt`, `gte`, `lt`, `lte`, or `equals`")
                    .emit(conv);
                    return None;
                }
                let compiled = if op == "regex" {
                    regex::RegexBuilder::new(&text)
                        .size_limit(1 << 20)
                        .build()
                        .map(Test::Regex)
                } else {
                    glob_regex(&text).map(|re| Test::Glob(text.clone(), re))
                };
                match compiled {
                    Ok(test) => Some(test),
                    Err(err) => {
                        conv.error(value.span.clone(), Code::BadOperator, format!("invalid {op}: {err}"))
                            .label(format!("not a valid {op}"))
                            .help("regular expressions use Rust's `regex` syntax (no look-around or backreferences)")
                            .emit(conv);
                        None
                    }
                }
            }
            "contains" => contains(conv, value, target),
            "any_of" | "all_of" => {
                let NodeKind::Seq(items) = &value.kind else {
                    conv.error(
                        value.span.clone(),
                        Code::ExpectedList,
                        format!("`{op}` takes a list of tests"),
                    )
                    .label("expected a list")
                    .emit(conv);
                    return None;
                };
                let tests: Option<Vec<Test>> =
                    items.iter().map(|item| test(conv, item, target)).collect();
                tests.map(|t| {
                    if op == "any_of" {
                        Test::AnyOf(t)
                    } else {
                        Test::AllOf(t)
                    }
                })
            }
            "not" => test(conv, value, target).map(|t| Test::Not(Box::new(t))),
            "present" => match value.as_scalar().and_then(Scalar::as_bool) {
                Some(present) => {
                    if let Target::Field(field) = target
                        && !field.supports_presence()
                        && !field.is_list()
                        && !field.is_map()
                    {
                        conv.error(key.span.clone(), Code::BadOperator, format!(
                            "`{}` has no presence (a proto3 field without `optional`): it always reads as its value",
                            field.name()
                        ))
                        .label("presence is not tracked")
                        .help("declare the field `optional`, or compare its value with `equals`")
                        .emit(conv);
                        return None;
                    }
                    Some(Test::Present(present))
                }
                None => {
                    conv.error(
                        value.span.clone(),
                        Code::BadOperator,
                        "`present` takes true or false",
                    )
                    .label("expected true or false")
                    .emit(conv);
                    None
                }
            },
            "gt" | "gte" | "lt" | "lte" => {
                let cmp = match op {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    _ => Cmp::Lte,
                };
                let element = match target {
                    Target::Field(f) if f.is_list() || f.is_map() => {
                        conv.error(key.span.clone(), Code::BadOperator, format!("`{op}` compares one value; this field holds many"))
                            .label("a repeated field")
                            .help("compare its length with `len: { gt: 2 }`, or an element with `contains: { gt: 2 }`")
                            .emit(conv);
                        return None;
                    }
                    Target::Field(f) => Target::Element(f),
                    other => other,
                };
                literal(conv, value, element).map(|v| Test::Compare(cmp, v))
            }
            "len" => len(conv, value),
            _ => None,
        };
        match parsed {
            Some(test) => tests.push(test),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    Some(match tests.len() {
        1 => tests.remove(0),
        _ => Test::AllOf(tests),
    })
}

fn contains(conv: &mut Converter<'_>, node: &Node, target: Target<'_>) -> Option<Test> {
    let contains = match target {
        Target::Field(field) if field.is_map() => {
            let Kind::Message(entry) = field.kind() else {
                return None;
            };
            let key_field = entry.map_entry_key_field();
            let value_field = entry.map_entry_value_field();
            let key_of = |conv: &mut Converter<'_>, k: &Node| {
                let scalar = k.as_scalar()?;
                let unquoted = Scalar {
                    text: scalar.text.clone(),
                    plain: true,
                };
                match parse_scalar(&unquoted, &key_field.kind()) {
                    Ok(v) => map_key(v),
                    Err(problem) => {
                        conv.problem(k, problem);
                        None
                    }
                }
            };
            match &node.kind {
                NodeKind::Map(entries) => {
                    let tests: Option<Vec<Test>> = entries
                        .iter()
                        .map(|(k, v)| {
                            let key = key_of(conv, k)?;
                            let value_test = test(conv, v, Target::Element(&value_field))?;
                            Some(Test::Contains(Contains::Entry(
                                key,
                                Some(Box::new(value_test)),
                            )))
                        })
                        .collect();
                    return tests.map(|mut t| {
                        if t.len() == 1 {
                            t.remove(0)
                        } else {
                            Test::AllOf(t)
                        }
                    });
                }
                _ => Contains::Entry(key_of(conv, node)?, None),
            }
        }
        Target::Field(field) if field.is_list() => {
            Contains::Element(Box::new(test(conv, node, Target::Element(field))?))
        }
        _ => {
            let Some(text) = node.as_scalar().map(|s| s.text.clone()) else {
                conv.error(
                    node.span.clone(),
                    Code::BadOperator,
                    "`contains` takes text here",
                )
                .label("expected text")
                .emit(conv);
                return None;
            };
            if !matches!(target.kind(), None | Some(Kind::String | Kind::Bytes)) {
                conv.error(
                    node.span.clone(),
                    Code::BadOperator,
                    "`contains` applies to strings, repeated fields, maps and headers",
                )
                .label("not text")
                .emit(conv);
                return None;
            }
            Contains::Text(text)
        }
    };
    Some(Test::Contains(contains))
}

/// `len: 3` or `len: { gt: 2 }`: a test on a length.
fn len(conv: &mut Converter<'_>, node: &Node) -> Option<Test> {
    let number = |conv: &mut Converter<'_>, node: &Node| -> Option<Value> {
        match node.as_scalar().and_then(|s| s.text.parse::<u64>().ok()) {
            Some(n) => Some(Value::U64(n)),
            None => {
                conv.error(
                    node.span.clone(),
                    Code::BadOperator,
                    "a length is a non-negative integer",
                )
                .label("expected a number")
                .emit(conv);
                None
            }
        }
    };
    match &node.kind {
        NodeKind::Map(entries) => {
            let mut tests = Vec::new();
            for (k, v) in entries {
                let cmp = match k.as_scalar().map_or("", |s| s.text.as_str()) {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    "lte" => Cmp::Lte,
                    "equals" => {
                        tests.push(Test::Equals(number(conv, v)?));
                        continue;
                    }
                    other => {
                        conv.error(k.span.clone(), Code::BadOperator, format!("`len` takes a number or `gt`, `gte`, `lt`, `lte`, `equals`, not `{other}`"))
                            .label("unknown operator")
                            .emit(conv);
                        return None;
                    }
                };
                tests.push(Test::Compare(cmp, number(conv, v)?));
            }
            Some(Test::Len(Box::new(Test::AllOf(tests))))
        }
        _ => Some(Test::Len(Box::new(Test::Equals(number(conv, node)?)))),
    }
}
