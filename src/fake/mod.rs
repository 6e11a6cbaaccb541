//! Capability 1: a scriptable fake gRPC server.
//!
//! Protos are compiled at run time ([`crate::Schema`]), fixtures are YAML files of stubs
//! ([`Fixtures`]), and one dynamic service answers every method of every loaded service
//! ([`FakeServer`]). Nothing is generated per service.
//!
//! - `yaml` — spanned YAML nodes; `value` — nodes to protobuf values, typed by descriptors;
//! - `fixture` — the fixture language and its validation; `diagnostic` — located errors;
//! - `matchers`, `respond`, `template`, `stub` — the runtime model of a stub;
//! - `codec`, `service`, `server`, `log` — serving it over gRPC.

mod codec;
mod diagnostic;
mod drift;
mod fixture;
mod log;
mod matchers;
mod respond;
mod server;
mod service;
mod status;
mod stub;
mod template;
mod value;
mod yaml;

pub(crate) use self::fixture::parse_duration;
pub use self::{
    diagnostic::{FixtureError, FixtureErrors, FixtureSource, Location},
    drift::{Drift, fixture_drift},
    fixture::{BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, Fixtures},
    server::{Compression, FakeServer, ServerOptions, StopHandle},
};
