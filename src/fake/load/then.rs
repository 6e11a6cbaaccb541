//! `then`: what a stub answers, as a [`Reply`]: messages, a stream, a status with details,
//! headers, trailers and delays.

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};
use tonic::Code as GrpcCode;

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    metadata::metadata_map,
    shape::{keys, scalar_text},
    yaml::{Node, NodeKind},
};
use crate::{
    fake::{
        model::{CODES, Payload, Reply, StatusReply, StreamItem, Text, parse_code},
        template::{Scope, TemplateCompiler, is_template},
    },
    schema::{method_name, suggest},
};

const THEN_KEYS: [&str; 6] = [
    "message", "stream", "status", "headers", "trailers", "delay",
];
const ITEM_KEYS: [&str; 2] = ["message", "delay"];
const STATUS_KEYS: [&str; 3] = ["code", "message", "details"];

pub(crate) fn then(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    method: &MethodDescriptor,
    node: &Node,
) -> Option<Reply> {
    let keys = keys(conv, node, THEN_KEYS, "`then`")?;
    let output = method.output();
    let name = method_name(method);
    let mut reply = Reply::default();
    let mut ok = true;
    let message_payload = |conv: &mut Converter<'_>,
                           templates: &mut TemplateCompiler,
                           node: &Node|
     -> Option<Payload> {
        let mut c = Converter::new(conv.source, &mut *conv.errors)
            .with_trace(conv.trace.as_deref_mut())
            .with_templates(templates, scope);
        let message = c.message(node, &output)?;
        let holes = c.take_holes();
        Some(Payload::new(message, holes))
    };
    if let Some(&(_, d)) = keys.get("delay") {
        reply.delay = duration(conv, d).unwrap_or_else(|| {
            ok = false;
            Duration::ZERO
        });
    }
    if let Some(&(key, value)) = keys.get("message") {
        if keys.contains_key("stream") {
            conv.error(
                key.span.clone(),
                Code::MessageAndStream,
                "`then` has both `message` and `stream`",
            )
            .label("one or the other")
            .help("a single `message` is a one-message stream; put every message under `stream`")
            .emit(conv);
            ok = false;
        }
        match message_payload(conv, templates, value) {
            Some(payload) => reply.messages.push(StreamItem {
                payload,
                delay: Duration::ZERO,
            }),
            None => ok = false,
        }
    }
    if let Some(&(key, value)) = keys.get("stream") {
        if !method.is_server_streaming() {
            conv.error(key.span.clone(), Code::StreamOnUnary, format!(
                "`{name}` returns a single message; `then.stream` is for server-streaming methods"
            ))
            .label("not a streaming method")
            .help("answer with `then.message`")
            .emit(conv);
            ok = false;
        } else if let NodeKind::Seq(items) = &value.kind {
            for item in items {
                let Some(item_keys) = keys_of_item(conv, item) else {
                    ok = false;
                    continue;
                };
                let delay = match item_keys.get("delay") {
                    Some(&(_, d)) => duration(conv, d),
                    None => Some(Duration::ZERO),
                };
                let payload = match item_keys.get("message") {
                    Some(&(_, m)) => message_payload(conv, templates, m),
                    None => {
                        conv.error(
                            item.span.clone(),
                            Code::StreamItem,
                            "a stream item needs a `message`",
                        )
                        .label("no message")
                        .help(
                            "write each item as `- message: { … }`, with an optional `delay: 5ms`",
                        )
                        .emit(conv);
                        None
                    }
                };
                match (payload, delay) {
                    (Some(payload), Some(delay)) => {
                        reply.messages.push(StreamItem { payload, delay })
                    }
                    _ => ok = false,
                }
            }
        } else {
            conv.error(
                value.span.clone(),
                Code::ExpectedList,
                format!(
                    "`then.stream` takes a list of items, found {}",
                    value.describe()
                ),
            )
            .label("expected a list")
            .help("write each item as `- message: { … }`, with an optional `delay: 5ms`")
            .emit(conv);
            ok = false;
        }
    }
    if let Some(&(_, value)) = keys.get("status") {
        match status(conv, templates, scope, value) {
            Some(status) => reply.status = Some(status),
            None => ok = false,
        }
    }
    for (key, target) in [
        ("headers", &mut reply.headers),
        ("trailers", &mut reply.trailers),
    ] {
        if let Some(&(_, value)) = keys.get(key) {
            match metadata_map(conv, value) {
                Some(map) => *target = map,
                None => ok = false,
            }
        }
    }
    let error_status = reply.fails();
    if method.is_client_streaming() && method.is_server_streaming() && ok {
        // A bidi call's headers leave before any message is matched, and its trailers after the
        // last: only an error status can carry metadata from one stub.
        if let Some(&(key, _)) = keys.get("headers") {
            conv.error(key.span.clone(), Code::BidiHeaders, format!(
                "`{name}` is bidirectional: its headers are sent before the first message is matched"
            ))
            .label("cannot apply")
            .help("remove `headers`; metadata can ride on an error `status` as `trailers`")
            .emit(conv);
            ok = false;
        }
        if let (Some(&(key, _)), false) = (keys.get("trailers"), error_status) {
            conv.error(key.span.clone(), Code::BidiTrailers, format!(
                "`{name}` is bidirectional: `trailers` need an error `status` that ends the call"
            ))
            .label("no status to carry them")
            .emit(conv);
            ok = false;
        }
    }
    if !method.is_server_streaming() && ok {
        if error_status && !reply.messages.is_empty() {
            conv.error(node.span.clone(), Code::MessageAndError, format!(
                "`{name}` answers one message or an error, but this `then` has both"
            ))
            .label("message and error status")
            .help("drop the `message` to fail the call, or drop the `status` (or make it OK) to answer")
            .emit(conv);
            ok = false;
        } else if !error_status && reply.messages.is_empty() {
            conv.error(
                node.span.clone(),
                Code::EmptyThen,
                "`then` needs a `message` or an error `status`",
            )
            .label("nothing to answer")
            .help("write `message: {}` to answer with an empty message")
            .emit(conv);
            ok = false;
        }
    }
    ok.then_some(reply)
}

fn keys_of_item<'n>(
    conv: &mut Converter<'_>,
    node: &'n Node,
) -> Option<HashMap<&'static str, (&'n Node, &'n Node)>> {
    keys(conv, node, ITEM_KEYS, "a stream item")
}

fn status(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    node: &Node,
) -> Option<StatusReply> {
    if let Some(s) = node.as_scalar() {
        let code = code(conv, node, &s.text)?;
        return Some(StatusReply {
            code,
            message: Text::Static(String::new()),
            details: Bytes::new(),
        });
    }
    let keys = keys(conv, node, STATUS_KEYS, "`status`")?;
    let Some(&(_, code_node)) = keys.get("code") else {
        conv.error(
            node.span.clone(),
            Code::BadStatus,
            "`status` needs a `code`",
        )
        .label("no code")
        .help("e.g. `status: { code: NOT_FOUND, message: User not found }`")
        .emit(conv);
        return None;
    };
    let code_text = scalar_text(conv, code_node, "a status code")?.to_owned();
    let code = code(conv, code_node, &code_text)?;
    let mut text = String::new();
    let mut message = Text::Static(String::new());
    if let Some(&(_, m)) = keys.get("message") {
        let t = scalar_text(conv, m, "a message")?.to_owned();
        if is_template(&t) {
            match templates.compile(&t, scope) {
                Ok(id) => message = Text::Template(id),
                Err(error) => {
                    compile_error(error)
                        .at(conv.source, m.span.clone())
                        .emit(conv);
                    return None;
                }
            }
        } else {
            text.clone_from(&t);
            message = Text::Static(t);
        }
    }
    let mut details = Bytes::new();
    if let Some(&(_, d)) = keys.get("details") {
        details = status_details(conv, scope.input.parent_pool(), code, &text, d)?;
    }
    Some(StatusReply {
        code,
        message,
        details,
    })
}

fn code(conv: &mut Converter<'_>, node: &Node, text: &str) -> Option<GrpcCode> {
    if let Some(code) = parse_code(text) {
        return Some(code);
    }
    let names = CODES.iter().map(|(_, n)| *n);
    let help = suggest(text, names).map_or_else(
        || {
            format!(
                "codes: {}",
                CODES.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
            )
        },
        |s| format!("did you mean `{s}`?"),
    );
    conv.error(
        node.span.clone(),
        Code::BadStatus,
        format!("unknown status code `{text}`"),
    )
    .label("not a gRPC code")
    .help(help)
    .emit(conv);
    None
}

/// `details: [{ "@type": google.rpc.BadRequest, … }]` as an encoded `google.rpc.Status`.
fn status_details(
    conv: &mut Converter<'_>,
    pool: &prost_reflect::DescriptorPool,
    code: GrpcCode,
    message: &str,
    node: &Node,
) -> Option<Bytes> {
    // Every schema includes google/rpc (see `schema::Loader`), so this lookup only fails for
    // pools built elsewhere.
    let status_desc = pool.get_message_by_name("google.rpc.Status")?;
    let details_field = status_desc.get_field_by_name("details")?;
    let NodeKind::Seq(_) = &node.kind else {
        conv.error(
            node.span.clone(),
            Code::ExpectedList,
            "`details` takes a list of messages, each with an `\"@type\"`",
        )
        .label("expected a list")
        .emit(conv);
        return None;
    };
    let details = conv.field_value(node, &details_field)?;
    let mut status = DynamicMessage::new(status_desc);
    status
        .try_set_field_by_name("code", Value::I32(code as i32))
        .ok()?;
    status
        .try_set_field_by_name("message", Value::String(message.to_owned()))
        .ok()?;
    status.try_set_field(&details_field, details).ok()?;
    Some(status.encode_to_vec().into())
}

fn duration(conv: &mut Converter<'_>, node: &Node) -> Option<Duration> {
    let text = scalar_text(conv, node, "a duration")?;
    match parse_duration(text) {
        Some(d) => Some(d),
        None => {
            conv.error(
                node.span.clone(),
                Code::BadDuration,
                format!("`{text}` is not a duration"),
            )
            .label("not a duration")
            .help(
                "write a number with a unit: `250ms`, `1.5s`, `2m`; a bare number is milliseconds",
            )
            .emit(conv);
            None
        }
    }
}

/// `250ms`, `1.5s`, `2m`, `100us`; a bare number is milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}
