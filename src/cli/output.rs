//! Errors of the command line, and the one stdout writer every command prints through.
//!
//! A reader that closes the pipe early (`grpc-double rules | head -1`) is not an error: the
//! writer reports [`CliError::ClosedPipe`] and the command ends quietly with its exit code.

use std::io::Write as _;

/// A failure of a command: the library's errors, plus what only the binary does.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum CliError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lib(#[from] grpc_double::Error),
    #[error("cannot {what}")]
    #[diagnostic(code(grpc_double::cli::io))]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{message}")]
    #[diagnostic(code(grpc_double::cli::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },
    /// Whoever reads stdout has gone (not reported).
    #[error("stdout was closed")]
    ClosedPipe,
}

impl From<grpc_double::FixtureErrors> for CliError {
    fn from(errors: grpc_double::FixtureErrors) -> Self {
        CliError::Lib(errors.into())
    }
}

/// Standard output, locked; every command writes through it.
pub(crate) struct Out(std::io::StdoutLock<'static>);

impl Out {
    pub(crate) fn new() -> Self {
        Out(std::io::stdout().lock())
    }

    /// Writes `text`; a closed pipe becomes [`CliError::ClosedPipe`].
    pub(crate) fn write(&mut self, text: &str) -> Result<(), CliError> {
        self.0
            .write_all(text.as_bytes())
            .and_then(|()| self.0.flush())
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::BrokenPipe => CliError::ClosedPipe,
                _ => CliError::Io {
                    what: "write to stdout",
                    source,
                },
            })
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: impl std::fmt::Display) -> Result<(), CliError> {
        self.write(&format!("{text}\n"))
    }
}
