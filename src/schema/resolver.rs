//! File resolution for protox: built-in well-known types first (a tree that vendors an older or
//! newer `google/protobuf/*.proto` still compiles), then the user's include paths, then the
//! embedded `google/rpc` error model and in-memory sources.

use std::{collections::BTreeMap, path::PathBuf};

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

/// The Google error model, embedded so fixtures can use typed error details.
const GOOGLE_RPC: [(&str, &str); 3] = [
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

/// Builds the resolver chain used for every compile in the crate.
pub(crate) fn schema_resolver(
    includes: &[PathBuf],
    embedded: EmbeddedResolver,
) -> ChainFileResolver {
    let mut chain = ChainFileResolver::new();
    chain.add(GoogleFileResolver::new());
    for include in includes {
        chain.add(IncludeFileResolver::new(include.clone()));
    }
    chain.add(embedded);
    chain
}
