//! Stubs: a method, conditions on the call, and a reply.

use std::fmt;

use prost_reflect::MethodDescriptor;

use super::{diagnostic::Location, matchers::Matcher, respond::Reply};

/// One stub from a fixture file: which method, when it applies, what it answers.
#[derive(Debug)]
pub(crate) struct Stub {
    pub(crate) method: MethodDescriptor,
    /// Higher wins; ties go to the stub written first.
    pub(crate) priority: i64,
    pub(crate) when: Vec<Matcher>,
    pub(crate) then: Reply,
    /// How logs and errors name the stub, formatted once at load.
    pub(crate) label: std::sync::Arc<str>,
}

impl Stub {
    /// Gets the method, e.g. `userservice.UserService/GetUser`.
    pub(crate) fn method_name(&self) -> String {
        method_name(&self.method)
    }
}

impl fmt::Display for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// `stub `id` (file:line:col)`, `stub "name" (…)`, or `stub at file:line:col`.
pub(crate) fn stub_label(
    id: Option<&str>,
    name: Option<&str>,
    origin: &Location,
) -> std::sync::Arc<str> {
    match (id, name) {
        (Some(id), _) => format!("stub `{id}` ({origin})"),
        (None, Some(name)) => format!("stub \"{name}\" ({origin})"),
        (None, None) => format!("stub at {origin}"),
    }
    .into()
}

/// `package.Service/Method` for a method descriptor.
pub(crate) fn method_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}
