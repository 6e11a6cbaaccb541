//! Metadata in fixtures: header names to values, for `when.metadata`, `then.headers` and
//! `then.trailers`; `-bin` headers are written in base64.

use tonic::metadata::{
    AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey, BinaryMetadataValue, MetadataMap,
};

use super::{convert::Converter, diagnostic::Code, yaml::Node};
use crate::schema::decode_base64;

pub(crate) fn metadata_pairs(
    conv: &mut Converter<'_>,
    node: &Node,
) -> Option<Vec<(String, String)>> {
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
    let mut pairs = Vec::new();
    for (k, v) in entries {
        let key = k
            .as_scalar()
            .map(|s| s.text.to_ascii_lowercase())
            .unwrap_or_default();
        if key.parse::<AsciiMetadataKey>().is_err() && key.parse::<BinaryMetadataKey>().is_err() {
            conv.error(
                k.span.clone(),
                Code::BadHeader,
                format!("`{key}` is not a valid header name"),
            )
            .label("invalid header name")
            .help("header names use lowercase letters, digits, `-`, `_` and `.`")
            .emit(conv);
            continue;
        }
        let Some(value) = v.as_scalar().map(|s| s.text.clone()) else {
            conv.error(v.span.clone(), Code::BadHeader, "header values are strings")
                .label("expected a string")
                .emit(conv);
            continue;
        };
        pairs.push((key, value));
    }
    Some(pairs)
}

pub(crate) fn metadata_map(conv: &mut Converter<'_>, node: &Node) -> Option<MetadataMap> {
    let pairs = metadata_pairs(conv, node)?;
    let mut map = MetadataMap::new();
    for (key, value) in pairs {
        if key.ends_with("-bin") {
            let (Ok(k), Some(bytes)) = (key.parse::<BinaryMetadataKey>(), decode_base64(&value))
            else {
                conv.error(
                    node.span.clone(),
                    Code::BadHeader,
                    format!("`{key}` is a binary header; its value must be base64"),
                )
                .emit(conv);
                return None;
            };
            map.append_bin(k, BinaryMetadataValue::from_bytes(&bytes));
        } else {
            let (Ok(k), Ok(v)) = (
                key.parse::<AsciiMetadataKey>(),
                value.parse::<AsciiMetadataValue>(),
            ) else {
                conv.error(
                    node.span.clone(),
                    Code::BadHeader,
                    format!("header `{key}` has a value that is not printable ASCII"),
                )
                .help("binary values go in headers whose names end in `-bin`, written as base64")
                .emit(conv);
                return None;
            };
            map.append(k, v);
        }
    }
    Some(map)
}
