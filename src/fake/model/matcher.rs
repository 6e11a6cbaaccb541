//! Request matchers: what a stub's `when` becomes.
//!
//! Choosing a stub asks each matcher the cheap question, [`Matcher::matches`]; only when no stub
//! matched does the server ask why ([`Matcher::mismatches`]), to answer UNIMPLEMENTED with the
//! closest stub and its reasons (httpmock's `mismatches`, wiremock's request matching).
//! Matchers hold field descriptors, never names, so matching does no lookups by string.

use prost_reflect::{DynamicMessage, FieldDescriptor, Value};

pub use super::compare::FieldCheck;
pub(crate) use super::compare::Miss;
use super::{
    call::Call,
    compare::{Test, is_indexable, show_plain},
};
use crate::schema::value::{
    eq::{EqOptions, message_eq as eq_with},
    show::{Style, show_message as show_with},
};

fn message_eq(a: &DynamicMessage, b: &DynamicMessage) -> bool {
    eq_with(a, b, EqOptions::MATCHING)
}

fn show_message(message: &DynamicMessage) -> String {
    show_with(message, Style::MATCHING)
}
use crate::fake::template::Template;

/// A test on one header.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetadataCheck {
    /// The lowercase header name; `-bin` headers are compared as bytes.
    pub name: String,
    /// The test on its (first) value.
    pub test: Test,
}

impl MetadataCheck {
    fn actual(&self, call: &Call<'_>) -> Option<Value> {
        if self.name.ends_with("-bin") {
            let value = call.metadata().get_bin(self.name.as_str())?;
            Some(Value::Bytes(value.to_bytes().ok()?))
        } else {
            let value = call.metadata().get(self.name.as_str())?;
            Some(Value::String(value.to_str().ok()?.to_owned()))
        }
    }

    fn holds(&self, call: &Call<'_>) -> bool {
        match self.actual(call) {
            Some(value) => self.test.passes(&value, true),
            None => self.test.passes(&Value::String(String::new()), false),
        }
    }

    fn explain(&self, call: &Call<'_>, out: &mut Vec<Miss>) {
        let actual = self.actual(call);
        let (value, present) = match &actual {
            Some(v) => (v.clone(), true),
            None => (Value::String(String::new()), false),
        };
        if self.test.passes(&value, present) {
            return;
        }
        let name = &self.name;
        let expected = self.test.describe(None);
        out.push(Miss {
            reason: match actual {
                Some(actual) => format!(
                    "metadata `{name}`: expected {expected}, got {}",
                    show_plain(&actual)
                ),
                None => {
                    format!("metadata `{name}`: expected {expected}, but the header is missing")
                }
            },
            distance: self.test.distance(&value),
        });
    }
}

/// A condition on a call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Matcher {
    /// `when.message`: the listed fields pass their tests (others are ignored).
    Fields(Vec<FieldCheck>),
    /// `when.message_eq`: the whole message equals.
    Exact(DynamicMessage),
    /// `when.messages`: a client stream's messages, in order, each matched partially.
    Messages(Vec<Vec<FieldCheck>>),
    /// `when.metadata`: request headers pass their tests (names lowercase).
    Metadata(Vec<MetadataCheck>),
    /// `when.expr`: a template expression that must be truthy.
    Expr(Template),
    /// `when.state`: the stub's scenario is in one of these states.
    State(Vec<String>),
    /// `when.chance`: matches this fraction of calls, drawn from the server's seeded random
    /// source.
    Chance(f64),
    /// `when.any_of`: at least one group of conditions holds.
    AnyOf(Vec<Vec<Matcher>>),
    /// `when.not`: the conditions do not all hold.
    Not(Vec<Matcher>),
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
            Matcher::Metadata(checks) => checks.iter().all(|c| c.holds(call)),
            Matcher::Expr(template) => template
                .render(call.context())
                .is_ok_and(|value| value.is_true()),
            Matcher::State(states) => {
                let state = call.scenario_state();
                states.iter().any(|s| s.as_str() == &*state)
            }
            Matcher::Chance(fraction) => call.draw() < *fraction,
            Matcher::AnyOf(groups) => groups
                .iter()
                .any(|group| group.iter().all(|m| m.matches(call))),
            Matcher::Not(group) => !group.iter().all(|m| m.matches(call)),
        }
    }

    /// Pushes the reasons `call` does not meet this condition; none means it does.
    pub(crate) fn mismatches(&self, call: &Call<'_>, out: &mut Vec<Miss>) {
        match self {
            Matcher::Fields(checks) => match call.request {
                Some(message) => checks.iter().for_each(|c| c.explain(message, out)),
                None => out.push(Miss::whole("no message was received".into())),
            },
            Matcher::Exact(expected) => match call.request {
                Some(message) if message_eq(message, expected) => {}
                Some(message) => out.push(Miss::whole(format!(
                    "message: expected exactly {}, got {}",
                    show_message(expected),
                    show_message(message)
                ))),
                None => out.push(Miss::whole("no message was received".into())),
            },
            Matcher::Messages(expected) => call.requests(|received| {
                if received.len() != expected.len() {
                    out.push(Miss::whole(format!(
                        "messages: expected {} messages, received {}",
                        expected.len(),
                        received.len()
                    )));
                    return;
                }
                for (i, (checks, message)) in expected.iter().zip(received).enumerate() {
                    let mut misses = Vec::new();
                    checks.iter().for_each(|c| c.explain(message, &mut misses));
                    out.extend(misses.into_iter().map(|m| Miss {
                        reason: format!("message {i}: {}", m.reason),
                        distance: m.distance,
                    }));
                }
            }),
            Matcher::Metadata(checks) => checks.iter().for_each(|c| c.explain(call, out)),
            Matcher::Expr(template) => {
                let source = template.source();
                match template.render(call.context()) {
                    Ok(value) if value.is_true() => {}
                    Ok(_) => out.push(Miss::whole(format!("expr `{source}` is false"))),
                    Err(err) => out.push(Miss::whole(format!("expr `{source}` failed: {err}"))),
                }
            }
            Matcher::State(states) => {
                let state = call.scenario_state();
                if !states.iter().any(|s| s.as_str() == &*state) {
                    out.push(Miss::whole(format!(
                        "scenario state: expected {}, is {state:?}",
                        states
                            .iter()
                            .map(|s| format!("{s:?}"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )));
                }
            }
            Matcher::Chance(fraction) => out.push(Miss::whole(format!(
                "chance: this call was not among the {:.0}% the stub answers",
                fraction * 100.0
            ))),
            Matcher::AnyOf(groups) => {
                if !self.matches(call) {
                    // The closest alternative explains the miss.
                    let best = groups
                        .iter()
                        .map(|group| {
                            let mut misses = Vec::new();
                            group.iter().for_each(|m| m.mismatches(call, &mut misses));
                            misses
                        })
                        .min_by(|a, b| closeness(a).total_cmp(&closeness(b)));
                    match best {
                        Some(misses) if !misses.is_empty() => out.push(Miss {
                            reason: format!(
                                "any_of: no alternative holds; the closest: {}",
                                misses
                                    .iter()
                                    .map(|m| m.reason.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ),
                            distance: closeness(&misses).min(1.0),
                        }),
                        _ => out.push(Miss::whole("any_of: no alternative holds".into())),
                    }
                }
            }
            Matcher::Not(_) => {
                if !self.matches(call) {
                    out.push(Miss::whole("not: the excluded conditions all hold".into()));
                }
            }
        }
    }

    /// How many of its checks hold for the call (for ranking near misses: of two stubs that
    /// miss alike, the one that matched more is closer).
    pub(crate) fn held(&self, call: &Call<'_>) -> usize {
        match self {
            Matcher::Fields(checks) => call
                .request
                .map_or(0, |m| checks.iter().filter(|c| c.holds(m)).count()),
            Matcher::Metadata(checks) => checks.iter().filter(|c| c.holds(call)).count(),
            other => usize::from(other.matches(call)),
        }
    }

    /// Whether the matcher reads the request message(s), as opposed to the call's metadata.
    pub(crate) fn reads_messages(&self) -> bool {
        match self {
            Matcher::Fields(_) | Matcher::Exact(_) | Matcher::Messages(_) => true,
            Matcher::Expr(t) => t.source().contains("request"),
            Matcher::AnyOf(groups) => groups.iter().flatten().any(Matcher::reads_messages),
            Matcher::Not(group) => group.iter().any(Matcher::reads_messages),
            Matcher::Metadata(_) | Matcher::State(_) | Matcher::Chance(_) => false,
        }
    }

    /// The equality on a top-level scalar field that this matcher requires unconditionally,
    /// if any: what the route index keys stubs by.
    pub(crate) fn index_key(&self) -> Option<(&FieldDescriptor, &Value)> {
        let Matcher::Fields(checks) = self else {
            return None;
        };
        checks
            .iter()
            .find_map(|check| match (&check.path[..], &check.test) {
                ([field], Test::Equals(value))
                    if !field.is_list() && !field.is_map() && is_indexable(&field.kind()) =>
                {
                    Some((field, value))
                }
                _ => None,
            })
    }
}

/// How far a list of misses is from matching: the number of misses, less how close each came.
pub(crate) fn closeness(misses: &[Miss]) -> f64 {
    misses.iter().map(|m| 0.5 + m.distance / 2.0).sum()
}
