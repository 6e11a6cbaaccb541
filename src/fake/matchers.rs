//! Request matchers: what a stub's `when` becomes.
//!
//! Each matcher explains itself: [`Matcher::mismatches`] lists why a call does not match, so an
//! unmatched call can be answered with the closest stub and the first reason it was passed over.
//! Matchers hold field descriptors, never names, so matching does no lookups by string.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};

use super::template::{CallView, TemplateId, render};

/// One field (possibly nested) compared with the value the fixture wrote.
#[derive(Debug, Clone)]
pub(crate) struct FieldCheck {
    /// Message fields from the top-level message down to the compared field.
    pub(crate) path: Vec<FieldDescriptor>,
    pub(crate) expected: Value,
}

impl FieldCheck {
    fn name(&self) -> String {
        self.path
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".")
    }

    fn check(&self, message: &DynamicMessage, out: &mut Vec<String>) {
        let Some((last, parents)) = self.path.split_last() else {
            return;
        };
        let mut current = std::borrow::Cow::Borrowed(message);
        for field in parents {
            let next = match current.get_field(field).into_owned() {
                Value::Message(m) => m,
                _ => DynamicMessage::new(match field.kind() {
                    Kind::Message(m) => m,
                    _ => return,
                }),
            };
            current = std::borrow::Cow::Owned(next);
        }
        let actual = current.get_field(last);
        if !value_eq(&actual, &self.expected) {
            out.push(format!(
                "field `{}`: expected {}, got {}",
                self.name(),
                show_field(&self.expected, last),
                show_field(&actual, last)
            ));
        }
    }
}

/// A condition on a call.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `when.message`: the listed fields equal (others are ignored).
    Fields(Vec<FieldCheck>),
    /// `when.message_eq`: the whole message equals.
    Exact(DynamicMessage),
    /// `when.messages`: a client stream's messages, in order, each matched partially.
    Messages(Vec<Vec<FieldCheck>>),
    /// `when.metadata`: request headers equal (names lowercase).
    Metadata(Vec<(String, String)>),
    /// `when.expr`: a template expression that must be truthy.
    Expr {
        template: TemplateId,
        source: String,
    },
}

/// What matchers look at.
pub(crate) struct Candidate<'a> {
    pub(crate) view: &'a CallView<'a>,
    pub(crate) env: &'a minijinja::Environment<'static>,
    /// The template context, built once per call and only when an `expr` needs it.
    pub(crate) context: &'a std::cell::OnceCell<minijinja::Value>,
}

impl Matcher {
    /// Pushes the reasons `call` does not match; none means it matches.
    pub(crate) fn mismatches(&self, call: &Candidate<'_>, out: &mut Vec<String>) {
        match self {
            Matcher::Fields(checks) => match call.view.request {
                Some(message) => checks.iter().for_each(|c| c.check(message, out)),
                None => out.push("no message was received".into()),
            },
            Matcher::Exact(expected) => match call.view.request {
                Some(message) if message_eq(message, expected) => {}
                Some(message) => out.push(format!(
                    "message: expected exactly {}, got {}",
                    show_message(expected),
                    show_message(message)
                )),
                None => out.push("no message was received".into()),
            },
            Matcher::Messages(expected) => {
                let received = call.view.requests;
                if received.len() != expected.len() {
                    out.push(format!(
                        "messages: expected {} messages, received {}",
                        expected.len(),
                        received.len()
                    ));
                    return;
                }
                for (i, (checks, message)) in expected.iter().zip(received).enumerate() {
                    let mut reasons = Vec::new();
                    checks.iter().for_each(|c| c.check(message, &mut reasons));
                    out.extend(reasons.into_iter().map(|r| format!("message {i}: {r}")));
                }
            }
            Matcher::Metadata(pairs) => {
                for (key, expected) in pairs {
                    let actual = call
                        .view
                        .metadata
                        .get(key.as_str())
                        .and_then(|v| v.to_str().ok());
                    if actual != Some(expected.as_str()) {
                        out.push(match actual {
                            Some(actual) => {
                                format!("metadata `{key}`: expected {expected:?}, got {actual:?}")
                            }
                            None => format!(
                                "metadata `{key}`: expected {expected:?}, but the header is missing"
                            ),
                        });
                    }
                }
            }
            Matcher::Expr { template, source } => {
                let context = call.context.get_or_init(|| call.view.context());
                match render(call.env, template, context) {
                    Ok(value) if value.is_true() => {}
                    Ok(_) => out.push(format!("expr `{source}` is false")),
                    Err(err) => out.push(format!("expr `{source}` failed: {err}")),
                }
            }
        }
    }
}

/// Proto-aware equality: presence counts for fields that track it, NaN equals NaN.
pub(crate) fn message_eq(a: &DynamicMessage, b: &DynamicMessage) -> bool {
    let desc = a.descriptor();
    if desc != b.descriptor() {
        return false;
    }
    if desc.full_name() == "google.protobuf.Any"
        && let (Some(x), Some(y)) = (unpack_any(a), unpack_any(b))
    {
        // The packed bytes of equal messages may differ (map entries have no fixed order).
        return message_eq(&x, &y);
    }
    desc.fields().all(|f| {
        if f.supports_presence() {
            // Both unset: equal, without descending into (possibly recursive) default messages.
            match (a.has_field(&f), b.has_field(&f)) {
                (false, false) => return true,
                (true, true) => {}
                _ => return false,
            }
        }
        value_eq(&a.get_field(&f), &b.get_field(&f))
    })
}

/// The message packed in an `Any`, when the pool knows its type and the bytes decode.
fn unpack_any(any: &DynamicMessage) -> Option<DynamicMessage> {
    let type_url = any.get_field_by_name("type_url")?;
    let name = type_url.as_str()?.rsplit('/').next()?;
    let desc = any.descriptor().parent_pool().get_message_by_name(name)?;
    let value = any.get_field_by_name("value")?;
    DynamicMessage::decode(desc, value.as_bytes()?.as_ref()).ok()
}

/// Value equality for matching (messages compared with [`message_eq`]).
pub(crate) fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x == y || x.is_nan() && y.is_nan(),
        (Value::F64(x), Value::F64(y)) => x == y || x.is_nan() && y.is_nan(),
        (Value::Message(x), Value::Message(y)) => message_eq(x, y),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| value_eq(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| value_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A value as the fixture author would write it, for mismatch messages.
pub(crate) fn show_field(value: &Value, field: &FieldDescriptor) -> String {
    match value {
        Value::List(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|v| show_element(v, &field.kind()))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => {
            let value_kind = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}: {}", show_key(k), show_element(v, &value_kind)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => show_element(other, &field.kind()),
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

fn show_element(value: &Value, kind: &Kind) -> String {
    use base64::Engine as _;
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Bytes(b) => format!(
            "{:?} (base64)",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
            _ => n.to_string(),
        },
        Value::Message(m) => show_message(m),
        other => super::value::number_text(other).unwrap_or_else(|| format!("{other:?}")),
    }
}

/// A message as compact proto3 JSON with proto field names.
pub(crate) fn show_message(message: &DynamicMessage) -> String {
    let options = prost_reflect::SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    match message.serialize_with_options(&mut serializer, &options) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => format!("{message:?}"),
    }
}
