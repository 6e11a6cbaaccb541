//! Diagnostics whose rendering is bounded, whatever the input.
//!
//! A parser that recovers after each error reports one error per bad token: a megabyte of
//! garbage makes tens of thousands of them. Rendered in full, each error prints its snippet (a
//! single-line file prints the whole line every time) and looks its line up from the start of
//! the file, so the report grows with errors × line length and takes time to match. Two bounds
//! keep every report small and quick, while the full list stays available to code:
//!
//! - [`Bounded`] shows the first [`MAX_REPORTED`] related errors, then one line saying how many
//!   more there are;
//! - [`Windowed`] cuts a snippet whose lines are long to a window of [`SNIPPET_WIDTH`] bytes on
//!   either side of the label (minified or generated files put everything on one line).

use std::fmt;

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode, SourceSpan,
    SpanContents,
};

/// How many related errors a report shows before summarising the rest.
pub(crate) const MAX_REPORTED: usize = 50;

/// How many bytes of a long line a snippet shows on each side of its label.
pub(crate) const SNIPPET_WIDTH: usize = 120;

/// Snippets up to this size are shown as they are (context lines included).
const MAX_SNIPPET: usize = 4 * SNIPPET_WIDTH;

/// The longest stretch of a label a cut snippet shows.
const MAX_LABEL: usize = 2 * SNIPPET_WIDTH;

/// Reads `span` from `source`, cut to a window around the span when its lines are long.
fn read_windowed<'a>(
    source: &'a dyn SourceCode,
    span: &SourceSpan,
    before: usize,
    after: usize,
) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
    let contents = source.read_span(span, before, after)?;
    let data = contents.data();
    if data.len() <= MAX_SNIPPET {
        return Ok(contents);
    }
    // The contents hold the span's lines (and context lines around them): keep the span's own
    // lines, from SNIPPET_WIDTH bytes before the label to SNIPPET_WIDTH bytes after it.
    let base = contents.span().offset();
    let label = span.offset().saturating_sub(base).min(data.len());
    let label_end = (label + span.len().min(MAX_LABEL)).min(data.len());
    let line_start = data[..label]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line_end = data[label_end..]
        .iter()
        .position(|b| matches!(b, b'\n' | b'\r'))
        .map_or(data.len(), |i| label_end + i);
    let mut start = label.saturating_sub(SNIPPET_WIDTH).max(line_start);
    while start < label && is_continuation(data[start]) {
        start += 1;
    }
    let mut end = (label_end + SNIPPET_WIDTH).min(line_end);
    while end < line_end && is_continuation(data[end]) {
        end += 1;
    }
    let window = &data[start..end];
    let newlines = |bytes: &[u8]| bytes.iter().filter(|b| **b == b'\n').count();
    let line = contents.line() + newlines(&data[..start]);
    let column = if line_start == 0 {
        contents.column() + start
    } else {
        start - line_start
    };
    let at = SourceSpan::new((base + start).into(), window.len());
    let lines = newlines(window);
    Ok(Box::new(match contents.name().map(str::to_owned) {
        Some(name) => MietteSpanContents::new_named(name, window, at, line, column, lines),
        None => MietteSpanContents::new(window, at, line, column, lines),
    }))
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// Source code whose snippets are cut to a window around the label when lines are long.
#[derive(Debug, Clone)]
pub(crate) struct Windowed<S>(pub(crate) S);

impl<S: SourceCode> SourceCode for Windowed<S> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        read_windowed(&self.0, span, before, after)
    }
}

/// "… and N more errors", the last related diagnostic of a capped report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct More {
    count: usize,
}

impl More {
    /// The summary for `total` related diagnostics, when they are more than are shown.
    pub(crate) fn of(total: usize) -> Option<Self> {
        (total > MAX_REPORTED).then(|| More {
            count: total - MAX_REPORTED,
        })
    }
}

impl fmt::Display for More {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "… and {} more error{s}", self.count)
    }
}

impl std::error::Error for More {}

impl Diagnostic for More {
    fn severity(&self) -> Option<Severity> {
        Some(Severity::Advice)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(
            "fix the first errors: later ones often follow from them",
        ))
    }
}

/// Caps an iterator of related diagnostics at [`MAX_REPORTED`], then adds `more`.
pub(crate) fn capped<'a>(
    related: impl Iterator<Item = &'a dyn Diagnostic> + 'a,
    more: Option<&'a More>,
) -> Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a> {
    Box::new(
        related
            .take(MAX_REPORTED)
            .chain(more.map(|m| m as &dyn Diagnostic)),
    )
}

/// A diagnostic rendered with at most [`MAX_REPORTED`] related diagnostics and windowed
/// snippets; everything else is forwarded.
pub(crate) struct Bounded<D> {
    inner: D,
    more: Option<More>,
}

impl<D: Diagnostic> Bounded<D> {
    pub(crate) fn new(inner: D) -> Self {
        let total = inner.related().map_or(0, Iterator::count);
        Self {
            inner,
            more: More::of(total),
        }
    }
}

impl<D: fmt::Debug> fmt::Debug for Bounded<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<D: fmt::Display> fmt::Display for Bounded<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl<D: std::error::Error> std::error::Error for Bounded<D> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl<D: Diagnostic + Send + Sync> SourceCode for Bounded<D> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let source = self.inner.source_code().ok_or(MietteError::OutOfBounds)?;
        read_windowed(source, span, before, after)
    }
}

impl<D: Diagnostic + Send + Sync> Diagnostic for Bounded<D> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.code()
    }

    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.help()
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.url()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.inner.source_code().map(|_| self as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.inner.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.inner
            .related()
            .map(|related| capped(related, self.more.as_ref()))
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}
