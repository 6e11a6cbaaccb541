//! File resolution for protox: built-in well-known types first (a tree that vendors an older or
//! newer `google/protobuf/*.proto` still compiles), then the user's include paths, then the
//! embedded `google/rpc` error model and in-memory sources.
//!
//! Include paths are read through [`RootedInclude`], which keeps imports inside the input roots
//! (`walk.rs` says why): no absolute or `..` import names, no links that leave the roots.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use super::walk::{Links, is_plain_relative};

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

/// An include path whose files are read only when they resolve inside the input roots.
#[derive(Debug)]
pub(crate) struct RootedInclude {
    dir: PathBuf,
    names: IncludeFileResolver,
    links: Links,
}

impl RootedInclude {
    pub(crate) fn new(dir: PathBuf, links: Links) -> Self {
        Self {
            names: IncludeFileResolver::new(dir.clone()),
            dir,
            links,
        }
    }
}

impl FileResolver for RootedInclude {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.names.resolve_path(path)
    }

    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        // `import "/etc/passwd"` or `import "../../x"` names no file of this include path.
        if !is_plain_relative(name) {
            return Err(protox::Error::file_not_found(name));
        }
        let path = self.dir.join(name);
        self.links.check(&path).map_err(protox::Error::new)?;
        File::open(name, &path)
    }
}

/// Builds the resolver chain used for every compile in the crate: `links` says which files the
/// include paths may read.
pub(crate) fn schema_resolver(
    includes: &[PathBuf],
    embedded: EmbeddedResolver,
    links: &Links,
) -> ChainFileResolver {
    let mut chain = ChainFileResolver::new();
    chain.add(GoogleFileResolver::new());
    for include in includes {
        chain.add(RootedInclude::new(include.clone(), links.clone()));
    }
    chain.add(embedded);
    chain
}
