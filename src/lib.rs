//! # grpc-double
//!
//! A toolkit for integration tests and CI of gRPC systems:
//!
//! 1. **A scriptable fake gRPC server.** Load `.proto` files at run time (no protoc, no codegen)
//!    and serve any service from YAML fixtures: unary replies, server/client/bidi streams, delays,
//!    status codes with details and trailers, templated replies. See [`FakeServer`],
//!    [`Fixtures`] and `docs/fixtures.md`.
//! 2. **A contract checker** that diffs protobuf descriptors and blocks breaking changes in CI,
//!    with `buf breaking`'s rule IDs, categories, config and output formats. See [`breaking`].
//! 3. **Property-tested round trips** of any message type, and old-writer/new-reader
//!    compatibility with minimal counterexamples. See [`roundtrip`] and `docs/roundtrip.md`.
//!
//! The crate is layered: [`schema`] (proto loading, names, spans, the shared proto-value
//! helpers) at the bottom; the three capabilities side by side above it, none importing another;
//! `explain` (breaking findings proved by round trips) the only place that combines two.
//!
//! ## Getting started
//!
//! ```no_run
//! use grpc_double::{FakeServer, Fixtures, FixtureSource, Schema, ServerOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Arrange: the contract and the stubs.
//! let schema = Schema::compile(["proto/users.proto"], ["proto"])?;
//! let stubs = FixtureSource::read_all("fixtures/users.yaml".as_ref())?;
//! let fixtures = Fixtures::load(&schema, &stubs)?;
//! let server = FakeServer::start(&schema, fixtures, ServerOptions::default()).await?;
//! // Act: point the client under test at `server.uri()`.
//! // Assert: on its answers; then stop the server.
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations)]
#![deny(unsafe_code)]

pub mod breaking;
mod error;
pub mod explain;
mod fake;
pub mod roundtrip;
pub mod schema;

pub use self::{
    error::{Error, Result},
    fake::{
        BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, CLIENT_SUBJECT_HEADER, Cmp, Compression, Computed,
        Condition, Contains, Coverage, Delay, Detail, Drift, Effects, Expect, FakeServer,
        FakeServerBuilder, FieldCheck, Fill, FixtureError, FixtureErrors, FixtureLocation,
        FixtureSource, Fixtures, Generated, Health, Hole, JsonTemplate, Lint, LintLevel, Matcher,
        Metadata, MetadataCheck, MetadataEntry, Mode, MountTarget, MountedStub, NearMiss, PathStep,
        Payload, ReceivedCall, ReloadStatus, Reply, Report, Respond, SESSION_HEADER, START_STATE,
        ScenarioState, SequenceItem, ServerOptions, Session, SessionInfo, StatusReply, Step,
        StopHandle, StreamItem, StreamPart, Stub, StubBuilder, StubInfo, Template, Test, Then,
        TlsOptions, Verification, any_of, chance, expr, fixture_drift, message, message_eq,
        messages, metadata, method, not, parse_rfc3339, reply, state, status, stream,
    },
    schema::{Schema, parse_duration},
};
