//! `then` (and each item of `sequence`): what a stub answers, as a [`Reply`].
//!
//! ```yaml
//! then:
//!   delay: { base: 100ms, jitter: 50ms }     # or `250ms`, or "{{ request.sleep_ms }}ms"
//!   headers: { x-request-id: "{{ uuid() }}" }
//!   stream:
//!     - message: { name: first }
//!     - for_each: "{{ request.sizes }}"       # one message per element
//!       as: size
//!       message: { body: "{{ zeros(size) }}" }
//!     - abort: CANCEL                         # RST_STREAM here
//!   status:
//!     code: "{{ request.code }}"              # a name, a number, or a template
//!     message: "no user {{ request.user_id }}"
//!     details: [ { "@type": google.rpc.ErrorInfo, reason: "{{ request.reason }}" } ]
//!   trailers: { grpc-retry-pushback-ms: "10" }
//!   set_state: DONE                           # effects on the server
//!   health: { userservice.UserService: NOT_SERVING }
//!   goaway: true
//!   outage: 2s
//! ```

use std::time::Duration;

use prost_reflect::{MessageDescriptor, MethodDescriptor};
use tonic::Code as GrpcCode;

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    metadata::metadata_entries,
    shape::{keys, scalar_text},
    yaml::{Node, NodeKind, Scalar},
};
use crate::{
    fake::{
        model::{
            CODES, Computed, Delay, Detail, Effects, Generated, Health, Payload, Reply,
            StatusReply, StreamItem, StreamPart, parse_code, render,
        },
        template::{Scope, Template, TemplateCompiler, is_template},
    },
    schema::{did_you_mean, method_name, parse_duration},
};

pub(crate) const THEN_KEYS: [&str; 12] = [
    "message",
    "stream",
    "status",
    "headers",
    "trailers",
    "delay",
    "trailers_only",
    "set_state",
    "health",
    "goaway",
    "outage",
    "repeat",
];
const ITEM_KEYS: [&str; 5] = ["message", "delay", "for_each", "as", "abort"];
const STATUS_KEYS: [&str; 3] = ["code", "message", "details"];
const DELAY_KEYS: [&str; 2] = ["base", "jitter"];

/// What a stub's reply parser is given.
pub(crate) struct Ctx<'t, 's> {
    pub(crate) templates: &'t mut TemplateCompiler,
    pub(crate) scope: &'s Scope,
    pub(crate) method: &'s MethodDescriptor,
}

/// Parses a `then` (or a sequence item, which may say `repeat`).
pub(crate) fn then(conv: &mut Converter<'_>, ctx: &mut Ctx<'_, '_>, node: &Node) -> Option<Reply> {
    let keys = keys(conv, node, THEN_KEYS, "`then`")?;
    let method = ctx.method;
    let name = method_name(method);
    let mut reply = Reply::default();
    let mut ok = true;
    if let Some(&(_, d)) = keys.get("delay") {
        match delay(conv, ctx, d) {
            Some(d) => reply.delay = d,
            None => ok = false,
        }
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
        match payload(conv, ctx, value, &method.output(), ctx.scope) {
            Some(payload) => reply.stream.push(StreamPart::Message(StreamItem {
                payload,
                delay: Delay::default(),
            })),
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
        } else {
            match stream(conv, ctx, value) {
                Some(parts) => reply.stream = parts,
                None => ok = false,
            }
        }
    }
    if let Some(&(_, value)) = keys.get("status") {
        match status(conv, ctx, value) {
            Some(status) => reply.status = Some(status),
            None => ok = false,
        }
    }
    for (key, target) in [
        ("headers", &mut reply.headers),
        ("trailers", &mut reply.trailers),
    ] {
        if let Some(&(_, value)) = keys.get(key) {
            match metadata_entries(conv, ctx.templates, ctx.scope, value) {
                Some(entries) => *target = entries,
                None => ok = false,
            }
        }
    }
    if let Some(&(_, value)) = keys.get("trailers_only") {
        match flag(conv, value) {
            Some(on) => reply.trailers_only = on,
            None => ok = false,
        }
    }
    match effects(conv, ctx, &keys) {
        Some(effects) => reply.effects = effects,
        None => ok = false,
    }
    if !ok {
        return None;
    }
    check_shape(conv, method, node, &keys, &reply).then_some(reply)
}

/// What a method can send: one message or an error for unary and client-streaming methods.
fn check_shape(
    conv: &mut Converter<'_>,
    method: &MethodDescriptor,
    node: &Node,
    keys: &std::collections::HashMap<&'static str, (&Node, &Node)>,
    reply: &Reply,
) -> bool {
    let name = method_name(method);
    if reply.trailers_only && !reply.stream.is_empty() {
        conv.error(
            node.span.clone(),
            Code::MessageAndError,
            "a trailers-only reply sends no messages",
        )
        .label("messages and `trailers_only`")
        .help("drop the messages, or `trailers_only`")
        .emit(conv);
        return false;
    }
    if method.is_server_streaming() {
        return true;
    }
    let fixed_error = reply
        .status
        .as_ref()
        .is_some_and(|s| matches!(s.code, Computed::Fixed(c) if c != GrpcCode::Ok));
    let templated_code = reply.status.as_ref().is_some_and(|s| s.code.is_template());
    if fixed_error && !reply.stream.is_empty() {
        conv.error(
            node.span.clone(),
            Code::MessageAndError,
            format!("`{name}` answers one message or an error, but this `then` has both"),
        )
        .label("message and error status")
        .help("drop the `message` to fail the call, or drop the `status` (or make it OK) to answer")
        .emit(conv);
        return false;
    }
    if !fixed_error && !templated_code && reply.stream.is_empty() && !keys.contains_key("set_state")
    {
        conv.error(
            node.span.clone(),
            Code::EmptyThen,
            "`then` needs a `message` or an error `status`",
        )
        .label("nothing to answer")
        .help("write `message: {}` to answer with an empty message")
        .emit(conv);
        return false;
    }
    true
}

/// A reply message of type `desc`; strings holding `{{ … }}` become holes.
pub(crate) fn payload(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
    desc: &MessageDescriptor,
    scope: &Scope,
) -> Option<Payload> {
    let mut c = Converter::new(conv.source, &mut *conv.errors)
        .with_trace(conv.trace.as_deref_mut())
        .with_templates(ctx.templates, scope);
    let message = c.message(node, desc)?;
    let holes = c.take_holes();
    Some(Payload::new(message, holes))
}

/// `stream:` items: messages, generated runs, faults.
pub(crate) fn stream(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
) -> Option<Vec<StreamPart>> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Map(_) => vec![node],
        _ => {
            conv.error(
                node.span.clone(),
                Code::ExpectedList,
                format!("`stream` takes a list of items, found {}", node.describe()),
            )
            .label("expected a list")
            .help("write each item as `- message: { … }`, with an optional `delay: 5ms`")
            .emit(conv);
            return None;
        }
    };
    let output = ctx.method.output();
    let mut parts = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(item_keys) = keys(conv, item, ITEM_KEYS, "a stream item") else {
            ok = false;
            continue;
        };
        if let Some(&(_, reason)) = item_keys.get("abort") {
            match abort_reason(conv, reason) {
                Some(code) => parts.push(StreamPart::Abort(code)),
                None => ok = false,
            }
            continue;
        }
        let Some(&(_, message)) = item_keys.get("message") else {
            conv.error(item.span.clone(), Code::StreamItem, "a stream item needs a `message`")
                .label("no message")
                .help("write each item as `- message: { … }`, with an optional `delay: 5ms`; `for_each` repeats it per element; `abort` resets the stream")
                .emit(conv);
            ok = false;
            continue;
        };
        if let Some(&(_, each)) = item_keys.get("for_each") {
            let var = match item_keys.get("as") {
                Some(&(_, v)) => scalar_text(conv, v, "a variable name").map(str::to_owned),
                None => Some("item".to_owned()),
            };
            let Some(var) = var else {
                ok = false;
                continue;
            };
            let scope = ctx.scope.with_locals(&[var.as_str(), "index"]);
            let items = template(
                conv,
                ctx.templates,
                ctx.scope,
                each,
                "a list (or a count) to repeat the message for",
            );
            let delay = match item_keys.get("delay") {
                Some(&(_, d)) => delay_in(conv, ctx.templates, &scope, d),
                None => Some(Delay::default()),
            };
            let payload = payload(conv, ctx, message, &output, &scope);
            match (items, delay, payload) {
                (Some(items), Some(delay), Some(payload)) => {
                    parts.push(StreamPart::Each(Generated {
                        items,
                        var,
                        payload,
                        delay,
                    }))
                }
                _ => ok = false,
            }
            continue;
        }
        let delay = match item_keys.get("delay") {
            Some(&(_, d)) => delay(conv, ctx, d),
            None => Some(Delay::default()),
        };
        let scope = ctx.scope.clone();
        match (payload(conv, ctx, message, &output, &scope), delay) {
            (Some(payload), Some(delay)) => {
                parts.push(StreamPart::Message(StreamItem { payload, delay }))
            }
            _ => ok = false,
        }
    }
    ok.then_some(parts)
}

/// A template that must be one (`for_each`), compiled in `scope`.
fn template(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    node: &Node,
    what: &str,
) -> Option<Template> {
    let text = scalar_text(conv, node, what)?;
    let source = if is_template(text) {
        text.to_owned()
    } else {
        format!("{{{{ {text} }}}}")
    };
    match templates.compile(&source, scope) {
        Ok(t) => Some(t),
        Err(error) => {
            compile_error(error)
                .at(conv.source, node.span.clone())
                .emit(conv);
            None
        }
    }
}

/// An HTTP/2 error code for RST_STREAM, by name or number.
fn abort_reason(conv: &mut Converter<'_>, node: &Node) -> Option<u32> {
    const REASONS: [(&str, u32); 14] = [
        ("NO_ERROR", 0),
        ("PROTOCOL_ERROR", 1),
        ("INTERNAL_ERROR", 2),
        ("FLOW_CONTROL_ERROR", 3),
        ("SETTINGS_TIMEOUT", 4),
        ("STREAM_CLOSED", 5),
        ("FRAME_SIZE_ERROR", 6),
        ("REFUSED_STREAM", 7),
        ("CANCEL", 8),
        ("COMPRESSION_ERROR", 9),
        ("CONNECT_ERROR", 10),
        ("ENHANCE_YOUR_CALM", 11),
        ("INADEQUATE_SECURITY", 12),
        ("HTTP_1_1_REQUIRED", 13),
    ];
    let text = scalar_text(conv, node, "an HTTP/2 error code")?;
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    let upper = text.to_ascii_uppercase();
    if let Some((_, code)) = REASONS.iter().find(|(name, _)| *name == upper) {
        return Some(*code);
    }
    let help = did_you_mean(
        &upper,
        REASONS.iter().map(|(n, _)| *n),
        "HTTP/2 error codes: ",
    );
    conv.error(
        node.span.clone(),
        Code::BadFault,
        format!("unknown HTTP/2 error code `{text}`"),
    )
    .label("not an HTTP/2 error code")
    .help(help)
    .emit(conv);
    None
}

fn flag(conv: &mut Converter<'_>, node: &Node) -> Option<bool> {
    match node.as_scalar().and_then(Scalar::as_bool) {
        Some(b) => Some(b),
        None => {
            conv.error(
                node.span.clone(),
                Code::TypeMismatch,
                format!("expected true or false, found {}", node.describe()),
            )
            .label("expected true or false")
            .emit(conv);
            None
        }
    }
}

/// `set_state`, `health`, `goaway`, `outage`.
pub(crate) fn effects(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    keys: &std::collections::HashMap<&'static str, (&Node, &Node)>,
) -> Option<Effects> {
    let mut effects = Effects::default();
    let mut ok = true;
    if let Some(&(_, value)) = keys.get("set_state") {
        match scalar_text(conv, value, "a state name") {
            Some(text) if is_template(text) => match ctx.templates.compile(text, ctx.scope) {
                Ok(t) => effects.set_state = Some(Computed::Template(t)),
                Err(error) => {
                    compile_error(error)
                        .at(conv.source, value.span.clone())
                        .emit(conv);
                    ok = false;
                }
            },
            Some(text) => effects.set_state = Some(Computed::Fixed(text.to_owned())),
            None => ok = false,
        }
    }
    if let Some(&(_, value)) = keys.get("health") {
        match health(conv, value) {
            Some(h) => effects.health = h,
            None => ok = false,
        }
    }
    if let Some(&(_, value)) = keys.get("goaway") {
        match flag(conv, value) {
            Some(on) => effects.goaway = on,
            None => ok = false,
        }
    }
    if let Some(&(_, value)) = keys.get("outage") {
        match duration(conv, value) {
            Some(d) => effects.outage = Some(d),
            None => ok = false,
        }
    }
    ok.then_some(effects)
}

/// `health: { service: SERVING | NOT_SERVING | UNKNOWN }` (`""` is the server as a whole).
pub(crate) fn health(conv: &mut Converter<'_>, node: &Node) -> Option<Vec<(String, Health)>> {
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            Code::ExpectedMapping,
            "`health` takes a mapping of service names to SERVING, NOT_SERVING or UNKNOWN",
        )
        .label("expected a mapping")
        .emit(conv);
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let service = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
        let status = v
            .as_scalar()
            .map(|s| s.text.to_ascii_uppercase())
            .unwrap_or_default();
        let health = match status.as_str() {
            "SERVING" => Health::Serving,
            "NOT_SERVING" => Health::NotServing,
            "UNKNOWN" => Health::Unknown,
            _ => {
                conv.error(
                    v.span.clone(),
                    Code::BadHealth,
                    format!("unknown health status `{status}`"),
                )
                .label("not a health status")
                .help("write SERVING, NOT_SERVING or UNKNOWN")
                .emit(conv);
                return None;
            }
        };
        out.push((service, health));
    }
    Some(out)
}

pub(crate) fn status(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
) -> Option<StatusReply> {
    if let Some(s) = node.as_scalar() {
        let code = code(conv, ctx, node, &s.text)?;
        return Some(StatusReply {
            code,
            message: Computed::Fixed(String::new()),
            details: Vec::new(),
            encoded_details: None,
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
    let code = code(conv, ctx, code_node, &code_text)?;
    let mut message = Computed::Fixed(String::new());
    if let Some(&(_, m)) = keys.get("message") {
        let t = scalar_text(conv, m, "a message")?.to_owned();
        if is_template(&t) {
            match ctx.templates.compile(&t, ctx.scope) {
                Ok(template) => message = Computed::Template(template),
                Err(error) => {
                    compile_error(error)
                        .at(conv.source, m.span.clone())
                        .emit(conv);
                    return None;
                }
            }
        } else {
            message = Computed::Fixed(t);
        }
    }
    let mut details = Vec::new();
    if let Some(&(_, d)) = keys.get("details") {
        details = status_details(conv, ctx, d)?;
    }
    let mut status = StatusReply {
        code,
        message,
        details,
        encoded_details: None,
    };
    if !status.details.is_empty() && !status.is_template() {
        // Fixed: encode the google.rpc.Status once, with the status's own code and message.
        let (code, message) = match (&status.code, &status.message) {
            (Computed::Fixed(c), Computed::Fixed(m)) => (*c, m.clone()),
            _ => return Some(status),
        };
        status.encoded_details = render::encode_status(
            code,
            &message,
            &status.details,
            &minijinja::Value::UNDEFINED,
        )
        .ok();
    }
    Some(status)
}

fn code(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
    text: &str,
) -> Option<Computed<GrpcCode>> {
    if is_template(text) {
        return match ctx.templates.compile(text, ctx.scope) {
            Ok(t) => Some(Computed::Template(t)),
            Err(error) => {
                compile_error(error)
                    .at(conv.source, node.span.clone())
                    .emit(conv);
                None
            }
        };
    }
    if let Some(code) = parse_code(text) {
        return Some(Computed::Fixed(code));
    }
    if let Ok(n) = text.trim().parse::<i64>() {
        conv.error(node.span.clone(), Code::BadStatus, format!("{n} is not a gRPC status code: codes are 0 to 16"))
            .label("out of range (0-16)")
            .help("write the code by name, e.g. `NOT_FOUND`, or as a number from 0 (OK) to 16 (UNAUTHENTICATED)")
            .emit(conv);
        return None;
    }
    let help = did_you_mean(text, CODES.iter().map(|(_, n)| *n), "codes: ");
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

/// `details: [{ "@type": google.rpc.BadRequest, … }]`: typed messages, templates allowed.
fn status_details(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
) -> Option<Vec<Detail>> {
    let NodeKind::Seq(items) = &node.kind else {
        conv.error(
            node.span.clone(),
            Code::ExpectedList,
            "`details` takes a list of messages, each with an `\"@type\"`",
        )
        .label("expected a list")
        .emit(conv);
        return None;
    };
    let pool = ctx.scope.input.parent_pool().clone();
    let mut details = Vec::new();
    let mut ok = true;
    for item in items {
        let Some((inner, body)) = conv.any_type(item, &pool) else {
            ok = false;
            continue;
        };
        let scope = ctx.scope.clone();
        match payload(conv, ctx, &body, &inner, &scope) {
            Some(payload) => details.push(Detail {
                type_url: format!("type.googleapis.com/{}", inner.full_name()),
                payload,
            }),
            None => ok = false,
        }
    }
    ok.then_some(details)
}

/// A delay: `250ms`, a template, or `{ base: …, jitter: … }`.
pub(crate) fn delay(conv: &mut Converter<'_>, ctx: &mut Ctx<'_, '_>, node: &Node) -> Option<Delay> {
    delay_in(conv, ctx.templates, ctx.scope, node)
}

fn delay_in(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    node: &Node,
) -> Option<Delay> {
    if node.as_map().is_some() {
        let keys = keys(conv, node, DELAY_KEYS, "a delay")?;
        let base = match keys.get("base") {
            Some(&(_, b)) => base(conv, templates, scope, b)?,
            None => Computed::Fixed(Duration::ZERO),
        };
        let jitter = match keys.get("jitter") {
            Some(&(_, j)) => duration(conv, j)?,
            None => Duration::ZERO,
        };
        return Some(Delay { base, jitter });
    }
    Some(Delay {
        base: base(conv, templates, scope, node)?,
        jitter: Duration::ZERO,
    })
}

fn base(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    node: &Node,
) -> Option<Computed<Duration>> {
    if let Some(text) = node.as_scalar().map(|s| s.text.clone())
        && is_template(&text)
    {
        return match templates.compile(&text, scope) {
            Ok(t) => Some(Computed::Template(t)),
            Err(error) => {
                compile_error(error)
                    .at(conv.source, node.span.clone())
                    .emit(conv);
                None
            }
        };
    }
    duration(conv, node).map(Computed::Fixed)
}

pub(crate) fn duration(conv: &mut Converter<'_>, node: &Node) -> Option<Duration> {
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
