//! `when`: the conditions of a stub, as [`Matcher`]s.
//!
//! ```yaml
//! when:
//!   message: { user_id: { regex: "^u-" }, age: { gte: 18 } }
//!   metadata: { x-tenant: acme, x-trace-bin: { present: true } }
//!   expr: "request.tags | length > 2"
//!   state: logged-in            # the stub's scenario is in this state (or a list of states)
//!   chance: 0.25                # a quarter of the calls, from the seeded random source
//!   any_of: [ { message: … }, { metadata: … } ]
//!   not: { message: { user_id: banned } }
//! ```

use prost_reflect::MethodDescriptor;

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    metadata::metadata_checks,
    shape::{keys, scalar_text},
    test::partial,
    yaml::{Node, NodeKind},
};
use crate::{
    fake::{
        model::Matcher,
        template::{Scope, TemplateCompiler},
    },
    schema::method_name,
};

const WHEN_KEYS: [&str; 9] = [
    "message",
    "message_eq",
    "messages",
    "metadata",
    "expr",
    "state",
    "chance",
    "any_of",
    "not",
];

/// The conditions of a `when` mapping, with where each was written (for later checks).
pub(crate) fn when(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    method: &MethodDescriptor,
    node: &Node,
) -> Vec<Matcher> {
    let Some(keys) = keys(conv, node, WHEN_KEYS, "`when`") else {
        return Vec::new();
    };
    let mut matchers = Vec::new();
    let client_streaming = method.is_client_streaming() && !method.is_server_streaming();
    let input = method.input();
    for key in WHEN_KEYS {
        let Some(&(key_node, value)) = keys.get(key) else {
            continue;
        };
        match key {
            "message" | "message_eq" if client_streaming => {
                conv.error(key_node.span.clone(), Code::StreamMatcher, format!(
                    "`when.{key}` does not apply to client-streaming `{}`",
                    method_name(method)
                ))
                .label("one message of many")
                .help("match the stream with `when.messages` (every message, in order) or `when.expr` (e.g. `requests | length > 2`)")
                .emit(conv);
            }
            "message" => matchers.push(Matcher::Fields(partial(conv, value, &input, &[]))),
            "message_eq" => {
                if let Some(message) = conv.message(value, &input) {
                    matchers.push(Matcher::Exact(message));
                }
            }
            "messages" if !method.is_client_streaming() => {
                conv.error(key_node.span.clone(), Code::StreamMatcher, format!(
                    "`when.messages` applies to client-streaming methods; `{}` receives one message",
                    method_name(method)
                ))
                .label("not a client stream")
                .help("use `when.message`")
                .emit(conv);
            }
            "messages" => match &value.kind {
                NodeKind::Seq(items) => {
                    let checks = items
                        .iter()
                        .map(|item| partial(conv, item, &input, &[]))
                        .collect();
                    matchers.push(Matcher::Messages(checks));
                }
                _ => conv
                    .error(
                        value.span.clone(),
                        Code::ExpectedList,
                        "`when.messages` takes a list of messages",
                    )
                    .label("expected a list")
                    .emit(conv),
            },
            "metadata" => {
                if let Some(checks) = metadata_checks(conv, value) {
                    matchers.push(Matcher::Metadata(checks));
                }
            }
            "expr" => {
                if let Some(text) = scalar_text(conv, value, "an expression") {
                    match templates.compile_expr(text, scope) {
                        Ok(template) => matchers.push(Matcher::Expr(template)),
                        Err(error) => compile_error(error)
                            .at(conv.source, value.span.clone())
                            .label("invalid expression")
                            .emit(conv),
                    }
                }
            }
            "state" => {
                let states: Option<Vec<String>> = match &value.kind {
                    NodeKind::Seq(items) => items
                        .iter()
                        .map(|item| scalar_text(conv, item, "a state name").map(str::to_owned))
                        .collect(),
                    _ => scalar_text(conv, value, "a state name").map(|s| vec![s.to_owned()]),
                };
                if let Some(states) = states {
                    matchers.push(Matcher::State(states));
                }
            }
            "chance" => {
                let fraction = scalar_text(conv, value, "a fraction between 0 and 1")
                    .and_then(|t| t.trim_end_matches('%').parse::<f64>().ok().map(|f| (t, f)));
                match fraction {
                    Some((text, f)) => {
                        let f = if text.ends_with('%') { f / 100.0 } else { f };
                        if (0.0..=1.0).contains(&f) {
                            matchers.push(Matcher::Chance(f));
                        } else {
                            conv.error(
                                value.span.clone(),
                                Code::OutOfRange,
                                format!(
                                    "`chance` is a fraction from 0 to 1 (or 0% to 100%), not {text}"
                                ),
                            )
                            .label("out of range")
                            .emit(conv);
                        }
                    }
                    None => conv
                        .error(
                            value.span.clone(),
                            Code::TypeMismatch,
                            "`chance` is a fraction from 0 to 1, e.g. `0.25` or `25%`",
                        )
                        .label("expected a number")
                        .emit(conv),
                }
            }
            "any_of" => match &value.kind {
                NodeKind::Seq(items) => {
                    let groups = items
                        .iter()
                        .map(|item| when(conv, templates, scope, method, item))
                        .collect();
                    matchers.push(Matcher::AnyOf(groups));
                }
                _ => conv
                    .error(
                        value.span.clone(),
                        Code::ExpectedList,
                        "`when.any_of` takes a list of conditions, each like a `when`",
                    )
                    .label("expected a list")
                    .emit(conv),
            },
            "not" => {
                let group = when(conv, templates, scope, method, value);
                matchers.push(Matcher::Not(group));
            }
            _ => {}
        }
    }
    matchers
}
