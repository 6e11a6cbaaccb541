//! `expect`: how many calls a stub (or a verification) expects — `1`, `never`,
//! `{ at_least: 1 }`, `{ at_most: 3 }`, `{ at_least: 2, at_most: 4 }`, `{ exactly: 2 }`.

use super::{
    convert::Converter,
    diagnostic::Code,
    shape::{keys, scalar_text},
    yaml::{Node, NodeKind},
};
use crate::fake::model::Expect;

const HELP: &str = "write a number of calls (`expect: 1`), `never`, or bounds: `{ at_least: 1 }`, `{ at_most: 3 }`, `{ at_least: 2, at_most: 4 }`";

pub(crate) fn expect(conv: &mut Converter<'_>, node: &Node) -> Option<Expect> {
    if let NodeKind::Scalar(_) = &node.kind {
        let text = scalar_text(conv, node, "a number of calls")?;
        if text == "never" {
            return Some(Expect::never());
        }
        return match text.parse::<u64>() {
            Ok(n) => Some(Expect::exactly(n)),
            Err(_) => {
                conv.error(
                    node.span.clone(),
                    Code::BadExpect,
                    format!("`expect` is a number of calls, not `{text}`"),
                )
                .label("expected a count")
                .help(HELP)
                .emit(conv);
                None
            }
        };
    }
    let keys = keys(conv, node, ["exactly", "at_least", "at_most"], "`expect`")?;
    let mut bound = |key: &str| -> Result<Option<u64>, ()> {
        let Some(&(_, value)) = keys.get(key) else {
            return Ok(None);
        };
        let text = scalar_text(conv, value, "a number of calls").ok_or(())?;
        text.parse::<u64>().map(Some).map_err(|_| {
            conv.error(
                value.span.clone(),
                Code::BadExpect,
                format!("`{key}` is a number of calls, not `{text}`"),
            )
            .label("expected a non-negative integer")
            .help(HELP)
            .emit(conv);
        })
    };
    let exactly = bound("exactly").ok()?;
    let at_least = bound("at_least").ok()?;
    let at_most = bound("at_most").ok()?;
    let expect = match (exactly, at_least, at_most) {
        (Some(n), None, None) => Expect::exactly(n),
        (None, Some(min), None) => Expect::at_least(min),
        (None, None, Some(max)) => Expect::at_most(max),
        (None, Some(min), Some(max)) if min <= max => Expect {
            min,
            max: Some(max),
        },
        (None, None, None) => {
            conv.error(node.span.clone(), Code::BadExpect, "`expect` needs a bound")
                .label("empty")
                .help(HELP)
                .emit(conv);
            return None;
        }
        (None, Some(min), Some(max)) => {
            conv.error(
                node.span.clone(),
                Code::BadExpect,
                format!("`at_least: {min}` is more than `at_most: {max}`"),
            )
            .label("no count meets both")
            .help(HELP)
            .emit(conv);
            return None;
        }
        _ => {
            conv.error(
                node.span.clone(),
                Code::BadExpect,
                "`exactly` does not combine with `at_least` or `at_most`",
            )
            .label("two kinds of bound")
            .help(HELP)
            .emit(conv);
            return None;
        }
    };
    Some(expect)
}
