//! The fake's model: stubs as plain data — which method, when they apply, what they answer.
//!
//! The YAML loader ([`crate::Fixtures::load`]) builds these types, and the server only reads
//! them: data flows load → model → serve, never back. Everything a call needs is resolved when
//! the model is built — descriptors instead of names, replies encoded to bytes when they hold
//! no template — so answering a call does no lookups by string.
//!
//! - [`Stub`], [`Fixtures`]: a stub and a validated set of them;
//! - [`Matcher`]: a condition on a call, cheap to test ([`Matcher::matches`]) and able to explain a
//!   miss ([`Matcher::mismatches`]) when no stub matched;
//! - [`Reply`]: messages, a status, headers, trailers and delays;
//! - `Call`: what matchers and templates see of a call.

mod call;
mod code;
mod eq;
mod matcher;
mod reply;
mod show;
mod stub;

pub(crate) use self::{
    call::Call,
    code::{CODES, code_name, parse_code},
    show::{number_text, show_message, truncate},
};
pub use self::{
    matcher::{FieldCheck, Matcher},
    reply::{Hole, PathStep, Payload, Reply, StatusReply, StreamItem, Text},
    stub::{FixtureLocation, Fixtures, Stub},
};
