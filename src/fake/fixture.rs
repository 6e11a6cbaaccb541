//! The fixture language: YAML (or JSON) files of stubs, validated against the descriptors.
//!
//! ```yaml
//! - id: missing-user
//!   method: userservice.UserService/GetUser
//!   priority: 10
//!   when:
//!     message: { user_id: missing }
//!   then:
//!     status: { code: NOT_FOUND, message: User not found }
//! ```
//!
//! Loading checks every stub before anything is served — methods exist, fields exist and their
//! values fit, templates parse and refer to real fields — and reports all problems at once, each
//! at its `file:line:col`. docs/fixtures.md is the reference.

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, Value};
use tonic::{
    Code,
    metadata::{
        AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
    },
};

use super::{
    diagnostic::{FixtureErrors, FixtureSource, Location},
    matchers::{FieldCheck, Matcher},
    respond::{Payload, Reply, StatusReply, StreamItem, Text},
    status::{CODES, parse_code},
    stub::{Stub, method_name, stub_label},
    template::{TemplateCompiler, TemplateScope},
    value::{Converter, Meaning, decode_base64, is_template, suggest},
    yaml::{self, Node, NodeKind},
};
use crate::Schema;

/// What each key and scalar of one source meant, by byte offset.
pub(crate) type Trace = Vec<(usize, Meaning)>;

const STUB_KEYS: [&str; 6] = ["id", "name", "method", "priority", "when", "then"];
const WHEN_KEYS: [&str; 5] = ["message", "message_eq", "messages", "metadata", "expr"];
const THEN_KEYS: [&str; 6] = [
    "message", "stream", "status", "headers", "trailers", "delay",
];
const ITEM_KEYS: [&str; 2] = ["message", "delay"];
const STATUS_KEYS: [&str; 3] = ["code", "message", "details"];

/// A validated set of stubs, ready to serve.
///
/// # Examples
///
/// ```
/// use grpc_double::{Fixtures, FixtureSource, Schema};
///
/// let schema = Schema::bundled();
/// let yaml = "- method: userservice.UserService/GetUser\n  then:\n    message: { name: Ada }\n";
/// let fixtures = Fixtures::load(&schema, &[FixtureSource::new("stubs.yaml", yaml)])?;
/// assert_eq!(fixtures.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fixtures {
    pub(crate) env: minijinja::Environment<'static>,
    /// Highest priority first; ties in file order.
    pub(crate) stubs: Vec<Stub>,
}

/// The bundled fixtures for `proto/users.proto`.
pub const BUNDLED_FIXTURES: &str = include_str!("../../fixtures/users.yaml");
/// The name the bundled fixtures are reported under.
pub const BUNDLED_FIXTURES_NAME: &str = "fixtures/users.yaml";

impl Fixtures {
    /// Loads and validates fixture files against a schema.
    ///
    /// # Errors
    ///
    /// Every problem found, each located at `file:line:col` with a hint.
    pub fn load(schema: &Schema, sources: &[FixtureSource]) -> Result<Self, FixtureErrors> {
        Self::load_traced(schema, sources, false).0
    }

    /// Loads, recording per source what each key and scalar meant (for fixture drift).
    pub(crate) fn load_traced(
        schema: &Schema,
        sources: &[FixtureSource],
        tracing: bool,
    ) -> (Result<Self, FixtureErrors>, Vec<Trace>) {
        let mut traces = Vec::new();
        let mut loader = Load {
            schema,
            errors: FixtureErrors::default(),
            templates: TemplateCompiler::new(),
            stubs: Vec::new(),
            ids: HashMap::new(),
            trace: None,
        };
        for source in sources {
            loader.trace = tracing.then(Vec::new);
            loader.file(source);
            traces.push(loader.trace.take().unwrap_or_default());
        }
        if !loader.errors.is_empty() {
            return (Err(loader.errors), traces);
        }
        let mut stubs = loader.stubs;
        // Stable: equal priorities keep file order.
        stubs.sort_by_key(|s| std::cmp::Reverse(s.priority));
        let fixtures = Self {
            env: loader.templates.finish(),
            stubs,
        };
        (Ok(fixtures), traces)
    }

    /// Gets the bundled fixtures, `fixtures/users.yaml`, for [`Schema::bundled`].
    pub fn bundled(schema: &Schema) -> Result<Self, FixtureErrors> {
        Self::load(
            schema,
            &[FixtureSource::new(BUNDLED_FIXTURES_NAME, BUNDLED_FIXTURES)],
        )
    }

    /// An empty set: every call answers UNIMPLEMENTED.
    pub fn empty() -> Self {
        Self {
            env: TemplateCompiler::new().finish(),
            stubs: Vec::new(),
        }
    }

    /// Gets the number of stubs.
    pub fn len(&self) -> usize {
        self.stubs.len()
    }

    /// Whether there are no stubs.
    pub fn is_empty(&self) -> bool {
        self.stubs.is_empty()
    }

    /// Lists stubs that can never answer, each with the catch-all stub (no `when`) tried before it,
    /// e.g. `("stub `b` (f.yaml:9:3)", "stub `a` (f.yaml:2:3)")`.
    pub fn shadowed(&self) -> Vec<(String, String)> {
        let mut catch_all: HashMap<String, &Stub> = HashMap::new();
        let mut out = Vec::new();
        for stub in &self.stubs {
            let method = stub.method_name();
            match catch_all.get(&method) {
                Some(first) => out.push((stub.to_string(), first.to_string())),
                None if stub.when.is_empty() => {
                    catch_all.insert(method, stub);
                }
                None => {}
            }
        }
        out
    }

    /// Gets the methods that have at least one stub, sorted, e.g. `userservice.UserService/GetUser`.
    pub fn methods(&self) -> Vec<String> {
        let mut methods: Vec<String> = self.stubs.iter().map(Stub::method_name).collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

impl std::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixtures")
            .field(
                "stubs",
                &self
                    .stubs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

struct Load<'s> {
    schema: &'s Schema,
    errors: FixtureErrors,
    templates: TemplateCompiler,
    stubs: Vec<Stub>,
    ids: HashMap<String, Location>,
    /// For fixture drift: what every key and scalar meant, by byte offset.
    trace: Option<Trace>,
}

/// A stub's mapping split into its known keys; unknown keys are reported.
fn keys<'n, const N: usize>(
    conv: &mut Converter<'_>,
    node: &'n Node,
    known: [&'static str; N],
    what: &str,
) -> Option<HashMap<&'static str, (&'n Node, &'n Node)>> {
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            "grpc_double::fixture::expected_mapping",
            format!("expected {what} as a mapping, found {}", node.describe()),
        )
        .label("expected a mapping")
        .help(format!("{what} takes the keys: {}", known.join(", ")))
        .emit();
        return None;
    };
    let mut out = HashMap::new();
    for (key, value) in entries {
        let text = key.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        match known.iter().find(|k| **k == text) {
            Some(k) => {
                out.insert(*k, (key, value));
            }
            None => {
                let help = suggest(text, known.into_iter()).map_or_else(
                    || format!("{what} takes the keys: {}", known.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                conv.error(
                    key.span.clone(),
                    "grpc_double::fixture::unknown_key",
                    format!("unknown key `{text}` in {what}"),
                )
                .label("unknown key")
                .help(help)
                .emit();
            }
        }
    }
    Some(out)
}

fn scalar_text<'n>(conv: &mut Converter<'_>, node: &'n Node, what: &str) -> Option<&'n str> {
    match node.as_scalar() {
        Some(s) if !s.is_null() => Some(s.text.as_str()),
        _ => {
            conv.error(
                node.span.clone(),
                "grpc_double::fixture::expected_scalar",
                format!("expected {what}, found {}", node.describe()),
            )
            .label(format!("expected {what}"))
            .emit();
            None
        }
    }
}

impl Load<'_> {
    fn file(&mut self, source: &FixtureSource) {
        let docs = match yaml::parse(source.text()) {
            Ok(docs) => docs,
            Err(err) => {
                let end = (err.offset + 1).min(source.text().len()).max(err.offset);
                Converter::new(source, &mut self.errors)
                    .error(
                        err.offset..end,
                        "grpc_double::fixture::yaml",
                        format!("invalid YAML: {}", err.message),
                    )
                    .label("here")
                    .emit();
                return;
            }
        };
        for doc in &docs {
            match &doc.kind {
                _ if doc.is_null() => {}
                NodeKind::Seq(stubs) => stubs.iter().for_each(|s| self.stub(source, s)),
                NodeKind::Map(entries) => {
                    let stubs = entries
                        .iter()
                        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "stubs"));
                    match stubs {
                        Some((_, node)) if entries.len() == 1 => match &node.kind {
                            NodeKind::Seq(stubs) => stubs.iter().for_each(|s| self.stub(source, s)),
                            _ if node.is_null() => {}
                            _ => self.top_level_error(source, node),
                        },
                        _ if entries
                            .iter()
                            .any(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "method")) =>
                        {
                            self.stub(source, doc);
                        }
                        _ => self.top_level_error(source, doc),
                    }
                }
                NodeKind::Scalar(_) => self.top_level_error(source, doc),
            }
        }
    }

    fn top_level_error(&mut self, source: &FixtureSource, node: &Node) {
        Converter::new(source, &mut self.errors)
            .error(node.span.clone(), "grpc_double::fixture::top_level", format!("expected a list of stubs, found {}", node.describe()))
            .label("expected a list of stubs")
            .help("a fixture file is a list of stubs (`- method: pkg.Service/Method …`), or a mapping with a `stubs:` list")
            .emit();
    }

    fn stub(&mut self, source: &FixtureSource, node: &Node) {
        let mut conv = Converter::new(source, &mut self.errors).with_trace(self.trace.as_mut());
        let Some(keys) = keys(&mut conv, node, STUB_KEYS, "a stub") else {
            return;
        };
        let origin = source.location(node.span.start);
        let Some(&(method_key, method_node)) = keys.get("method") else {
            conv.error(
                node.span.start..node.span.start,
                "grpc_double::fixture::missing_method",
                "stub has no `method`",
            )
            .label("this stub")
            .help("every stub names its method, e.g. `method: userservice.UserService/GetUser`")
            .emit();
            return;
        };
        let _ = method_key;
        let Some(method) = find_method(self.schema, &mut conv, method_node) else {
            return;
        };
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
        let mut id = None;
        if let Some(&(_, node)) = keys.get("id")
            && let Some(text) = scalar_text(&mut conv, node, "a string id")
        {
            let location = source.location(node.span.start);
            if let Some(first) = self.ids.get(text) {
                conv.error(
                    node.span.clone(),
                    "grpc_double::fixture::duplicate_id",
                    format!("duplicate stub id `{text}`"),
                )
                .label("used again here")
                .help(format!(
                    "ids are unique across all fixture files; `{text}` is first used at {first}"
                ))
                .emit();
            } else {
                self.ids.insert(text.to_owned(), location);
            }
            id = Some(text.to_owned());
        }
        let name = keys
            .get("name")
            .and_then(|&(_, n)| scalar_text(&mut conv, n, "a name"))
            .map(str::to_owned);
        let mut priority = 0;
        if let Some(&(_, node)) = keys.get("priority")
            && let Some(text) = scalar_text(&mut conv, node, "an integer priority")
        {
            match text.parse::<i64>() {
                Ok(p) => priority = p,
                Err(_) => conv
                    .error(
                        node.span.clone(),
                        "grpc_double::fixture::bad_priority",
                        format!("expected an integer priority, found `{text}`"),
                    )
                    .label("not an integer")
                    .help("higher priorities are tried first; the default is 0")
                    .emit(),
            }
        }
        let scope = TemplateScope {
            input: method.input(),
        };
        let when = match keys.get("when") {
            Some(&(_, node)) => when(&mut conv, &mut self.templates, &scope, &method, node),
            None => Vec::new(),
        };
        let Some(&(_, then_node)) = keys.get("then") else {
            conv.error(
                node.span.start..node.span.start,
                "grpc_double::fixture::missing_then",
                "stub has no `then`",
            )
            .label("this stub")
            .help("`then` says what to answer: a `message`, a `stream` of messages, or a `status`")
            .emit();
            return;
        };
        let Some(then) = then(&mut conv, &mut self.templates, &scope, &method, then_node) else {
            return;
        };
        let label = stub_label(id.as_deref(), name.as_deref(), &origin);
        self.stubs.push(Stub {
            label,
            method,
            priority,
            when,
            then,
        });
    }
}

fn find_method(schema: &Schema, conv: &mut Converter<'_>, node: &Node) -> Option<MethodDescriptor> {
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
        "grpc_double::fixture::unknown_method",
        format!("unknown method `{text}`"),
    )
    .label("not in the loaded protos")
    .help(help)
    .emit();
    None
}

fn when(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &TemplateScope,
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
                conv.error(key_node.span.clone(), "grpc_double::fixture::stream_matcher", format!(
                    "`when.{key}` does not apply to client-streaming `{}`",
                    method_name(method)
                ))
                .label("one message of many")
                .help("match the stream with `when.messages` (every message, in order) or `when.expr` (e.g. `requests | length > 2`)")
                .emit();
            }
            "message" => matchers.push(Matcher::Fields(partial(conv, value, &input, &[]))),
            "message_eq" => {
                if let Some(message) = conv.message(value, &input) {
                    matchers.push(Matcher::Exact(message));
                }
            }
            "messages" if !method.is_client_streaming() => {
                conv.error(key_node.span.clone(), "grpc_double::fixture::stream_matcher", format!(
                    "`when.messages` applies to client-streaming methods; `{}` receives one message",
                    method_name(method)
                ))
                .label("not a client stream")
                .help("use `when.message`")
                .emit();
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
                        "grpc_double::fixture::expected_list",
                        "`when.messages` takes a list of messages",
                    )
                    .label("expected a list")
                    .emit(),
            },
            "metadata" => {
                if let Some(pairs) = metadata_pairs(conv, value) {
                    matchers.push(Matcher::Metadata(pairs));
                }
            }
            "expr" => {
                if let Some(text) = scalar_text(conv, value, "an expression") {
                    match templates.compile_expr(text, scope) {
                        Ok(template) => matchers.push(Matcher::Expr {
                            template,
                            source: text.to_owned(),
                        }),
                        Err(problem) => conv
                            .error(value.span.clone(), problem.code, problem.message)
                            .label("invalid expression")
                            .maybe_help(problem.help)
                            .emit(),
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
            "grpc_double::fixture::expected_message",
            format!(
                "expected fields of `{}` to match, found {}",
                desc.full_name(),
                node.describe()
            ),
        )
        .label("expected a mapping")
        .emit();
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

fn metadata_pairs(conv: &mut Converter<'_>, node: &Node) -> Option<Vec<(String, String)>> {
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            "grpc_double::fixture::expected_mapping",
            "metadata takes a mapping of header names to values",
        )
        .label("expected a mapping")
        .emit();
        return None;
    };
    let mut pairs = Vec::new();
    for (k, v) in entries {
        let key = k
            .as_scalar()
            .map(|s| s.text.to_ascii_lowercase())
            .unwrap_or_default();
        if key.parse::<AsciiMetadataKey>().is_err() && key.parse::<BinaryMetadataKey>().is_err() {
            conv.error(
                k.span.clone(),
                "grpc_double::fixture::bad_header",
                format!("`{key}` is not a valid header name"),
            )
            .label("invalid header name")
            .help("header names use lowercase letters, digits, `-`, `_` and `.`")
            .emit();
            continue;
        }
        let Some(value) = v.as_scalar().map(|s| s.text.clone()) else {
            conv.error(
                v.span.clone(),
                "grpc_double::fixture::bad_header",
                "header values are strings",
            )
            .label("expected a string")
            .emit();
            continue;
        };
        pairs.push((key, value));
    }
    Some(pairs)
}

fn then(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &TemplateScope,
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
                "grpc_double::fixture::message_and_stream",
                "`then` has both `message` and `stream`",
            )
            .label("one or the other")
            .help("a single `message` is a one-message stream; put every message under `stream`")
            .emit();
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
            conv.error(key.span.clone(), "grpc_double::fixture::stream_on_unary", format!(
                "`{name}` returns a single message; `then.stream` is for server-streaming methods"
            ))
            .label("not a streaming method")
            .help("answer with `then.message`")
            .emit();
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
                            "grpc_double::fixture::stream_item",
                            "a stream item needs a `message`",
                        )
                        .label("no message")
                        .help(
                            "write each item as `- message: { … }`, with an optional `delay: 5ms`",
                        )
                        .emit();
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
                "grpc_double::fixture::expected_list",
                format!(
                    "`then.stream` takes a list of items, found {}",
                    value.describe()
                ),
            )
            .label("expected a list")
            .help("write each item as `- message: { … }`, with an optional `delay: 5ms`")
            .emit();
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
            conv.error(key.span.clone(), "grpc_double::fixture::bidi_headers", format!(
                "`{name}` is bidirectional: its headers are sent before the first message is matched"
            ))
            .label("cannot apply")
            .help("remove `headers`; metadata can ride on an error `status` as `trailers`")
            .emit();
            ok = false;
        }
        if let (Some(&(key, _)), false) = (keys.get("trailers"), error_status) {
            conv.error(key.span.clone(), "grpc_double::fixture::bidi_trailers", format!(
                "`{name}` is bidirectional: `trailers` need an error `status` that ends the call"
            ))
            .label("no status to carry them")
            .emit();
            ok = false;
        }
    }
    if !method.is_server_streaming() && ok {
        if error_status && !reply.messages.is_empty() {
            conv.error(node.span.clone(), "grpc_double::fixture::message_and_error", format!(
                "`{name}` answers one message or an error, but this `then` has both"
            ))
            .label("message and error status")
            .help("drop the `message` to fail the call, or drop the `status` (or make it OK) to answer")
            .emit();
            ok = false;
        } else if !error_status && reply.messages.is_empty() {
            conv.error(
                node.span.clone(),
                "grpc_double::fixture::empty_then",
                "`then` needs a `message` or an error `status`",
            )
            .label("nothing to answer")
            .help("write `message: {}` to answer with an empty message")
            .emit();
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
    scope: &TemplateScope,
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
            "grpc_double::fixture::status_code",
            "`status` needs a `code`",
        )
        .label("no code")
        .help("e.g. `status: { code: NOT_FOUND, message: User not found }`")
        .emit();
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
                Err(problem) => {
                    conv.error(m.span.clone(), problem.code, problem.message)
                        .maybe_help(problem.help)
                        .emit();
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

fn code(conv: &mut Converter<'_>, node: &Node, text: &str) -> Option<Code> {
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
        "grpc_double::fixture::status_code",
        format!("unknown status code `{text}`"),
    )
    .label("not a gRPC code")
    .help(help)
    .emit();
    None
}

/// `details: [{ "@type": google.rpc.BadRequest, … }]` as an encoded `google.rpc.Status`.
fn status_details(
    conv: &mut Converter<'_>,
    pool: &prost_reflect::DescriptorPool,
    code: Code,
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
            "grpc_double::fixture::expected_list",
            "`details` takes a list of messages, each with an `\"@type\"`",
        )
        .label("expected a list")
        .emit();
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

fn metadata_map(conv: &mut Converter<'_>, node: &Node) -> Option<MetadataMap> {
    let pairs = metadata_pairs(conv, node)?;
    let mut map = MetadataMap::new();
    for (key, value) in pairs {
        if key.ends_with("-bin") {
            let (Ok(k), Some(bytes)) = (key.parse::<BinaryMetadataKey>(), decode_base64(&value))
            else {
                conv.error(
                    node.span.clone(),
                    "grpc_double::fixture::bad_header",
                    format!("`{key}` is a binary header; its value must be base64"),
                )
                .emit();
                return None;
            };
            map.append_bin(k, BinaryMetadataValue::from_bytes(&bytes));
        } else {
            let (Ok(k), Ok(v)) = (
                key.parse::<AsciiMetadataKey>(),
                value.parse::<AsciiMetadataValue>(),
            ) else {
                conv.error(
                    node.span.clone(),
                    "grpc_double::fixture::bad_header",
                    format!("header `{key}` has a value that is not printable ASCII"),
                )
                .help("binary values go in headers whose names end in `-bin`, written as base64")
                .emit();
                return None;
            };
            map.append(k, v);
        }
    }
    Some(map)
}

fn duration(conv: &mut Converter<'_>, node: &Node) -> Option<Duration> {
    let text = scalar_text(conv, node, "a duration")?;
    match parse_duration(text) {
        Some(d) => Some(d),
        None => {
            conv.error(
                node.span.clone(),
                "grpc_double::fixture::bad_duration",
                format!("`{text}` is not a duration"),
            )
            .label("not a duration")
            .help(
                "write a number with a unit: `250ms`, `1.5s`, `2m`; a bare number is milliseconds",
            )
            .emit();
            None
        }
    }
}

/// `250ms`, `1.5s`, `2m`, `100us`; a bare number is milliseconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_replies_are_encoded_at_load_time() {
        use crate::fake::respond::Payload;
        let schema = Schema::bundled();
        let fixtures = Fixtures::bundled(&schema).unwrap();
        let payloads = |method: &str| -> Vec<bool> {
            fixtures
                .stubs
                .iter()
                .filter(|s| s.method_name() == method)
                .flat_map(|s| {
                    s.then
                        .messages
                        .iter()
                        .map(|m| matches!(m.payload, Payload::Static(_)))
                })
                .collect()
        };
        // ListUsers answers constants; GetUser's reply fills `user_id` from the request.
        assert_eq!(payloads("userservice.UserService/ListUsers"), [true, true]);
        assert_eq!(payloads("userservice.UserService/GetUser"), [false]);
    }

    /// Every field type, well-known types included, for the reply property below.
    const SINK: &str = r#"
syntax = "proto3";
package sink;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

service Sink {
  rpc Scalars(Empty) returns (Scalars);
  rpc Shapes(Empty) returns (Shapes);
  rpc Known(Empty) returns (Known);
}
message Empty {}
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
message Scalars {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 fx32 = 9; fixed64 fx64 = 10; sfixed32 sf32 = 11;
  sfixed64 sf64 = 12; bool b = 13; string s = 14; bytes by = 15; Color color = 16;
  optional int32 maybe = 17; optional string maybe_text = 18;
}
message Shapes {
  message Inner { string name = 1; repeated int64 values = 2; Inner next = 3; }
  repeated string tags = 1;
  repeated Color colors = 2;
  repeated Inner inners = 3;
  map<string, int32> by_name = 4;
  map<int64, string> by_number = 5;
  map<bool, Inner> by_flag = 6;
  map<uint32, Color> by_code = 7;
  oneof pick { string text = 8; Inner inner = 9; double ratio = 10; }
  Inner single = 11;
  repeated double samples = 12;
}
message Known {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Int32Value count = 3;
  google.protobuf.StringValue label = 4;
  google.protobuf.BytesValue blob = 5;
  google.protobuf.BoolValue flag = 6;
  google.protobuf.UInt64Value big = 7;
  google.protobuf.Struct extra = 8;
  google.protobuf.Value any_value = 9;
  google.protobuf.ListValue list = 10;
  google.protobuf.FieldMask mask = 11;
  google.protobuf.Any packed = 12;
  google.protobuf.Empty nothing = 13;
}
"#;

    /// JSON text as YAML: non-ASCII and control characters (which YAML may not take raw) become
    /// escapes; they only occur inside JSON strings, which are YAML double-quoted scalars.
    fn json_as_yaml(json: &str) -> String {
        let mut out = String::with_capacity(json.len());
        for c in json.chars() {
            match c as u32 {
                0x20..=0x7e => out.push(c),
                n if n <= 0xffff => out.push_str(&format!("\\u{n:04X}")),
                n => out.push_str(&format!("\\U{n:08X}")),
            }
        }
        out
    }

    use proptest::strategy::Strategy as _;

    /// A generated reply; printed as the method and proto3 JSON (prost-reflect's `Debug` of a
    /// recursive message type does not terminate).
    #[derive(Clone)]
    struct Case {
        method: MethodDescriptor,
        message: DynamicMessage,
        /// Write lowerCamel JSON names instead of proto names.
        json_names: bool,
    }

    impl std::fmt::Debug for Case {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let names = if self.json_names {
                "JSON names"
            } else {
                "proto names"
            };
            write!(
                f,
                "{} -> {} ({names})",
                method_name(&self.method),
                crate::fake::matchers::show_message(&self.message)
            )
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
            failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
                "proptest-regressions/fixture_replies.txt",
            ))),
            ..proptest::test_runner::Config::default()
        })]

        /// Any message, written as a fixture reply in its proto3 JSON form, loads, renders and
        /// decodes under the method's output type as the same message.
        #[test]
        fn any_reply_written_in_a_fixture_decodes_as_written(
            case in {
                let schema = Schema::from_sources([("sink.proto", SINK)]).unwrap();
                let methods: Vec<_> = schema.pool().get_service_by_name("sink.Sink").unwrap().methods().collect();
                proptest::sample::select(methods).prop_flat_map(|m| {
                    let output = m.output();
                    (crate::roundtrip::arb_message(&output, &crate::roundtrip::StrategyConfig::default()), proptest::bool::ANY)
                        .prop_map(move |(message, json_names)| Case { method: m.clone(), message, json_names })
                })
            }
        ) {
            use crate::fake::respond::Payload;
            use proptest::prelude::*;
            let Case { method, message, json_names } = case;
            let options = prost_reflect::SerializeOptions::new().use_proto_field_name(!json_names);
            let mut json = Vec::new();
            message.serialize_with_options(&mut serde_json::Serializer::new(&mut json), &options).unwrap();
            let json = String::from_utf8(json).unwrap();
            // Strings holding template syntax are templates by design, not literal text.
            prop_assume!(!json.contains("{{") && !json.contains("{%"));
            let yaml = format!("- method: {}\n  then:\n    message: {}\n", method_name(&method), json_as_yaml(&json));
            let schema = Schema::from_pool(method.parent_pool().clone());
            let fixtures = Fixtures::load(&schema, &[FixtureSource::new("p.yaml", yaml.as_str())])
                .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
            let Payload::Static(bytes) = &fixtures.stubs[0].then.messages[0].payload else {
                return Err(TestCaseError::fail("a reply without templates is encoded at load"));
            };
            let decoded = prost_reflect::DynamicMessage::decode(method.output(), bytes.as_ref()).unwrap();
            prop_assert!(
                crate::fake::matchers::message_eq(&decoded, &message),
                "wrote {json}\nread  {}", crate::fake::matchers::show_message(&decoded)
            );
        }
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("5ms"), Some(Duration::from_millis(5)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1s"), None);
    }
}
