//! Stubs: a method, conditions on the call, and a reply; and a validated set of them.

use std::{fmt, sync::Arc};

use prost_reflect::MethodDescriptor;

use super::{
    matcher::Matcher,
    reply::{Health, Reply, Respond},
};
use crate::fake::template::Template;
use crate::schema::method_name;

/// A place in a fixture file, printed `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FixtureLocation {
    /// The fixture file's name.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for FixtureLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One stub: which method, when it applies, what it answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stub {
    /// The stub's id, unique across a set of fixtures, e.g. `get-user-missing`.
    pub id: Option<String>,
    /// A free-form name, for logs and errors.
    pub name: Option<String>,
    /// The method it answers.
    pub method: MethodDescriptor,
    /// Higher wins; ties go to the stub written first.
    pub priority: i64,
    /// Every condition must hold; none matches every call.
    pub when: Vec<Matcher>,
    /// What it answers: one reply, a sequence, or a conversation.
    pub then: Respond,
    /// Answers at most this many calls (per key), then lets later stubs answer.
    pub times: Option<u64>,
    /// The scenario (a named state machine shared across methods) its `when.state` and
    /// `set_state` refer to.
    pub scenario: Option<String>,
    /// Keeps sequences and scenario states per value of this template, e.g. per
    /// `{{ request.job_id }}`.
    pub key: Option<Template>,
    /// For bidi methods: answer each message as it arrives, or collect until half-close.
    pub mode: Mode,
    /// Where it was written, for stubs loaded from a fixture file.
    pub origin: Option<FixtureLocation>,
    /// How many calls it expects to answer (`expect:`): checked at shutdown (`--strict`,
    /// `--report-dir`) and when a Rust [`FakeServer`](crate::FakeServer) is dropped.
    pub expect: Option<Expect>,
    /// How logs and errors name the stub, formatted once.
    pub(crate) label: Arc<str>,
}

impl Stub {
    /// Creates a stub that answers every call of `method` with `then`.
    pub fn new(method: MethodDescriptor, then: Reply) -> Self {
        Self::responding(method, Respond::Reply(Box::new(then)))
    }

    /// Creates a stub that answers every call of `method` as `respond` says.
    pub fn responding(method: MethodDescriptor, respond: Respond) -> Self {
        let mut stub = Self {
            id: None,
            name: None,
            method,
            priority: 0,
            when: Vec::new(),
            then: respond,
            times: None,
            scenario: None,
            key: None,
            mode: Mode::Reactive,
            origin: None,
            expect: None,
            label: Arc::from(""),
        };
        stub.relabel();
        stub
    }

    /// Formats the label again after `id`, `name` or `origin` changed.
    pub(crate) fn relabel(&mut self) {
        self.label = match (&self.id, &self.name, &self.origin) {
            (Some(id), _, Some(origin)) => format!("stub `{id}` ({origin})"),
            (Some(id), _, None) => format!("stub `{id}`"),
            (None, Some(name), Some(origin)) => format!("stub \"{name}\" ({origin})"),
            (None, Some(name), None) => format!("stub \"{name}\""),
            (None, None, Some(origin)) => format!("stub at {origin}"),
            (None, None, None) => format!("stub for {}", method_name(&self.method)),
        }
        .into();
    }

    /// Gets the method, e.g. `userservice.UserService/GetUser`.
    pub fn method_name(&self) -> String {
        method_name(&self.method)
    }
}

/// How many calls a stub expects, or a verification asks for: `exactly 1`, `at least 1`,
/// `at most 3`, `between 2 and 4`, `never`.
///
/// Converts from a number (exactly) and from ranges, as in wiremock-rs:
///
/// ```
/// use grpc_double::Expect;
///
/// assert_eq!(Expect::from(1), Expect::exactly(1));
/// assert!(Expect::from(2..).holds(5));
/// assert!(!Expect::from(..=3).holds(4));
/// assert_eq!(Expect::from(2..=4).to_string(), "between 2 and 4 calls");
/// assert_eq!(Expect::never().to_string(), "no calls");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The fewest calls.
    pub min: u64,
    /// The most calls; `None` for no bound.
    pub max: Option<u64>,
}

impl Expect {
    /// Exactly `n` calls.
    pub fn exactly(n: u64) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }

    /// At least `n` calls.
    pub fn at_least(n: u64) -> Self {
        Self { min: n, max: None }
    }

    /// At most `n` calls.
    pub fn at_most(n: u64) -> Self {
        Self {
            min: 0,
            max: Some(n),
        }
    }

    /// No call at all.
    pub fn never() -> Self {
        Self::exactly(0)
    }

    /// Whether `calls` calls meet the expectation.
    pub fn holds(&self, calls: u64) -> bool {
        calls >= self.min && self.max.is_none_or(|max| calls <= max)
    }
}

fn calls(n: u64) -> String {
    if n == 1 {
        "1 call".to_owned()
    } else {
        format!("{n} calls")
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (0, Some(0)) => f.write_str("no calls"),
            (min, Some(max)) if min == max => write!(f, "exactly {}", calls(min)),
            (0, Some(max)) => write!(f, "at most {}", calls(max)),
            (min, None) => write!(f, "at least {}", calls(min)),
            (min, Some(max)) => write!(f, "between {min} and {}", calls(max)),
        }
    }
}

impl From<u64> for Expect {
    fn from(n: u64) -> Self {
        Self::exactly(n)
    }
}

impl From<std::ops::RangeFrom<u64>> for Expect {
    fn from(r: std::ops::RangeFrom<u64>) -> Self {
        Self::at_least(r.start)
    }
}

impl From<std::ops::RangeInclusive<u64>> for Expect {
    fn from(r: std::ops::RangeInclusive<u64>) -> Self {
        Self {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}

impl From<std::ops::Range<u64>> for Expect {
    fn from(r: std::ops::Range<u64>) -> Self {
        Self {
            min: r.start,
            max: Some(r.end.saturating_sub(1)),
        }
    }
}

impl From<std::ops::RangeToInclusive<u64>> for Expect {
    fn from(r: std::ops::RangeToInclusive<u64>) -> Self {
        Self::at_most(r.end)
    }
}

impl From<std::ops::RangeTo<u64>> for Expect {
    fn from(r: std::ops::RangeTo<u64>) -> Self {
        Self::at_most(r.end.saturating_sub(1))
    }
}

/// The state every scenario starts in.
pub const START_STATE: &str = "start";

/// How a stub of a bidi method answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Each message is matched and answered as it arrives.
    #[default]
    Reactive,
    /// Messages are collected until the client half-closes, then matched and answered together
    /// (half-duplex), as for a client stream.
    Collect,
}

impl fmt::Display for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// A validated set of stubs, ready to serve.
///
/// # Examples
///
/// ```
/// use grpc_double::{Fixtures, FixtureSource, Schema};
///
/// let schema = Schema::bundled();
/// let yaml = "- method: userservice.UserService/GetUser\n  then:\n    message: { name: Ada }\n";
/// let fixtures = Fixtures::load(&schema, &[FixtureSource::new("stubs.yaml", yaml)])?;
/// assert_eq!(fixtures.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Fixtures {
    /// Highest priority first; ties in file order.
    pub(crate) stubs: Vec<Stub>,
    /// Health the fixtures set at start, by service full name.
    pub(crate) health: Vec<(String, Health)>,
}

impl Fixtures {
    /// An empty set: every call answers UNIMPLEMENTED.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Makes a set of stubs, ordered by priority (stable: ties keep their order).
    pub fn from_stubs(mut stubs: Vec<Stub>) -> Self {
        stubs.sort_by_key(|s| std::cmp::Reverse(s.priority));
        Self {
            stubs,
            health: Vec::new(),
        }
    }

    /// Adds another set's stubs (after this set's, at equal priority) and health.
    pub fn extend(&mut self, other: Fixtures) {
        self.stubs.extend(other.stubs);
        self.stubs.sort_by_key(|s| std::cmp::Reverse(s.priority));
        self.health.extend(other.health);
    }

    /// Sets the health a service reports when the server starts.
    pub fn set_health(&mut self, service: impl Into<String>, health: Health) {
        self.health.push((service.into(), health));
    }

    /// Gets the health the fixtures set at start, by service.
    pub fn health(&self) -> &[(String, Health)] {
        &self.health
    }

    /// Gets the stubs, highest priority first.
    pub fn stubs(&self) -> &[Stub] {
        &self.stubs
    }

    /// Gets the number of stubs.
    pub fn len(&self) -> usize {
        self.stubs.len()
    }

    /// Whether there are no stubs.
    pub fn is_empty(&self) -> bool {
        self.stubs.is_empty()
    }

    /// Gets the methods that have at least one stub, sorted, e.g. `userservice.UserService/GetUser`.
    pub fn methods(&self) -> Vec<String> {
        let mut methods: Vec<String> = self.stubs.iter().map(Stub::method_name).collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

impl fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixtures")
            .field(
                "stubs",
                &self
                    .stubs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
