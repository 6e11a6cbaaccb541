//! Compiling templates while fixtures load: syntax, and every `request.<field>` reference checked
//! against the method's input type, with a suggestion on a typo.

use std::sync::{Arc, OnceLock};

use minijinja::{Environment, UndefinedBehavior};
use prost_reflect::{Kind, MessageDescriptor};

use super::{
    helpers,
    render::{Template, VALUE_VAR},
};
use crate::schema::{find_field, suggest};

/// The variables every template may use.
pub(crate) const ROOTS: [&str; 9] = [
    "request", "requests", "metadata", "method", "seq", "attempt", "state", "listener", "peer",
];
/// minijinja's own globals, always allowed.
const GLOBALS: [&str; 5] = ["range", "dict", "namespace", "debug", "loop"];

/// Why a template does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CompileError {
    /// Not valid minijinja syntax.
    Syntax { detail: String },
    /// A variable that templates do not have.
    UnknownVariable { name: String, help: String },
    /// `request.<field>` names no field of the input type.
    UnknownField { message: String, help: String },
    /// A test (`x is name`) or filter (`x | name`) that minijinja does not have.
    UnknownHelper {
        what: &'static str,
        name: String,
        help: String,
    },
}

/// Compiles templates into one environment while fixtures load.
pub(crate) struct TemplateCompiler {
    env: Environment<'static>,
    slot: Arc<OnceLock<Environment<'static>>>,
    next: usize,
    /// Tests and filters already probed, and whether they exist.
    probed: std::collections::HashMap<(&'static str, String), bool>,
}

/// What a template may refer to: the method's input type, and local names (the element of a
/// generated stream).
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) input: MessageDescriptor,
    pub(crate) locals: Vec<String>,
}

impl Scope {
    pub(crate) fn new(input: MessageDescriptor) -> Self {
        Self {
            input,
            locals: Vec::new(),
        }
    }

    /// The scope with more local names.
    pub(crate) fn with_locals(&self, locals: &[&str]) -> Self {
        let mut scope = self.clone();
        scope.locals.extend(locals.iter().map(|l| (*l).to_owned()));
        scope
    }
}

impl Default for TemplateCompiler {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateCompiler {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_recursion_limit(64);
        // A runaway loop in a fixture stops with an error instead of hanging the call.
        env.set_fuel(Some(100_000));
        helpers::register(&mut env);
        Self {
            env,
            slot: Arc::new(OnceLock::new()),
            next: 0,
            probed: std::collections::HashMap::new(),
        }
    }

    /// Compiles a reply string. `{{ expr }}` alone keeps the expression's value.
    pub(crate) fn compile(&mut self, text: &str, scope: &Scope) -> Result<Template, CompileError> {
        match single_expression(text) {
            Some(expr) => {
                let mut template = self.add(
                    text,
                    &format!("{{% set {VALUE_VAR} = ({expr}) %}}"),
                    true,
                    scope,
                )?;
                template.echo = echoed_field(expr, scope);
                let shadowed = scope.locals.iter().any(|l| l == "requests");
                template.pipeline = super::render::pipeline(expr, &scope.input, shadowed);
                Ok(template)
            }
            None => {
                let mut template = self.add(text, text, false, scope)?;
                let shadowed = scope.locals.iter().any(|l| l == "request");
                template.pieces = super::render::pieces(text, &scope.input, shadowed);
                Ok(template)
            }
        }
    }

    /// Compiles a bare expression (`when.expr`), evaluated for its truth.
    pub(crate) fn compile_expr(
        &mut self,
        expr: &str,
        scope: &Scope,
    ) -> Result<Template, CompileError> {
        self.add(
            expr,
            &format!("{{% set {VALUE_VAR} = ({expr}) %}}"),
            true,
            scope,
        )
    }

    fn add(
        &mut self,
        written: &str,
        source: &str,
        typed: bool,
        scope: &Scope,
    ) -> Result<Template, CompileError> {
        let name: Arc<str> = format!("t{}", self.next).into();
        self.next += 1;
        self.env
            .add_template_owned(name.to_string(), source.to_owned())
            .map_err(|err| CompileError::Syntax {
                detail: err.detail().map_or_else(|| err.to_string(), str::to_owned),
            })?;
        let template = self
            .env
            .get_template(&name)
            .map_err(|err| CompileError::Syntax {
                detail: err.to_string(),
            })?;
        let mut vars: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for var in vars {
            check_reference(&var, scope)?;
        }
        for (what, name) in helpers_used(source) {
            self.check_helper(what, name)?;
        }
        Ok(Template {
            env: self.slot.clone(),
            name,
            typed,
            source: written.into(),
            echo: None,
            pieces: None,
            pipeline: None,
        })
    }

    /// Checks that a test or filter exists, by rendering a probe that uses it (minijinja reports
    /// unknown ones only when rendering reaches them, so a false `expr` would hide a typo).
    fn check_helper(&mut self, what: &'static str, name: String) -> Result<(), CompileError> {
        let key = (what, name);
        let known = match self.probed.get(&key) {
            Some(known) => *known,
            None => {
                let probe = match what {
                    "test" => format!("{{% if none is {} %}}{{% endif %}}", key.1),
                    _ => format!("{{{{ none | {} }}}}", key.1),
                };
                let unknown = match self.env.render_str(&probe, ()) {
                    Err(err) => matches!(
                        err.kind(),
                        minijinja::ErrorKind::UnknownTest | minijinja::ErrorKind::UnknownFilter
                    ),
                    Ok(_) => false,
                };
                self.probed.insert(key.clone(), !unknown);
                !unknown
            }
        };
        if known {
            return Ok(());
        }
        let (what, name) = key;
        let list: &[&str] = if what == "test" {
            &[
                "defined",
                "none",
                "true",
                "false",
                "string",
                "number",
                "startingwith",
                "endingwith",
                "containing",
                "in",
                "eq",
                "gt",
                "lt",
                "even",
                "odd",
                "divisibleby",
            ]
        } else {
            &[
                "length",
                "list",
                "map",
                "select",
                "selectattr",
                "rejectattr",
                "join",
                "default",
                "upper",
                "lower",
                "trim",
                "replace",
                "int",
                "float",
                "first",
                "last",
                "sum",
                "sort",
                "unique",
                "b64encode",
                "b64decode",
                "tojson",
            ]
        };
        Err(CompileError::UnknownHelper {
            what,
            help: crate::schema::did_you_mean(
                &name,
                list.iter().copied(),
                &format!("{what}s include: "),
            ),
            name,
        })
    }

    /// Finishes loading: every template compiled so far becomes renderable.
    pub(crate) fn finish(self) {
        let _ = self.slot.set(self.env);
    }
}

/// The tests (`x is name`, `x is not name`) and filters (`x | name`) a template's source names,
/// outside string literals.
fn helpers_used(source: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    let ident = |from: usize| -> (String, usize) {
        let mut j = from;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let start = j;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        (source[start..j].to_owned(), j)
    };
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'|' if bytes.get(i + 1) != Some(&b'|') && (i == 0 || bytes[i - 1] != b'|') => {
                let (name, next) = ident(i + 1);
                if !name.is_empty() {
                    out.push(("filter", name));
                }
                i = next;
                continue;
            }
            b'i' if source[i..].starts_with("is")
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
                && bytes.get(i + 2).is_some_and(u8::is_ascii_whitespace) =>
            {
                let (mut name, mut next) = ident(i + 2);
                if name == "not" {
                    (name, next) = ident(next);
                }
                if !name.is_empty() {
                    out.push(("test", name));
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The field `request.<field>` names, when that is the whole expression and the field is a
/// singular scalar of the input type (the value a reply copies as it is).
fn echoed_field(expr: &str, scope: &Scope) -> Option<prost_reflect::FieldDescriptor> {
    if scope.locals.iter().any(|l| l == "request") {
        return None;
    }
    super::render::scalar_field(&scope.input, expr.strip_prefix("request.")?)
}

/// `{{ expr }}` and nothing else: the expression.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-');
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then(|| inner.trim())
}

/// Checks that `request.a.b` names fields of the input type, with a suggestion on a typo.
fn check_reference(var: &str, scope: &Scope) -> Result<(), CompileError> {
    let mut parts = var.split('.');
    let root = parts.next().unwrap_or_default();
    if root == VALUE_VAR
        || root == helpers::ENV_VAR
        || GLOBALS.contains(&root)
        || helpers::FUNCTIONS.contains(&root)
        || scope.locals.iter().any(|l| l == root)
    {
        return Ok(());
    }
    if !ROOTS.contains(&root) {
        let known: Vec<&str> = ROOTS
            .iter()
            .copied()
            .chain(scope.locals.iter().map(String::as_str))
            .chain(helpers::FUNCTIONS.iter().copied())
            .collect();
        let help = suggest(root, known.iter().copied()).map_or_else(
            || {
                format!(
                    "templates can use: {}",
                    ROOTS
                        .iter()
                        .copied()
                        .chain(scope.locals.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            |s| format!("did you mean `{s}`?"),
        );
        return Err(CompileError::UnknownVariable {
            name: root.to_owned(),
            help,
        });
    }
    if root != "request" {
        return Ok(());
    }
    let mut message = scope.input.clone();
    let mut walked = String::from("request");
    for part in parts {
        let Some(field) = find_field(&message, part) else {
            let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
            let help = suggest(part, names.iter().map(String::as_str)).map_or_else(
                || {
                    format!(
                        "`{}` has the fields: {}",
                        message.full_name(),
                        names.join(", ")
                    )
                },
                |s| format!("did you mean `{walked}.{s}`?"),
            );
            return Err(CompileError::UnknownField {
                message: format!(
                    "`{walked}` (`{}`) has no field `{part}`",
                    message.full_name()
                ),
                help,
            });
        };
        walked.push('.');
        walked.push_str(part);
        match field.kind() {
            Kind::Message(m) if !field.is_list() && !field.is_map() => message = m,
            _ => break,
        }
    }
    Ok(())
}
