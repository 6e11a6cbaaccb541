//! `when`: the conditions of a stub, as [`Matcher`]s.

use std::collections::HashMap;

use prost_reflect::{Kind, MessageDescriptor, MethodDescriptor};

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    metadata::metadata_pairs,
    shape::{keys, scalar_text},
    yaml::{Node, NodeKind},
};
use crate::{
    fake::{
        model::{FieldCheck, Matcher},
        template::{Scope, TemplateCompiler},
    },
    schema::method_name,
};

const WHEN_KEYS: [&str; 5] = ["message", "message_eq", "messages", "metadata", "expr"];

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
                if let Some(pairs) = metadata_pairs(conv, value) {
                    matchers.push(Matcher::Metadata(pairs));
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
            _ => {}
        }
    }
    matchers
}

/// `when.message`: each written key becomes a check, even when it holds the default value
/// (`page_size: 0` matches only requests that leave `page_size` unset).
fn partial(
    conv: &mut Converter<'_>,
    node: &Node,
    desc: &MessageDescriptor,
    prefix: &[prost_reflect::FieldDescriptor],
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
        if let Some(m) = nested
            && value.as_map().is_some_and(|e| !e.is_empty())
        {
            checks.extend(partial(conv, value, &m, &path));
            continue;
        }
        if let Some(expected) = conv.field_value(value, &field) {
            checks.push(FieldCheck { path, expected });
        }
    }
    checks
}
