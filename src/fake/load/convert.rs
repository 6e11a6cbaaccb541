//! YAML nodes to protobuf values, guided by descriptors.
//!
//! A scalar's meaning comes from the field it lands in ([`super::scalar`]). Well-known types use
//! their JSON forms (`2024-01-01T00:00:00Z`, `1.5s`, any YAML under a `Struct`), and `Any` takes
//! `"@type"`. The [`Converter`] reports every problem with its location and keeps going, so one
//! load lists all of them. In replies, strings holding `{{ … }}` become template *holes*, filled
//! per call.

use std::{collections::HashMap, ops::Range};

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use super::{
    diagnostic::{Code, FixtureError, FixtureErrors},
    scalar::{expected_text, holds_json_null, map_key, parse_scalar, short_label, wire_text},
    source::FixtureSource,
    trace::{Meaning, Trace},
    yaml::{Node, NodeKind, Scalar},
};
use crate::{
    fake::{
        model::{Fill, Hole, PathStep},
        template::{CompileError, Scope, TemplateCompiler, is_template},
    },
    schema::{find_field, suggest, value::kinds::kind_name},
};

/// Converts fixture nodes into protobuf values, collecting located errors.
pub(crate) struct Converter<'a> {
    pub(crate) source: &'a FixtureSource,
    pub(crate) errors: &'a mut FixtureErrors,
    /// When set, what each key and scalar meant, by byte offset in the source.
    pub(crate) trace: Option<&'a mut Trace>,
    /// Present in replies: strings with `{{ … }}` compile to holes. Absent in matchers.
    pub(crate) templates: Option<(&'a mut TemplateCompiler, &'a Scope)>,
    pub(crate) path: Vec<PathStep>,
    pub(crate) holes: Vec<Hole>,
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
        scope: &'a Scope,
    ) -> Self {
        self.templates = Some((templates, scope));
        self
    }

    pub(crate) fn with_trace(mut self, trace: Option<&'a mut Trace>) -> Self {
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

    /// A problem located at `span` of this source; `.emit(conv)` reports it.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        code: Code,
        message: impl Into<String>,
    ) -> FixtureError {
        FixtureError::new(code, message).at(self.source, span)
    }

    /// Reports a problem found by a scalar parser at `node`, labelled with its gist.
    pub(crate) fn problem(&mut self, node: &Node, problem: FixtureError) {
        let label = short_label(problem.message());
        problem
            .label(label)
            .at(self.source, node.span.clone())
            .emit(self);
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
                Code::ExpectedMessage,
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
            .emit(self);
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
        self.error(key.span.clone(), Code::OneofConflict, format!(
            "fields `{other}` and `{}` are both in oneof `{}`; a message holds at most one of them",
            field.name(),
            oneof.name()
        ))
        .label("second member of the oneof")
        .help(format!("keep only one of the fields of oneof `{}`", oneof.name()))
        .emit(self);
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
                Code::BadKey,
                "field names must be plain strings",
            )
            .label("not a field name")
            .emit(self);
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
            Code::UnknownField,
            format!("unknown field `{name}` on `{}`", desc.full_name()),
        )
        .label("unknown field")
        .help(help)
        .emit(self);
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
                    Code::ExpectedList,
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
                .emit(self);
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
                Code::ExpectedMap,
                format!(
                    "`{}` is a map field; expected a mapping, found {}",
                    field.name(),
                    node.describe()
                ),
            )
            .label("expected a mapping")
            .emit(self);
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
                    self.error(k.span.clone(), Code::BadKey, "map keys must be scalars")
                        .emit(self);
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
    pub(crate) fn element(&mut self, node: &Node, field: &FieldDescriptor) -> Option<Value> {
        if self.template_hole(node, field, true) {
            return Some(Value::default_value(&field.kind()));
        }
        self.kind_value(node, &field.kind(), field)
    }

    pub(crate) fn kind_value(
        &mut self,
        node: &Node,
        kind: &Kind,
        field: &FieldDescriptor,
    ) -> Option<Value> {
        if let Kind::Message(desc) = kind {
            return self.message(node, desc).map(Value::Message);
        }
        let Some(scalar) = node.as_scalar() else {
            self.error(
                node.span.clone(),
                Code::TypeMismatch,
                format!(
                    "`{}` is {}; expected {}, found {}",
                    field.name(),
                    kind_name(kind),
                    expected_text(kind),
                    node.describe()
                ),
            )
            .label(format!("expected {}", expected_text(kind)))
            .emit(self);
            return None;
        };
        match parse_scalar(scalar, kind) {
            Ok(v) => {
                self.record(node.span.start, || Meaning::Value(wire_text(&v)));
                Some(v)
            }
            Err(mut problem) => {
                problem.set_message(format!(
                    "`{}` ({}): {}",
                    field.name(),
                    kind_name(kind),
                    problem.message()
                ));
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
                Code::TemplateInMatcher,
                "templates are only allowed in replies (`then`)",
            )
            .label("template in a matcher")
            .help("match computed conditions with `when.expr`, e.g. `expr: request.age > 18`")
            .emit(self);
            return true;
        };
        match compiler.compile(&scalar.text, scope) {
            Ok(template) => {
                self.holes.push(Hole {
                    path: self.path.clone(),
                    field: field.clone(),
                    element,
                    fill: Fill::Template(template),
                });
            }
            Err(error) => self.problem(node, compile_error(error)),
        }
        true
    }
}

impl FixtureError {
    /// Reports this problem through the converter.
    pub(crate) fn emit(self, conv: &mut Converter<'_>) {
        conv.errors.push(self);
    }
}

/// A template that does not compile, as a fixture problem (not yet located).
pub(crate) fn compile_error(error: CompileError) -> FixtureError {
    match error {
        CompileError::Syntax { detail } => FixtureError::new(
            Code::TemplateSyntax,
            format!("invalid template: {detail}"),
        )
        .help("templates use minijinja (Jinja2) syntax, e.g. `{{ request.user_id }}`; see docs/fixtures.md"),
        CompileError::UnknownVariable { name, help } => FixtureError::new(
            Code::TemplateVariable,
            format!("unknown template variable `{name}`"),
        )
        .help(help),
        CompileError::UnknownField { message, help } => {
            FixtureError::new(Code::TemplateField, message).help(help)
        }
        CompileError::UnknownHelper { what, name, help } => FixtureError::new(
            Code::TemplateHelper,
            format!("unknown template {what} `{name}`"),
        )
        .help(help),
    }
}
