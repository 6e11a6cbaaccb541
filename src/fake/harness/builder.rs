//! The Rust stub builder: the fixture language, spelled in Rust.
//!
//! Every function and method here writes one key of a stub document — `method(..)` is
//! `method:`, `message(..)` is `when.message:`, `reply(..)` is `then.message:`, `.times(2)` is
//! `times: 2` — and [`StubBuilder::mount`] loads that document exactly as a fixture file is
//! loaded (same checks, same errors), then adds the stub to a running server. What works in
//! YAML works here, and the reverse; [`StubBuilder::to_json`] shows the document.

use std::panic::Location;

use serde_json::{Map, Value, json};

use super::mount::{MountTarget, MountedStub};
use crate::{
    Schema,
    error::{Error, Result},
    fake::{
        load::FixtureSource,
        model::{Expect, FixtureLocation, Fixtures, Health, Mode, Stub, code_name},
    },
};

/// A condition on a call (a key of `when`), or the method a stub answers.
///
/// Made by [`method`], [`message`], [`message_eq`], [`messages`], [`metadata`], [`expr`],
/// [`state`], [`chance`], [`any_of`] and [`not`]; combined with [`StubBuilder::and`].
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(Cond);

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Method(String),
    When(&'static str, Value),
}

/// The method a stub answers: `method: package.Service/Method`.
pub fn method(name: impl Into<String>) -> Condition {
    Condition(Cond::Method(name.into()))
}

/// `when.message`: the fields written pass (values are equality tests, mappings of operators
/// any other test; fields not written are ignored).
pub fn message(fields: Value) -> Condition {
    Condition(Cond::When("message", fields))
}

/// `when.message_eq`: the whole request equals this message.
pub fn message_eq(fields: Value) -> Condition {
    Condition(Cond::When("message_eq", fields))
}

/// `when.messages`: a client stream sent exactly these messages, in order.
pub fn messages(list: Value) -> Condition {
    Condition(Cond::When("messages", list))
}

/// `when.metadata`: a request header passes a test (a value, or operators such as
/// `json!({"regex": "^Bearer "})`).
pub fn metadata(name: impl Into<String>, test: impl Into<Value>) -> Condition {
    let mut map = Map::new();
    map.insert(name.into(), test.into());
    Condition(Cond::When("metadata", Value::Object(map)))
}

/// `when.expr`: a template expression is true, e.g. `request.age > 18`.
pub fn expr(expression: impl Into<String>) -> Condition {
    Condition(Cond::When("expr", Value::String(expression.into())))
}

/// `when.state`: the stub's scenario is in this state.
pub fn state(name: impl Into<String>) -> Condition {
    Condition(Cond::When("state", Value::String(name.into())))
}

/// `when.chance`: a fraction of calls, from the server's seeded random source.
pub fn chance(fraction: f64) -> Condition {
    Condition(Cond::When("chance", json!(fraction)))
}

/// `when.any_of`: at least one of these conditions holds.
pub fn any_of(conditions: impl IntoIterator<Item = Condition>) -> Condition {
    let list = conditions
        .into_iter()
        .map(|c| Value::Object(when_of([c])))
        .collect();
    Condition(Cond::When("any_of", Value::Array(list)))
}

/// `when.not`: the conditions do not all hold.
pub fn not(condition: Condition) -> Condition {
    Condition(Cond::When("not", Value::Object(when_of([condition]))))
}

/// A `when` mapping of conditions (methods are not conditions of `when`, and are left out).
fn when_of(conditions: impl IntoIterator<Item = Condition>) -> Map<String, Value> {
    let mut when = Map::new();
    for condition in conditions {
        if let Cond::When(key, value) = condition.0 {
            merge(&mut when, key, value);
        }
    }
    when
}

/// Adds `key: value` to a `when`: mappings merge (`message`, `metadata`), lists extend
/// (`any_of`), expressions join with `and`, anything else is replaced.
fn merge(when: &mut Map<String, Value>, key: &str, value: Value) {
    match (when.get_mut(key), value) {
        (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
        (Some(Value::Array(old)), Value::Array(new)) if key == "any_of" => old.extend(new),
        (Some(Value::String(old)), Value::String(new)) if key == "expr" => {
            *old = format!("({old}) and ({new})");
        }
        (_, value) => {
            when.insert(key.to_owned(), value);
        }
    }
}

/// A reply (a `then`): made by [`reply`], [`stream`] or [`status`], refined by its methods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Then(Map<String, Value>);

/// `then.message`: reply with this message.
pub fn reply(message: Value) -> Then {
    Then::default().message(message)
}

/// `then.stream`: reply with these messages (server-streaming and bidi methods).
pub fn stream(messages: impl IntoIterator<Item = Value>) -> Then {
    let items = messages
        .into_iter()
        .map(|m| json!({ "message": m }))
        .collect();
    let mut then = Then::default();
    then.0.insert("stream".into(), Value::Array(items));
    then
}

/// `then.status`: end the call with this status.
pub fn status(code: tonic::Code, message: impl Into<String>) -> Then {
    Then::default().status(code, message)
}

impl Then {
    /// `message`: the reply message.
    pub fn message(mut self, message: Value) -> Self {
        self.0.insert("message".into(), message);
        self
    }

    /// `stream`: the items of a stream, each written as in YAML (`{"message": …, "delay":
    /// "10ms"}`, `{"for_each": …}`, `{"abort": "CANCEL"}`).
    pub fn stream_items(mut self, items: impl IntoIterator<Item = Value>) -> Self {
        self.0
            .insert("stream".into(), Value::Array(items.into_iter().collect()));
        self
    }

    /// `status`: the status that ends the call.
    pub fn status(mut self, code: tonic::Code, message: impl Into<String>) -> Self {
        self.0.insert(
            "status".into(),
            json!({ "code": code_name(code), "message": message.into() }),
        );
        self
    }

    /// `status.details`: error details (`google.rpc` types and others), as in YAML.
    pub fn details(mut self, details: Value) -> Self {
        if let Some(Value::Object(status)) = self.0.get_mut("status") {
            status.insert("details".into(), details);
        }
        self
    }

    /// `headers`: a response header (a template may compute it).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        entry(&mut self.0, "headers").insert(name.into(), Value::String(value.into()));
        self
    }

    /// `trailers`: a response trailer.
    pub fn trailer(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        entry(&mut self.0, "trailers").insert(name.into(), Value::String(value.into()));
        self
    }

    /// `delay`: wait before answering, e.g. `"150ms"`.
    pub fn delay(mut self, delay: impl Into<String>) -> Self {
        self.0.insert("delay".into(), Value::String(delay.into()));
        self
    }

    /// `trailers_only`: send the status in the response headers, with no body.
    pub fn trailers_only(mut self) -> Self {
        self.0.insert("trailers_only".into(), Value::Bool(true));
        self
    }

    /// `set_state`: move the stub's scenario to this state.
    pub fn set_state(mut self, state: impl Into<String>) -> Self {
        self.0
            .insert("set_state".into(), Value::String(state.into()));
        self
    }

    /// `health`: set a service's health when answering.
    pub fn health(mut self, service: impl Into<String>, health: Health) -> Self {
        entry(&mut self.0, "health")
            .insert(service.into(), Value::String(health.name().to_owned()));
        self
    }

    /// `goaway`: close the connection (HTTP/2 GOAWAY) after the reply.
    pub fn goaway(mut self) -> Self {
        self.0.insert("goaway".into(), Value::Bool(true));
        self
    }

    /// `outage`: refuse new connections on this listener for a while, e.g. `"2s"`.
    pub fn outage(mut self, duration: impl Into<String>) -> Self {
        self.0
            .insert("outage".into(), Value::String(duration.into()));
        self
    }

    /// `repeat` (in a sequence): answer this many calls with this reply.
    pub fn repeat(mut self, times: u64) -> Self {
        self.0.insert("repeat".into(), json!(times));
        self
    }

    /// Any other key of `then`, as in YAML.
    pub fn with(mut self, key: impl Into<String>, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }
}

fn entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let value = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("just made an object"),
    }
}

/// A stub being built: [`Stub::given`] starts one, [`StubBuilder::mount`] adds it to a server.
///
/// # Examples
///
/// ```
/// use grpc_double::{FakeServer, Schema, Stub, message, method, reply};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), grpc_double::Error> {
/// let server = FakeServer::builder().start().await?;
/// Stub::given(method("userservice.UserService/GetUser"))
///     .and(message(json!({ "user_id": "42" })))
///     .respond_with(reply(json!({ "user_id": "42", "name": "Ada" })))
///     .expect(1)
///     .mount(&server);
/// // … call GetUser once with user_id 42; dropping the server checks the expectation.
/// # server.verify_on_drop(false);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a stub does nothing until it is mounted"]
pub struct StubBuilder {
    method: Option<String>,
    when: Map<String, Value>,
    keys: Map<String, Value>,
    built_at: &'static Location<'static>,
}

impl Stub {
    /// Starts a stub for the Rust API; `condition` is usually [`method`].
    #[track_caller]
    pub fn given(condition: Condition) -> StubBuilder {
        StubBuilder {
            method: None,
            when: Map::new(),
            keys: Map::new(),
            built_at: Location::caller(),
        }
        .and(condition)
    }
}

impl StubBuilder {
    /// Adds a condition (every condition must hold).
    pub fn and(mut self, condition: Condition) -> Self {
        match condition.0 {
            Cond::Method(name) => self.method = Some(name),
            Cond::When(key, value) => merge(&mut self.when, key, value),
        }
        self
    }

    /// `then`: how the stub answers.
    pub fn respond_with(mut self, then: Then) -> Self {
        self.keys.insert("then".into(), Value::Object(then.0));
        self
    }

    /// `sequence`: successive matching calls get successive replies (the last repeats).
    pub fn respond_with_sequence(mut self, replies: impl IntoIterator<Item = Then>) -> Self {
        let list = replies.into_iter().map(|t| Value::Object(t.0)).collect();
        self.keys.insert("sequence".into(), Value::Array(list));
        self
    }

    /// `conversation`: a scripted client or bidi stream, its steps written as in YAML.
    pub fn conversation(mut self, steps: Value) -> Self {
        self.keys.insert("conversation".into(), steps);
        self
    }

    /// `id`: names the stub in the journal, logs and errors.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.keys.insert("id".into(), Value::String(id.into()));
        self
    }

    /// `name`: free text for logs and errors.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.keys.insert("name".into(), Value::String(name.into()));
        self
    }

    /// `priority`: higher is tried first. Added stubs come before file stubs of the same
    /// priority.
    pub fn priority(mut self, priority: i64) -> Self {
        self.keys.insert("priority".into(), json!(priority));
        self
    }

    /// `times`: answer at most this many calls, then let later stubs answer.
    pub fn times(mut self, times: u64) -> Self {
        self.keys.insert("times".into(), json!(times));
        self
    }

    /// `scenario`: the state machine `state(..)` and `set_state` refer to.
    pub fn scenario(mut self, scenario: impl Into<String>) -> Self {
        self.keys
            .insert("scenario".into(), Value::String(scenario.into()));
        self
    }

    /// `key`: keep sequences and states per value of this template.
    pub fn key(mut self, template: impl Into<String>) -> Self {
        self.keys
            .insert("key".into(), Value::String(template.into()));
        self
    }

    /// `mode`: how a bidi stub answers.
    pub fn mode(mut self, mode: Mode) -> Self {
        let mode = match mode {
            Mode::Collect => "collect",
            Mode::Reactive => "reactive",
        };
        self.keys.insert("mode".into(), Value::String(mode.into()));
        self
    }

    /// `expect`: how many calls the stub expects — `1`, `1..`, `..=3`, `2..=4`,
    /// [`Expect::never()`]. A dropped [`FakeServer`](crate::FakeServer) panics when it is not met.
    pub fn expect(mut self, expect: impl Into<Expect>) -> Self {
        self.keys
            .insert("expect".into(), expect_json(expect.into()));
        self
    }

    /// The stub document this builder writes (what a fixture file would say).
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        if let Some(method) = &self.method {
            doc.insert("method".into(), Value::String(method.clone()));
        }
        if !self.when.is_empty() {
            doc.insert("when".into(), Value::Object(self.when.clone()));
        }
        doc.extend(self.keys.clone());
        Value::Object(doc)
    }

    /// The `method` and `when` of the builder, for a verification.
    pub(crate) fn verification(&self, expect: Expect) -> Value {
        json!({
            "method": self.method.clone().unwrap_or_default(),
            "when": Value::Object(self.when.clone()),
            "expect": expect_json(expect),
        })
    }

    /// Where `Stub::given` was called (errors name it).
    pub(crate) fn source(&self, doc: &Value) -> FixtureSource {
        let text = serde_json::to_string_pretty(doc).unwrap_or_default();
        FixtureSource::new(
            format!(
                "stub built at {}:{}:{}",
                self.built_at.file(),
                self.built_at.line(),
                self.built_at.column()
            ),
            text,
        )
    }

    /// The loader's problems with this builder's document, located at the builder's call site
    /// (the document's own lines mean nothing to the test that wrote the builder).
    pub(crate) fn problems(&self, errors: &crate::fake::load::FixtureErrors) -> String {
        let at = format!(
            "{}:{}:{}",
            self.built_at.file(),
            self.built_at.line(),
            self.built_at.column()
        );
        errors
            .errors()
            .iter()
            .map(|e| match e.hint() {
                Some(hint) => format!("{at}: {} (hint: {hint})", e.message()),
                None => format!("{at}: {}", e.message()),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Checks the stub against a schema, as a fixture file is checked.
    ///
    /// # Errors
    ///
    /// What a fixture file with this stub would report, located in [`StubBuilder::to_json`]'s
    /// document.
    pub fn build(&self, schema: &Schema) -> Result<Stub> {
        let doc = self.to_json();
        let fixtures = Fixtures::load(schema, &[self.source(&doc)]).map_err(Error::diagnostics)?;
        let mut stub = fixtures
            .stubs()
            .first()
            .cloned()
            .ok_or_else(unreachable_empty)?;
        // Reports and logs point at the test line that built it, not into its JSON.
        stub.origin = Some(FixtureLocation {
            file: self.built_at.file().into(),
            line: self.built_at.line() as usize,
            col: self.built_at.column() as usize,
        });
        stub.relabel();
        Ok(stub)
    }

    /// Adds the stub to a server (or one of its sessions); panics with the located error
    /// when it is not valid (in a test, that is the failure to see).
    ///
    /// # Panics
    ///
    /// The stub does not load against the server's protos.
    #[track_caller]
    pub fn mount(self, target: &impl MountTarget) -> MountedStub {
        match self.try_mount(target) {
            Ok(mounted) => mounted,
            Err(err) => panic!("{}", super::report::render_error(&err)),
        }
    }

    /// Adds the stub to a server (or one of its sessions).
    ///
    /// # Errors
    ///
    /// The stub does not load against the server's protos, or its `id` is taken.
    pub fn try_mount(self, target: &impl MountTarget) -> Result<MountedStub> {
        let (schema, control, session) = super::mount::sealed::Sealed::mount_point(target);
        let stub = self.build(schema)?;
        MountedStub::add(control, stub, self.to_json(), session)
    }
}

fn unreachable_empty() -> Error {
    crate::error::ErrorKind::Harness {
        message: "the stub document loaded no stub".into(),
        help: Some("start the stub with `Stub::given(method(\"package.Service/Method\"))`".into()),
    }
    .into()
}

fn expect_json(expect: Expect) -> Value {
    match (expect.min, expect.max) {
        (min, Some(max)) if min == max => json!(min),
        (0, Some(max)) => json!({ "at_most": max }),
        (min, None) => json!({ "at_least": min }),
        (min, Some(max)) => json!({ "at_least": min, "at_most": max }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_writes_the_fixture_language() {
        let stub = Stub::given(method("userservice.UserService/GetUser"))
            .and(message(json!({ "user_id": "42" })))
            .and(metadata("x-tenant", "acme"))
            .and(metadata("authorization", json!({ "regex": "^Bearer " })))
            .and(expr("request.user_id != ''"))
            .and(expr("true"))
            .respond_with(
                reply(json!({ "name": "Ada" }))
                    .header("x-served-by", "fake")
                    .delay("5ms"),
            )
            .id("ada")
            .times(2)
            .expect(1..);
        assert_eq!(
            stub.to_json(),
            json!({
                "method": "userservice.UserService/GetUser",
                "when": {
                    "message": { "user_id": "42" },
                    "metadata": { "x-tenant": "acme", "authorization": { "regex": "^Bearer " } },
                    "expr": "(request.user_id != '') and (true)",
                },
                "then": { "message": { "name": "Ada" }, "headers": { "x-served-by": "fake" }, "delay": "5ms" },
                "id": "ada",
                "times": 2,
                "expect": { "at_least": 1 },
            })
        );
    }

    #[test]
    fn built_stubs_are_checked_like_fixtures_and_name_where_they_were_built() {
        let schema = Schema::bundled();
        let err = Stub::given(method("userservice.UserService/GetUser"))
            .and(message(json!({ "user_idd": "42" })))
            .respond_with(status(tonic::Code::NotFound, "no"))
            .build(&schema)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("user_idd"), "{text}");
        assert!(
            text.contains("stub built at src/fake/harness/builder.rs:"),
            "{text}"
        );
        let ok = Stub::given(method("userservice.UserService/GetUser"))
            .respond_with(status(tonic::Code::NotFound, "no"))
            .expect(Expect::never())
            .build(&schema)
            .unwrap();
        assert_eq!(ok.expect, Some(Expect::never()));
    }
}
