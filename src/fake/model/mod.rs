//! The fake's model: stubs as plain data — which method, when they apply, what they answer.
//!
//! The YAML loader ([`crate::Fixtures::load`]) builds these types, and the server only reads
//! them: data flows load → model → serve, never back. Everything a call needs is resolved when
//! the model is built — descriptors instead of names, replies encoded to bytes when they hold
//! no template — so answering a call does no lookups by string.
//!
//! - [`Stub`], [`Fixtures`]: a stub and a validated set of them;
//! - [`Matcher`], [`Test`]: conditions on a call, cheap to test and able to explain a miss when
//!   no stub matched;
//! - [`Reply`], [`Respond`]: messages, a status, headers, trailers, delays and effects; replies
//!   in sequence; scripted conversations;
//! - `Call`: what matchers and templates see of a call; `render`: a reply's parts for one call.

mod call;
mod code;
mod compare;
mod matcher;
pub(crate) mod render;
mod reply;
mod stub;

pub(crate) use self::compare::glob_regex;
pub(crate) use self::{
    call::{Call, no_state},
    code::{CODES, code_name, parse_code},
    matcher::{Miss, closeness},
};
pub use self::{
    compare::{Cmp, Contains, Test},
    matcher::{FieldCheck, Matcher, MetadataCheck},
    reply::{
        Computed, Delay, Detail, Effects, Fill, Generated, Health, Hole, JsonTemplate, Metadata,
        MetadataEntry, PathStep, Payload, Reply, Respond, SequenceItem, StatusReply, Step,
        StreamItem, StreamPart,
    },
    stub::{Expect, FixtureLocation, Fixtures, Mode, START_STATE, Stub},
};
