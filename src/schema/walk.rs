//! Walking input directories without leaving them.
//!
//! Protos and fixtures often come from a tree the user does not control: the pull request a CI
//! job checks. A symbolic link in it (`leak.proto -> /proc/self/environ`, an import of
//! `../../home/ci/.netrc`) would otherwise be read, and a file that is not a proto comes back
//! as a parse error that quotes its text. So a walk, and every file an import opens, stays
//! inside the input roots: the directories given (and the include paths), and the files named
//! on the command line. A link whose target resolves inside the roots is followed; one that
//! leaves them is an error that names the link. Links to directories are not descended into
//! (inside the roots their files are already found under their real path, and a loop cannot
//! spin the walk). [`Links::follow_all`] is the opt-out (`--follow-symlinks`), for trees that
//! are symlink forests (Bazel's output directories); it still visits each directory once.
//!
//! The check resolves the path when it is found or opened; a tree that changes while it is
//! read (a race with a hostile process on the same machine) is outside what this guards.

use std::{
    collections::HashSet,
    ffi::OsStr,
    path::{Component, Path, PathBuf},
};

use crate::error::{Error, ErrorKind, Result};

/// Which symbolic links walks and imports may follow.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    follow: bool,
    /// Canonical directories whose contents may be read.
    roots: Vec<PathBuf>,
    /// Canonical files named explicitly (which may live anywhere).
    files: Vec<PathBuf>,
}

impl Links {
    /// Links that resolve inside `roots` (directories; those that do not exist are ignored).
    pub(crate) fn inside<P: AsRef<Path>>(roots: impl IntoIterator<Item = P>) -> Self {
        let mut links = Self::default();
        for root in roots {
            links.add_root(root.as_ref());
        }
        links
    }

    /// The links a directory input may follow: those inside it and its include paths.
    pub(crate) fn for_dir(dir: &Path, includes: &[PathBuf]) -> Self {
        let mut links = Self::inside(includes);
        links.add_root(dir);
        links
    }

    /// Every link, as the file system resolves it.
    pub(crate) fn follow_all() -> Self {
        Self {
            follow: true,
            ..Self::default()
        }
    }

    /// Whether every link is followed.
    pub(crate) fn follows_all(&self) -> bool {
        self.follow
    }

    /// Lets files below `dir` be read.
    pub(crate) fn add_root(&mut self, dir: &Path) {
        if let Ok(dir) = dir.canonicalize() {
            self.roots.push(dir);
        }
    }

    /// Lets one file be read wherever it is (it was named explicitly).
    pub(crate) fn add_file(&mut self, file: &Path) {
        if let Ok(file) = file.canonicalize() {
            self.files.push(file);
        }
    }

    /// Checks that `path` may be read: it resolves inside a root or to a file named explicitly.
    /// A path that does not resolve (it does not exist) passes: opening it reports that.
    pub(crate) fn check(&self, path: &Path) -> Result<()> {
        if self.follow {
            return Ok(());
        }
        let Ok(real) = path.canonicalize() else {
            return Ok(());
        };
        if self.roots.iter().any(|root| real.starts_with(root)) || self.files.contains(&real) {
            return Ok(());
        }
        Err(ErrorKind::LinkOutside {
            path: path.to_path_buf(),
            target: real,
        }
        .into())
    }
}

/// Lists the files below `root` whose extension is one of `extensions`, sorted. A link to a
/// file resolving outside `links`' roots is an error; links to directories are not followed
/// unless `links` follows all.
pub(crate) fn files(root: &Path, extensions: &[&str], links: &Links) -> Result<Vec<PathBuf>> {
    let wanted = |path: &Path| {
        path.extension()
            .and_then(OsStr::to_str)
            .is_some_and(|ext| extensions.contains(&ext))
    };
    let mut out = Vec::new();
    // Following every link, each directory is read once (by the first path that reaches it),
    // so a loop ends; entries are sorted so that the path that wins does not vary.
    let mut seen = HashSet::new();
    let mut first_visit =
        |dir: &Path| !links.follows_all() || dir.canonicalize().is_ok_and(|real| seen.insert(real));
    first_visit(root);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|err| Error::io(&dir, err))? {
            let entry = entry.map_err(|err| Error::io(&dir, err))?;
            let kind = entry
                .file_type()
                .map_err(|err| Error::io(entry.path(), err))?;
            entries.push((entry.path(), kind));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, kind) in entries.into_iter().rev() {
            // A link is judged by where it points; a broken one is reported when it is read.
            // Only regular files are read: a FIFO named `x.proto` would block the reader.
            let target = if kind.is_symlink() {
                std::fs::metadata(&path).ok()
            } else {
                None
            };
            let link_to_dir = target.as_ref().is_some_and(|meta| meta.is_dir());
            let file = if kind.is_symlink() {
                target.as_ref().is_none_or(|meta| meta.is_file())
            } else {
                kind.is_file()
            };
            if kind.is_dir() || link_to_dir {
                if (!link_to_dir || links.follows_all()) && first_visit(&path) {
                    stack.push(path);
                }
            } else if file && wanted(&path) {
                if kind.is_symlink() {
                    links.check(&path)?;
                }
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether an import name stays below its include directory: relative, with no `..`.
pub(crate) fn is_plain_relative(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}
