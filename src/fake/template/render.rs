//! Rendering a compiled template for one call.

use std::sync::{Arc, OnceLock};

use minijinja::Environment;
use prost_reflect::FieldDescriptor;

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
