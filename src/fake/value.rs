//! YAML nodes to protobuf values, guided by descriptors.
//!
//! A scalar's meaning comes from the field it lands in: `012` is "012" in a `string` field and 12
//! in an `int32`; enums are written by name or number; 64-bit integers as numbers or strings;
//! bytes as base64 — the proto3 JSON mapping, spelled in YAML. Well-known types use their JSON
//! forms (`2024-01-01T00:00:00Z`, `1.5s`, any YAML under a `Struct`), and `Any` takes `"@type"`.
//!
//! The [`Converter`] reports every problem with its location and keeps going, so one load lists
//! all of them. In replies, strings holding `{{ … }}` become template *holes*, filled per call.

use std::{collections::HashMap, ops::Range};

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

use super::{
    diagnostic::{FixtureErrors, FixtureSource, PendingError},
    template::{TemplateCompiler, TemplateId, TemplateScope},
    yaml::{Node, NodeKind, Scalar},
};

/// One step from a message to a value inside it.
#[derive(Debug, Clone)]
pub(crate) enum PathStep {
    Field(FieldDescriptor),
    Index(usize),
    Key(MapKey),
}

/// A templated value inside a reply message, filled in per call.
#[derive(Debug, Clone)]
pub(crate) struct Hole {
    /// From the reply message down to the value; ends in the field, or an index/key in it.
    pub(crate) path: Vec<PathStep>,
    /// The field the value belongs to.
    pub(crate) field: FieldDescriptor,
    /// Whether the value is one element of a repeated or map field (else the whole field).
    pub(crate) element: bool,
    pub(crate) template: TemplateId,
}

/// Why a scalar does not fit a field, with an optional hint.
pub(crate) struct Problem {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

impl Problem {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// What a fixture key or value meant when it loaded, for fixture drift (`check --against`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A key resolved to a field: its full name, number and type.
    Field {
        name: String,
        number: u32,
        kind: String,
    },
    /// A scalar as the field stores it (an enum name as its number, base64 as bytes…).
    Value(String),
    /// A method: its input and output types and streaming flags.
    Method(String),
}

/// Converts fixture nodes into protobuf values, collecting located errors.
pub(crate) struct Converter<'a> {
    pub(crate) source: &'a FixtureSource,
    pub(crate) errors: &'a mut FixtureErrors,
    /// When set, what each key and scalar meant, by byte offset in the source.
    pub(crate) trace: Option<&'a mut super::fixture::Trace>,
    /// Present in replies: strings with `{{ … }}` compile to holes. Absent in matchers.
    pub(crate) templates: Option<(&'a mut TemplateCompiler, &'a TemplateScope)>,
    path: Vec<PathStep>,
    holes: Vec<Hole>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(source: &'a FixtureSource, errors: &'a mut FixtureErrors) -> Self {
        Self {
            source,
            errors,
            trace: None,
            templates: None,
            path: Vec::new(),
            holes: Vec::new(),
        }
    }

    pub(crate) fn with_templates(
        mut self,
        templates: &'a mut TemplateCompiler,
        scope: &'a TemplateScope,
    ) -> Self {
        self.templates = Some((templates, scope));
        self
    }

    pub(crate) fn with_trace(mut self, trace: Option<&'a mut super::fixture::Trace>) -> Self {
        self.trace = trace;
        self
    }

    /// Records what the node at `offset` meant, when tracing.
    pub(crate) fn record(&mut self, offset: usize, meaning: impl FnOnce() -> Meaning) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.push((offset, meaning()));
        }
    }

    /// Takes the template holes recorded since the last call.
    pub(crate) fn take_holes(&mut self) -> Vec<Hole> {
        std::mem::take(&mut self.holes)
    }

    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        code: &'static str,
        message: impl Into<String>,
    ) -> ErrorBuilder<'_, 'a> {
        ErrorBuilder {
            converter: self,
            error: Some(PendingError::new(span, code, message.into())),
        }
    }

    fn problem(&mut self, node: &Node, problem: Problem) {
        let label = problem.message.clone();
        self.error(node.span.clone(), problem.code, problem.message)
            .label(short_label(&label))
            .maybe_help(problem.help)
            .emit();
    }

    /// Converts a mapping of fields into a message of type `desc`.
    pub(crate) fn message(
        &mut self,
        node: &Node,
        desc: &MessageDescriptor,
    ) -> Option<DynamicMessage> {
        if node.is_null() && !holds_json_null(&Kind::Message(desc.clone())) {
            return Some(DynamicMessage::new(desc.clone()));
        }
        if let Some(wkt) = self.well_known(node, desc) {
            return wkt;
        }
        let Some(entries) = node.as_map() else {
            self.error(
                node.span.clone(),
                "grpc_double::fixture::expected_message",
                format!(
                    "expected the fields of `{}` as a mapping, found {}",
                    desc.full_name(),
                    node.describe()
                ),
            )
            .label("expected a mapping")
            .help(format!(
                "write the fields of `{}` as `{{ field: value, … }}`",
                desc.full_name()
            ))
            .emit();
            return None;
        };
        let mut message = DynamicMessage::new(desc.clone());
        let mut ok = true;
        let mut oneofs: HashMap<String, String> = HashMap::new();
        for (key, value) in entries {
            let Some(field) = self.field_for_key(key, desc) else {
                ok = false;
                continue;
            };
            if !self.oneof_allows(key, &field, &mut oneofs) {
                ok = false;
                continue;
            }
            self.path.push(PathStep::Field(field.clone()));
            let converted = self.field_value(value, &field);
            self.path.pop();
            match converted {
                Some(v) => {
                    if message.try_set_field(&field, v).is_err() {
                        ok = false;
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(message)
    }

    /// Reports a second member of the same oneof (`seen` maps oneof names to the member written).
    pub(crate) fn oneof_allows(
        &mut self,
        key: &Node,
        field: &FieldDescriptor,
        seen: &mut HashMap<String, String>,
    ) -> bool {
        let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) else {
            return true;
        };
        let Some(other) = seen.insert(oneof.name().to_owned(), field.name().to_owned()) else {
            return true;
        };
        self.error(key.span.clone(), "grpc_double::fixture::oneof_conflict", format!(
            "fields `{other}` and `{}` are both in oneof `{}`; a message holds at most one of them",
            field.name(),
            oneof.name()
        ))
        .label("second member of the oneof")
        .help(format!("keep only one of the fields of oneof `{}`", oneof.name()))
        .emit();
        false
    }

    /// Resolves a key to a field by proto name or JSON name, or reports it with a suggestion.
    pub(crate) fn field_for_key(
        &mut self,
        key: &Node,
        desc: &MessageDescriptor,
    ) -> Option<FieldDescriptor> {
        let Some(name) = key.as_scalar().map(|s| s.text.as_str()) else {
            self.error(
                key.span.clone(),
                "grpc_double::fixture::bad_key",
                "field names must be plain strings",
            )
            .label("not a field name")
            .emit();
            return None;
        };
        if let Some(field) = find_field(desc, name) {
            self.record(key.span.start, || Meaning::Field {
                name: field.full_name().to_owned(),
                number: field.number(),
                kind: format!(
                    "{}{}",
                    if field.is_list() { "repeated " } else { "" },
                    kind_name(&field.kind())
                ),
            });
            return Some(field);
        }
        let names: Vec<String> = desc.fields().map(|f| f.name().to_owned()).collect();
        let help = match suggest(name, names.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None if names.is_empty() => format!("`{}` has no fields", desc.full_name()),
            None => format!(
                "`{}` has the fields: {}",
                desc.full_name(),
                names.join(", ")
            ),
        };
        self.error(
            key.span.clone(),
            "grpc_double::fixture::unknown_field",
            format!("unknown field `{name}` on `{}`", desc.full_name()),
        )
        .label("unknown field")
        .help(help)
        .emit();
        None
    }

    /// Converts the value of a whole field (a list for repeated fields, a mapping for maps).
    pub(crate) fn field_value(&mut self, node: &Node, field: &FieldDescriptor) -> Option<Value> {
        if self.template_hole(node, field, false) {
            return Some(Value::default_value_for_field(field));
        }
        if node.is_null()
            && !(holds_json_null(&field.kind()) && !field.is_list() && !field.is_map())
        {
            return Some(Value::default_value_for_field(field));
        }
        if field.is_map() {
            return self.map_value(node, field);
        }
        if field.is_list() {
            let NodeKind::Seq(items) = &node.kind else {
                self.error(
                    node.span.clone(),
                    "grpc_double::fixture::expected_list",
                    format!(
                        "`{}` is a repeated field; expected a list, found {}",
                        field.name(),
                        node.describe()
                    ),
                )
                .label("expected a list")
                .help(format!(
                    "write `{}: [ … ]`, or one item per `- ` line",
                    field.name()
                ))
                .emit();
                return None;
            };
            let mut values = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                self.path.push(PathStep::Index(i));
                match self.element(item, field) {
                    Some(v) => values.push(v),
                    None => ok = false,
                }
                self.path.pop();
            }
            return ok.then_some(Value::List(values));
        }
        self.element(node, field)
    }

    fn map_value(&mut self, node: &Node, field: &FieldDescriptor) -> Option<Value> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.span.clone(),
                "grpc_double::fixture::expected_map",
                format!(
                    "`{}` is a map field; expected a mapping, found {}",
                    field.name(),
                    node.describe()
                ),
            )
            .label("expected a mapping")
            .emit();
            return None;
        };
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let mut map = HashMap::with_capacity(entries.len());
        let mut ok = true;
        for (k, v) in entries {
            // Map keys are strings in JSON (`"true": …`): a quoted key still parses as its key type.
            let key = match k.as_scalar().map(|s| {
                let unquoted = Scalar {
                    text: s.text.clone(),
                    plain: true,
                };
                parse_scalar(&unquoted, &key_field.kind())
            }) {
                Some(Ok(value)) => map_key(value),
                Some(Err(problem)) => {
                    self.problem(k, problem);
                    None
                }
                None => {
                    self.error(
                        k.span.clone(),
                        "grpc_double::fixture::bad_key",
                        "map keys must be scalars",
                    )
                    .emit();
                    None
                }
            };
            let Some(key) = key else {
                ok = false;
                continue;
            };
            self.path.push(PathStep::Key(key.clone()));
            let value = if self.template_hole(v, field, true)
                || v.is_null() && !holds_json_null(&value_field.kind())
            {
                Some(Value::default_value_for_field(&value_field))
            } else {
                self.kind_value(v, &value_field.kind(), field)
            };
            self.path.pop();
            match value {
                Some(value) => {
                    map.insert(key, value);
                }
                None => ok = false,
            }
        }
        ok.then_some(Value::Map(map))
    }

    /// Converts one element: the value of a singular field, or one item of a repeated field.
    fn element(&mut self, node: &Node, field: &FieldDescriptor) -> Option<Value> {
        if self.template_hole(node, field, true) {
            return Some(Value::default_value(&field.kind()));
        }
        self.kind_value(node, &field.kind(), field)
    }

    fn kind_value(&mut self, node: &Node, kind: &Kind, field: &FieldDescriptor) -> Option<Value> {
        if let Kind::Message(desc) = kind {
            return self.message(node, desc).map(Value::Message);
        }
        let Some(scalar) = node.as_scalar() else {
            self.error(
                node.span.clone(),
                "grpc_double::fixture::type_mismatch",
                format!(
                    "`{}` is {}; expected {}, found {}",
                    field.name(),
                    kind_name(kind),
                    expected_text(kind),
                    node.describe()
                ),
            )
            .label(format!("expected {}", expected_text(kind)))
            .emit();
            return None;
        };
        match parse_scalar(scalar, kind) {
            Ok(v) => {
                self.record(node.span.start, || Meaning::Value(wire_text(&v)));
                Some(v)
            }
            Err(mut problem) => {
                problem.message = format!("`{}`: {}", field.name(), problem.message);
                self.problem(node, problem);
                None
            }
        }
    }

    /// Records a hole when `node` is a template string; reports templates where none may stand.
    fn template_hole(&mut self, node: &Node, field: &FieldDescriptor, element: bool) -> bool {
        let Some(scalar) = node.as_scalar() else {
            return false;
        };
        if scalar.plain && !scalar.text.contains("{{") || !is_template(&scalar.text) {
            return false;
        }
        let Some((compiler, scope)) = self.templates.as_mut() else {
            self.error(
                node.span.clone(),
                "grpc_double::fixture::template_in_matcher",
                "templates are only allowed in replies (`then`)",
            )
            .label("template in a matcher")
            .help("match computed conditions with `when.expr`, e.g. `expr: request.age > 18`")
            .emit();
            return true;
        };
        match compiler.compile(&scalar.text, scope) {
            Ok(template) => {
                self.holes.push(Hole {
                    path: self.path.clone(),
                    field: field.clone(),
                    element,
                    template,
                });
            }
            Err(problem) => self.problem(node, problem),
        }
        true
    }

    /// Well-known types take their JSON forms. Returns `None` when `desc` is an ordinary message.
    fn well_known(
        &mut self,
        node: &Node,
        desc: &MessageDescriptor,
    ) -> Option<Option<DynamicMessage>> {
        let name = desc.full_name();
        let name = name.strip_prefix("google.protobuf.")?;
        let wrapper = matches!(
            name,
            "DoubleValue"
                | "FloatValue"
                | "Int64Value"
                | "UInt64Value"
                | "Int32Value"
                | "UInt32Value"
                | "BoolValue"
                | "StringValue"
                | "BytesValue"
        );
        if wrapper {
            if node.as_map().is_some() {
                return None;
            }
            let field = desc.get_field_by_name("value")?;
            let mut message = DynamicMessage::new(desc.clone());
            self.path.push(PathStep::Field(field.clone()));
            let value = self.field_value(node, &field);
            self.path.pop();
            return Some(
                value
                    .and_then(|v| message.try_set_field(&field, v).ok())
                    .map(|()| message),
            );
        }
        match name {
            "Timestamp" | "Duration" | "FieldMask" if node.as_map().is_none() => {}
            "Struct" | "Value" | "ListValue" => {}
            "Any" => return Some(self.any(node, desc)),
            _ => return None,
        }
        Some(self.json_form(node, desc))
    }

    fn json_form(&mut self, node: &Node, desc: &MessageDescriptor) -> Option<DynamicMessage> {
        let json = to_json(node);
        match DynamicMessage::deserialize(desc.clone(), json) {
            Ok(message) => Some(message),
            Err(err) => {
                self.error(
                    node.span.clone(),
                    "grpc_double::fixture::well_known_type",
                    format!("invalid `{}`: {err}", desc.full_name()),
                )
                .label(format!("not a valid {}", desc.name()))
                .help(wkt_help(desc.name()))
                .emit();
                None
            }
        }
    }

    /// `{ "@type": pkg.Msg, field: … }`, or `{ "@type": google.protobuf.X, value: … }` for
    /// well-known types, as in the proto3 JSON mapping.
    fn any(&mut self, node: &Node, desc: &MessageDescriptor) -> Option<DynamicMessage> {
        let entries = node.as_map()?;
        let type_entry = entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "@type"));
        let Some((_, type_node)) = type_entry else {
            self.error(
                node.span.clone(),
                "grpc_double::fixture::any_type",
                "an `Any` needs an `\"@type\"` key",
            )
            .label("no @type")
            .help("write `\"@type\": google.rpc.ErrorInfo` followed by that message's fields")
            .emit();
            return None;
        };
        let type_name = type_node
            .as_scalar()
            .map(|s| s.text.clone())
            .unwrap_or_default();
        let full_name = type_name.rsplit('/').next().unwrap_or_default();
        let pool = desc.parent_pool();
        let Some(inner) = pool.get_message_by_name(full_name) else {
            let names = pool
                .all_messages()
                .map(|m| m.full_name().to_owned())
                .collect::<Vec<_>>();
            let help = suggest(full_name, names.iter().map(String::as_str)).map_or_else(
                || "the type must be defined in the loaded protos or google/rpc".to_owned(),
                |s| format!("did you mean `{s}`?"),
            );
            self.error(
                type_node.span.clone(),
                "grpc_double::fixture::unknown_type",
                format!("unknown message type `{full_name}`"),
            )
            .label("unknown type")
            .help(help)
            .emit();
            return None;
        };
        let rest: Vec<(Node, Node)> = entries
            .iter()
            .filter(|(k, _)| k.as_scalar().is_none_or(|s| s.text != "@type"))
            .cloned()
            .collect();
        // Well-known types are packed in their JSON form under `value`, as in the proto3 JSON
        // mapping (`{"@type": …Duration, "value": "1s"}`); other types list their fields.
        let wkt_value = rest
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "value"))
            .filter(|_| inner.full_name().starts_with("google.protobuf.") && rest.len() == 1)
            .map(|(_, value)| value);
        let body = if let Some(value) = wkt_value {
            self.message(value, &inner)?
        } else {
            let body = Node {
                span: node.span.clone(),
                kind: NodeKind::Map(rest),
            };
            // Templates are not supported inside `Any`: its bytes are built once.
            let templates = self.templates.take();
            let message = self.message(&body, &inner);
            self.templates = templates;
            message?
        };
        let mut any = DynamicMessage::new(desc.clone());
        let type_url = format!("type.googleapis.com/{}", inner.full_name());
        any.try_set_field_by_name("type_url", Value::String(type_url))
            .ok()?;
        any.try_set_field_by_name("value", Value::Bytes(body.encode_to_vec().into()))
            .ok()?;
        Some(any)
    }
}

/// Builds an error and pushes it with `emit`.
pub(crate) struct ErrorBuilder<'c, 'a> {
    converter: &'c mut Converter<'a>,
    error: Option<PendingError>,
}

impl ErrorBuilder<'_, '_> {
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        if let Some(e) = self.error.as_mut() {
            e.label = label.into();
        }
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        if let Some(e) = self.error.as_mut() {
            e.help = Some(help.into());
        }
        self
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> Self {
        if let Some(e) = self.error.as_mut() {
            e.help = help;
        }
        self
    }

    pub(crate) fn emit(mut self) {
        if let Some(e) = self.error.take() {
            let error = e.finish(self.converter.source);
            self.converter.errors.push(error);
        }
    }
}

/// `google.protobuf.Value` takes `null` as a value (`NullValue`); everywhere else `null` means
/// the default.
fn holds_json_null(kind: &Kind) -> bool {
    matches!(kind, Kind::Message(m) if m.full_name() == "google.protobuf.Value")
}

/// Finds a field by proto name, then by JSON name.
pub(crate) fn find_field(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name)
        .or_else(|| desc.get_field_by_json_name(name))
}

/// The closest candidate by edit distance, when it is close enough to be a typo.
pub(crate) fn suggest<'s>(
    word: &str,
    candidates: impl Iterator<Item = &'s str>,
) -> Option<&'s str> {
    candidates
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether text holds template syntax.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn short_label(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .to_owned()
}

fn map_key(value: Value) -> Option<MapKey> {
    Some(match value {
        Value::Bool(b) => MapKey::Bool(b),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::String(s) => MapKey::String(s),
        _ => return None,
    })
}

/// The proto type name of a kind, e.g. `int32` or `enum userservice.Status`.
pub(crate) fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!("message `{}`", m.full_name()),
        Kind::Enum(e) => format!("enum `{}`", e.full_name()),
    }
}

fn expected_text(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double | Kind::Float => "a number",
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64 => "an integer",
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => "a non-negative integer",
        Kind::Bool => "true or false",
        Kind::String => "a string",
        Kind::Bytes => "base64 text",
        Kind::Enum(_) => "an enum value name or number",
        Kind::Message(_) => "a mapping",
    }
}

fn wkt_help(name: &str) -> String {
    match name {
        "Timestamp" => "write an RFC 3339 time, e.g. `2024-05-01T12:00:00Z`".into(),
        "Duration" => "write seconds with an `s` suffix, e.g. `1.5s`".into(),
        "FieldMask" => "write comma-separated lowerCamel paths, e.g. `userId,profile.name`".into(),
        _ => format!("write the proto3 JSON form of `google.protobuf.{name}`"),
    }
}

/// Parses a scalar into a value of a non-message kind.
pub(crate) fn parse_scalar(scalar: &Scalar, kind: &Kind) -> Result<Value, Problem> {
    let text = scalar.text.as_str();
    let number = |what: &str| {
        Problem::new(
            "grpc_double::fixture::type_mismatch",
            format!("expected {what}, found `{text}`"),
        )
    };
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => match scalar.as_bool() {
            Some(b) => Value::Bool(b),
            None => {
                return Err(Problem::new(
                    "grpc_double::fixture::type_mismatch",
                    format!("expected true or false, found `{text}`"),
                )
                .help("write `true` or `false` without quotes"));
            }
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            int_in_range(text, i64::from(i32::MIN), i64::from(i32::MAX), kind)
                .map_err(|p| p.unwrap_or_else(|| number("an integer")))? as i32,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            int_in_range(text, i64::MIN, i64::MAX, kind)
                .map_err(|p| p.unwrap_or_else(|| number("an integer")))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            uint_in_range(text, u64::from(u32::MAX), kind)
                .map_err(|p| p.unwrap_or_else(|| number("a non-negative integer")))?
                as u32,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            uint_in_range(text, u64::MAX, kind)
                .map_err(|p| p.unwrap_or_else(|| number("a non-negative integer")))?,
        ),
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| number("a number"))?),
        Kind::Float => {
            let v = parse_float(text).ok_or_else(|| number("a number"))?;
            if v.is_finite() && (v as f32).is_infinite() {
                return Err(Problem::new(
                    "grpc_double::fixture::out_of_range",
                    format!("{text} is out of range for float"),
                ));
            }
            Value::F32(v as f32)
        }
        Kind::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| {
            Problem::new(
                "grpc_double::fixture::bad_bytes",
                format!("expected base64 for a bytes field, found `{text}`"),
            )
            .help(
                "bytes are written in base64 (standard or URL-safe), e.g. `aGVsbG8=` for \"hello\"",
            )
        })?),
        Kind::Enum(e) => Value::EnumNumber(enum_number(text, e)?),
        Kind::Message(m) => {
            return Err(Problem::new(
                "grpc_double::fixture::type_mismatch",
                format!(
                    "expected the fields of `{}` as a mapping, found `{text}`",
                    m.full_name()
                ),
            ));
        }
    })
}

fn enum_number(text: &str, e: &EnumDescriptor) -> Result<i32, Problem> {
    if let Some(v) = e.get_value_by_name(text) {
        return Ok(v.number());
    }
    if let Some(n) = parse_int(text).and_then(|n| i32::try_from(n).ok()) {
        if e.get_value(n).is_some() || !crate::schema::enum_is_closed(e) {
            return Ok(n);
        }
        return Err(Problem::new(
            "grpc_double::fixture::unknown_enum_value",
            format!("{n} is not a value of closed enum `{}`", e.full_name()),
        ));
    }
    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    let help = match suggest(text, names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("`{}` has the values: {}", e.full_name(), names.join(", ")),
    };
    Err(Problem::new(
        "grpc_double::fixture::unknown_enum_value",
        format!("unknown value `{text}` of enum `{}`", e.full_name()),
    )
    .help(help))
}

fn range_problem(
    text: &str,
    kind: &Kind,
    min: &dyn std::fmt::Display,
    max: &dyn std::fmt::Display,
) -> Problem {
    Problem::new(
        "grpc_double::fixture::out_of_range",
        format!(
            "{text} is out of range for {} ({min}..={max})",
            kind_name(kind)
        ),
    )
}

fn int_in_range(text: &str, min: i64, max: i64, kind: &Kind) -> Result<i64, Option<Problem>> {
    match parse_int(text) {
        Some(n) if n >= i128::from(min) && n <= i128::from(max) => Ok(n as i64),
        Some(_) => Err(Some(range_problem(text, kind, &min, &max))),
        None => Err(None),
    }
}

fn uint_in_range(text: &str, max: u64, kind: &Kind) -> Result<u64, Option<Problem>> {
    match parse_int(text) {
        Some(n) if n >= 0 && n <= i128::from(max) => Ok(n as u64),
        Some(_) => Err(Some(range_problem(text, kind, &0, &max))),
        None => Err(None),
    }
}

/// Integers: decimal, `0x` hex, or an integral float such as `1e3` (the JSON mapping allows it).
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i128>().ok()?
    } else {
        let f = digits.parse::<f64>().ok()?;
        if !f.is_finite() || f.fract() != 0.0 || f.abs() > 1.8e19 {
            return None;
        }
        f as i128
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Floats: decimal, exponent, and the special values of both YAML and proto3 JSON.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" | ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        "Infinity" | ".inf" | ".Inf" | ".INF" | "+.inf" => Some(f64::INFINITY),
        "-Infinity" | "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        t => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() || t.contains("inf")),
    }
}

/// Standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(text: &str) -> Option<bytes::Bytes> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = text.trim();
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(t).ok())
        .map(bytes::Bytes::from)
}

/// A node as JSON with the YAML 1.2 core schema (for `Struct`, `Value` and other JSON forms).
pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    match &node.kind {
        NodeKind::Scalar(s) if s.is_null() => serde_json::Value::Null,
        NodeKind::Scalar(s) if s.plain => {
            if let Some(b) = s.as_bool() {
                serde_json::Value::Bool(b)
            } else if let Ok(i) = s.text.parse::<i64>() {
                serde_json::Value::from(i)
            } else if let Some(f) = s.text.parse::<f64>().ok().filter(|f| f.is_finite()) {
                serde_json::Value::from(f)
            } else {
                serde_json::Value::String(s.text.clone())
            }
        }
        NodeKind::Scalar(s) => serde_json::Value::String(s.text.clone()),
        NodeKind::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

/// A scalar as the wire sees it, independent of the Rust variant (int32 30 and int64 30 agree).
fn wire_text(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Bytes(b) => format!("the bytes {b:?}"),
        Value::EnumNumber(n) => format!("enum number {n}"),
        other => number_text(other).unwrap_or_default(),
    }
}

/// A boolean or number as written in YAML; `None` for other values.
pub(crate) fn number_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
        _ => return None,
    })
}
