//! Well-known types in fixtures: their JSON forms (`Timestamp`, `Duration`, `FieldMask`,
//! wrappers, `Struct`, `Value`, `ListValue`), and `Any` by `"@type"`.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value};

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    scalar::{to_json, wkt_help},
    yaml::{Node, NodeKind},
};
use crate::{
    fake::{
        model::{Fill, Hole, JsonTemplate, PathStep},
        template::is_template,
    },
    schema::suggest,
};

impl Converter<'_> {
    /// Well-known types take their JSON forms. Returns `None` when `desc` is an ordinary message.
    pub(crate) fn well_known(
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
        if self.templates.is_some() && has_template(node) {
            return self.json_hole(node, desc);
        }
        let json = to_json(node);
        match DynamicMessage::deserialize(desc.clone(), json) {
            Ok(message) => Some(message),
            Err(err) => {
                self.error(
                    node.span.clone(),
                    Code::WellKnownType,
                    format!("invalid `{}`: {err}", desc.full_name()),
                )
                .label(format!("not a valid {}", desc.name()))
                .help(wkt_help(desc.name()))
                .emit(self);
                None
            }
        }
    }

    /// A `Struct`, `Value` or `ListValue` with templated strings: a hole rendered per call as
    /// the JSON form of the type.
    fn json_hole(&mut self, node: &Node, desc: &MessageDescriptor) -> Option<DynamicMessage> {
        let field = self.path.iter().rev().find_map(|step| match step {
            PathStep::Field(field) => Some(field.clone()),
            _ => None,
        })?;
        let element = !matches!(self.path.last(), Some(PathStep::Field(_)));
        let skeleton = self.json_template(node)?;
        self.holes.push(Hole {
            path: self.path.clone(),
            field,
            element,
            fill: Fill::Json(skeleton),
        });
        Some(DynamicMessage::new(desc.clone()))
    }

    fn json_template(&mut self, node: &Node) -> Option<JsonTemplate> {
        Some(match &node.kind {
            NodeKind::Scalar(s) if (!s.plain || s.text.contains("{{")) && is_template(&s.text) => {
                let (compiler, scope) = self.templates.as_mut()?;
                match compiler.compile(&s.text, scope) {
                    Ok(template) => JsonTemplate::Template(template),
                    Err(error) => {
                        self.problem(node, compile_error(error));
                        return None;
                    }
                }
            }
            NodeKind::Scalar(_) => JsonTemplate::Fixed(to_json(node)),
            NodeKind::Seq(items) => JsonTemplate::List(
                items
                    .iter()
                    .map(|item| self.json_template(item))
                    .collect::<Option<Vec<_>>>()?,
            ),
            NodeKind::Map(entries) => JsonTemplate::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                        Some((key, self.json_template(v)?))
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
        })
    }

    /// `{ "@type": pkg.Msg, field: … }`, or `{ "@type": google.protobuf.X, value: … }` for
    /// well-known types, as in the proto3 JSON mapping.
    fn any(&mut self, node: &Node, desc: &MessageDescriptor) -> Option<DynamicMessage> {
        let (inner, body) = self.any_type(node, desc.parent_pool())?;
        // Templates are not supported inside an `Any` field of a message: its bytes are built
        // once (status details, which are `Any`s too, take templates: see `then`).
        let templates = self.templates.take();
        let message = self.message(&body, &inner);
        self.templates = templates;
        let body = message?;
        let mut any = DynamicMessage::new(desc.clone());
        let type_url = format!("type.googleapis.com/{}", inner.full_name());
        any.try_set_field_by_name("type_url", Value::String(type_url))
            .ok()?;
        any.try_set_field_by_name("value", Value::Bytes(body.encode_to_vec().into()))
            .ok()?;
        Some(any)
    }

    /// The type an `Any` mapping names with `"@type"`, and the node of its contents: its
    /// fields, or for well-known types their JSON form under `value`.
    pub(crate) fn any_type(
        &mut self,
        node: &Node,
        pool: &prost_reflect::DescriptorPool,
    ) -> Option<(MessageDescriptor, Node)> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.span.clone(),
                Code::ExpectedMessage,
                format!(
                    "expected an `Any` as a mapping with `\"@type\"`, found {}",
                    node.describe()
                ),
            )
            .label("expected a mapping")
            .emit(self);
            return None;
        };
        let type_entry = entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "@type"));
        let Some((_, type_node)) = type_entry else {
            self.error(
                node.span.clone(),
                Code::AnyType,
                "an `Any` needs an `\"@type\"` key",
            )
            .label("no @type")
            .help("write `\"@type\": google.rpc.ErrorInfo` followed by that message's fields")
            .emit(self);
            return None;
        };
        let type_name = type_node
            .as_scalar()
            .map(|s| s.text.clone())
            .unwrap_or_default();
        let full_name = type_name.rsplit('/').next().unwrap_or_default();
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
                Code::UnknownType,
                format!("unknown message type `{full_name}`"),
            )
            .label("unknown type")
            .help(help)
            .emit(self);
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
            .map(|(_, value)| value.clone());
        let body = wkt_value.unwrap_or_else(|| Node {
            span: node.span.clone(),
            kind: NodeKind::Map(rest),
        });
        Some((inner, body))
    }
}

/// Whether a node holds a template string anywhere.
fn has_template(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Scalar(s) => (!s.plain || s.text.contains("{{")) && is_template(&s.text),
        NodeKind::Seq(items) => items.iter().any(has_template),
        NodeKind::Map(entries) => entries.iter().any(|(_, v)| has_template(v)),
    }
}
