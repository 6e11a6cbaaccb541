//! The test harness around the server: what tests and CI drive it with.
//!
//! - `server` — [`FakeServer`]: the server on its own runtime thread, ready when `start`
//!   returns; its journal, verification, stubs, sessions, reload and reports;
//! - `builder` — the Rust stub builder, [`Stub::given`](crate::Stub::given), whose vocabulary
//!   is the fixture language's, one for one (it writes a stub document and loads it as a
//!   fixture, so both are checked the same way);
//! - `admin` — the admin HTTP API (`--admin`), JSON in and out;
//! - `reload` — fixture files watched and reloaded, validated before they are swapped in;
//! - `report` — `--report-dir` files and the report a dropped server panics with.
//!
//! This is the one part of `fake` that uses both the loader and the server: requests that
//! carry stubs are loaded as fixtures, then handed to the server.

mod admin;
mod builder;
mod mount;
mod reload;
mod report;
mod server;

pub use self::builder::StubBuilder;
pub use self::{
    builder::{
        Condition, Then, any_of, chance, expr, message, message_eq, messages, metadata, method,
        not, reply, state, status, stream,
    },
    mount::{MountTarget, MountedStub},
    reload::ReloadStatus,
    report::Report,
    server::{FakeServer, FakeServerBuilder, Session},
};
