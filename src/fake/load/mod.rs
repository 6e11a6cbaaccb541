//! The fixture language: YAML (or JSON) files of stubs, validated against the descriptors and
//! turned into the [model](crate::fake::model).
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
//! at its `file:line:col` ([`FixtureError`]). docs/fixtures.md is the reference.
//!
//! The passes: `yaml` parses into spanned nodes; `shape` checks keys; `when` and `then` build
//! matchers and replies, with `convert` and `scalar` typing values by descriptor and `trace`
//! recording what each value meant (for fixture drift).

mod convert;
mod diagnostic;
mod metadata;
mod scalar;
mod shape;
mod source;
mod then;
mod trace;
mod when;
mod yaml;

use std::collections::HashMap;

use prost_reflect::MethodDescriptor;

pub(crate) use self::trace::{Meaning, Trace};
use self::{
    convert::Converter,
    diagnostic::Code,
    shape::{keys, scalar_text},
    then::then,
    when::when,
    yaml::{Node, NodeKind},
};
pub use self::{
    diagnostic::{FixtureError, FixtureErrors},
    source::FixtureSource,
    then::parse_duration,
};
use crate::{
    Schema,
    fake::{
        model::{FixtureLocation, Fixtures, Stub},
        template::{Scope, TemplateCompiler},
    },
    schema::{method_name, suggest},
};

const STUB_KEYS: [&str; 6] = ["id", "name", "method", "priority", "when", "then"];

/// The bundled fixtures for `proto/users.proto`.
pub const BUNDLED_FIXTURES: &str = include_str!("../../../fixtures/users.yaml");
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
        loader.templates.finish();
        (Ok(Fixtures::from_stubs(loader.stubs)), traces)
    }

    /// Gets the bundled fixtures, `fixtures/users.yaml`, for [`Schema::bundled`].
    ///
    /// # Errors
    ///
    /// Only when `schema` is not the bundled contract.
    pub fn bundled(schema: &Schema) -> Result<Self, FixtureErrors> {
        Self::load(
            schema,
            &[FixtureSource::new(BUNDLED_FIXTURES_NAME, BUNDLED_FIXTURES)],
        )
    }
}

struct Load<'s> {
    schema: &'s Schema,
    errors: FixtureErrors,
    templates: TemplateCompiler,
    stubs: Vec<Stub>,
    ids: HashMap<String, FixtureLocation>,
    /// For fixture drift: what every key and scalar meant, by byte offset.
    trace: Option<Trace>,
}

impl Load<'_> {
    fn file(&mut self, source: &FixtureSource) {
        let docs = match yaml::parse(source.text()) {
            Ok(docs) => docs,
            Err(err) => {
                let end = (err.offset + 1).min(source.text().len()).max(err.offset);
                let mut conv = Converter::new(source, &mut self.errors);
                conv.error(
                    err.offset..end,
                    Code::Yaml,
                    format!("invalid YAML: {}", err.message),
                )
                .label("here")
                .emit(&mut conv);
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
        let mut conv = Converter::new(source, &mut self.errors);
        conv.error(node.span.clone(), Code::TopLevel, format!("expected a list of stubs, found {}", node.describe()))
            .label("expected a list of stubs")
            .help("a fixture file is a list of stubs (`- method: pkg.Service/Method …`), or a mapping with a `stubs:` list")
            .emit(&mut conv);
    }

    fn stub(&mut self, source: &FixtureSource, node: &Node) {
        let mut conv = Converter::new(source, &mut self.errors).with_trace(self.trace.as_mut());
        let Some(keys) = keys(&mut conv, node, STUB_KEYS, "a stub") else {
            return;
        };
        let origin = source.location(node.span.start);
        let Some(&(_, method_node)) = keys.get("method") else {
            conv.error(
                node.span.start..node.span.start,
                Code::MissingMethod,
                "stub has no `method`",
            )
            .label("this stub")
            .help("every stub names its method, e.g. `method: userservice.UserService/GetUser`")
            .emit(&mut conv);
            return;
        };
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
                    Code::DuplicateId,
                    format!("duplicate stub id `{text}`"),
                )
                .label("used again here")
                .help(format!(
                    "ids are unique across all fixture files; `{text}` is first used at {first}"
                ))
                .emit(&mut conv);
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
                        Code::BadPriority,
                        format!("expected an integer priority, found `{text}`"),
                    )
                    .label("not an integer")
                    .help("higher priorities are tried first; the default is 0")
                    .emit(&mut conv),
            }
        }
        let scope = Scope {
            input: method.input(),
        };
        let when = match keys.get("when") {
            Some(&(_, node)) => when(&mut conv, &mut self.templates, &scope, &method, node),
            None => Vec::new(),
        };
        let Some(&(_, then_node)) = keys.get("then") else {
            conv.error(
                node.span.start..node.span.start,
                Code::MissingThen,
                "stub has no `then`",
            )
            .label("this stub")
            .help("`then` says what to answer: a `message`, a `stream` of messages, or a `status`")
            .emit(&mut conv);
            return;
        };
        let Some(then) = then(&mut conv, &mut self.templates, &scope, &method, then_node) else {
            return;
        };
        let mut stub = Stub::new(method, then);
        stub.id = id;
        stub.name = name;
        stub.priority = priority;
        stub.when = when;
        stub.origin = Some(origin);
        stub.relabel();
        self.stubs.push(stub);
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
        Code::UnknownMethod,
        format!("unknown method `{text}`"),
    )
    .label("not in the loaded protos")
    .help(help)
    .emit(conv);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::model::Payload;

    #[test]
    fn constant_replies_are_encoded_at_load_time() {
        let schema = Schema::bundled();
        let fixtures = Fixtures::bundled(&schema).unwrap();
        let payloads = |method: &str| -> Vec<bool> {
            fixtures
                .stubs()
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
}
