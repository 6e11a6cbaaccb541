//! Located fixture errors.
//!
//! Every problem found while loading fixtures becomes a [`FixtureError`] that knows its file,
//! byte span, a short label for the snippet and, where a fix is known, a hint. The loader keeps
//! going after an error so that one run reports every problem ([`FixtureErrors`]).

use std::{fmt, ops::Range, path::Path, sync::Arc};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use super::yaml;
use crate::error::{Error, Result};

/// A fixture file's name and text, shared by every diagnostic that points into it.
#[derive(Debug, Clone)]
pub struct FixtureSource {
    name: Arc<str>,
    text: Arc<str>,
}

impl FixtureSource {
    /// Creates a source from a name (shown in errors, e.g. a path) and its text.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a fixture file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not UTF-8.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        Ok(Self::new(path.display().to_string(), text))
    }

    /// Reads a fixture file, or every `.yaml`, `.yml` and `.json` file below a directory (sorted by
    /// path, so that file order, which breaks priority ties, is stable).
    ///
    /// # Errors
    ///
    /// A path cannot be read.
    pub fn read_all(path: &Path) -> Result<Vec<Self>> {
        let meta = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
        if !meta.is_dir() {
            return Ok(vec![Self::read(path)?]);
        }
        let mut files = Vec::new();
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|err| Error::io(&dir, err))? {
                let path = entry.map_err(|err| Error::io(&dir, err))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                {
                    files.push(path);
                }
            }
        }
        files.sort();
        files.iter().map(|p| Self::read(p)).collect()
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
    pub(crate) fn location(&self, offset: usize) -> Location {
        let (line, col) = yaml::line_col(&self.text, offset);
        Location {
            file: self.name.clone(),
            line,
            col,
        }
    }
}

/// A place in a fixture file, printed `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The fixture file's name.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// One problem in a fixture file, with its location, a label and a hint.
#[derive(Debug, Clone)]
pub struct FixtureError {
    code: &'static str,
    message: String,
    label: String,
    help: Option<String>,
    location: Location,
    span: Range<usize>,
    source: NamedSource<Arc<str>>,
}

impl FixtureError {
    pub(crate) fn new(
        source: &FixtureSource,
        span: Range<usize>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            label: String::new(),
            help: None,
            location: source.location(span.start),
            span,
            source: NamedSource::new(&source.name, source.text.clone()),
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Gets where the problem is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Gets the message, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Gets the stable error code, e.g. `grpc_double::fixture::unknown_field`.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for FixtureError {}

impl Diagnostic for FixtureError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = (!self.label.is_empty()).then(|| self.label.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label,
            self.span.clone(),
        ))))
    }
}

/// An error being built: its parts before the source is attached.
pub(crate) struct PendingError {
    pub(crate) span: Range<usize>,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) label: String,
    pub(crate) help: Option<String>,
}

impl PendingError {
    pub(crate) fn new(span: Range<usize>, code: &'static str, message: String) -> Self {
        Self {
            span,
            code,
            message,
            label: String::new(),
            help: None,
        }
    }

    pub(crate) fn finish(self, source: &FixtureSource) -> FixtureError {
        FixtureError::new(source, self.span, self.code, self.message)
            .label(self.label)
            .maybe_help(self.help)
    }
}

/// Every problem found in a set of fixtures; `serve` and `check` print them all and exit 1.
#[derive(Debug, Clone, Default)]
pub struct FixtureErrors {
    errors: Vec<FixtureError>,
}

impl FixtureErrors {
    pub(crate) fn push(&mut self, error: FixtureError) {
        self.errors.push(error);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Gets the problems, in file order.
    pub fn errors(&self) -> &[FixtureError] {
        &self.errors
    }
}

impl fmt::Display for FixtureErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            1 => write!(f, "invalid fixture: {}", self.errors[0]),
            n => write!(f, "{n} problems in fixtures"),
        }
    }
}

impl std::error::Error for FixtureErrors {}

impl Diagnostic for FixtureErrors {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("grpc_double::fixture"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(
            "docs/fixtures.md describes the fixture language; `grpc-double check` validates without serving",
        ))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}
