//! Field-level rules, run on fields paired by number and on extensions paired by extendee and
//! number: names, JSON names, types and buf's compatibility groups, cardinality, oneofs,
//! defaults and field options.

use prost_reflect::{Cardinality, Kind};

use crate::breaking::{
    engine::{
        Card, Feature, Field, TYPE_NAME, kind_name, lossy_witness, message_chain, read_as, resolve,
        resolve_extension, type_name, wire_group, wire_json_group,
    },
    finding::{Findings, Location},
};

/// `FieldDescriptorProto` numbers.
const NAME: i32 = 1;
const DEFAULT_VALUE: i32 = 7;
const OPTIONS: i32 = 8;
const JSON_NAME: i32 = 10;
/// `FieldOptions` numbers.
const CTYPE: i32 = 1;
const JSTYPE: i32 = 6;
const FEATURES: i32 = 21;
/// `FeatureSet` extension `(pb.cpp)` and its `string_type`.
const PB_CPP: i32 = 1000;
const CPP_STRING_TYPE: i32 = 2;

/// The kind for messages: a delimited message outside proto2 is not called a group.
fn pretty_kind(field: &Field) -> &'static str {
    match kind_name(field) {
        "group" if crate::schema::syntax(&field.file()) == "editions" => {
            "message (delimited encoding)"
        }
        other => other,
    }
}

fn type_change_hint(p: &Field) -> String {
    format!(
        "add a new field instead of changing the type of field {} (\"{}\"): reserve {} and \"{}\", then declare the new type under a new number and name",
        p.number(),
        p.name(),
        p.number(),
        p.name()
    )
}

fn changed_type(p: &Field, c: &Field, extra: &str, out: &mut Findings) {
    out.push(
        Some(c.type_loc()),
        Some(p.type_loc()),
        format!(
            "{} changed type from \"{}\" to \"{}\".{extra}",
            c.description(),
            pretty_kind(p),
            pretty_kind(c)
        ),
    )
    .hint(type_change_hint(p))
    .about(c.field_ref());
}

fn changed_type_name(p: &Field, c: &Field, out: &mut Findings) {
    out.push(
        Some(c.loc(&[TYPE_NAME])),
        Some(p.loc(&[TYPE_NAME])),
        format!(
            "{} changed type from \"{}\" to \"{}\".",
            c.description(),
            type_name(p).unwrap_or_default(),
            type_name(c).unwrap_or_default()
        ),
    )
    .hint(type_change_hint(p))
    .about(c.field_ref());
}

/// Whether two fields reference differently named messages or enums (no allocation).
fn same_type_name(p: &Field, c: &Field) -> bool {
    match (p.kind(), c.kind()) {
        (Kind::Message(a), Kind::Message(b)) => a.full_name() == b.full_name(),
        (Kind::Enum(a), Kind::Enum(b)) => a.full_name() == b.full_name(),
        (Kind::Message(_) | Kind::Enum(_), _) | (_, Kind::Message(_) | Kind::Enum(_)) => false,
        _ => true,
    }
}

/// FIELD_SAME_TYPE
pub(crate) fn field_same_type(p: &Field, c: &Field, out: &mut Findings) {
    if kind_name(p) != kind_name(c) {
        changed_type(p, c, "", out);
    } else if !same_type_name(p, c) {
        changed_type_name(p, c, out);
    }
}

/// Whether a changed enum type is still wire-compatible: same short name, and the new enum has
/// every value (name and number) of the old one.
fn enum_compatible(p: &Field, c: &Field) -> bool {
    let (Kind::Enum(old), Kind::Enum(new)) = (p.kind(), c.kind()) else {
        return false;
    };
    old.name() == new.name()
        && old.values().all(|v| {
            new.get_value_by_name(v.name())
                .is_some_and(|n| n.number() == v.number())
        })
}

/// FIELD_WIRE_COMPATIBLE_TYPE
pub(crate) fn field_wire_compatible_type(p: &Field, c: &Field, out: &mut Findings) {
    let (pk, ck) = (kind_name(p), kind_name(c));
    if wire_group(pk) != wire_group(ck) {
        let mut extra = " See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules.".to_owned();
        match (pk, ck) {
            ("string", "bytes") => return,
            ("bytes", "string") => extra.push_str(" Note that while string and bytes are compatible if the data is valid UTF-8, there is no way to enforce that a bytes field is UTF-8, so these fields may be incompatible."),
            _ => {}
        }
        changed_type(p, c, &extra, out);
        return;
    }
    compatible_type_name(p, c, out);
}

fn compatible_type_name(p: &Field, c: &Field, out: &mut Findings) {
    if same_type_name(p, c) {
        return;
    }
    match kind_name(c) {
        "enum" if enum_compatible(p, c) => {}
        "enum" | "message" | "group" => changed_type_name(p, c, out),
        _ => {}
    }
}

/// FIELD_WIRE_JSON_COMPATIBLE_TYPE
pub(crate) fn field_wire_json_compatible_type(p: &Field, c: &Field, out: &mut Findings) {
    if wire_json_group(kind_name(p)) != wire_json_group(kind_name(c)) {
        changed_type(
            p,
            c,
            " See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules and https://developers.google.com/protocol-buffers/docs/proto3#json for JSON compatibility rules.",
            out,
        );
        return;
    }
    compatible_type_name(p, c, out);
}

/// FIELD_WIRE_LOSSY_TYPE (grpc-double's own, category LOSSY)
pub(crate) fn field_wire_lossy_type(p: &Field, c: &Field, out: &mut Findings) {
    if p.is_map() || c.is_map() {
        return;
    }
    let (pk, ck) = (kind_name(p), kind_name(c));
    if pk == ck {
        return;
    }
    let (old, new) = (p.kind(), c.kind());
    let Some(witness) = lossy_witness(&old, &new) else {
        return;
    };
    let read = read_as(witness, &old, &new).unwrap_or_else(|| "something else".to_owned());
    out.push(
        Some(c.type_loc()),
        Some(p.type_loc()),
        format!(
            "{} changed type from \"{pk}\" to \"{ck}\", which is wire-compatible but lossy: the old value {witness} reads as {read}.",
            c.description()
        ),
    )
    .hint(format!(
        "keep \"{pk}\", or add a new \"{ck}\" field and migrate readers before writers"
    ))
    .about(c.field_ref());
}

fn cardinality_with(p: &Field, c: &Field, out: &mut Findings, group: fn(Card) -> u8) {
    if p.in_map_entry() && c.in_map_entry() {
        return;
    }
    let (before, after) = (Card::of(p), Card::of(c));
    if group(before) != group(after) {
        out.push(
            Some(c.loc(&[])),
            Some(p.loc(&[])),
            format!(
                "{} changed cardinality from \"{}\" to \"{}\".",
                c.description(),
                before.name(),
                after.name()
            ),
        )
        .hint(format!(
            "add a new field instead of changing field {} from {} to {}",
            p.number(),
            before.name(),
            after.name()
        ))
        .about(c.field_ref());
    }
}

/// FIELD_SAME_CARDINALITY
pub(crate) fn field_same_cardinality(p: &Field, c: &Field, out: &mut Findings) {
    cardinality_with(p, c, out, |card| card as u8);
}

/// FIELD_WIRE_COMPATIBLE_CARDINALITY
pub(crate) fn field_wire_compatible_cardinality(p: &Field, c: &Field, out: &mut Findings) {
    cardinality_with(p, c, out, Card::wire_group);
}

/// FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY
pub(crate) fn field_wire_json_compatible_cardinality(p: &Field, c: &Field, out: &mut Findings) {
    cardinality_with(p, c, out, Card::wire_json_group);
}

fn label(field: &Field) -> &'static str {
    match field.cardinality() {
        Cardinality::Optional => "optional",
        Cardinality::Required => "required",
        Cardinality::Repeated => "repeated",
    }
}

/// FIELD_SAME_LABEL (deprecated)
pub(crate) fn field_same_label(p: &Field, c: &Field, out: &mut Findings) {
    if label(p) != label(c) {
        out.push(
            Some(c.loc(&[4])),
            Some(p.loc(&[4])),
            format!(
                "{} changed label from \"{}\" to \"{}\".",
                c.description(),
                label(p),
                label(c)
            ),
        )
        .hint(format!(
            "set the label of field {} back to {}",
            p.number(),
            label(p)
        ))
        .about(c.field_ref());
    }
}

/// FIELD_SAME_NAME
pub(crate) fn field_same_name(p: &Field, c: &Field, out: &mut Findings) {
    let (before, after) = match (p.extendee(), c.extendee()) {
        (Some(_), _) => (p.full_name(), c.full_name()),
        _ => (p.name(), c.name()),
    };
    if before != after {
        out.push(
            Some(c.loc(&[NAME])),
            Some(p.loc(&[NAME])),
            format!(
                "{} changed name from \"{before}\" to \"{after}\".",
                c.description_with_name(None)
            ),
        )
        .hint(format!(
            "rename field {} back to \"{}\"; to change a name, deprecate the field and add a new one",
            p.number(),
            p.name()
        ))
        .about(c.field_ref());
    }
}

/// FIELD_SAME_JSON_NAME
pub(crate) fn field_same_json_name(p: &Field, c: &Field, out: &mut Findings) {
    if p.extendee().is_some() {
        return;
    }
    if p.json_name() != c.json_name() {
        out.push(
            Some(c.loc(&[JSON_NAME])),
            Some(p.loc(&[JSON_NAME])),
            format!(
                "{} changed option \"json_name\" from \"{}\" to \"{}\".",
                c.description(),
                p.json_name(),
                c.json_name()
            ),
        )
        .hint(format!(
            "pin the old JSON name: [json_name = \"{}\"]",
            p.json_name()
        ))
        .about(c.field_ref());
    }
}

/// FIELD_SAME_ONEOF
pub(crate) fn field_same_oneof(p: &Field, c: &Field, out: &mut Findings) {
    if p.extendee().is_some() {
        return;
    }
    let (before, after) = (p.oneof(), c.oneof());
    let message = match (&before, &after) {
        (None, None) => return,
        (Some(b), Some(a)) if b.name() == a.name() => return,
        (Some(b), Some(a)) => format!(
            "{} moved from oneof \"{}\" to oneof \"{}\".",
            c.description(),
            b.name(),
            a.name()
        ),
        (Some(_), None) => format!("{} moved from inside to outside a oneof.", c.description()),
        (None, Some(_)) => format!("{} moved from outside to inside a oneof.", c.description()),
    };
    out.push(Some(c.loc(&[])), Some(p.loc(&[])), message)
        .hint(format!(
            "keep field {} where it was; add a new field (new number) in the oneof instead",
            p.number()
        ))
        .about(c.field_ref());
}

fn is_64bit(kind: &str) -> bool {
    matches!(kind, "int64" | "sint64" | "uint64" | "fixed64" | "sfixed64")
}

fn field_options(field: &Field) -> prost_types::FieldOptions {
    field.proto().options.clone().unwrap_or_default()
}

/// FIELD_SAME_JSTYPE
pub(crate) fn field_same_jstype(p: &Field, c: &Field, out: &mut Findings) {
    if !is_64bit(kind_name(p)) || !is_64bit(kind_name(c)) {
        return;
    }
    let before = field_options(p).jstype().as_str_name();
    let after = field_options(c).jstype().as_str_name();
    if before != after {
        out.push(
            Some(c.loc(&[OPTIONS, JSTYPE])),
            Some(p.loc(&[OPTIONS, JSTYPE])),
            format!(
                "{} changed option \"jstype\" from \"{before}\" to \"{after}\".",
                c.description()
            ),
        )
        .hint(format!("set [jstype = {before}] back; JavaScript code sees a number or a string depending on it"))
        .about(c.field_ref());
    }
}

/// The C++ string type from the `ctype` option: (type, is STRING_PIECE).
fn cpp_string_type(field: &Field) -> (&'static str, bool) {
    let options = field.proto().options.as_ref();
    match options.and_then(|o| o.ctype) {
        Some(1) => return ("CORD", false),
        Some(2) => return ("STRING", true),
        Some(_) => return ("STRING", false),
        None => {}
    }
    // Editions: the (pb.cpp).string_type feature; VIEW by default from edition 2024.
    let file = field.file();
    let feature = resolve_extension(&file, "pb.cpp", "string_type", || feature_chain(field));
    match feature {
        Some(1) => ("VIEW", false),
        Some(2) => ("CORD", false),
        None if crate::schema::edition(&file) == Some("2024") => ("VIEW", false),
        _ => ("STRING", false),
    }
}

/// The options that can set a field's features: its own, its message's and theirs.
fn feature_chain(field: &Field) -> Vec<prost_reflect::DynamicMessage> {
    let mut chain = vec![field.options()];
    if let Field::Normal(f) = field {
        chain.extend(message_chain(&f.parent_message().clone()));
    }
    chain
}

/// Where the C++ string type is set: `ctype`, else the `(pb.cpp).string_type` feature.
fn cpp_string_type_loc(field: &Field) -> Location {
    let ctype = field
        .proto()
        .options
        .as_ref()
        .is_some_and(|o| o.ctype.is_some());
    if ctype {
        field.loc(&[OPTIONS, CTYPE])
    } else {
        field.loc(&[OPTIONS, FEATURES, PB_CPP, CPP_STRING_TYPE])
    }
}

/// FIELD_SAME_CPP_STRING_TYPE
pub(crate) fn field_same_cpp_string_type(p: &Field, c: &Field, out: &mut Findings) {
    if p.in_map_entry() && c.in_map_entry() {
        return;
    }
    let stringy = |f: &Field| matches!(kind_name(f), "string" | "bytes");
    if !stringy(p) || !stringy(c) {
        return;
    }
    let (before, before_piece) = cpp_string_type(p);
    let (after, after_piece) = cpp_string_type(c);
    if (before != after || before_piece != after_piece) && !(before_piece && after == "STRING") {
        let show = |t: &'static str, piece: bool| if piece { "STRING_PIECE" } else { t };
        out.push(
            Some(cpp_string_type_loc(c)),
            Some(cpp_string_type_loc(p)),
            format!(
                "{} changed C++ string type from \"{}\" to \"{}\".",
                c.description(),
                show(before, before_piece),
                show(after, after_piece)
            ),
        )
        .hint("restore the previous ctype; generated C++ accessors change type")
        .about(c.field_ref());
    }
}

/// FIELD_SAME_CTYPE (deprecated)
pub(crate) fn field_same_ctype(p: &Field, c: &Field, out: &mut Findings) {
    let before = field_options(p).ctype().as_str_name();
    let after = field_options(c).ctype().as_str_name();
    if before != after {
        out.push(
            Some(c.loc(&[OPTIONS, CTYPE])),
            Some(p.loc(&[OPTIONS, CTYPE])),
            format!(
                "{} changed option \"ctype\" from \"{before}\" to \"{after}\".",
                c.description()
            ),
        )
        .hint(format!("set [ctype = {before}] back"))
        .about(c.field_ref());
    }
}

fn utf8_validation(field: &Field) -> i32 {
    resolve(Feature::Utf8Validation, &field.file(), || {
        feature_chain(field)
    })
}

/// FIELD_SAME_UTF8_VALIDATION
pub(crate) fn field_same_utf8_validation(p: &Field, c: &Field, out: &mut Findings) {
    if kind_name(p) != "string" || kind_name(c) != "string" {
        return;
    }
    let (before, after) = (utf8_validation(p), utf8_validation(c));
    if before != after {
        out.push(
            Some(c.loc(&[OPTIONS, FEATURES, 4])),
            Some(p.loc(&[OPTIONS, FEATURES, 4])),
            format!(
                "{} changed UTF8 validation from {} to {}.",
                c.description(),
                Feature::Utf8Validation.value_name(before),
                Feature::Utf8Validation.value_name(after)
            ),
        )
        .hint(format!(
            "keep features.utf8_validation = {}; parsers start accepting or rejecting payloads",
            Feature::Utf8Validation.value_name(before)
        ))
        .about(c.field_ref());
    }
}

fn java_utf8(field: &Field) -> i32 {
    let file = field.file();
    let check = file
        .file_descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|o| o.java_string_check_utf8());
    // Editions: (pb.java).utf8_validation = VERIFY checks whatever utf8_validation says.
    let verify = || {
        resolve_extension(&file, "pb.java", "utf8_validation", || feature_chain(field)) == Some(2)
    };
    if check || verify() {
        2
    } else {
        utf8_validation(field)
    }
}

fn java_utf8_loc(field: &Field) -> Location {
    let file = field.file();
    let explicit = file
        .file_descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|o| o.java_string_check_utf8.is_some());
    if explicit {
        Location::new(file.name(), [8, 27])
    } else {
        field.loc(&[])
    }
}

/// FIELD_SAME_JAVA_UTF8_VALIDATION
pub(crate) fn field_same_java_utf8_validation(p: &Field, c: &Field, out: &mut Findings) {
    if kind_name(p) != "string" || kind_name(c) != "string" {
        return;
    }
    let (before, after) = (java_utf8(p), java_utf8(c));
    if before != after {
        out.push(
            Some(java_utf8_loc(c)),
            Some(java_utf8_loc(p)),
            format!(
                "{} changed Java string UTF8 validation from \"{}\" to \"{}\".",
                c.description(),
                Feature::Utf8Validation.value_name(before),
                Feature::Utf8Validation.value_name(after)
            ),
        )
        .hint("restore java_string_check_utf8; generated Java parsers change behaviour")
        .about(c.field_ref());
    }
}

/// A default value, normalised for comparison across types.
#[derive(Debug, PartialEq)]
enum Default {
    Number(f64),
    Text(String),
}

fn default_of(field: &Field) -> (Default, String) {
    let raw = field.proto().default_value.clone();
    let kind = kind_name(field);
    let printable = raw.clone().unwrap_or_else(|| match kind {
        "bool" => "false".into(),
        "string" | "bytes" => String::new(),
        "enum" => match field.kind() {
            Kind::Enum(e) => e
                .values()
                .next()
                .map(|v| v.name().to_owned())
                .unwrap_or_default(),
            _ => String::new(),
        },
        _ => "0".into(),
    });
    let value = match kind {
        "string" | "bytes" | "enum" => Default::Text(printable.clone()),
        "bool" => Default::Number(if printable == "true" { 1.0 } else { 0.0 }),
        _ => match printable.as_str() {
            "inf" => Default::Number(f64::INFINITY),
            "-inf" => Default::Number(f64::NEG_INFINITY),
            "nan" => Default::Text("nan".into()),
            text => text.parse::<f64>().map_or_else(
                |_| Default::Text(text.to_owned()),
                |n| {
                    if kind == "float" {
                        Default::Number(f64::from(n as f32))
                    } else {
                        Default::Number(n)
                    }
                },
            ),
        },
    };
    (value, printable)
}

fn is_zero(value: &Default, field: &Field) -> bool {
    match value {
        Default::Number(n) => *n == 0.0,
        Default::Text(t) => match field.kind() {
            Kind::Enum(e) => e.values().next().is_some_and(|v| v.name() == t),
            _ => t.is_empty(),
        },
    }
}

/// FIELD_SAME_DEFAULT
pub(crate) fn field_same_default(p: &Field, c: &Field, out: &mut Findings) {
    let can_have_default =
        |f: &Field| !f.is_list() && !f.is_map() && !matches!(f.kind(), Kind::Message(_));
    if !can_have_default(p) || !can_have_default(c) {
        return;
    }
    if p.proto().default_value.is_none() && c.proto().default_value.is_none() {
        return; // both zero
    }
    let (before, before_text) = default_of(p);
    let (after, after_text) = default_of(c);
    if is_zero(&before, p) && is_zero(&after, c) {
        return;
    }
    if before != after {
        out.push(
            Some(c.loc(&[DEFAULT_VALUE])),
            Some(p.loc(&[DEFAULT_VALUE])),
            format!(
                "{} changed default value from {before_text} to {after_text}.",
                c.description()
            ),
        )
        .hint(format!(
            "restore [default = {before_text}]; readers fill absent fields with the default"
        ))
        .about(c.field_ref());
    }
}
