//! Reply templates: minijinja, sandboxed, compiled once when fixtures load.
//!
//! A string in a reply that holds `{{ … }}` is a template. When the whole string is one
//! expression (`"{{ requests | length }}"`), its *value* is kept — a number for an `int32`, a
//! list for a repeated field — instead of its text. Templates see:
//!
//! - `request`: the message being answered (for client streams, the last one received);
//! - `requests`: every message received on the call so far;
//! - `metadata`: the request headers, lowercase names to text values;
//! - `method`: `package.Service/Method`.
//!
//! minijinja has no access to files, the environment or the network; fuel bounds loops.
//! References to `request.<field>` are checked against the input type when the fixture loads
//! ([`compile`]); rendering ([`Template::render`]) reads the call's messages through shared
//! handles, never copies of them ([`context`]), and results become protobuf values by the
//! field they land in ([`convert`]).
//!
//! This module sits below the rest of the fake: it knows messages and metadata, not stubs.

mod compile;
mod context;
mod convert;

use std::sync::{Arc, OnceLock};

use minijinja::Environment;

pub(crate) use self::{
    compile::{CompileError, Scope, TemplateCompiler},
    context::{Received, context, metadata_value},
    convert::from_jinja,
};

/// The name of the variable a typed template assigns its value to.
const VALUE_VAR: &str = "__grpc_double_value";

/// A compiled template: a name in the environment of the load that compiled it.
///
/// Cheap to clone; renders on its own (the environment is shared by every template of one load
/// and set once the load finishes).
#[derive(Clone)]
pub struct Template {
    env: Arc<OnceLock<Environment<'static>>>,
    name: Arc<str>,
    /// The template is one expression whose value (not text) is the result.
    typed: bool,
    /// The template text as written in the fixture.
    source: Arc<str>,
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

    /// Renders the template: its value when typed, else its text.
    pub(crate) fn render(&self, ctx: &minijinja::Value) -> Result<minijinja::Value, String> {
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
