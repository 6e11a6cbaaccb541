//! Reply templates: minijinja, sandboxed and compiled once at load time.
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
//! minijinja has no access to files, the environment or the network; fuel bounds loops. References
//! to `request.<field>` are checked against the input type when the fixture loads.

use std::{collections::BTreeMap, sync::Arc};

use minijinja::{
    Environment, UndefinedBehavior,
    value::{Enumerator, Object, ObjectRepr},
};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};

use super::value::{Problem, find_field, parse_float, parse_int, suggest};

/// Compiles templates into one environment while fixtures load.
pub(crate) struct TemplateCompiler {
    env: Environment<'static>,
    next: usize,
}

/// What a template may refer to: the method's input type.
#[derive(Debug, Clone)]
pub(crate) struct TemplateScope {
    pub(crate) input: MessageDescriptor,
}

/// A compiled template, by name in the environment.
#[derive(Debug, Clone)]
pub(crate) struct TemplateId {
    name: Arc<str>,
    /// The template is one expression whose value (not text) is the result.
    typed: bool,
}

const ROOTS: [&str; 4] = ["request", "requests", "metadata", "method"];
const GLOBALS: [&str; 5] = ["range", "dict", "namespace", "debug", "loop"];
const VALUE_VAR: &str = "__grpc_double_value";

impl TemplateCompiler {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_recursion_limit(64);
        // A runaway loop in a fixture stops with an error instead of hanging the call.
        env.set_fuel(Some(100_000));
        Self { env, next: 0 }
    }

    /// Compiles a reply string. `{{ expr }}` alone keeps the expression's value.
    pub(crate) fn compile(
        &mut self,
        text: &str,
        scope: &TemplateScope,
    ) -> Result<TemplateId, Problem> {
        match single_expression(text) {
            Some(expr) => self.add(&format!("{{% set {VALUE_VAR} = ({expr}) %}}"), true, scope),
            None => self.add(text, false, scope),
        }
    }

    /// Compiles a bare expression (`when.expr`), evaluated for its truth.
    pub(crate) fn compile_expr(
        &mut self,
        expr: &str,
        scope: &TemplateScope,
    ) -> Result<TemplateId, Problem> {
        self.add(&format!("{{% set {VALUE_VAR} = ({expr}) %}}"), true, scope)
    }

    fn add(
        &mut self,
        source: &str,
        typed: bool,
        scope: &TemplateScope,
    ) -> Result<TemplateId, Problem> {
        let name: Arc<str> = format!("t{}", self.next).into();
        self.next += 1;
        self.env
            .add_template_owned(name.to_string(), source.to_owned())
            .map_err(|err| {
                Problem::new(
                    "grpc_double::fixture::template_syntax",
                    format!("invalid template: {}", err.detail().unwrap_or(&err.to_string())),
                )
                .help("templates use minijinja (Jinja2) syntax, e.g. `{{ request.user_id }}`; see docs/fixtures.md")
            })?;
        let template = self.env.get_template(&name).map_err(|err| {
            Problem::new("grpc_double::fixture::template_syntax", err.to_string())
        })?;
        let mut vars: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for var in vars {
            check_reference(&var, scope)?;
        }
        Ok(TemplateId { name, typed })
    }

    /// Finishes loading: the environment every reply renders with.
    pub(crate) fn finish(self) -> Environment<'static> {
        self.env
    }
}

/// `{{ expr }}` and nothing else: the expression.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-');
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then(|| inner.trim())
}

/// Checks that `request.a.b` names fields of the input type, with a suggestion on a typo.
fn check_reference(var: &str, scope: &TemplateScope) -> Result<(), Problem> {
    let mut parts = var.split('.');
    let root = parts.next().unwrap_or_default();
    if root == VALUE_VAR || GLOBALS.contains(&root) {
        return Ok(());
    }
    if !ROOTS.contains(&root) {
        let help = suggest(root, ROOTS.into_iter()).map_or_else(
            || format!("templates can use: {}", ROOTS.join(", ")),
            |s| format!("did you mean `{s}`?"),
        );
        return Err(Problem::new(
            "grpc_double::fixture::template_variable",
            format!("unknown template variable `{root}`"),
        )
        .help(help));
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
            return Err(Problem::new(
                "grpc_double::fixture::template_field",
                format!(
                    "`{walked}` (`{}`) has no field `{part}`",
                    message.full_name()
                ),
            )
            .help(help));
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

/// What a call offers to templates.
pub(crate) struct CallView<'a> {
    pub(crate) request: Option<&'a DynamicMessage>,
    pub(crate) requests: &'a [DynamicMessage],
    pub(crate) metadata: &'a tonic::metadata::MetadataMap,
    pub(crate) method: &'a str,
}

impl CallView<'_> {
    /// The template context: `request`, `requests`, `metadata`, `method`.
    pub(crate) fn context(&self) -> minijinja::Value {
        let request = self
            .request
            .map_or(minijinja::Value::UNDEFINED, |m| message_value(m.clone()));
        let requests: Vec<minijinja::Value> = self
            .requests
            .iter()
            .map(|m| message_value(m.clone()))
            .collect();
        let mut metadata = BTreeMap::new();
        for entry in self.metadata.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry
                && let Ok(text) = value.to_str()
            {
                metadata
                    .entry(minijinja::Value::from(key.as_str()))
                    .or_insert_with(|| minijinja::Value::from(text));
            }
        }
        minijinja::context! {
            request => request,
            requests => requests,
            metadata => minijinja::Value::from_object(metadata),
            method => self.method,
        }
    }
}

/// Renders a template: its value when typed, else its text.
pub(crate) fn render(
    env: &Environment<'static>,
    id: &TemplateId,
    ctx: &minijinja::Value,
) -> Result<minijinja::Value, String> {
    let template = env.get_template(&id.name).map_err(|e| e.to_string())?;
    if id.typed {
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

fn describe_error(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.to_string(),
    }
}

/// A message seen by templates: fields by proto or JSON name.
#[derive(Debug)]
struct MessageObject(DynamicMessage);

fn message_value(message: DynamicMessage) -> minijinja::Value {
    minijinja::Value::from_object(MessageObject(message))
}

impl Object for MessageObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let field = find_field(&self.0.descriptor(), key.as_str()?)?;
        Some(field_to_jinja(&self.0.get_field(&field), &field))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<minijinja::Value> = self
            .0
            .descriptor()
            .fields()
            .map(|f| minijinja::Value::from(f.name()))
            .collect();
        Enumerator::Iter(Box::new(names.into_iter()))
    }
}

fn field_to_jinja(value: &Value, field: &FieldDescriptor) -> minijinja::Value {
    match value {
        Value::List(items) => items
            .iter()
            .map(|v| element_to_jinja(v, &field.kind()))
            .collect(),
        Value::Map(map) => {
            let value_kind = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let entries: BTreeMap<minijinja::Value, minijinja::Value> = map
                .iter()
                .map(|(k, v)| (map_key_to_jinja(k), element_to_jinja(v, &value_kind)))
                .collect();
            minijinja::Value::from_object(entries)
        }
        other => element_to_jinja(other, &field.kind()),
    }
}

fn map_key_to_jinja(key: &MapKey) -> minijinja::Value {
    match key {
        MapKey::Bool(b) => (*b).into(),
        MapKey::I32(v) => (*v).into(),
        MapKey::I64(v) => (*v).into(),
        MapKey::U32(v) => (*v).into(),
        MapKey::U64(v) => (*v).into(),
        MapKey::String(s) => s.as_str().into(),
    }
}

fn element_to_jinja(value: &Value, kind: &Kind) -> minijinja::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::I32(v) => (*v).into(),
        Value::I64(v) => (*v).into(),
        Value::U32(v) => (*v).into(),
        Value::U64(v) => (*v).into(),
        Value::F32(v) => f64::from(*v).into(),
        Value::F64(v) => (*v).into(),
        Value::String(s) => s.as_str().into(),
        Value::Bytes(b) => minijinja::Value::from_bytes(b.to_vec()),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| (*n).into(), |v| v.name().into()),
            _ => (*n).into(),
        },
        Value::Message(m) => message_value(m.clone()),
        Value::List(items) => items.iter().map(|v| element_to_jinja(v, kind)).collect(),
        Value::Map(_) => minijinja::Value::UNDEFINED,
    }
}

/// Converts a template result into the value of `field` (one element of it when `element`).
pub(crate) fn from_jinja(
    value: &minijinja::Value,
    field: &FieldDescriptor,
    element: bool,
) -> Result<Value, String> {
    if !element && field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return Err("not a map".into());
        };
        let key_kind = entry.map_entry_key_field().kind();
        let value_field = entry.map_entry_value_field();
        let mut map = std::collections::HashMap::new();
        for key in value
            .try_iter()
            .map_err(|e| format!("`{}` needs a mapping: {e}", field.name()))?
        {
            let item = value.get_item(&key).map_err(|e| e.to_string())?;
            let key = match scalar_from_jinja(&key, &key_kind)? {
                Value::Bool(b) => MapKey::Bool(b),
                Value::I32(v) => MapKey::I32(v),
                Value::I64(v) => MapKey::I64(v),
                Value::U32(v) => MapKey::U32(v),
                Value::U64(v) => MapKey::U64(v),
                Value::String(s) => MapKey::String(s),
                _ => return Err("invalid map key".into()),
            };
            map.insert(key, kind_from_jinja(&item, &value_field.kind())?);
        }
        return Ok(Value::Map(map));
    }
    if !element && field.is_list() {
        if value.as_str().is_some() {
            return Err(format!(
                "`{}` is a repeated field but the template produced text; end the expression with `| list`",
                field.name()
            ));
        }
        let items = value.try_iter().map_err(|e| {
            format!(
                "`{}` is a repeated field; the template must produce a list: {e}",
                field.name()
            )
        })?;
        return items
            .map(|item| kind_from_jinja(&item, &field.kind()))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    kind_from_jinja(value, &field.kind())
}

fn kind_from_jinja(value: &minijinja::Value, kind: &Kind) -> Result<Value, String> {
    let Kind::Message(desc) = kind else {
        return scalar_from_jinja(value, kind);
    };
    if let Some(obj) = value.downcast_object_ref::<MessageObject>()
        && obj.0.descriptor() == *desc
    {
        return Ok(Value::Message(obj.0.clone()));
    }
    if value.is_undefined() || value.is_none() {
        return Ok(Value::Message(DynamicMessage::new(desc.clone())));
    }
    if let Some(text) = value.as_str() {
        // Well-known types in their JSON string forms (Timestamp, Duration, FieldMask, wrappers).
        return DynamicMessage::deserialize(
            desc.clone(),
            serde_json::Value::String(text.to_owned()),
        )
        .map(Value::Message)
        .map_err(|e| format!("`{text}` is not a valid {}: {e}", desc.full_name()));
    }
    let mut message = DynamicMessage::new(desc.clone());
    for key in value.try_iter().map_err(|e| e.to_string())? {
        let name = key.as_str().unwrap_or_default().to_owned();
        let field = find_field(desc, &name)
            .ok_or_else(|| format!("`{}` has no field `{name}`", desc.full_name()))?;
        let item = value.get_item(&key).map_err(|e| e.to_string())?;
        let converted = from_jinja(&item, &field, false)?;
        message
            .try_set_field(&field, converted)
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(Value::Message(message))
}

fn scalar_from_jinja(value: &minijinja::Value, kind: &Kind) -> Result<Value, String> {
    use minijinja::value::ValueKind;
    let text = || {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)
    };
    let mismatch = |what: &str| {
        format!(
            "expected {what} for a {} field, the template produced `{value}`",
            super::value::kind_name(kind)
        )
    };
    let int = || -> Result<i128, String> {
        match value.kind() {
            ValueKind::Number => i64::try_from(value.clone())
                .map(i128::from)
                .or_else(|_| u64::try_from(value.clone()).map(i128::from))
                .map_err(|_| mismatch("an integer")),
            ValueKind::Bool => Ok(i128::from(value.is_true())),
            _ => parse_int(&text()).ok_or_else(|| mismatch("an integer")),
        }
    };
    let range = |n: i128| format!("{n} is out of range for {}", super::value::kind_name(kind));
    Ok(match kind {
        Kind::String => Value::String(if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            text()
        }),
        Kind::Bool => match value.kind() {
            ValueKind::Bool => Value::Bool(value.is_true()),
            _ => match text().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::Bool(value.is_true()),
            },
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let n = int()?;
            Value::I32(i32::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let n = int()?;
            Value::I64(i64::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let n = int()?;
            Value::U32(u32::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = int()?;
            Value::U64(u64::try_from(n).map_err(|_| range(n))?)
        }
        Kind::Double | Kind::Float => {
            let f = match value.kind() {
                ValueKind::Number => {
                    f64::try_from(value.clone()).map_err(|_| mismatch("a number"))?
                }
                _ => parse_float(&text()).ok_or_else(|| mismatch("a number"))?,
            };
            if matches!(kind, Kind::Float) {
                Value::F32(f as f32)
            } else {
                Value::F64(f)
            }
        }
        Kind::Bytes => Value::Bytes(match value.as_bytes() {
            Some(b) => bytes::Bytes::copy_from_slice(b),
            None => bytes::Bytes::from(text().into_bytes()),
        }),
        Kind::Enum(e) => {
            let t = text();
            match e.get_value_by_name(&t) {
                Some(v) => Value::EnumNumber(v.number()),
                None => {
                    let n = int()
                        .map_err(|_| format!("unknown value `{t}` of enum `{}`", e.full_name()))?;
                    Value::EnumNumber(i32::try_from(n).map_err(|_| range(n))?)
                }
            }
        }
        Kind::Message(_) => return Err(mismatch("a message")),
    })
}
