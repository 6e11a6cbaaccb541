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
