//! The crate's one error type.
//!
//! Every capability reports through [`Error`], an opaque box around a private [`ErrorKind`] (the
//! protox style): callers get `Display`, `source()` and miette diagnostics with source spans, and
//! the crate keeps the freedom to add variants.

use std::path::PathBuf;

use crate::fake::FixtureErrors;

/// An error from loading protos or fixtures, serving, or checking contracts.
///
/// It is a [`miette::Diagnostic`]: render it with a miette handler to see the source snippet
/// (`file:line:col`), the label and the hint that says how to fix it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(transparent)]
#[diagnostic(transparent)]
pub struct Error(Box<ErrorKind>);

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(crate) enum ErrorKind {
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(grpc_double::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Proto(#[from] protox::Error),
    #[error("invalid descriptor set {path}: {source}")]
    #[diagnostic(
        code(grpc_double::schema::descriptor_set),
        help(
            "pass a binary FileDescriptorSet, as written by `buf build -o x.binpb` or `protoc --include_imports -o x.binpb`"
        )
    )]
    DescriptorSet {
        path: String,
        source: prost_reflect::DescriptorError,
    },
    #[error("{path} is not a protobuf descriptor set: {source}")]
    #[diagnostic(
        code(grpc_double::schema::descriptor_set),
        help(
            "pass a binary FileDescriptorSet, as written by `buf build -o x.binpb` or `protoc --include_imports -o x.binpb`"
        )
    )]
    DescriptorDecode {
        path: String,
        source: prost::DecodeError,
    },
    #[error("no .proto files found in {}", path.display())]
    #[diagnostic(
        code(grpc_double::schema::empty),
        help("point --proto at a .proto file or a directory that contains some")
    )]
    NoProtoFiles { path: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fixtures(#[from] FixtureErrors),
    #[error("cannot listen on {addr}")]
    #[diagnostic(
        code(grpc_double::serve::bind),
        help("is another process using the port? `--listen 127.0.0.1:0` picks a free one")
    )]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the gRPC server failed")]
    #[diagnostic(code(grpc_double::serve::transport))]
    Transport(#[source] tonic::transport::Error),
    #[error("{message}")]
    #[diagnostic(code(grpc_double::breaking::config))]
    Config {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("unknown rule or category \"{id}\"")]
    #[diagnostic(code(grpc_double::breaking::unknown_rule))]
    UnknownRule {
        id: String,
        #[help]
        help: Option<String>,
    },
    #[error("{message}")]
    #[diagnostic(code(grpc_double::breaking::input))]
    Input {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("{message}")]
    #[diagnostic(code(grpc_double::usage))]
    Usage {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ErrorKind::Io {
            path: path.into(),
            source,
        }
        .into()
    }

    pub(crate) fn usage(message: impl Into<String>, help: Option<String>) -> Self {
        ErrorKind::Usage {
            message: message.into(),
            help,
        }
        .into()
    }

    /// Gets the fixture diagnostics when this error is a failed fixture validation.
    pub fn fixture_errors(&self) -> Option<&FixtureErrors> {
        match &*self.0 {
            ErrorKind::Fixtures(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl From<protox::Error> for Error {
    fn from(error: protox::Error) -> Self {
        ErrorKind::Proto(error).into()
    }
}

impl From<FixtureErrors> for Error {
    fn from(errors: FixtureErrors) -> Self {
        ErrorKind::Fixtures(errors).into()
    }
}

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
