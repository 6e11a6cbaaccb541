//! Rendering a reply's parts for one call: what is fixed is returned as loaded; templates are
//! rendered with the call's context and converted by the type of what they fill.

use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, Value};
use tonic::{
    Code,
    metadata::{
        AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
    },
};

use super::{
    code::parse_code,
    reply::{
        Computed, Delay, Detail, Fill, Hole, JsonTemplate, Metadata, PathStep, Payload, Shortcut,
        Splice, StatusReply,
    },
};
use crate::{
    fake::template::{CallVars, Template, from_jinja},
    schema::{decode_base64, parse_duration, value::flat::ScalarRef},
};

/// The encoded message for a call with this template context.
pub(crate) fn payload(payload: &Payload, ctx: &minijinja::Value) -> Result<Bytes, String> {
    match payload {
        Payload::Static(bytes) => Ok(bytes.clone()),
        Payload::Template {
            base,
            holes,
            splice,
        } => {
            if let Some(splice) = splice
                && let Some(bytes) = spliced(splice, holes, ctx)?
            {
                return Ok(bytes);
            }
            Ok(message(base, holes, ctx)?.encode_to_vec().into())
        }
    }
}

/// The payload's constant bytes with each hole's value encoded in its gap; `None` when a
/// value came out in a form only the whole message can encode.
fn spliced(
    splice: &Splice,
    holes: &[Hole],
    ctx: &minijinja::Value,
) -> Result<Option<Bytes>, String> {
    let constant: usize = splice.gaps.iter().map(Bytes::len).sum();
    let mut out = Vec::with_capacity(constant + 16 * holes.len());
    // Holes render in the order they were written (a seeded random source draws in that
    // order), and are encoded in field-number order.
    let in_order = splice.order.iter().enumerate().all(|(n, &i)| n == i);
    let values: Vec<Value> = if in_order {
        Vec::new()
    } else {
        holes
            .iter()
            .map(|hole| fill(hole, ctx))
            .collect::<Result<_, _>>()?
    };
    for (gap, &i) in splice.gaps.iter().zip(&splice.order) {
        out.extend_from_slice(gap);
        let hole = &holes[i];
        let encoded = match values.get(i) {
            Some(value) => encode_scalar(&hole.field, value, &mut out),
            None => match direct(splice.shortcuts[i].as_ref(), hole, ctx, &mut out) {
                Some(encoded) => encoded,
                None => encode_scalar(&hole.field, &fill(hole, ctx)?, &mut out),
            },
        };
        if !encoded {
            return Ok(None);
        }
    }
    if let Some(last) = splice.gaps.last() {
        out.extend_from_slice(last);
    }
    Ok(Some(out.into()))
}

/// Encodes a hole with a [`Shortcut`] straight into `out` — the bytes [`encode_scalar`] gives
/// for the value [`fill`] gives — or `None` for the general way (no shortcut, no request, or
/// text the engine must render).
fn direct(
    shortcut: Option<&Shortcut>,
    hole: &Hole,
    ctx: &minijinja::Value,
    out: &mut Vec<u8>,
) -> Option<bool> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let target = &hole.field;
    let delimited = |bytes: &[u8], out: &mut Vec<u8>| {
        if !bytes.is_empty() || target.supports_presence() {
            encode_key(target.number(), WireType::LengthDelimited, out);
            encode_varint(bytes.len() as u64, out);
            out.extend_from_slice(bytes);
        }
        true
    };
    match shortcut? {
        Shortcut::Echo(source) => {
            let request = ctx.downcast_object_ref::<CallVars>()?.request.as_ref()?;
            request.with_scalar(source, |value| {
                Some(match value? {
                    ScalarRef::Str(text) => delimited(text, out),
                    ScalarRef::Bytes(bytes) => delimited(bytes, out),
                    other => encode_scalar(target, &other.to_value(), out),
                })
            })
        }
        Shortcut::Text => {
            let Fill::Template(template) = &hole.fill else {
                return None;
            };
            Some(delimited(template.interpolate(ctx)?.as_bytes(), out))
        }
    }
}

/// Encodes a singular scalar field as prost-reflect does (a field without presence that holds
/// its default is left out); `false` for a value the kind does not take.
fn encode_scalar(field: &FieldDescriptor, value: &Value, out: &mut Vec<u8>) -> bool {
    use prost::encoding as enc;
    if !field.supports_presence() && value.is_default_for_field(field) {
        return true;
    }
    let n = field.number();
    match (value, field.kind()) {
        (Value::Bool(v), Kind::Bool) => enc::bool::encode(n, v, out),
        (Value::I32(v), Kind::Int32) => enc::int32::encode(n, v, out),
        (Value::I32(v), Kind::Sint32) => enc::sint32::encode(n, v, out),
        (Value::I32(v), Kind::Sfixed32) => enc::sfixed32::encode(n, v, out),
        (Value::I64(v), Kind::Int64) => enc::int64::encode(n, v, out),
        (Value::I64(v), Kind::Sint64) => enc::sint64::encode(n, v, out),
        (Value::I64(v), Kind::Sfixed64) => enc::sfixed64::encode(n, v, out),
        (Value::U32(v), Kind::Uint32) => enc::uint32::encode(n, v, out),
        (Value::U32(v), Kind::Fixed32) => enc::fixed32::encode(n, v, out),
        (Value::U64(v), Kind::Uint64) => enc::uint64::encode(n, v, out),
        (Value::U64(v), Kind::Fixed64) => enc::fixed64::encode(n, v, out),
        (Value::F32(v), Kind::Float) => enc::float::encode(n, v, out),
        (Value::F64(v), Kind::Double) => enc::double::encode(n, v, out),
        (Value::String(v), Kind::String) => enc::string::encode(n, v, out),
        (Value::Bytes(v), Kind::Bytes) => enc::bytes::encode(n, v, out),
        (Value::EnumNumber(v), Kind::Enum(_)) => enc::int32::encode(n, v, out),
        _ => return false,
    }
    true
}

/// The message of a templated payload.
pub(crate) fn message(
    base: &DynamicMessage,
    holes: &[Hole],
    ctx: &minijinja::Value,
) -> Result<DynamicMessage, String> {
    let mut message = base.clone();
    for hole in holes {
        let value = fill(hole, ctx)?;
        set_at(&mut message, &hole.path, value);
    }
    Ok(message)
}

fn fill(hole: &Hole, ctx: &minijinja::Value) -> Result<Value, String> {
    match &hole.fill {
        Fill::Template(template) => {
            if let Some(value) = echo(template, hole, ctx) {
                return Ok(value);
            }
            let value = template.render(ctx)?;
            from_jinja(&value, &hole.field, hole.element)
        }
        Fill::Json(skeleton) => {
            let json = json(skeleton, ctx)?;
            let kind = match hole.field.kind() {
                Kind::Message(entry) if hole.element && hole.field.is_map() => {
                    entry.map_entry_value_field().kind()
                }
                kind => kind,
            };
            let Kind::Message(desc) = kind else {
                return Err(format!(
                    "`{}` does not take a JSON value",
                    hole.field.name()
                ));
            };
            DynamicMessage::deserialize(desc.clone(), json)
                .map(Value::Message)
                .map_err(|e| format!("not a valid {}: {e}", desc.full_name()))
        }
    }
}

/// The value of `{{ request.<field> }}` read straight from the request, when the hole is a
/// field of the same kind: what rendering and converting back would give, without either.
fn echo(template: &Template, hole: &Hole, ctx: &minijinja::Value) -> Option<Value> {
    let source = template.echo()?;
    let target = &hole.field;
    if hole.element || target.is_list() || target.is_map() || source.kind() != target.kind() {
        return None;
    }
    let request = ctx.downcast_object_ref::<CallVars>()?.request.as_ref()?;
    Some(request.field(source).into_owned())
}

/// A JSON document with its templated strings rendered (a one-expression template keeps its
/// value's type).
fn json(skeleton: &JsonTemplate, ctx: &minijinja::Value) -> Result<serde_json::Value, String> {
    Ok(match skeleton {
        JsonTemplate::Fixed(value) => value.clone(),
        JsonTemplate::Template(template) => {
            let value = template.render(ctx)?;
            serde_json::to_value(&value).map_err(|e| e.to_string())?
        }
        JsonTemplate::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| json(item, ctx))
                .collect::<Result<_, _>>()?,
        ),
        JsonTemplate::Object(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), json(v, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn set_at(message: &mut DynamicMessage, path: &[PathStep], value: Value) {
    if let [PathStep::Field(field), rest @ ..] = path {
        if rest.is_empty() {
            // The value was converted for this field, so the type always fits.
            let _ = message.try_set_field(field, value);
        } else {
            set_in(message.get_field_mut(field), rest, value);
        }
    }
}

fn set_in(slot: &mut Value, path: &[PathStep], value: Value) {
    match (slot, path) {
        (slot, []) => *slot = value,
        (Value::List(items), [PathStep::Index(i), rest @ ..]) => {
            if let Some(item) = items.get_mut(*i) {
                set_in(item, rest, value);
            }
        }
        (Value::Map(map), [PathStep::Key(key), rest @ ..]) => match map.get_mut::<MapKey>(key) {
            Some(item) => set_in(item, rest, value),
            None if rest.is_empty() => {
                map.insert(key.clone(), value);
            }
            None => {}
        },
        (Value::Message(message), path @ [PathStep::Field(_), ..]) => set_at(message, path, value),
        _ => {}
    }
}

/// Renders a template to text (a value displayed).
fn text(template: &Template, ctx: &minijinja::Value) -> Result<String, String> {
    template.render_text(ctx)
}

/// The status code for this call.
pub(crate) fn code(code: &Computed<Code>, ctx: &minijinja::Value) -> Result<Code, String> {
    match code {
        Computed::Fixed(code) => Ok(*code),
        Computed::Template(template) => {
            let rendered = text(template, ctx)?;
            parse_code(&rendered).ok_or_else(|| {
                format!("the status code template produced `{rendered}`, not a code (0-16 or a name such as NOT_FOUND)")
            })
        }
    }
}

/// The status message for this call.
pub(crate) fn message_text(
    message: &Computed<String>,
    ctx: &minijinja::Value,
) -> Result<String, String> {
    match message {
        Computed::Fixed(text) => Ok(text.clone()),
        Computed::Template(template) => text(template, ctx),
    }
}

/// The delay for this call: the base (a number is milliseconds) plus up to `jitter`, drawn with
/// `draw` (a number in `[0, 1)`).
pub(crate) fn delay(
    delay: &Delay,
    ctx: &minijinja::Value,
    draw: impl FnOnce() -> f64,
) -> Result<Duration, String> {
    let base = match &delay.base {
        Computed::Fixed(d) => *d,
        Computed::Template(template) => {
            let rendered = text(template, ctx)?;
            parse_duration(&rendered).ok_or_else(|| {
                format!("the delay template produced `{rendered}`, not a duration (e.g. 250ms, 1.5s; a bare number is milliseconds)")
            })?
        }
    };
    if delay.jitter.is_zero() {
        return Ok(base);
    }
    Ok(base + delay.jitter.mul_f64(draw()))
}

/// Headers or trailers for this call.
pub(crate) fn metadata(entries: &Metadata, ctx: &minijinja::Value) -> Result<MetadataMap, String> {
    let mut out = MetadataMap::new();
    for entry in entries {
        let bytes = match &entry.value {
            Computed::Fixed(bytes) => bytes.clone(),
            Computed::Template(template) => {
                let value = template.render(ctx)?;
                match (entry.is_binary(), value.as_bytes()) {
                    (true, Some(bytes)) => Bytes::copy_from_slice(bytes),
                    (true, None) => {
                        let text = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned);
                        decode_base64(&text).ok_or_else(|| {
                            format!("`{}` is a binary header: the template must produce bytes or base64, not `{text}`", entry.name)
                        })?
                    }
                    (false, _) => Bytes::from(
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned),
                    ),
                }
            }
        };
        append(&mut out, &entry.name, bytes)?;
    }
    Ok(out)
}

/// Appends one header, checking what a header may hold.
pub(crate) fn append(map: &mut MetadataMap, name: &str, value: Bytes) -> Result<(), String> {
    if name.ends_with("-bin") {
        let key = name
            .parse::<BinaryMetadataKey>()
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        map.append_bin(key, BinaryMetadataValue::from_bytes(&value));
    } else {
        let key = name
            .parse::<AsciiMetadataKey>()
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let value = AsciiMetadataValue::try_from(value.as_ref()).map_err(|_| {
            format!("header `{name}` got a value that is not printable ASCII; use a `-bin` header for bytes")
        })?;
        map.append(key, value);
    }
    Ok(())
}

/// The code, message and encoded `google.rpc.Status` details for this call.
pub(crate) fn status(
    status: &StatusReply,
    ctx: &minijinja::Value,
) -> Result<(Code, String, Bytes), String> {
    let code = code(&status.code, ctx)?;
    let message = message_text(&status.message, ctx)?;
    let details = match &status.encoded_details {
        Some(bytes) => bytes.clone(),
        None if status.details.is_empty() => Bytes::new(),
        None => encode_status(code, &message, &status.details, ctx)?,
    };
    Ok((code, message, details))
}

/// Encodes a `google.rpc.Status { code, message, details }`.
pub(crate) fn encode_status(
    code: Code,
    message: &str,
    details: &[Detail],
    ctx: &minijinja::Value,
) -> Result<Bytes, String> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut out = BytesMut::new();
    let code = code as i32;
    if code != 0 {
        prost::encoding::int32::encode(1, &code, &mut out);
    }
    if !message.is_empty() {
        prost::encoding::string::encode(2, &message.to_owned(), &mut out);
    }
    for detail in details {
        let value = payload(&detail.payload, ctx)?;
        let mut any = BytesMut::new();
        prost::encoding::string::encode(1, &detail.type_url, &mut any);
        if !value.is_empty() {
            prost::encoding::bytes::encode(2, &value, &mut any);
        }
        encode_key(3, WireType::LengthDelimited, &mut out);
        encode_varint(any.len() as u64, &mut out);
        out.put_slice(&any);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost_reflect::ReflectMessage as _;

    use super::*;
    use crate::{
        fake::{
            model::{Fixtures, Respond},
            template::{CallVars, context},
        },
        schema::{
            Schema,
            value::{flat::FlatDecoder, lazy::LazyMessage},
        },
    };

    /// The bundled Chat echo (`user_id: "{{ request.user_id }}"`, `message: "Echo: {{
    /// request.message }}"`) encodes its holes straight from a request kept as bytes, and the
    /// bytes are those of the whole message rendered from the decoded request: set, empty and
    /// unset fields alike.
    #[test]
    fn echoed_and_interpolated_holes_encode_as_the_whole_message_does() {
        let schema = Schema::bundled();
        let fixtures = Fixtures::bundled(&schema).unwrap();
        let stub = fixtures
            .stubs()
            .iter()
            .find(|s| s.id.as_deref() == Some("chat-echo"))
            .unwrap();
        let Respond::Reply(reply) = &stub.then else {
            panic!("chat-echo has one reply");
        };
        let Payload::Template {
            base,
            holes,
            splice: Some(splice),
        } = &reply.messages().next().unwrap().payload
        else {
            panic!("chat-echo's reply is spliced");
        };
        assert!(
            splice
                .shortcuts
                .iter()
                .all(|s| matches!(s, Some(Shortcut::Echo(_) | Shortcut::Text))),
            "{:?}",
            splice.shortcuts
        );
        let input = stub.method.input();
        let flat = Arc::new(FlatDecoder::new(&input).unwrap());
        let ctx = |request: Arc<LazyMessage>| {
            context(CallVars::of_messages(
                "userservice.UserService/Chat",
                vec![request],
            ))
        };
        for (user_id, text) in [
            (Some("u-1"), Some("hi")),
            (Some(""), None),
            (None, Some("")),
        ] {
            let mut request = DynamicMessage::new(input.clone());
            if let Some(id) = user_id {
                request.set_field_by_name("user_id", Value::String(id.into()));
            }
            if let Some(text) = text {
                request.set_field_by_name("message", Value::String(text.into()));
            }
            let lazy = LazyMessage::flat(request.encode_to_vec().into(), &flat).unwrap();
            let fast = payload(&reply.messages().next().unwrap().payload, &ctx(lazy)).unwrap();
            let whole = message(
                base,
                holes,
                &ctx(Arc::new(LazyMessage::decoded(request.clone()))),
            )
            .unwrap()
            .encode_to_vec();
            assert_eq!(&fast[..], &whole[..], "{request:?}");
            assert_eq!(
                DynamicMessage::decode(stub.method.output(), &fast[..])
                    .unwrap()
                    .descriptor(),
                stub.method.output()
            );
        }
    }
}
