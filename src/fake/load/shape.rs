//! The shape of a stub: mappings with known keys (unknown ones reported with a suggestion) and
//! scalars where text is expected.

use std::collections::HashMap;

use super::{convert::Converter, diagnostic::Code, yaml::Node};
use crate::schema::suggest;

/// A stub's mapping split into its known keys; unknown keys are reported.
pub(crate) fn keys<'n, const N: usize>(
    conv: &mut Converter<'_>,
    node: &'n Node,
    known: [&'static str; N],
    what: &str,
) -> Option<HashMap<&'static str, (&'n Node, &'n Node)>> {
    let Some(entries) = node.as_map() else {
        conv.error(
            node.span.clone(),
            Code::ExpectedMapping,
            format!("expected {what} as a mapping, found {}", node.describe()),
        )
        .label("expected a mapping")
        .help(format!("{what} takes the keys: {}", known.join(", ")))
        .emit(conv);
        return None;
    };
    let mut out = HashMap::new();
    for (key, value) in entries {
        let text = key.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        match known.iter().find(|k| **k == text) {
            Some(k) => {
                out.insert(*k, (key, value));
            }
            None => {
                let help = suggest(text, known.into_iter()).map_or_else(
                    || format!("{what} takes the keys: {}", known.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                conv.error(
                    key.span.clone(),
                    Code::UnknownKey,
                    format!("unknown key `{text}` in {what}"),
                )
                .label("unknown key")
                .help(help)
                .emit(conv);
            }
        }
    }
    Some(out)
}

pub(crate) fn scalar_text<'n>(
    conv: &mut Converter<'_>,
    node: &'n Node,
    what: &str,
) -> Option<&'n str> {
    match node.as_scalar() {
        Some(s) if !s.is_null() => Some(s.text.as_str()),
        _ => {
            conv.error(
                node.span.clone(),
                Code::ExpectedScalar,
                format!("expected {what}, found {}", node.describe()),
            )
            .label(format!("expected {what}"))
            .emit(conv);
            None
        }
    }
}
