//! File resolution for protox: built-in well-known types first (a tree that vendors an older or
//! newer `google/protobuf/*.proto` still compiles), then the user's include paths, then the
//! embedded `google/rpc` error model and in-memory sources.

use std::{collections::BTreeMap, path::PathBuf};

use super::editions;
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

/// The Google error model, embedded so fixtures can use typed error details.
pub(crate) const GOOGLE_RPC: [(&str, &str); 3] = [
    (
        "google/rpc/status.proto",
        include_str!("../../proto/google/rpc/status.proto"),
    ),
    (
        "google/rpc/code.proto",
        include_str!("../../proto/google/rpc/code.proto"),
    ),
    (
        "google/rpc/error_details.proto",
        include_str!("../../proto/google/rpc/error_details.proto"),
    ),
];

/// Serves `.proto` text held in memory, plus the embedded `google/rpc` protos.
#[derive(Debug, Default, Clone)]
pub(crate) struct EmbeddedResolver {
    files: BTreeMap<String, String>,
}

impl EmbeddedResolver {
    pub(crate) fn add(&mut self, name: String, text: String) {
        self.files.insert(name, text);
    }
}

impl FileResolver for EmbeddedResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if let Some(text) = self.files.get(name) {
            return File::from_source(name, text);
        }
        match GOOGLE_RPC.iter().find(|(n, _)| *n == name) {
            Some((name, text)) => File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// protox's parse error at the end of a file, `file:line:col: message`: protox gives it no span.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
struct EofError {
    file: String,
    line: usize,
    col: usize,
    message: String,
}

/// Locates a parse error that protox reports at the end of the file (it has no span there) at
/// the file's last position; other errors are returned as they are.
pub(crate) fn locate_eof(err: protox::Error, name: &str, text: &str) -> protox::Error {
    let message = err.to_string();
    if !err.is_parse() || !message.ends_with("reached end of file") {
        return err;
    }
    let line = text.matches('\n').count() + 1;
    let col = text
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    protox::Error::new(EofError {
        file: name.to_owned(),
        line,
        col,
        message,
    })
}

/// The resolver every compile in the crate uses: built-in well-known types, then (optionally)
/// files parsed ahead of time, then the include paths, then the embedded and in-memory files.
/// A file that protox cannot parse because it uses editions is compiled by protoc instead
/// (`editions.rs`), so the proto2/proto3 path never starts a process.
pub(crate) struct SchemaResolver {
    chain: ChainFileResolver,
    includes: Vec<PathBuf>,
    embedded: EmbeddedResolver,
}

impl SchemaResolver {
    /// Resolves from the include paths and `embedded`.
    pub(crate) fn new(includes: &[PathBuf], embedded: EmbeddedResolver) -> Self {
        Self::with_first(None::<GoogleFileResolver>, includes, embedded)
    }

    /// Like [`SchemaResolver::new`], asking `first` right after the well-known types.
    pub(crate) fn with_first(
        first: Option<impl FileResolver + 'static>,
        includes: &[PathBuf],
        embedded: EmbeddedResolver,
    ) -> Self {
        let mut chain = ChainFileResolver::new();
        chain.add(GoogleFileResolver::new());
        if let Some(first) = first {
            chain.add(first);
        }
        for include in includes {
            chain.add(IncludeFileResolver::new(include.clone()));
        }
        Self {
            chain,
            includes: includes.to_vec(),
            embedded,
        }
    }

    fn editions(&self, name: &str) -> Option<Result<File, protox::Error>> {
        match self.embedded.files.get(name) {
            Some(text) if editions::is_editions(text) => Some(
                editions::compile(
                    &[name.to_owned()],
                    &self.includes,
                    &self.embedded.files,
                    &GOOGLE_RPC,
                    true,
                )
                .map(|mut files| files.remove(0)),
            ),
            Some(_) => None,
            None => editions::compile_included(name, &self.includes, &GOOGLE_RPC),
        }
    }
}

impl FileResolver for SchemaResolver {
    fn resolve_path(&self, path: &std::path::Path) -> Option<String> {
        self.chain.resolve_path(path)
    }

    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        let opened = match self.chain.open_file(name) {
            Err(err) if err.is_file_not_found() => self.embedded.open_file(name),
            other => other,
        };
        match opened {
            Err(err) if err.is_parse() => self.editions(name).unwrap_or_else(|| {
                let text = self.embedded.files.get(name).cloned().or_else(|| {
                    let mut paths = self.includes.iter().map(|i| i.join(name));
                    paths.find_map(|path| std::fs::read_to_string(path).ok())
                });
                Err(match text {
                    Some(text) => locate_eof(err, name, &text),
                    None => err,
                })
            }),
            Err(err) if err.is_file_not_found() && name.starts_with("google/protobuf/") => {
                editions::open_bundled(name).unwrap_or(Err(err))
            }
            other => other,
        }
    }
}
