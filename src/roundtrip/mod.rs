//! Property-tested round trips of any message type, and old-writer/new-reader compatibility.
//!
//! Why properties rather than golden files: a contract is every message its schema allows, not
//! the three somebody wrote down. The strategies here ([`arb_message`]) are driven by descriptors
//! alone, so they work for any `.proto`, and proptest shrinks a failure to a minimal message that
//! is printed as proto3 JSON and hex with the seed that reproduces it.
//!
//! - [`check_schema`]: for each message type, binary encode → decode → equal, re-encoding is
//!   stable, unknown fields survive, and JSON encode → decode → equal.
//! - [`check_compat`] / [`find_counterexample`] / [`compare_old_new`]: data written with the old
//!   schema, read with the new one, compared field by field.
//!
//! Runs are deterministic: the seed of each message type is derived from [`Options::seed`] and
//! the type's full name, so `--seed S --message pkg.Msg` reproduces exactly what the full run
//! found for `pkg.Msg`.

mod compat;
mod counterpart;
mod difference;
mod property;
mod report;
mod runner;
mod select;
mod strategy;

use std::collections::BTreeSet;

use proptest::strategy::Strategy as _;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage as _};
use serde::Serialize;

pub use self::{
    compat::{compare_old_new, compare_old_new_with},
    difference::{Difference, DifferenceKind},
    report::{Format, Report},
    runner::sample,
    strategy::{StrategyConfig, arb_message, arb_unknown_fields},
};
use self::{
    counterpart::{Counterpart, Counterparts},
    runner::{Found, on_big_stack, run},
    select::select_messages,
};
use crate::{
    Result, Schema,
    schema::value::show::{Style, hex, show_message},
};

/// Which encodings a check exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Encoding {
    /// The protobuf binary wire format.
    Binary,
    /// The canonical proto3 JSON mapping.
    Json,
    /// Both.
    #[default]
    Both,
}

impl Encoding {
    /// Whether the binary format is checked.
    pub fn binary(self) -> bool {
        matches!(self, Encoding::Binary | Encoding::Both)
    }

    /// Whether JSON is checked.
    pub fn json(self) -> bool {
        matches!(self, Encoding::Json | Encoding::Both)
    }

    /// Gets the lower-case name, e.g. `binary`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Binary => "binary",
            Encoding::Json => "json",
            Encoding::Both => "both",
        }
    }
}

/// What to check and how hard.
///
/// # Examples
///
/// ```
/// use grpc_double::roundtrip::{Encoding, Options};
///
/// let options = Options { cases: 32, seed: 7, encoding: Encoding::Binary, ..Options::default() };
/// assert!(options.messages.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// The encodings to check.
    pub encoding: Encoding,
    /// Generated cases per message type.
    pub cases: u32,
    /// The run's seed; each message type's generator is seeded from it and the type's name.
    pub seed: u64,
    /// Check only these message types (full names). Empty: every type of the root files.
    pub messages: Vec<String>,
    /// Check only message types in these packages (or their sub-packages), anywhere in the pool.
    pub packages: Vec<String>,
    /// Bounds for generated messages (`json_compatible` is set from `encoding`).
    pub strategy: StrategyConfig,
    /// Where proptest persists failing seeds and replays them first, e.g.
    /// `proptest-regressions/roundtrip.txt`; `None` (the CLI's choice) writes nothing.
    pub persistence: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            encoding: Encoding::Both,
            cases: 64,
            seed: 0,
            messages: Vec::new(),
            packages: Vec::new(),
            strategy: StrategyConfig::default(),
            persistence: None,
        }
    }
}

/// The result for one message type.
#[derive(Debug, Clone, Serialize)]
pub struct MessageResult {
    /// The message type's full name, e.g. `userservice.UserRequest`.
    pub message: String,
    /// For old→new checks, the new type that reads it when it was renamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed: Option<Renamed>,
    /// How many generated cases ran (up to and including the first failing one).
    pub cases: u32,
    /// What happened.
    pub outcome: Outcome,
}

/// A renamed message type, paired with its new name the way the wire pairs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    /// The new type's full name, e.g. `shop.v1.Buyer`.
    pub to: String,
    /// What pairs them: a field that kept its number, or an RPC, e.g.
    /// `field shop.v1.Order.customer (4)`.
    pub via: String,
}

/// Whether a message type's properties held.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Every case held.
    Passed,
    /// A property failed. Each counterexample is minimal; old→new checks give one per changed
    /// field (up to eight), round trips one.
    Failed {
        /// The counterexamples, in the order found.
        counterexamples: Vec<Counterexample>,
    },
    /// Not checked, with the reason (e.g. the type is missing from the new schema).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// A minimal failing case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    /// The property that failed, e.g. `binary`, `json`, `old→new`.
    pub property: String,
    /// Why, in one line.
    pub reason: String,
    /// The (old) message as proto3 JSON.
    pub json: String,
    /// Its binary encoding (with any unknown fields the case added), as hex.
    pub hex: String,
    /// What the (new) reader made of it: proto3 JSON, or the error.
    pub reading: String,
    /// For old→new checks with a JSON difference: what the new JSON reader made of the old JSON
    /// (proto3 JSON, or its error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_reading: Option<String>,
    /// For old→new checks, every difference the new reader shows.
    pub differences: Vec<Difference>,
}

/// Checks the round-trip properties of every selected message type of a schema.
///
/// # Errors
///
/// A `--message` that names no message type, or a selection that matches nothing.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{Options, check_schema}};
///
/// let report = check_schema(&Schema::bundled(), &Options { cases: 16, ..Options::default() })?;
/// assert!(report.passed());
/// assert_eq!(report.results.len(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_schema(schema: &Schema, options: &Options) -> Result<Report> {
    check_schema_with_progress(schema, options, &mut |_| {})
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Message types finished.
    pub done: usize,
    /// Message types in the run.
    pub total: usize,
    /// The message type about to be checked (empty when done).
    pub message: &'a str,
}

/// [`check_schema`], calling `progress` before each message type and once at the end.
///
/// # Errors
///
/// As [`check_schema`].
pub fn check_schema_with_progress(
    schema: &Schema,
    options: &Options,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report> {
    let messages = select_messages(schema, options)?;
    let results = each_with_progress(&messages, progress, |desc| {
        on_big_stack(|| check_message(desc, options))
    });
    Ok(Report::new(report::Mode::RoundTrip, options, results))
}

/// Checks that data written with each selected message type of `old` reads back unchanged with
/// the same-named type of `new`.
///
/// # Errors
///
/// As [`check_schema`] (the selection applies to `old`).
pub fn check_compat(old: &Schema, new: &Schema, options: &Options) -> Result<Report> {
    check_compat_with_progress(old, new, options, &mut |_| {})
}

/// [`check_compat`] with a progress callback.
///
/// # Errors
///
/// As [`check_schema`].
pub fn check_compat_with_progress(
    old: &Schema,
    new: &Schema,
    options: &Options,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report> {
    let messages = select_messages(old, options)?;
    let counterparts = Counterparts::new(old.pool(), new.pool());
    let results = each_with_progress(&messages, progress, |desc| {
        let (new_desc, renamed) = match counterparts.of(desc) {
            Counterpart::Same(new_desc) => (new_desc, None),
            Counterpart::Renamed(new_desc, via) => {
                let renamed = Renamed {
                    to: new_desc.full_name().to_owned(),
                    via,
                };
                (new_desc, Some(renamed))
            }
            Counterpart::Missing(reason) => {
                return MessageResult {
                    message: desc.full_name().to_owned(),
                    renamed: None,
                    cases: 0,
                    outcome: Outcome::Skipped { reason },
                };
            }
        };
        let (cases, outcome) = on_big_stack(|| search_compat(desc, &new_desc, options));
        MessageResult {
            message: desc.full_name().to_owned(),
            renamed,
            cases,
            outcome,
        }
    });
    Ok(Report::new(report::Mode::Compat, options, results))
}

/// Runs `check` on each message type, reporting progress before each and once at the end.
fn each_with_progress(
    messages: &[MessageDescriptor],
    progress: &mut dyn FnMut(Progress<'_>),
    mut check: impl FnMut(&MessageDescriptor) -> MessageResult,
) -> Vec<MessageResult> {
    let mut results = Vec::with_capacity(messages.len());
    for (done, desc) in messages.iter().enumerate() {
        progress(Progress {
            done,
            total: messages.len(),
            message: desc.full_name(),
        });
        results.push(check(desc));
    }
    progress(Progress {
        done: messages.len(),
        total: messages.len(),
        message: "",
    });
    results
}

/// Searches for a message written with `old` that a reader of `new` sees differently, and
/// shrinks it to a minimal one; `None` when `cases` generated messages all read back unchanged.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{Encoding, find_counterexample}};
///
/// // Arrange: field 1 changed from int32 to sint32 (different varint encodings).
/// let old = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { int32 n = 1; }")])?;
/// let new = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { sint32 n = 1; }")])?;
/// let (old, new) = (old.pool().get_message_by_name("a.M").unwrap(), new.pool().get_message_by_name("a.M").unwrap());
/// // Act
/// let found = find_counterexample(&old, &new, 1, 64, Encoding::Binary).expect("int32 → sint32 is lossy");
/// // Assert
/// assert_eq!(found.json, r#"{"n":-1}"#);             // ten bytes of two's complement…
/// assert_eq!(found.reading, r#"{"n":-2147483648}"#); // …read as zigzag
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_counterexample(
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    seed: u64,
    cases: u32,
    encoding: Encoding,
) -> Option<Counterexample> {
    let options = Options {
        seed,
        cases,
        encoding,
        ..Options::default()
    };
    match on_big_stack(|| search_compat(old, new, &options)).1 {
        Outcome::Failed { counterexamples } => counterexamples.into_iter().next(),
        Outcome::Passed | Outcome::Skipped { .. } => None,
    }
}

/// [`find_counterexample`] for one finding: only differences that `wanted` accepts count, e.g.
/// those at one path (`|d| d.path == "customer"`). Other fields are generated too, so a
/// difference in a nested field of the same number is not one of this field's: to prove one
/// field's finding, as `breaking --explain` does, use [`find_field_counterexample`].
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{DifferenceKind, Encoding, find_counterexample_where}};
///
/// // Arrange: `age` is renumbered from 2 to 3; `name` is untouched.
/// let old = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { string name = 1; int32 age = 2; }")])?;
/// let new = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { string name = 1; int32 age = 3; }")])?;
/// let (old, new) = (old.pool().get_message_by_name("a.M").unwrap(), new.pool().get_message_by_name("a.M").unwrap());
/// // Act
/// let found = find_counterexample_where(&old, &new, 1, 64, Encoding::Both, |d| d.path == "age");
/// // Assert: on the wire, field 2 is only kept as an unknown field.
/// let found = found.expect("a renumbered field loses data");
/// assert_eq!(found.differences[0].kind, DifferenceKind::Dropped);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_counterexample_where(
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    seed: u64,
    cases: u32,
    encoding: Encoding,
    wanted: impl Fn(&Difference) -> bool + Send + Sync,
) -> Option<Counterexample> {
    let options = Options {
        seed,
        cases,
        encoding,
        ..Options::default()
    };
    on_big_stack(|| {
        let mut config = options.strategy.clone();
        config.json_compatible = encoding.json();
        let strategy = arb_message(old, &config);
        let (_, result) = run(
            &strategy,
            old.full_name(),
            &options,
            |m: &DynamicMessage| match compare_old_new_with(m, new, encoding)
                .into_iter()
                .find(|d| wanted(d))
            {
                None => Ok(()),
                Some(d) => Err(d.to_string()),
            },
        );
        let Found::Failure(m, reason) = result else {
            return None;
        };
        let differences: Vec<Difference> = compare_old_new_with(&m, new, encoding)
            .into_iter()
            .filter(|d| wanted(d))
            .collect();
        Some(counterexample(&m, new, reason, differences))
    })
}

/// [`find_counterexample`] for one field of `old` (a breaking finding's field): generated
/// messages set that field and no other, and only differences in it count (at its path or below
/// it, or the new reader rejecting the message, which then holds nothing else), so the
/// counterexample exercises that field and no other. `None` when `cases` generated messages all
/// read back unchanged: for this field, the search found no data that changes meaning.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{Encoding, find_field_counterexample}};
///
/// // Arrange: `n` widened from int32 to int64 (safe), `units` narrowed (not safe).
/// let old = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { int32 n = 1; int64 units = 2; }")])?;
/// let new = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { int64 n = 1; int32 units = 2; }")])?;
/// let (old, new) = (old.pool().get_message_by_name("a.M").unwrap(), new.pool().get_message_by_name("a.M").unwrap());
/// // Act
/// let widened = find_field_counterexample(&old, &new, 1, 1, 256, Encoding::Both);
/// let narrowed = find_field_counterexample(&old, &new, 2, 1, 256, Encoding::Both);
/// // Assert
/// assert!(widened.is_none(), "every int32 reads back as the same int64");
/// assert_eq!(narrowed.expect("truncated").differences[0].path, "units");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_field_counterexample(
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    number: u32,
    seed: u64,
    cases: u32,
    encoding: Encoding,
) -> Option<Counterexample> {
    let field = old.get_field(number)?;
    let name = field.name().to_owned();
    let in_field = move |d: &Difference| {
        d.path.is_empty()
            || d.path
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    let options = Options {
        seed,
        cases,
        encoding,
        ..Options::default()
    };
    on_big_stack(|| {
        let mut config = options.strategy.clone();
        config.json_compatible = encoding.json();
        let only = field.clone();
        let strategy = arb_message(old, &config).prop_map(move |mut m| {
            let others: Vec<_> = m.descriptor().fields().filter(|f| *f != only).collect();
            for other in others {
                m.clear_field(&other);
            }
            m
        });
        let (_, result) = run(
            &strategy,
            old.full_name(),
            &options,
            |m: &DynamicMessage| match compare_old_new_with(m, new, encoding)
                .into_iter()
                .find(|d| m.has_field(&field) && in_field(d))
            {
                None => Ok(()),
                Some(d) => Err(d.to_string()),
            },
        );
        let Found::Failure(m, reason) = result else {
            return None;
        };
        let differences: Vec<Difference> = compare_old_new_with(&m, new, encoding)
            .into_iter()
            .filter(|d| in_field(d))
            .collect();
        Some(counterexample(&m, new, reason, differences))
    })
}

/// Renders an old message and what the new type reads from it.
fn counterexample(
    m: &DynamicMessage,
    new: &MessageDescriptor,
    reason: String,
    differences: Vec<Difference>,
) -> Counterexample {
    let reading = match DynamicMessage::decode(new.clone(), m.encode_to_vec().as_slice()) {
        Ok(read) => show_message(&read, Style::EXACT),
        Err(err) => format!("binary decoding failed: {err}"),
    };
    let json_reading = differences
        .iter()
        .any(|d| d.encoding == Encoding::Json)
        .then(|| {
            match property::to_json(m).and_then(|text| property::from_json(new.clone(), &text)) {
                Ok(read) => show_message(&read, Style::EXACT),
                Err(err) => format!("JSON decoding failed: {err}"),
            }
        });
    Counterexample {
        property: "old→new".to_owned(),
        reason,
        json: show_message(m, Style::EXACT),
        hex: hex(&m.encode_to_vec()),
        reading,
        json_reading,
        differences,
    }
}

fn search_compat(
    old: &MessageDescriptor,
    new: &MessageDescriptor,
    options: &Options,
) -> (u32, Outcome) {
    let mut strategy_config = options.strategy.clone();
    strategy_config.json_compatible = options.encoding.json();
    let strategy = arb_message(old, &strategy_config);
    let encoding = options.encoding;
    // Shrinking converges on one difference at a time; search again for differences in fields
    // not explained yet, so that every changed field gets its own minimal counterexample.
    let mut covered = BTreeSet::new();
    let mut counterexamples = Vec::new();
    let mut first_cases = None;
    for _ in 0..MAX_COUNTEREXAMPLES {
        let (cases, result) = run(&strategy, old.full_name(), options, |m: &DynamicMessage| {
            let differences = compare_old_new_with(m, new, encoding);
            match differences.iter().find(|d| !covered.contains(&d.key())) {
                None => Ok(()),
                Some(d) => Err(d.to_string()),
            }
        });
        first_cases.get_or_insert(cases);
        let m = match result {
            Found::Nothing => break,
            Found::Aborted(reason) if counterexamples.is_empty() => {
                return (cases, Outcome::Skipped { reason });
            }
            Found::Aborted(_) => break,
            Found::Failure(m, _) => m,
        };
        let differences = compare_old_new_with(&m, new, encoding);
        let fresh: Vec<&Difference> = differences
            .iter()
            .filter(|d| !covered.contains(&d.key()))
            .collect();
        let reason = fresh.first().map(ToString::to_string).unwrap_or_default();
        covered.extend(fresh.iter().map(|d| d.key()));
        counterexamples.push(counterexample(&m, new, reason, differences));
    }
    let cases = first_cases.unwrap_or(0);
    if counterexamples.is_empty() {
        (cases, Outcome::Passed)
    } else {
        (cases, Outcome::Failed { counterexamples })
    }
}

/// At most this many counterexamples per message type (each explains at least one new field).
const MAX_COUNTEREXAMPLES: usize = 8;

/// The properties of one message type.
fn check_message(desc: &MessageDescriptor, options: &Options) -> MessageResult {
    let mut strategy_config = options.strategy.clone();
    strategy_config.json_compatible = options.encoding.json();
    let strategy = (
        arb_message(desc, &strategy_config),
        arb_unknown_fields(desc),
    );
    let encoding = options.encoding;
    let (cases, failure) = run(&strategy, desc.full_name(), options, |(m, unknown)| {
        check_one(m, unknown, encoding)
    });
    let outcome = match failure {
        Found::Nothing => Outcome::Passed,
        Found::Aborted(reason) => Outcome::Skipped { reason },
        Found::Failure((m, unknown), reason) => {
            let (property, reason) = reason
                .split_once(": ")
                .map_or(("binary".to_owned(), reason.clone()), |(p, r)| {
                    (p.to_owned(), r.to_owned())
                });
            let mut bytes = m.encode_to_vec();
            if property == "unknown fields" {
                bytes.extend_from_slice(&unknown);
            }
            let reading = match DynamicMessage::decode(desc.clone(), bytes.as_slice()) {
                Ok(read) => show_message(&read, Style::EXACT),
                Err(err) => format!("binary decoding failed: {err}"),
            };
            Outcome::Failed {
                counterexamples: vec![Counterexample {
                    property,
                    reason,
                    json: show_message(&m, Style::EXACT),
                    hex: hex(&bytes),
                    reading,
                    json_reading: None,
                    differences: Vec::new(),
                }],
            }
        }
    };
    MessageResult {
        message: desc.full_name().to_owned(),
        renamed: None,
        cases,
        outcome,
    }
}

/// One round-trip property, for checking messages you generate yourself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Property {
    /// Binary encode → decode gives back the same message (semantically: NaN equals NaN,
    /// `-0.0` equals `0.0`, `Any` payloads compared decoded).
    Binary,
    /// Re-encoding the decoded message gives the same bytes (for messages whose maps have at most
    /// one entry; otherwise an equivalent encoding of the same length).
    Stable,
    /// Canonical proto3 JSON encode → decode gives back the same message, and stable JSON.
    Json,
}

/// Checks one property of one message; the error says where the message changed.
///
/// # Errors
///
/// The property does not hold: the message changed, or an encoding failed.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{Property, check_property}};
/// use prost_reflect::{DynamicMessage, Value};
///
/// let schema = Schema::bundled();
/// let mut m = DynamicMessage::new(schema.pool().get_message_by_name("userservice.UserResponse").unwrap());
/// m.set_field_by_name("age", Value::I32(-7));
/// check_property(&m, Property::Binary)?;
/// check_property(&m, Property::Json)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_property(message: &DynamicMessage, property: Property) -> Result<(), PropertyError> {
    match property {
        Property::Binary => property::binary(message),
        Property::Stable => property::stable(message),
        Property::Json => property::json(message),
    }
    .map_err(PropertyError)
}

/// Why a property did not hold, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PropertyError(String);

/// Every property of one case; the error is `"<property>: <reason>"`.
fn check_one(m: &DynamicMessage, unknown: &[u8], encoding: Encoding) -> Result<(), String> {
    if encoding.binary() {
        property::all_binary(m, unknown)?;
    }
    if encoding.json() {
        property::json(m).map_err(|r| format!("json: {r}"))?;
    }
    Ok(())
}
