//! One method's route: its descriptors and stubs, and the choice of the stub that answers.
//!
//! Choosing asks each matcher only whether it matches; the explanation of a miss — the closest
//! stub and why it was passed over — is built only when no stub matched.

use prost_reflect::MethodDescriptor;
use tonic::Status;

use crate::fake::model::{Call, Stub, show_message, truncate};

/// One method: descriptors, kind and its stubs, highest priority first.
#[derive(Debug)]
pub(crate) struct MethodEntry {
    pub(crate) method: MethodDescriptor,
    /// `package.Service/Method`.
    pub(crate) name: String,
    pub(crate) stubs: Vec<Stub>,
}

impl MethodEntry {
    /// The first stub (by priority, then file order) whose conditions all hold.
    pub(crate) fn find(&self, call: &Call<'_>) -> Result<&Stub, Status> {
        self.stubs
            .iter()
            .find(|stub| stub.when.iter().all(|m| m.matches(call)))
            .ok_or_else(|| self.unmatched(call))
    }

    /// UNIMPLEMENTED, naming the closest stub and why it did not match.
    fn unmatched(&self, call: &Call<'_>) -> Status {
        let name = &self.name;
        let request = match call.request {
            Some(message) if call.len <= 1 => truncate(&show_message(message), 200),
            _ => format!("{} messages", call.len),
        };
        let closest = self
            .stubs
            .iter()
            .map(|stub| {
                let mut reasons = Vec::new();
                stub.when
                    .iter()
                    .for_each(|m| m.mismatches(call, &mut reasons));
                (reasons, stub)
            })
            .min_by_key(|(reasons, _)| reasons.len());
        let message = match closest {
            None => format!(
                "no stub for {name}; add one to your fixtures: `- method: {name}` (request: {request})"
            ),
            Some((reasons, stub)) => format!(
                "no stub matched {name} (request: {request}); closest is {stub}: {}",
                reasons.join("; ")
            ),
        };
        Status::unimplemented(message)
    }
}
