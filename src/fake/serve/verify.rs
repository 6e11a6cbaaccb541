//! Verification: how many recorded calls a request matcher (the fixture `when` vocabulary)
//! matches, against an expected count, with the closest misses when the count is off.

use std::sync::Arc;

use super::journal::{Entry, ReceivedCall};
use crate::fake::{
    model::{Call, Expect, Matcher, Miss, closeness},
    template::{CallEnv, CallScope, Received, RequestMetadata},
};
use crate::schema::value::lazy::LazyMessage;

/// The answer to a verification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Verification {
    /// Whether the count met the expectation.
    pub ok: bool,
    /// `package.Service/Method`.
    pub method: String,
    /// What was expected, e.g. `exactly 1 call`.
    pub expected: String,
    /// How many recorded calls matched.
    pub matched: u64,
    /// The calls that matched, oldest first (at most 100).
    pub calls: Vec<ReceivedCall>,
    /// When the count is off: the calls of the method that came closest, with why they did
    /// not match (at most 3).
    pub near_misses: Vec<NearMiss>,
    /// Why the verification itself is invalid (an unknown method or field…), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Verification {
    /// A verification that could not run.
    pub(crate) fn invalid(method: &str, error: &str) -> Self {
        Self {
            ok: false,
            method: method.to_owned(),
            expected: String::new(),
            matched: 0,
            calls: Vec::new(),
            near_misses: Vec::new(),
            error: Some(error.to_owned()),
        }
    }

    /// Panics with the explanation (expected, got, the closest misses) unless it holds.
    ///
    /// # Panics
    ///
    /// The count does not meet the expectation, or the verification is invalid.
    #[track_caller]
    pub fn assert(&self) {
        assert!(self.ok, "verification failed: {self}");
    }
}

/// A call that did not match, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct NearMiss {
    /// The call.
    pub call: ReceivedCall,
    /// Each condition that did not hold.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(error) = &self.error {
            return write!(f, "{}: invalid verification: {error}", self.method);
        }
        write!(
            f,
            "{}: expected {}, got {}",
            self.method, self.expected, self.matched
        )?;
        for call in self.calls.iter().take(MAX_MISSES) {
            let first = call
                .requests
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            write!(f, "\n  call #{} matched: {first}", call.seq)?;
        }
        if self.calls.len() > MAX_MISSES {
            write!(
                f,
                "\n  … and {} more matched",
                self.calls.len() - MAX_MISSES
            )?;
        }
        for miss in &self.near_misses {
            write!(
                f,
                "\n  call #{} came close: {}",
                miss.call.seq,
                miss.reasons.join("; ")
            )?;
        }
        Ok(())
    }
}

/// The most matched calls a verification lists.
const MAX_CALLS: usize = 100;
/// The most near misses a verification lists.
const MAX_MISSES: usize = 3;

/// Counts the entries of `method` that `when` matches.
pub(crate) fn verify(
    entries: &[Arc<Entry>],
    method: &str,
    when: &[Matcher],
    expect: Expect,
) -> Verification {
    let env = Arc::new(CallEnv::new(0, 0, std::time::SystemTime::now()));
    let method_name: Arc<str> = Arc::from(method);
    let mut matched = 0u64;
    let mut calls = Vec::new();
    let mut misses: Vec<(f64, u64, Vec<String>, &Arc<Entry>)> = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| e.path().trim_start_matches('/') == method)
    {
        let messages: Vec<Arc<LazyMessage>> = match &entry.data.method {
            Some(method) => entry
                .data
                .decode_requests(&method.input())
                .into_iter()
                .map(|m| Arc::new(LazyMessage::decoded(m)))
                .collect(),
            None => Vec::new(),
        };
        let last = messages.last().cloned();
        let len = messages.len();
        let scope = Arc::new(CallScope {
            received: Received::all(messages),
            metadata: Arc::new(RequestMetadata::new(entry.data.request_headers())),
            method: method_name.clone(),
            env: env.clone(),
        });
        let call = Call::new(&scope, last.as_ref(), len);
        if when.iter().all(|m| m.matches(&call)) {
            matched += 1;
            if calls.len() < MAX_CALLS {
                calls.push(entry.to_call());
            }
        } else {
            let mut found: Vec<Miss> = Vec::new();
            when.iter().for_each(|m| m.mismatches(&call, &mut found));
            let held: usize = when.iter().map(|m| m.held(&call)).sum();
            let distance = closeness(&found) - 0.1 * held as f64;
            misses.push((
                distance,
                entry.seq,
                found.into_iter().map(|m| m.reason).collect(),
                entry,
            ));
        }
    }
    let ok = expect.holds(matched);
    let near_misses = if ok {
        Vec::new()
    } else {
        misses.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        misses
            .into_iter()
            .take(MAX_MISSES)
            .map(|(_, _, reasons, entry)| NearMiss {
                call: entry.to_call(),
                reasons,
            })
            .collect()
    };
    Verification {
        ok,
        method: method.to_owned(),
        expected: expect.to_string(),
        matched,
        calls,
        near_misses,
        error: None,
    }
}
