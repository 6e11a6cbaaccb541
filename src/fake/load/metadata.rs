//! Metadata in fixtures: header names to values, for `when.metadata` (each value a test),
//! `then.headers` and `then.trailers` (each value text or a template); `-bin` headers carry
//! bytes, written in base64.

use bytes::Bytes;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey};

use super::{
    convert::{Converter, compile_error},
    diagnostic::Code,
    test::{Target, test},
    yaml::Node,
};
use crate::{
    fake::{
        model::{Computed, Metadata, MetadataCheck, MetadataEntry},
        template::{Scope, TemplateCompiler, is_template},
    },
    schema::decode_base64,
};

/// Each entry of a metadata mapping, with its name checked.
fn entries<'n>(
    conv: &mut Converter<'_>,
    node: &'n Node,
) -> Option<Vec<(String, &'n Node, &'n Node)>> {
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            Code::ExpectedMapping,
            "metadata takes a mapping of header names to values",
        )
        .label("expected a mapping")
        .emit(conv);
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let name = k
            .as_scalar()
            .map(|s| s.text.to_ascii_lowercase())
            .unwrap_or_default();
        if name.parse::<AsciiMetadataKey>().is_err() && name.parse::<BinaryMetadataKey>().is_err() {
            conv.error(
                k.span.clone(),
                Code::BadHeader,
                format!("`{name}` is not a valid header name"),
            )
            .label("invalid header name")
            .help("header names use lowercase letters, digits, `-`, `_` and `.`")
            .emit(conv);
            continue;
        }
        out.push((name, k, v));
    }
    Some(out)
}

/// `when.metadata`: a test per header.
pub(crate) fn metadata_checks(conv: &mut Converter<'_>, node: &Node) -> Option<Vec<MetadataCheck>> {
    let mut checks = Vec::new();
    for (name, _, value) in entries(conv, node)? {
        let binary = name.ends_with("-bin");
        if let Some(test) = test(conv, value, Target::Text { binary }) {
            checks.push(MetadataCheck { name, test });
        }
    }
    Some(checks)
}

/// `then.headers`, `then.trailers`: values as text, base64 for `-bin` names, or templates.
pub(crate) fn metadata_entries(
    conv: &mut Converter<'_>,
    templates: &mut TemplateCompiler,
    scope: &Scope,
    node: &Node,
) -> Option<Metadata> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, _, value) in entries(conv, node)? {
        let Some(scalar) = value.as_scalar() else {
            conv.error(
                value.span.clone(),
                Code::BadHeader,
                "header values are strings",
            )
            .label("expected a string")
            .emit(conv);
            ok = false;
            continue;
        };
        let text = scalar.text.clone();
        if is_template(&text) {
            match templates.compile(&text, scope) {
                Ok(template) => out.push(MetadataEntry {
                    name,
                    value: Computed::Template(template),
                }),
                Err(error) => {
                    compile_error(error)
                        .at(conv.source, value.span.clone())
                        .emit(conv);
                    ok = false;
                }
            }
            continue;
        }
        let bytes = if name.ends_with("-bin") {
            match decode_base64(&text) {
                Some(bytes) => bytes,
                None => {
                    conv.error(
                        value.span.clone(),
                        Code::BadHeader,
                        format!("`{name}` is a binary header; its value must be base64"),
                    )
                    .label("not base64")
                    .help("write the bytes in base64, e.g. `q6ur` for 0xab 0xab 0xab")
                    .emit(conv);
                    ok = false;
                    continue;
                }
            }
        } else {
            if text.parse::<AsciiMetadataValue>().is_err() {
                conv.error(
                    value.span.clone(),
                    Code::BadHeader,
                    format!("header `{name}` has a value that is not printable ASCII"),
                )
                .label("not printable ASCII")
                .help("binary values go in headers whose names end in `-bin`, written as base64")
                .emit(conv);
                ok = false;
                continue;
            }
            Bytes::from(text)
        };
        out.push(MetadataEntry {
            name,
            value: Computed::Fixed(bytes),
        });
    }
    ok.then_some(out)
}
