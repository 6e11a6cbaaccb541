//! Serving the model over gRPC: listeners, health, reflection, the dynamic service that answers
//! every method from its stubs, the codec, and the call log.
//!
//! Nothing here loads fixtures: the server is given a [`Fixtures`](crate::Fixtures) (model data)
//! and only reads it.

mod codec;
mod converse;
mod handler;
mod listen;
mod log;
mod respond;
mod route;
mod server;
mod service;
mod state;
mod stream;
mod trailers;

pub use self::server::{Compression, FakeServer, ServerOptions, StopHandle};
