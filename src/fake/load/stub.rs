//! One stub: its identity (`id`, `name`), `method`, `priority`, conditions (`when`), how it
//! answers (`then`, `sequence` or `conversation`), and its state (`times`, `scenario`, `key`,
//! `mode`).

use std::collections::HashMap;

use prost_reflect::MethodDescriptor;

use super::{
    conversation::conversation,
    convert::{Converter, compile_error},
    diagnostic::Code,
    expect::expect,
    shape::{keys, scalar_text},
    source::FixtureSource,
    then::{Ctx, then},
    trace::Meaning,
    when::when,
    yaml::{Node, NodeKind},
};
use crate::{
    Schema,
    fake::{
        model::{FixtureLocation, Matcher, Mode, Respond, SequenceItem, Step, Stub},
        template::{Scope, TemplateCompiler},
    },
    schema::{method_name, suggest},
};

pub(crate) const STUB_KEYS: [&str; 13] = [
    "id",
    "name",
    "method",
    "priority",
    "when",
    "then",
    "sequence",
    "conversation",
    "times",
    "scenario",
    "key",
    "mode",
    "expect",
];

/// What loading a stub reads and records besides the stub.
pub(crate) struct StubCtx<'a> {
    pub(crate) schema: &'a Schema,
    pub(crate) templates: &'a mut TemplateCompiler,
    /// Ids seen so far, for duplicates across files.
    pub(crate) ids: &'a mut HashMap<String, FixtureLocation>,
}

pub(crate) fn stub(
    conv: &mut Converter<'_>,
    ctx: &mut StubCtx<'_>,
    source: &FixtureSource,
    node: &Node,
) -> Option<Stub> {
    let keys = keys(conv, node, STUB_KEYS, "a stub")?;
    let origin = source.location(node.span.start);
    let Some(&(_, method_node)) = keys.get("method") else {
        conv.error(
            node.span.start..node.span.start,
            Code::MissingMethod,
            "stub has no `method`",
        )
        .label("this stub")
        .help("every stub names its method, e.g. `method: userservice.UserService/GetUser`")
        .emit(conv);
        return None;
    };
    let method = find_method(ctx.schema, conv, method_node)?;
    conv.record(method_node.span.start, || {
        Meaning::Method(format!(
            "{}{} -> {}{}",
            if method.is_client_streaming() {
                "stream "
            } else {
                ""
            },
            method.input().full_name(),
            if method.is_server_streaming() {
                "stream "
            } else {
                ""
            },
            method.output().full_name()
        ))
    });
    let mut ok = true;
    let mut id = None;
    if let Some(&(_, node)) = keys.get("id")
        && let Some(text) = scalar_text(conv, node, "a string id")
    {
        let location = source.location(node.span.start);
        if let Some(first) = ctx.ids.get(text) {
            conv.error(
                node.span.clone(),
                Code::DuplicateId,
                format!("duplicate stub id `{text}`"),
            )
            .label("used again here")
            .help(format!(
                "ids are unique across all fixture files; `{text}` is first used at {first}"
            ))
            .emit(conv);
        } else {
            ctx.ids.insert(text.to_owned(), location);
        }
        id = Some(text.to_owned());
    }
    let name = keys
        .get("name")
        .and_then(|&(_, n)| scalar_text(conv, n, "a name"))
        .map(str::to_owned);
    let mut priority = 0;
    if let Some(&(_, node)) = keys.get("priority")
        && let Some(text) = scalar_text(conv, node, "an integer priority")
    {
        match text.parse::<i64>() {
            Ok(p) => priority = p,
            Err(_) => conv
                .error(
                    node.span.clone(),
                    Code::BadPriority,
                    format!("expected an integer priority, found `{text}`"),
                )
                .label("not an integer")
                .help("higher priorities are tried first; the default is 0")
                .emit(conv),
        }
    }
    let scope = Scope::new(method.input());
    let matchers = match keys.get("when") {
        Some(&(_, node)) => when(conv, ctx.templates, &scope, &method, node),
        None => Vec::new(),
    };
    let mut times = None;
    if let Some(&(_, node)) = keys.get("times") {
        match scalar_text(conv, node, "a number of calls").map(|t| (t, t.parse::<u64>())) {
            Some((_, Ok(n))) if n > 0 => times = Some(n),
            Some((text, _)) => {
                conv.error(
                    node.span.clone(),
                    Code::BadSequence,
                    format!("`times` is a positive number of calls, not `{text}`"),
                )
                .label("expected a positive integer")
                .emit(conv);
                ok = false;
            }
            None => ok = false,
        }
    }
    let expect = match keys.get("expect") {
        Some(&(_, node)) => {
            let expect = expect(conv, node);
            ok &= expect.is_some();
            expect
        }
        None => None,
    };
    let scenario = keys
        .get("scenario")
        .and_then(|&(_, n)| scalar_text(conv, n, "a scenario name"))
        .map(str::to_owned);
    let key = match keys.get("key") {
        Some(&(_, node)) => {
            match scalar_text(conv, node, "a template, e.g. \"{{ request.job_id }}\"") {
                Some(text) => match ctx.templates.compile(text, &scope) {
                    Ok(t) => Some(t),
                    Err(error) => {
                        compile_error(error)
                            .at(conv.source, node.span.clone())
                            .emit(conv);
                        ok = false;
                        None
                    }
                },
                None => None,
            }
        }
        None => None,
    };
    let mode = match keys.get("mode") {
        Some(&(_, node)) => match scalar_text(conv, node, "`reactive` or `collect`") {
            Some("reactive") => Mode::Reactive,
            Some("collect") if method.is_client_streaming() && method.is_server_streaming() => {
                Mode::Collect
            }
            Some(other) => {
                let help = if other == "collect" {
                    "`mode` applies to bidi methods".to_owned()
                } else {
                    "`reactive` answers each message as it arrives; `collect` answers after the client half-closes".to_owned()
                };
                conv.error(
                    node.span.clone(),
                    Code::BadMode,
                    format!("`mode: {other}` does not apply here"),
                )
                .label("unknown mode")
                .help(help)
                .emit(conv);
                ok = false;
                Mode::Reactive
            }
            None => Mode::Reactive,
        },
        None => Mode::Reactive,
    };
    if matchers.iter().any(|m| matches!(m, Matcher::State(_))) && scenario.is_none() {
        let at = keys
            .get("when")
            .map_or(node.span.clone(), |&(k, _)| k.span.clone());
        conv.error(at, Code::BadScenario, "`when.state` needs the stub's `scenario`")
            .label("which scenario?")
            .help("name the state machine with `scenario: <name>`; stubs of any method that share the name share its state")
            .emit(conv);
        ok = false;
    }
    let respond = respond(conv, ctx, &method, &scope, node, &keys, mode, &matchers);
    let (Some(respond), true) = (respond, ok) else {
        return None;
    };
    let sets_state = respond
        .replies()
        .iter()
        .any(|r| r.effects.set_state.is_some())
        || matches!(&respond, Respond::Conversation(steps) if steps.iter().any(|s| matches!(s, Step::Effects(e) if e.set_state.is_some())));
    if sets_state && scenario.is_none() {
        conv.error(
            node.span.clone(),
            Code::BadScenario,
            "`set_state` needs the stub's `scenario`",
        )
        .label("which scenario?")
        .help("name the state machine with `scenario: <name>`")
        .emit(conv);
        return None;
    }
    let mut stub = Stub::responding(method, respond);
    stub.id = id;
    stub.name = name;
    stub.priority = priority;
    stub.when = matchers;
    stub.times = times;
    stub.scenario = scenario;
    stub.key = key;
    stub.mode = mode;
    stub.expect = expect;
    stub.origin = Some(origin);
    stub.relabel();
    Some(stub)
}

/// `then`, `sequence` or `conversation`: exactly one.
#[allow(clippy::too_many_arguments)]
fn respond(
    conv: &mut Converter<'_>,
    ctx: &mut StubCtx<'_>,
    method: &MethodDescriptor,
    scope: &Scope,
    node: &Node,
    keys: &HashMap<&'static str, (&Node, &Node)>,
    mode: Mode,
    matchers: &[Matcher],
) -> Option<Respond> {
    let given: Vec<&(&Node, &Node)> = ["then", "sequence", "conversation"]
        .iter()
        .filter_map(|k| keys.get(k))
        .collect();
    if given.is_empty() {
        conv.error(node.span.start..node.span.start, Code::MissingThen, "stub has no `then`")
            .label("this stub")
            .help("`then` says what to answer: a `message`, a `stream` of messages, or a `status`; `sequence` answers successive calls differently; `conversation` scripts a stream")
            .emit(conv);
        return None;
    }
    if let [_, (second, _), ..] = given[..] {
        conv.error(
            second.span.clone(),
            Code::MissingThen,
            "a stub answers with one of `then`, `sequence` or `conversation`",
        )
        .label("a second way to answer")
        .help("keep one; a `sequence` item is written like a `then`")
        .emit(conv);
        return None;
    }
    let mut reply_ctx = Ctx {
        templates: ctx.templates,
        scope,
        method,
    };
    if let Some(&(_, value)) = keys.get("then") {
        if let Some(repeat) = value.as_map().and_then(|e| {
            e.iter()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "repeat"))
        }) {
            conv.error(
                repeat.0.span.clone(),
                Code::BadSequence,
                "`repeat` belongs to an item of a `sequence`",
            )
            .label("not in a sequence")
            .help("a stub answers at most N calls with `times: N`")
            .emit(conv);
            return None;
        }
        return then(conv, &mut reply_ctx, value).map(|r| Respond::Reply(Box::new(r)));
    }
    if let Some(&(_, value)) = keys.get("sequence") {
        let NodeKind::Seq(items) = &value.kind else {
            conv.error(
                value.span.clone(),
                Code::ExpectedList,
                "`sequence` takes a list of replies, each written like a `then`",
            )
            .label("expected a list")
            .emit(conv);
            return None;
        };
        if items.is_empty() {
            conv.error(
                value.span.clone(),
                Code::BadSequence,
                "`sequence` needs at least one reply",
            )
            .label("empty")
            .emit(conv);
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            let repeat = item
                .as_map()
                .and_then(|e| {
                    e.iter()
                        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "repeat"))
                })
                .map(|(_, v)| v);
            let repeat = match repeat {
                Some(v) => match v
                    .as_scalar()
                    .and_then(|s| s.text.parse::<u64>().ok())
                    .filter(|n| *n > 0)
                {
                    Some(n) => n,
                    None => {
                        conv.error(
                            v.span.clone(),
                            Code::BadSequence,
                            "`repeat` is a positive number of calls",
                        )
                        .label("expected a positive integer")
                        .emit(conv);
                        ok = false;
                        1
                    }
                },
                None => 1,
            };
            match then(conv, &mut reply_ctx, item) {
                Some(reply) => out.push(SequenceItem { reply, repeat }),
                None => ok = false,
            }
        }
        return ok.then_some(Respond::Sequence(out));
    }
    let &(key, value) = keys.get("conversation")?;
    if mode == Mode::Collect {
        conv.error(
            key.span.clone(),
            Code::BadConversation,
            "a `conversation` runs the whole call; `mode: collect` does not apply to it",
        )
        .label("conversation and mode")
        .emit(conv);
        return None;
    }
    if matchers.iter().any(Matcher::reads_messages) {
        let at = keys
            .get("when")
            .map_or(key.span.clone(), |&(k, _)| k.span.clone());
        conv.error(at, Code::BadConversation, "a conversation is chosen when the call starts, before any message: its `when` can only test metadata, state or chance")
            .label("reads a message")
            .help("match messages inside the script with `expect: { message: … }`")
            .emit(conv);
        return None;
    }
    conversation(conv, &mut reply_ctx, value).map(Respond::Conversation)
}

pub(crate) fn find_method(
    schema: &Schema,
    conv: &mut Converter<'_>,
    node: &Node,
) -> Option<MethodDescriptor> {
    let text = scalar_text(conv, node, "a method as `package.Service/Method`")?;
    if let Some(method) = schema.method(text) {
        return Some(method);
    }
    let all: Vec<String> = schema
        .pool()
        .services()
        .flat_map(|s| s.methods().map(|m| method_name(&m)).collect::<Vec<_>>())
        .collect();
    let help = if !text.contains('/') {
        "write the method as `package.Service/Method`".to_owned()
    } else if let Some(best) = suggest(text, all.iter().map(String::as_str)) {
        format!("did you mean `{best}`?")
    } else if all.is_empty() {
        "the loaded protos define no services".to_owned()
    } else {
        format!("the loaded protos define: {}", all.join(", "))
    };
    conv.error(
        node.span.clone(),
        Code::UnknownMethod,
        format!("unknown method `{text}`"),
    )
    .label("not in the loaded protos")
    .help(help)
    .emit(conv);
    None
}
