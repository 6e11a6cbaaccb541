//! gRPC status codes by name (shared by the loader, which reads them, and the server, which logs
//! them).
//!
//! tonic parses codes from numbers only; fixtures write them by name (`NOT_FOUND`), in any case,
//! with or without underscores (`NotFound`, `not_found`), or as numbers.

use tonic::Code;

/// Every code, in numeric order, with its canonical name.
pub(crate) const CODES: [(Code, &str); 17] = [
    (Code::Ok, "OK"),
    (Code::Cancelled, "CANCELLED"),
    (Code::Unknown, "UNKNOWN"),
    (Code::InvalidArgument, "INVALID_ARGUMENT"),
    (Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
    (Code::NotFound, "NOT_FOUND"),
    (Code::AlreadyExists, "ALREADY_EXISTS"),
    (Code::PermissionDenied, "PERMISSION_DENIED"),
    (Code::ResourceExhausted, "RESOURCE_EXHAUSTED"),
    (Code::FailedPrecondition, "FAILED_PRECONDITION"),
    (Code::Aborted, "ABORTED"),
    (Code::OutOfRange, "OUT_OF_RANGE"),
    (Code::Unimplemented, "UNIMPLEMENTED"),
    (Code::Internal, "INTERNAL"),
    (Code::Unavailable, "UNAVAILABLE"),
    (Code::DataLoss, "DATA_LOSS"),
    (Code::Unauthenticated, "UNAUTHENTICATED"),
];

/// Parses a code written as a name (`NOT_FOUND`, `NotFound`, `not_found`) or a number (`5`).
pub(crate) fn parse_code(text: &str) -> Option<Code> {
    if let Ok(n) = text.trim().parse::<i32>() {
        return (0..=16).contains(&n).then(|| Code::from(n));
    }
    let squashed: String = text
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let squashed = squashed.strip_prefix("CODE").unwrap_or(&squashed);
    CODES
        .iter()
        .find(|(_, name)| name.replace('_', "") == squashed)
        .map(|(code, _)| *code)
}

/// Gets the canonical name of a code, e.g. `NOT_FOUND`.
pub(crate) fn code_name(code: Code) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("UNKNOWN", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_in_every_spelling() {
        for text in ["NOT_FOUND", "NotFound", "not_found", "5", "not-found"] {
            assert_eq!(parse_code(text), Some(Code::NotFound), "{text}");
        }
        assert_eq!(parse_code("17"), None);
        assert_eq!(parse_code("NOPE"), None);
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
