//! Fixture drift: what happens to fixtures written against an old contract when the protos change.
//!
//! The fixtures are loaded against both contracts, recording what every key and scalar meant
//! (which field, its number and type; which value on the wire). A stub that no longer loads
//! *breaks*; one that loads but now means something else — a key that lands on another field
//! number or type, an enum name that maps to another number, a method whose types or streaming
//! changed — *changes meaning* silently, which is worse: both are reported with their location.

use std::collections::HashMap;

use crate::{
    Schema,
    fake::{
        load::{FixtureErrors, FixtureSource, Meaning},
        model::{FixtureLocation, Fixtures},
    },
};

/// One fixture affected by a contract change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drift {
    /// Where in the fixture.
    pub location: FixtureLocation,
    /// What happens, e.g. "field `age` is now number 5 (was 4)".
    pub message: String,
    /// `true` when the fixture no longer loads; `false` when it loads but means something else.
    pub breaks: bool,
}

/// Compares what `sources` mean against `old` and against `new`.
///
/// # Errors
///
/// The fixtures do not load against the old contract either: they were already broken.
pub fn fixture_drift(
    old: &Schema,
    new: &Schema,
    sources: &[FixtureSource],
) -> Result<Vec<Drift>, FixtureErrors> {
    let (old_result, old_traces) = Fixtures::load_traced(old, sources, true);
    old_result?;
    let (new_result, new_traces) = Fixtures::load_traced(new, sources, true);
    let mut drifts: Vec<Drift> = match new_result {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .errors()
            .iter()
            .map(|e| Drift {
                location: e.location().clone(),
                message: format!("no longer loads: {}", e.message()),
                breaks: true,
            })
            .collect(),
    };
    for ((source, old), new) in sources.iter().zip(&old_traces).zip(&new_traces) {
        let new: HashMap<usize, &Meaning> = new
            .iter()
            .map(|(offset, meaning)| (*offset, meaning))
            .collect();
        for (offset, before) in old {
            let Some(after) = new.get(offset) else {
                continue;
            };
            if let Some(message) = changed(before, after, token(source.text(), *offset)) {
                drifts.push(Drift {
                    location: source.location(*offset),
                    message,
                    breaks: false,
                });
            }
        }
    }
    drifts.sort_by(|a, b| {
        (a.location.file.as_ref(), a.location.line, a.location.col).cmp(&(
            b.location.file.as_ref(),
            b.location.line,
            b.location.col,
        ))
    });
    drifts.dedup_by(|a, b| a.location == b.location && a.message == b.message);
    Ok(drifts)
}

/// The scalar written at `offset`, for messages.
fn token(text: &str, offset: usize) -> &str {
    let rest = text.get(offset..).unwrap_or_default();
    let end = rest.find([',', '}', ']', '\n', '#']).unwrap_or(rest.len());
    rest[..end].trim()
}

fn changed(before: &Meaning, after: &Meaning, written: &str) -> Option<String> {
    match (before, after) {
        _ if before == after => None,
        (
            Meaning::Field {
                name: old_name,
                number: old_number,
                kind: old_kind,
            },
            Meaning::Field { name, number, kind },
        ) => {
            let mut what = Vec::new();
            if old_name != name {
                what.push(format!("now resolves to `{name}` (was `{old_name}`)"));
            }
            if old_number != number {
                what.push(format!("is now field number {number} (was {old_number}): the same fixture writes another field on the wire"));
            }
            if old_kind != kind {
                what.push(format!("changed type from {old_kind} to {kind}"));
            }
            Some(format!("field `{}` {}", short(name), what.join("; ")))
        }
        (Meaning::Value(old), Meaning::Value(new)) => {
            Some(format!("`{written}` now means {new} (was {old})"))
        }
        (Meaning::Method(old), Meaning::Method(new)) => {
            Some(format!("the method is now `{new}` (was `{old}`)"))
        }
        _ => Some("this key now means something else".into()),
    }
}

fn short(full_name: &str) -> &str {
    full_name.rsplit('.').next().unwrap_or(full_name)
}
