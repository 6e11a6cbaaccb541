//! Request matchers: what a stub's `when` becomes.
//!
//! Choosing a stub asks each matcher the cheap question, [`Matcher::matches`]; only when no stub
//! matched does the server ask the closest ones why ([`Matcher::mismatches`]), to answer
//! UNIMPLEMENTED with the first reason (httpmock's `mismatches`, wiremock's request matching).
//! Matchers hold field descriptors, never names, so matching does no lookups by string.

use std::borrow::Cow;

use prost_reflect::{DynamicMessage, FieldDescriptor, Value};

use super::{
    call::Call,
    eq::{message_eq, value_eq},
    show::{show_field, show_message},
};
use crate::fake::template::Template;

/// One field (possibly nested) compared with the value the fixture wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FieldCheck {
    /// Message fields from the top-level message down to the compared field.
    pub path: Vec<FieldDescriptor>,
    /// The value the field must have; a default value matches only an unset field.
    pub expected: Value,
}

impl FieldCheck {
    /// Checks `expected` against the field at `path`.
    pub fn new(path: Vec<FieldDescriptor>, expected: Value) -> Self {
        Self { path, expected }
    }

    fn name(&self) -> String {
        self.path
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The value at `path` in `message`, borrowed when it is set.
    fn actual<'m>(
        &self,
        message: &'m DynamicMessage,
    ) -> Option<(Cow<'m, Value>, &FieldDescriptor)> {
        let (last, parents) = self.path.split_last()?;
        let mut current = message;
        for field in parents {
            match current.get_field(field) {
                Cow::Borrowed(Value::Message(m)) => current = m,
                // An unset parent: every field below it reads as its default.
                _ => return Some((Cow::Owned(Value::default_value_for_field(last)), last)),
            }
        }
        Some((current.get_field(last), last))
    }

    fn holds(&self, message: &DynamicMessage) -> bool {
        self.actual(message)
            .is_none_or(|(actual, _)| value_eq(&actual, &self.expected))
    }

    fn explain(&self, message: &DynamicMessage, out: &mut Vec<String>) {
        if let Some((actual, last)) = self.actual(message)
            && !value_eq(&actual, &self.expected)
        {
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
#[non_exhaustive]
pub enum Matcher {
    /// `when.message`: the listed fields equal (others are ignored).
    Fields(Vec<FieldCheck>),
    /// `when.message_eq`: the whole message equals.
    Exact(DynamicMessage),
    /// `when.messages`: a client stream's messages, in order, each matched partially.
    Messages(Vec<Vec<FieldCheck>>),
    /// `when.metadata`: request headers equal (names lowercase).
    Metadata(Vec<(String, String)>),
    /// `when.expr`: a template expression that must be truthy.
    Expr(Template),
}

impl Matcher {
    /// Whether the call meets this condition.
    pub(crate) fn matches(&self, call: &Call<'_>) -> bool {
        match self {
            Matcher::Fields(checks) => call
                .request
                .is_some_and(|message| checks.iter().all(|c| c.holds(message))),
            Matcher::Exact(expected) => call
                .request
                .is_some_and(|message| message_eq(message, expected)),
            Matcher::Messages(expected) => call.requests(|received| {
                received.len() == expected.len()
                    && expected
                        .iter()
                        .zip(received)
                        .all(|(checks, message)| checks.iter().all(|c| c.holds(message)))
            }),
            Matcher::Metadata(pairs) => pairs.iter().all(|(key, expected)| {
                call.metadata
                    .get(key.as_str())
                    .and_then(|v| v.to_str().ok())
                    == Some(expected.as_str())
            }),
            Matcher::Expr(template) => template
                .render(call.context())
                .is_ok_and(|value| value.is_true()),
        }
    }

    /// Pushes the reasons `call` does not meet this condition; none means it does.
    pub(crate) fn mismatches(&self, call: &Call<'_>, out: &mut Vec<String>) {
        match self {
            Matcher::Fields(checks) => match call.request {
                Some(message) => checks.iter().for_each(|c| c.explain(message, out)),
                None => out.push("no message was received".into()),
            },
            Matcher::Exact(expected) => match call.request {
                Some(message) if message_eq(message, expected) => {}
                Some(message) => out.push(format!(
                    "message: expected exactly {}, got {}",
                    show_message(expected),
                    show_message(message)
                )),
                None => out.push("no message was received".into()),
            },
            Matcher::Messages(expected) => call.requests(|received| {
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
                    checks.iter().for_each(|c| c.explain(message, &mut reasons));
                    out.extend(reasons.into_iter().map(|r| format!("message {i}: {r}")));
                }
            }),
            Matcher::Metadata(pairs) => {
                for (key, expected) in pairs {
                    let actual = call
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
            Matcher::Expr(template) => {
                let source = template.source();
                match template.render(call.context()) {
                    Ok(value) if value.is_true() => {}
                    Ok(_) => out.push(format!("expr `{source}` is false")),
                    Err(err) => out.push(format!("expr `{source}` failed: {err}")),
                }
            }
        }
    }
}
