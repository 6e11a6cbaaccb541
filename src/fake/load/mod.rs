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

mod conversation;
mod convert;
mod diagnostic;
mod expect;
mod metadata;
mod request;
mod scalar;
mod shape;
mod source;
mod stub;
mod test;
mod then;
mod trace;
mod when;
mod wkt;
mod yaml;

use std::collections::HashMap;

use self::{
    convert::Converter,
    diagnostic::Code,
    stub::StubCtx,
    yaml::{Node, NodeKind},
};
pub use self::{
    diagnostic::{FixtureError, FixtureErrors},
    source::FixtureSource,
};
pub(crate) use self::{
    request::verify_request,
    trace::{Meaning, Trace},
};
use crate::{
    Schema,
    fake::{
        model::{FixtureLocation, Fixtures, Health, Stub},
        template::TemplateCompiler,
    },
};

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
            health: Vec::new(),
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
        let mut fixtures = Fixtures::from_stubs(loader.stubs);
        for (service, health) in loader.health {
            fixtures.set_health(service, health);
        }
        (Ok(fixtures), traces)
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
    health: Vec<(String, Health)>,
    /// For fixture drift: what every key and scalar meant, by byte offset.
    trace: Option<Trace>,
}

impl Load<'_> {
    fn file(&mut self, source: &FixtureSource) {
        let docs = match yaml::parse(source.text()) {
            Ok(docs) => docs,
            Err(err) => {
                let mut conv = Converter::new(source, &mut self.errors);
                syntax_error(&mut conv, source, &err);
                return;
            }
        };
        for doc in &docs {
            match &doc.kind {
                _ if doc.is_null() => {}
                NodeKind::Seq(stubs) => stubs.iter().for_each(|s| self.stub(source, s)),
                NodeKind::Map(entries) => {
                    let find = |name: &str| {
                        entries
                            .iter()
                            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == name))
                    };
                    let stubs = find("stubs");
                    let health = find("health");
                    let known = usize::from(stubs.is_some()) + usize::from(health.is_some());
                    match stubs {
                        _ if known > 0 && known == entries.len() => {
                            if let Some((_, node)) = health {
                                self.health(source, node);
                            }
                            if let Some((_, node)) = stubs {
                                match &node.kind {
                                    NodeKind::Seq(stubs) => {
                                        stubs.iter().for_each(|s| self.stub(source, s));
                                    }
                                    _ if node.is_null() => {}
                                    _ => self.top_level_error(source, node),
                                }
                            }
                        }
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
            .help("a fixture file is a list of stubs (`- method: pkg.Service/Method …`), or a mapping with a `stubs:` list (and `health:`)")
            .emit(&mut conv);
    }

    fn stub(&mut self, source: &FixtureSource, node: &Node) {
        let mut conv = Converter::new(source, &mut self.errors).with_trace(self.trace.as_mut());
        let mut ctx = StubCtx {
            schema: self.schema,
            templates: &mut self.templates,
            ids: &mut self.ids,
        };
        if let Some(stub) = stub::stub(&mut conv, &mut ctx, source, node) {
            self.stubs.push(stub);
        }
    }

    /// `health: { service: NOT_SERVING }` beside `stubs:`.
    fn health(&mut self, source: &FixtureSource, node: &Node) {
        let mut conv = Converter::new(source, &mut self.errors);
        if let Some(health) = then::health(&mut conv, node) {
            self.health.extend(health);
        }
    }
}

/// A YAML syntax error, at what was left open when the parser noticed something later.
fn syntax_error(conv: &mut Converter<'_>, source: &FixtureSource, err: &yaml::SyntaxError) {
    let text = source.text();
    let end = (err.offset + 1).min(text.len()).max(err.offset);
    match err.unclosed {
        Some((opened, what)) => {
            let closer = match what {
                '[' => "]",
                '{' => "}",
                '"' => "\"",
                _ => "'",
            };
            let noticed = source.location(err.offset);
            conv.error(
                opened..opened + 1,
                Code::Yaml,
                format!(
                    "invalid YAML: this `{what}` is never closed (the parser noticed at {}:{}: {})",
                    noticed.line, noticed.col, err.message
                ),
            )
            .label(format!("opened here, no `{closer}`"))
            .help(format!("close it with `{closer}`"))
            .emit(conv);
        }
        None => conv
            .error(
                err.offset..end,
                Code::Yaml,
                format!("invalid YAML: {}", err.message),
            )
            .label("here")
            .emit(conv),
    }
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
                        .replies()
                        .into_iter()
                        .flat_map(|r| r.messages())
                        .map(|m| matches!(m.payload, Payload::Static(_)))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        // ListUsers answers constants; GetUser's reply fills `user_id` from the request.
        assert_eq!(payloads("userservice.UserService/ListUsers"), [true, true]);
        assert_eq!(payloads("userservice.UserService/GetUser"), [false]);
    }

    #[test]
    fn a_reply_with_scalar_holes_is_spliced_into_the_bytes_the_whole_message_encodes_to() {
        let schema = Schema::bundled();
        // Holes in field order, and out of it (rendered as written, encoded in field order).
        let yaml = r#"
- method: userservice.UserService/GetUser
  then:
    message:
      user_id: "{{ request.user_id }}"
      name: "N-{{ request.user_id }} {{request.user_id}}!"
      email: x@example.com
      age: "{{ request.user_id | length }}"
- method: userservice.UserService/GetUser
  then:
    message:
      age: "{{ random(1, 99) }}"
      email: x@example.com
      user_id: "{{ request.user_id }}-{{ random(1, 99) }}"
"#;
        let fixtures = Fixtures::load(&schema, &[FixtureSource::new("t.yaml", yaml)]).unwrap();
        for stub in fixtures.stubs() {
            check_splice(&schema, stub);
        }
    }

    fn check_splice(schema: &Schema, stub: &crate::fake::Stub) {
        use std::sync::Arc;

        use prost::Message as _;
        use prost_reflect::DynamicMessage;

        use crate::{
            fake::{
                model::render,
                template::{CallVars, context, with_vars},
            },
            schema::value::{flat::FlatDecoder, lazy::LazyMessage},
        };

        let reply = stub.then.replies()[0].clone();
        let payload = &reply.messages().next().unwrap().payload;
        let Payload::Template {
            base,
            holes,
            splice,
        } = payload
        else {
            panic!("a templated payload");
        };
        assert!(splice.is_some(), "every hole is a scalar field");
        let input = schema
            .pool()
            .get_message_by_name("userservice.UserRequest")
            .unwrap();
        for user_id in ["ab", ""] {
            let mut request = DynamicMessage::new(input.clone());
            request.set_field_by_name("user_id", prost_reflect::Value::String(user_id.into()));
            // Spliced from a request kept as bytes (as the server keeps it), the whole
            // message from a decoded one.
            let decoded = Arc::new(LazyMessage::decoded(request.clone()));
            let flat = Arc::new(FlatDecoder::new(&input).unwrap());
            let as_bytes = LazyMessage::flat(request.encode_to_vec().into(), &flat).unwrap();
            // The same seed and call number both ways: the same random draws.
            let vars = |request: &Arc<LazyMessage>| {
                CallVars::of_messages("userservice.UserService/GetUser", vec![request.clone()])
            };
            let whole = render::message(base, holes, &context(vars(&decoded)))
                .unwrap()
                .encode_to_vec();
            let spliced = render::payload(payload, &context(vars(&as_bytes))).unwrap();
            assert_eq!(spliced.as_ref(), whole.as_slice(), "user_id {user_id:?}");
            // A merged context hides the request from the shortcuts: the template engine
            // renders every hole, and must agree.
            let engine = with_vars(&context(vars(&decoded)), std::iter::empty());
            let rendered = render::payload(payload, &engine).unwrap();
            assert_eq!(rendered, spliced, "user_id {user_id:?}");
        }
    }
}
