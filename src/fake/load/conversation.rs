//! `conversation`: a script for a whole client or bidi stream, chosen when the call starts.
//!
//! ```yaml
//! conversation:
//!   - headers: { x-session: "{{ uuid() }}" }
//!   - send: { message: { text: welcome } }         # server-initiated: no input needed
//!   - expect: { message: { text: hello } }         # the next client message must match
//!   - send: { message: { text: "hi {{ request.name }}" } }
//!   - wait: 50ms
//!   - expect: half_close
//!   - close: { status: { code: OK }, trailers: { x-turns: "2" } }
//! ```

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    metadata::metadata_entries,
    shape::{keys, scalar_text},
    test::partial,
    then::{Ctx, delay, effects, status, stream},
    yaml::{Node, NodeKind},
};
use crate::fake::model::{Matcher, Step, StreamPart};

const STEP_KEYS: [&str; 11] = [
    "headers",
    "expect",
    "send",
    "wait",
    "close",
    "status",
    "set_state",
    "health",
    "goaway",
    "outage",
    "trailers",
];
const EXPECT_KEYS: [&str; 2] = ["message", "expr"];
const CLOSE_KEYS: [&str; 2] = ["status", "trailers"];

pub(crate) fn conversation(
    conv: &mut Converter<'_>,
    ctx: &mut Ctx<'_, '_>,
    node: &Node,
) -> Option<Vec<Step>> {
    let method = ctx.method;
    if !method.is_client_streaming() {
        conv.error(
            node.span.clone(),
            Code::BadConversation,
            "a `conversation` scripts a client or bidi stream; this method receives one message",
        )
        .label("not a streaming method")
        .help("answer with `then` (or `sequence`)")
        .emit(conv);
        return None;
    }
    let NodeKind::Seq(items) = &node.kind else {
        conv.error(
            node.span.clone(),
            Code::ExpectedList,
            "`conversation` takes a list of steps",
        )
        .label("expected a list")
        .help("steps: `headers`, `expect`, `send`, `wait`, `close`, `set_state`")
        .emit(conv);
        return None;
    };
    let mut steps = Vec::new();
    let mut ok = true;
    let mut sent = 0usize;
    for item in items {
        let Some(step_keys) = keys(conv, item, STEP_KEYS, "a conversation step") else {
            ok = false;
            continue;
        };
        let named: Vec<&str> = step_keys
            .keys()
            .copied()
            .filter(|k| !matches!(*k, "trailers" | "status"))
            .collect();
        let step = if let Some(&(key, value)) = step_keys.get("headers") {
            if !steps.is_empty() {
                conv.error(key.span.clone(), Code::BadConversation, "`headers` is the first step of a conversation: they are sent when the call starts")
                    .label("not the first step")
                    .help("move `headers` to the top; they can use `metadata`, not messages")
                    .emit(conv);
                ok = false;
                continue;
            }
            metadata_entries(conv, ctx.templates, ctx.scope, value).map(Step::Headers)
        } else if let Some(&(_, value)) = step_keys.get("expect") {
            expect(conv, ctx, value)
        } else if let Some(&(_, value)) = step_keys.get("send") {
            let parts = stream(conv, ctx, value);
            if let Some(parts) = &parts {
                sent += parts
                    .iter()
                    .filter(|p| !matches!(p, StreamPart::Abort(_)))
                    .count();
            }
            parts.map(Step::Send)
        } else if let Some(&(_, value)) = step_keys.get("wait") {
            delay(conv, ctx, value).map(Step::Wait)
        } else if step_keys.contains_key("close") || step_keys.contains_key("status") {
            let node = step_keys.get("close").map_or(item, |&(_, v)| v);
            close(conv, ctx, node)
        } else if named
            .iter()
            .any(|k| matches!(*k, "set_state" | "health" | "goaway" | "outage"))
        {
            effects(conv, ctx, &step_keys).map(Step::Effects)
        } else {
            conv.error(
                item.span.clone(),
                Code::BadConversation,
                "an empty conversation step",
            )
            .label("nothing to do")
            .help("steps: `headers`, `expect`, `send`, `wait`, `close`, `set_state`")
            .emit(conv);
            None
        };
        match step {
            Some(step) => steps.push(step),
            None => ok = false,
        }
    }
    if !method.is_server_streaming() && sent != 1 && ok {
        conv.error(
            node.span.clone(),
            Code::BadConversation,
            format!(
                "a client-streaming method answers one message; this conversation sends {sent}"
            ),
        )
        .label("one `send` of one message")
        .emit(conv);
        ok = false;
    }
    ok.then_some(steps)
}

/// `expect: half_close`, `expect: any`, or `expect: { message: …, expr: … }`.
fn expect(conv: &mut Converter<'_>, ctx: &mut Ctx<'_, '_>, node: &Node) -> Option<Step> {
    if let Some(text) = node.as_scalar().map(|s| s.text.as_str()) {
        return match text {
            "half_close" => Some(Step::HalfClose),
            "any" | "" => Some(Step::Expect(Vec::new())),
            other => {
                conv.error(
                    node.span.clone(),
                    Code::BadConversation,
                    format!(
                        "`expect` takes `half_close`, `any` or a message to match, not `{other}`"
                    ),
                )
                .label("unknown expectation")
                .emit(conv);
                None
            }
        };
    }
    let keys = keys(conv, node, EXPECT_KEYS, "`expect`")?;
    let mut matchers = Vec::new();
    if let Some(&(_, value)) = keys.get("message") {
        matchers.push(Matcher::Fields(partial(
            conv,
            value,
            &ctx.method.input(),
            &[],
        )));
    }
    if let Some(&(_, value)) = keys.get("expr") {
        let text = scalar_text(conv, value, "an expression")?;
        match ctx.templates.compile_expr(text, ctx.scope) {
            Ok(template) => matchers.push(Matcher::Expr(template)),
            Err(error) => {
                compile_error(error)
                    .at(conv.source, value.span.clone())
                    .emit(conv);
                return None;
            }
        }
    }
    Some(Step::Expect(matchers))
}

/// `close: { status: …, trailers: … }`: ends the call.
fn close(conv: &mut Converter<'_>, ctx: &mut Ctx<'_, '_>, node: &Node) -> Option<Step> {
    if node.is_null() {
        return Some(Step::Close {
            status: None,
            trailers: Vec::new(),
        });
    }
    let keys = keys(conv, node, CLOSE_KEYS, "`close`")?;
    let status = match keys.get("status") {
        Some(&(_, value)) => Some(status(conv, ctx, value)?),
        None => None,
    };
    let trailers = match keys.get("trailers") {
        Some(&(_, value)) => metadata_entries(conv, ctx.templates, ctx.scope, value)?,
        None => Vec::new(),
    };
    Some(Step::Close { status, trailers })
}
