//! Exit codes, in one place (the same as buf's, so CI scripts port over).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: served and stopped cleanly, fixtures valid, no breaking change, all round trips hold |
//! | 1 | error: unreadable input, invalid proto or fixture, server failure, a failed property |
//! | 2 | usage: bad command-line arguments (clap) |
//! | 3 | `serve --strict`: a call went unmatched, or a stub's `expect` was not met |
//! | 100 | `breaking` found breaking changes |

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// An error: I/O, an invalid proto or fixture, a server failure, a failed property.
pub const ERROR: u8 = 1;
/// Bad command-line arguments (clap exits with it itself).
#[allow(dead_code)]
pub const USAGE: u8 = 2;
/// `serve --strict`: a call went unmatched, or an expectation was not met.
pub const STRICT: u8 = 3;
/// `breaking` found breaking changes.
pub const BREAKING: u8 = 100;

pub(crate) fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
