//! The crate's one error type.
//!
//! Every capability reports through [`Error`], an opaque box around a private `ErrorKind` (the
//! protox style): callers get `Display`, `source()` and miette diagnostics with source spans, and
//! the crate keeps the freedom to add variants. Each variant is one kind of failure, with its own
//! code and hint. This module names no capability: diagnostics that a capability builds itself
//! (located fixture errors) ride in [`ErrorKind::Diagnostics`].

use std::path::PathBuf;

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
    #[error("{} is not under any include path ({includes})", file.display())]
    #[diagnostic(
        code(grpc_double::schema::outside_include_path),
        help("add its root directory with -I, or pass the directory instead of the file")
    )]
    OutsideIncludePaths { file: PathBuf, includes: String },
    #[error("include path {} {problem}", dir.display())]
    #[diagnostic(
        code(grpc_double::schema::missing_include),
        help(
            "pass a directory that exists with -I (relative paths start from the current directory); each input's own directory is an include path already"
        )
    )]
    MissingInclude { dir: PathBuf, problem: &'static str },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Diagnostics(Diagnostics),
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
    #[error("TLS: {what}: {detail}")]
    #[diagnostic(
        code(grpc_double::serve::tls),
        help(
            "--tls-cert and --tls-client-ca take PEM certificates, --tls-key a PEM private key (PKCS#8, PKCS#1 or SEC1); --tls-self-signed makes a throwaway pair"
        )
    )]
    Tls { what: &'static str, detail: String },
    #[error("cannot start the server's runtime")]
    #[diagnostic(
        code(grpc_double::serve::runtime),
        help("the system refused a thread or the event loop; check ulimits")
    )]
    Runtime(#[source] std::io::Error),
    #[error("the admin API would listen on {addr}, beyond this machine, without a token")]
    #[diagnostic(
        code(grpc_double::serve::admin_open),
        help(
            "anyone who reaches it could change the stubs: listen on 127.0.0.1, or set --admin-token (GRPC_DOUBLE_ADMIN_TOKEN)"
        )
    )]
    AdminOpen { addr: String },
    #[error("{message}")]
    #[diagnostic(code(grpc_double::serve::harness))]
    Harness {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("the gRPC server task stopped abnormally")]
    #[diagnostic(
        code(grpc_double::serve::task),
        help("this is a bug in grpc-double; please report it with the log")
    )]
    ServerTask(#[source] tokio::task::JoinError),
    #[error("cannot serve reflection for the loaded protos: {detail}")]
    #[diagnostic(
        code(grpc_double::serve::reflection),
        help("two loaded files define the same symbol; load each file once")
    )]
    Reflection { detail: String },
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
    #[error("no message type `{name}` in the schema")]
    #[diagnostic(code(grpc_double::roundtrip::unknown_message))]
    UnknownMessage {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("no message types to check")]
    #[diagnostic(
        code(grpc_double::roundtrip::no_messages),
        help("the input declares no messages, or --package matches none")
    )]
    NoMessages,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ErrorKind::Io {
            path: path.into(),
            source,
        }
        .into()
    }

    /// Wraps diagnostics a capability built itself (they keep their codes, spans and hints).
    pub(crate) fn diagnostics(diagnostic: impl miette::Diagnostic + Send + Sync + 'static) -> Self {
        ErrorKind::Diagnostics(Diagnostics(Box::new(diagnostic))).into()
    }

    /// Gets the wrapped diagnostics as `T`, when they are one.
    pub(crate) fn diagnostics_as<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match &*self.0 {
            ErrorKind::Diagnostics(Diagnostics(inner)) => {
                let inner: &(dyn std::error::Error + 'static) = &**inner;
                inner.downcast_ref::<T>()
            }
            _ => None,
        }
    }
}

/// Diagnostics built by a capability, forwarded as they are.
pub(crate) struct Diagnostics(Box<dyn miette::Diagnostic + Send + Sync + 'static>);

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Diagnostics {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl miette::Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }

    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.url()
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }

    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.0.diagnostic_source()
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

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
