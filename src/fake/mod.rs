//! Capability 1: a scriptable fake gRPC server.
//!
//! Protos are compiled at run time ([`crate::Schema`]), fixtures are YAML files of stubs, and one
//! dynamic service answers every method of every loaded service ([`FakeServer`]). Nothing is
//! generated per service. Data flows one way:
//!
//! - `load` — YAML → model: spanned nodes, shape, `when`, `then`, values typed by descriptor,
//!   located diagnostics, drift traces;
//! - `model` — [`Stub`], [`Matcher`], [`Reply`]: plain data, what the loader builds;
//! - `serve` — the server, the dynamic service, codec and call log, reading the model;
//! - `template` — compiling (at load) and rendering (per call) minijinja templates, below all
//!   three;
//! - `harness` — what tests drive the server with: [`FakeServer`] on its own thread, the Rust
//!   stub builder, the admin API, hot reload and reports; the one part that uses both `load`
//!   and `serve`;
//! - `drift` — what fixtures mean against two versions of a contract.

mod drift;
mod harness;
mod lint;
mod load;
mod model;
mod serve;
mod template;

pub use self::{
    drift::{Drift, fixture_drift},
    harness::{
        Condition, FakeServer, FakeServerBuilder, MountTarget, MountedStub, ReloadStatus, Report,
        Session, StubBuilder, Then, any_of, chance, expr, message, message_eq, messages, metadata,
        method, not, reply, state, status, stream,
    },
    lint::{Coverage, Lint, LintLevel},
    load::{BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, FixtureError, FixtureErrors, FixtureSource},
    model::{
        Cmp, Computed, Contains, Delay, Detail, Effects, Expect, FieldCheck, Fill, FixtureLocation,
        Fixtures, Generated, Health, Hole, JsonTemplate, Matcher, Metadata, MetadataCheck,
        MetadataEntry, Mode, PathStep, Payload, Reply, Respond, START_STATE, SequenceItem,
        StatusReply, Step, StreamItem, StreamPart, Stub, Test,
    },
    serve::{
        CLIENT_SUBJECT_HEADER, Compression, NearMiss, ReceivedCall, SESSION_HEADER, ScenarioState,
        ServerOptions, SessionInfo, StopHandle, StubInfo, TlsOptions, Verification,
    },
    template::{Template, parse_rfc3339},
};
