//! Stubs: a method, conditions on the call, and a reply.

use std::fmt;

use prost_reflect::MethodDescriptor;

use super::{diagnostic::Location, matchers::Matcher, respond::Reply};

/// One stub from a fixture file: which method, when it applies, what it answers.
#[derive(Debug)]
pub(crate) struct Stub {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) method: MethodDescriptor,
    /// Higher wins; ties go to the stub written first.
    pub(crate) priority: i64,
    pub(crate) when: Vec<Matcher>,
    pub(crate) then: Reply,
    pub(crate) origin: Location,
}

impl Stub {
    /// Gets the method, e.g. `userservice.UserService/GetUser`.
    pub(crate) fn method_name(&self) -> String {
        method_name(&self.method)
    }
}

impl fmt::Display for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.id, &self.name) {
            (Some(id), _) => write!(f, "stub `{id}` ({})", self.origin),
            (None, Some(name)) => write!(f, "stub \"{name}\" ({})", self.origin),
            (None, None) => write!(f, "stub at {}", self.origin),
        }
    }
}

/// `package.Service/Method` for a method descriptor.
pub(crate) fn method_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}
