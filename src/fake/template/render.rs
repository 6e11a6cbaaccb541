//! Rendering a compiled template for one call.

use std::sync::{Arc, OnceLock};

use minijinja::Environment;
use prost_reflect::{FieldDescriptor, Kind, Value};

use super::context::CallVars;

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
    /// The text of an interpolated template, put together from the request itself; `None`
    /// when the template is not one, or the context has no request to read.
    fn interpolate(&self, ctx: &minijinja::Value) -> Option<String> {
        let pieces = self.pieces.as_ref()?;
        let request = ctx.downcast_object_ref::<CallVars>()?.request.as_ref()?;
        let mut out = String::new();
        for piece in pieces.iter() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => match &*request.get_field(field) {
                    Value::String(s) => out.push_str(s),
                    Value::I32(n) => write_int(&mut out, *n),
                    Value::I64(n) => write_int(&mut out, *n),
                    Value::U32(n) => write_int(&mut out, *n),
                    Value::U64(n) => write_int(&mut out, *n),
                    _ => return None,
                },
            }
        }
        Some(out)
    }
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
        let name = expr.trim().strip_prefix("request.")?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let field = crate::schema::find_field(input, name)?;
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
        if field.is_list() || field.is_map() || !writable {
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
