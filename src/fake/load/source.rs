//! Fixture files: a name (shown in errors) and the text, shared by every diagnostic that points
//! into it.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use super::{
    diagnostic::{Code, FixtureError, FixtureErrors, Located},
    yaml,
};
use crate::{
    error::Error,
    fake::model::FixtureLocation,
    schema::walk::{self, Links},
};

/// A fixture file's name and text.
#[derive(Debug, Clone)]
pub struct FixtureSource {
    name: Arc<str>,
    text: Arc<str>,
    /// Where each line starts, for `file:line:col` without rescanning the text.
    lines: Arc<std::sync::OnceLock<Vec<usize>>>,
}

impl FixtureSource {
    /// Creates a source from a name (shown in errors, e.g. a path) and its text.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            lines: Arc::default(),
        }
    }

    /// Reads a fixture file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not UTF-8.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|err| Error::io(path, err))?;
        let name = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self::new(name, text)),
            Err(err) => {
                let at = err.utf8_error().valid_up_to();
                let source = Self::new(name, String::from_utf8_lossy(err.as_bytes()).into_owned());
                let mut errors = FixtureErrors::default();
                errors.push(
                    FixtureError::new(Code::Encoding, "the file is not UTF-8")
                        .label("this byte is not UTF-8")
                        .help("save the file as UTF-8 (YAML and JSON fixtures are text)")
                        .at(&source, at..at + 1),
                );
                Err(Error::diagnostics(errors))
            }
        }
    }

    /// Reads a fixture file, or every `.yaml`, `.yml` and `.json` file below a directory (sorted by
    /// path, so that file order, which breaks priority ties, is stable).
    ///
    /// A directory's symbolic links are followed only while they stay inside it: a link to a
    /// file elsewhere (`/proc/self/environ`) is an error that names it, unread, and links to
    /// directories are not descended into.
    ///
    /// # Errors
    ///
    /// A path cannot be read, or a link leaves the directory.
    pub fn read_all(path: &Path) -> Result<Vec<Self>, Error> {
        Self::paths(path)?.iter().map(|p| Self::read(p)).collect()
    }

    /// Lists the files [`FixtureSource::read_all`] reads, without reading them.
    pub(crate) fn paths(path: &Path) -> Result<Vec<PathBuf>, Error> {
        let meta = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
        if !meta.is_dir() {
            return Ok(vec![path.to_path_buf()]);
        }
        walk::files(path, &["yaml", "yml", "json"], &Links::inside([path]))
    }

    /// Gets the name shown in errors, e.g. `fixtures/users.yaml`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Gets the text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// `file:line:col` of a byte offset.
    pub(crate) fn location(&self, offset: usize) -> FixtureLocation {
        let starts = self.lines.get_or_init(|| yaml::line_starts(&self.text));
        let (line, col) = yaml::line_col_in(&self.text, starts, offset);
        FixtureLocation {
            file: self.name.clone(),
            line,
            col,
        }
    }
}

impl Located for FixtureSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn shared_text(&self) -> Arc<str> {
        self.text.clone()
    }

    fn location(&self, offset: usize) -> FixtureLocation {
        FixtureSource::location(self, offset)
    }
}
