//! Rendering a compiled template for one call.

use std::sync::{Arc, OnceLock};

use minijinja::Environment;
use prost_reflect::{FieldDescriptor, Kind};

use super::context::CallVars;
use crate::schema::value::{flat::ScalarRef, lazy::LazyMessage};

/// The name of the variable a typed template assigns its value to.
pub(super) const VALUE_VAR: &str = "__grpc_double_value";

/// A compiled template: a name in the environment of the load that compiled it.
///
/// Cheap to clone; renders on its own (the environment is shared by every template of one load
/// and set once the load finishes).
#[derive(Clone)]
pub struct Template {
    pub(super) env: Arc<OnceLock<Environment<'static>>>,
    pub(super) name: Arc<str>,
    /// The template is one expression whose value (not text) is the result.
    pub(super) typed: bool,
    /// The template text as written in the fixture.
    pub(super) source: Arc<str>,
    /// The template is `{{ request.<field> }}` for this singular scalar field of the input:
    /// a reply can copy the field instead of rendering.
    pub(super) echo: Option<FieldDescriptor>,
    /// The template is text with `{{ request.<field> }}` in it and nothing else (string and
    /// integer fields): it is put together without the template engine.
    pub(super) pieces: Option<Arc<[Piece]>>,
    /// The template is `{{ requests | selectattr('f') | … | list }}` (or `| length`): a
    /// filter chain over a client stream's messages, evaluated without the template engine.
    pub(super) pipeline: Option<Arc<Pipeline>>,
}

/// A filter chain over `requests` that the server evaluates itself: `selectattr` and
/// `rejectattr` on singular scalar fields, then at most one `map(attribute=…)`, ending in `list`
/// or `length` (`count`). Each field's value is converted and tested for truth exactly as the
/// engine does (the same conversion, minijinja's own truth), so both give the same value; what
/// is saved is the engine's per-item work (an object and a name lookup per message and field).
#[derive(Debug)]
pub(super) struct Pipeline {
    /// Keep the messages whose field is truthy (`true`, selectattr) or falsy (rejectattr).
    filters: Vec<(FieldDescriptor, bool)>,
    map: Option<FieldDescriptor>,
    /// `length` (else `list`).
    count: bool,
}

/// A part of an interpolated text template.
#[derive(Debug)]
pub(super) enum Piece {
    Text(Box<str>),
    /// A singular string or integer field of the request, written as the engine writes it.
    Field(FieldDescriptor),
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl Template {
    /// Gets the template as written, e.g. `{{ request.user_id }}`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Gets the request field the template only reads out, for `{{ request.user_id }}`.
    pub(crate) fn echo(&self) -> Option<&FieldDescriptor> {
        self.echo.as_ref()
    }

    /// Renders the template: its value when typed, else its text.
    pub(crate) fn render(&self, ctx: &minijinja::Value) -> Result<minijinja::Value, String> {
        if let Some(text) = self.interpolate(ctx) {
            return Ok(minijinja::Value::from(text));
        }
        if let Some(value) = self.pipeline.as_ref().and_then(|p| p.eval(ctx)) {
            return Ok(value);
        }
        let env = self
            .env
            .get()
            .ok_or_else(|| "the template environment is not ready".to_owned())?;
        let template = env.get_template(&self.name).map_err(|e| e.to_string())?;
        if self.typed {
            let captured = template
                .render_captured(ctx)
                .map_err(|e| describe_error(&e))?;
            Ok(captured
                .state()
                .lookup(VALUE_VAR)
                .unwrap_or(minijinja::Value::UNDEFINED))
        } else {
            template
                .render(ctx)
                .map(minijinja::Value::from)
                .map_err(|e| describe_error(&e))
        }
    }

    /// Renders the template as text (a typed template's value, displayed).
    pub(crate) fn render_text(&self, ctx: &minijinja::Value) -> Result<String, String> {
        let value = self.render(ctx)?;
        Ok(value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned))
    }
}

impl Template {
    /// Whether the template is text put together from request fields without the engine.
    pub(crate) fn is_interpolated(&self) -> bool {
        self.pieces.is_some()
    }

    /// The text of an interpolated template, put together from the request itself; `None`
    /// when the template is not one, or the context has no request to read.
    pub(crate) fn interpolate(&self, ctx: &minijinja::Value) -> Option<String> {
        let pieces = self.pieces.as_ref()?;
        let request = ctx.downcast_object_ref::<CallVars>()?.request.as_ref()?;
        let mut out = String::new();
        for piece in pieces.iter() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => request.with_scalar(field, |value| {
                    match value? {
                        ScalarRef::Str(s) => out.push_str(ScalarRef::text(s)),
                        ScalarRef::I32(n) => write_int(&mut out, n),
                        ScalarRef::I64(n) => write_int(&mut out, n),
                        ScalarRef::U32(n) => write_int(&mut out, n),
                        ScalarRef::U64(n) => write_int(&mut out, n),
                        _ => return None,
                    }
                    Some(())
                })?,
            }
        }
        Some(out)
    }
}

impl Pipeline {
    /// The chain's value over the call's `requests`; `None` when the context is not a call's
    /// (the engine renders it then).
    fn eval(&self, ctx: &minijinja::Value) -> Option<minijinja::Value> {
        let vars = ctx.downcast_object_ref::<CallVars>()?;
        let value = |message: &LazyMessage, field: &FieldDescriptor| {
            super::context::field_value(message, field)
        };
        Some(vars.scope.received.with(vars.len, |messages| {
            let kept = messages.iter().filter(|message| {
                self.filters
                    .iter()
                    .all(|(field, keep)| super::context::field_is_true(message, field) == *keep)
            });
            if self.count {
                return minijinja::Value::from(kept.count());
            }
            match &self.map {
                Some(field) => kept.map(|message| value(message, field)).collect(),
                None => kept
                    .map(|message| super::context::message_value(message.clone()))
                    .collect(),
            }
        }))
    }
}

/// The pipeline a typed template's expression is, if it is one (see [`Pipeline`]).
pub(super) fn pipeline(
    expr: &str,
    input: &prost_reflect::MessageDescriptor,
    requests_shadowed: bool,
) -> Option<Arc<Pipeline>> {
    if requests_shadowed {
        return None;
    }
    let mut steps = expr.split('|').map(str::trim);
    if steps.next()? != "requests" {
        return None;
    }
    let mut pipeline = Pipeline {
        filters: Vec::new(),
        map: None,
        count: false,
    };
    // `list` may be followed by `length` only; `length` ends the chain.
    let (mut listed, mut ended) = (false, false);
    for step in steps {
        if ended || (listed && step != "length" && step != "count") {
            return None;
        }
        let call = |name: &str| {
            step.strip_prefix(name)?
                .trim_start()
                .strip_prefix('(')?
                .strip_suffix(')')
                .map(str::trim)
        };
        if let Some(arg) = call("selectattr").or_else(|| call("rejectattr")) {
            if pipeline.map.is_some() {
                return None;
            }
            let keep = step.starts_with("selectattr");
            pipeline
                .filters
                .push((scalar_field(input, quoted(arg)?)?, keep));
        } else if let Some(arg) = call("map") {
            if pipeline.map.is_some() {
                return None;
            }
            let name = arg
                .strip_prefix("attribute")?
                .trim_start()
                .strip_prefix('=')?;
            pipeline.map = Some(scalar_field(input, quoted(name.trim())?)?);
        } else if step == "list" {
            listed = true;
        } else if step == "length" || step == "count" {
            pipeline.count = true;
            ended = true;
        } else {
            return None;
        }
    }
    (listed || ended).then(|| Arc::new(pipeline))
}

/// `'text'` or `"text"`: the text.
fn quoted(text: &str) -> Option<&str> {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))
}

/// The singular scalar field of `input` that `name`, a plain identifier (proto or JSON name),
/// names: what the shortcuts that skip the template engine read.
pub(super) fn scalar_field(
    input: &prost_reflect::MessageDescriptor,
    name: &str,
) -> Option<FieldDescriptor> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let field = crate::schema::find_field(input, name)?;
    let scalar = !field.is_list() && !field.is_map() && !matches!(field.kind(), Kind::Message(_));
    scalar.then_some(field)
}

fn write_int(out: &mut String, n: impl std::fmt::Display) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

fn describe_error(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.to_string(),
    }
}

/// Whether text holds template syntax.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The pieces of a text template that only writes request fields (`"Echo: {{ request.message
/// }}"`), or `None` for anything else: tags, comments, whitespace control, filters, other
/// variables, fields of other kinds, or a trailing newline (which the engine drops).
pub(super) fn pieces(
    text: &str,
    input: &prost_reflect::MessageDescriptor,
    request_shadowed: bool,
) -> Option<Arc<[Piece]>> {
    if request_shadowed || text.contains("{%") || text.contains("{#") || text.ends_with('\n') {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let (literal, tail) = rest.split_at(start);
        if literal.contains("}}") {
            return None;
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal.into()));
        }
        let end = tail.find("}}")?;
        let expr = &tail[2..end];
        if expr.starts_with('-') || expr.ends_with('-') {
            return None;
        }
        let field = scalar_field(input, expr.trim().strip_prefix("request.")?)?;
        let writable = matches!(
            field.kind(),
            Kind::String
                | Kind::Int32
                | Kind::Int64
                | Kind::Uint32
                | Kind::Uint64
                | Kind::Sint32
                | Kind::Sint64
                | Kind::Fixed32
                | Kind::Fixed64
                | Kind::Sfixed32
                | Kind::Sfixed64
        );
        if !writable {
            return None;
        }
        pieces.push(Piece::Field(field));
        rest = &tail[end + 2..];
    }
    if rest.contains("}}") {
        return None;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.into()));
    }
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Field(_)))
        .then(|| pieces.into())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost::Message as _;
    use prost_reflect::{DynamicMessage, Value};

    use super::super::{CallVars, Scope, TemplateCompiler, context, with_vars};
    use crate::schema::{
        Schema,
        value::{flat::FlatDecoder, lazy::LazyMessage},
    };

    /// Every chain the server evaluates itself gives what the engine gives, over requests with
    /// and without the fields set; chains it does not know are left to the engine. The
    /// server's side reads requests kept as bytes, the engine's decoded ones.
    #[test]
    fn a_filter_chain_over_requests_is_evaluated_as_the_engine_evaluates_it() {
        let schema = Schema::bundled();
        let input = schema
            .pool()
            .get_message_by_name("userservice.CreateRequest")
            .unwrap();
        let mut compiler = TemplateCompiler::new();
        let scope = Scope::new(input.clone());
        let chains = [
            "{{ requests | selectattr('email') | list | length }}",
            "{{ requests | rejectattr('email') | map(attribute='name') | list }}",
            "{{ requests | selectattr(\"age\") | rejectattr('email') | list | count }}",
            "{{ requests | selectattr('email') | map(attribute = 'age') | list }}",
            "{{ requests | list }}",
            "{{ requests | length }}",
        ];
        let others = [
            "{{ requests | selectattr('email') }}",
            "{{ requests | map(attribute='name') | join(',') }}",
            "{{ requests | selectattr('email', 'eq', 'x') | list }}",
        ];
        let compiled: Vec<_> = chains
            .iter()
            .chain(&others)
            .map(|text| (text, compiler.compile(text, &scope).unwrap()))
            .collect();
        compiler.finish();
        for (text, template) in &compiled {
            assert_eq!(
                template.pipeline.is_some(),
                chains.contains(text),
                "{text} is evaluated by the server exactly when it is a known chain"
            );
        }
        let flat = Arc::new(FlatDecoder::new(&input).unwrap());
        let user = |name: &str, email: &str, age: i32| {
            let mut m = DynamicMessage::new(input.clone());
            m.set_field_by_name("name", Value::String(name.into()));
            m.set_field_by_name("email", Value::String(email.into()));
            m.set_field_by_name("age", Value::I32(age));
            m
        };
        let batches = [
            vec![],
            vec![user("a", "a@x", 0), user("b", "", 7), user("", "", 3)],
            vec![user("c", "c@x", 40)],
        ];
        for batch in batches {
            let len = batch.len();
            let as_bytes: Vec<_> = batch
                .iter()
                .map(|m| LazyMessage::flat(m.encode_to_vec().into(), &flat).unwrap())
                .collect();
            let decoded: Vec<_> = batch
                .iter()
                .map(|m| Arc::new(LazyMessage::decoded(m.clone())))
                .collect();
            let vars = |batch: &Vec<Arc<LazyMessage>>| {
                CallVars::of_messages("userservice.UserService/CreateUsers", batch.clone())
            };
            for (text, template) in &compiled {
                let fast = template.render(&context(vars(&as_bytes))).unwrap();
                // A merged context hides the call from the shortcuts: the engine renders.
                let engine = template
                    .render(&with_vars(&context(vars(&decoded)), std::iter::empty()))
                    .unwrap();
                assert_eq!(
                    fast.to_string(),
                    engine.to_string(),
                    "{text}, {len} requests"
                );
                assert_eq!(fast.kind(), engine.kind(), "{text}, {len} requests");
            }
        }
    }
}
