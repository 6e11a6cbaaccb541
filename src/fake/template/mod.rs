//! Reply templates: minijinja, sandboxed, compiled once when fixtures load.
//!
//! A string in a reply that holds `{{ … }}` is a template. When the whole string is one
//! expression (`"{{ requests | length }}"`), its *value* is kept — a number for an `int32`, a
//! list for a repeated field — instead of its text. Templates see:
//!
//! - `request`: the message being answered (for client streams, the last one received);
//! - `requests`: every message received on the call so far;
//! - `metadata`: the request headers, lowercase names to text values;
//! - `method`: `package.Service/Method`;
//! - `seq` (the server's call number), `attempt` (this stub's matching calls, per key), `state`
//!   (its scenario's), `listener` and `peer` (addresses);
//! - helpers: `now()`, `uuid()`, `random(lo, hi)`, `fake_name()`, `zeros(n)`… (`helpers`).
//!
//! minijinja has no access to files, the environment or the network; fuel bounds loops.
//! References to `request.<field>` are checked against the input type when the fixture loads
//! ([`compile`]); rendering ([`Template::render`]) reads the call's messages through shared
//! handles, never copies of them ([`context`]), and results become protobuf values by the
//! field they land in ([`convert`]).
//!
//! This module sits below the rest of the fake: it knows messages and metadata, not stubs.

mod compile;
mod context;
mod convert;
mod helpers;
mod render;

pub(crate) use self::helpers::rfc3339;
pub(crate) use self::{
    compile::{CompileError, Scope, TemplateCompiler},
    context::{CallScope, CallVars, Received, RequestMetadata, context, with_vars},
    convert::from_jinja,
    helpers::CallEnv,
    render::is_template,
};
pub use self::{helpers::parse_rfc3339, render::Template};
