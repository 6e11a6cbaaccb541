//! Serving the model over gRPC: listeners, health, reflection, the dynamic service that answers
//! every method from its stubs, the codec, and the call log.
//!
//! Nothing here loads fixtures: the server is given a [`Fixtures`](crate::Fixtures) (model data)
//! and only reads it.

pub(crate) mod codec;
mod control;
mod converse;
mod files;
mod fuzz;
mod handler;
mod journal;
mod listen;
mod observe;
mod queue;
mod respond;
mod route;
mod server;
mod service;
mod state;
mod store;
mod stream;
mod tls;
mod trailers;
mod verify;

pub(crate) use self::{
    control::Control, files::replace_file, fuzz::answer, journal::Query, server::Server,
};
pub use self::{
    control::{ScenarioState, SessionInfo, StubInfo},
    journal::ReceivedCall,
    observe::SESSION_HEADER,
    server::{Compression, ServerOptions, StopHandle},
    tls::{CLIENT_SUBJECT_HEADER, TlsOptions},
    verify::{NearMiss, Verification},
};
