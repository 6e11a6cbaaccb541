//! Located fixture errors: one type, [`FixtureError`], and one table of codes, [`Code`].
//!
//! A problem is described where it is found — a code, a message, a label for the snippet and,
//! where a fix is known, a hint — and located ([`FixtureError::at`]) by the loader, which knows
//! the file and the byte span. The loader keeps going after an error so that one run reports
//! every problem ([`FixtureErrors`]).

use std::{fmt, ops::Range, sync::Arc};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::{
    bounded::{More, Windowed, capped},
    fake::model::FixtureLocation,
};

/// What a problem is located in: a named text (a fixture file).
pub(crate) trait Located {
    /// The name shown in errors, e.g. `fixtures/users.yaml`.
    fn name(&self) -> &str;
    /// The whole text, shared with every diagnostic that points into it.
    fn shared_text(&self) -> Arc<str>;
    /// `file:line:col` of a byte offset.
    fn location(&self, offset: usize) -> FixtureLocation;
}

macro_rules! codes {
    ($($variant:ident => $id:literal: $meaning:literal,)*) => {
        /// Every fixture error code, with what it means (docs/fixtures.md lists this table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Code {
            $(#[doc = $meaning] $variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// Gets the stable code, e.g. `grpc_double::fixture::unknown_field`.
            pub(crate) fn id(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!("grpc_double::fixture::", $id),)*
                }
            }

            /// Gets what the code means, for docs.
            #[cfg(test)]
            pub(crate) fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    Yaml => "yaml": "a YAML syntax error, a duplicate key, or aliases that expand too far",
    Encoding => "encoding": "a fixture file that is not UTF-8",
    TopLevel => "top_level": "the file is not a list of stubs",
    UnknownKey => "unknown_key": "a key that stubs, `when`, `then`, `status` or stream items do not take",
    ExpectedMapping => "expected_mapping": "a stub, `when`, `then` or metadata that is not a mapping",
    ExpectedScalar => "expected_scalar": "a list or mapping where an id, name, method, code or duration goes",
    MissingMethod => "missing_method": "a stub without `method`",
    UnknownMethod => "unknown_method": "a method that the loaded protos do not define",
    DuplicateId => "duplicate_id": "two stubs with the same `id`",
    BadPriority => "bad_priority": "a priority that is not an integer",
    MissingThen => "missing_then": "a stub without `then`",
    EmptyThen => "empty_then": "a `then` with neither a message nor an error status",
    ExpectedMessage => "expected_message": "a message written as something other than a mapping of fields",
    ExpectedList => "expected_list": "a repeated field, `stream`, `messages` or `details` that is not a list",
    ExpectedMap => "expected_map": "a map field that is not a mapping",
    BadKey => "bad_key": "a field name or map key that is not a plain scalar",
    UnknownField => "unknown_field": "a field that the message does not have",
    TypeMismatch => "type_mismatch": "a value of the wrong type for its field",
    OutOfRange => "out_of_range": "a number out of range for its field's type",
    BadBytes => "bad_bytes": "a bytes value that is not base64",
    UnknownEnumValue => "unknown_enum_value": "an enum value name or number that the enum does not have",
    OneofConflict => "oneof_conflict": "two members of one oneof",
    WellKnownType => "well_known_type": "an invalid Timestamp, Duration, FieldMask, Struct or other well-known-type value",
    AnyType => "any_type": "an `Any` without `\"@type\"`",
    UnknownType => "unknown_type": "an `\"@type\"` that names no loaded message type",
    TemplateSyntax => "template_syntax": "a template that does not parse",
    TemplateVariable => "template_variable": "a template variable that templates do not have",
    TemplateHelper => "template_helper": "a test (`x is name`) or filter (`x | name`) that templates do not have",
    TemplateField => "template_field": "a `request.<field>` reference to a field the input type does not have",
    TemplateInMatcher => "template_in_matcher": "a template in `when` (use `when.expr`)",
    StreamMatcher => "stream_matcher": "`message` or `messages` in `when` on the wrong kind of method",
    StreamOnUnary => "stream_on_unary": "`then.stream` on a method that returns one message",
    StreamItem => "stream_item": "a stream item without `message`",
    MessageAndStream => "message_and_stream": "a `then` with both `message` and `stream`",
    MessageAndError => "message_and_error": "a unary or client-streaming reply with both a message and an error status",
    BadStatus => "status_code": "a missing or unknown status code",
    BadHeader => "bad_header": "an invalid header name or value",
    BadOperator => "bad_operator": "a matching operator that does not apply to its field, or an invalid pattern",
    BadScenario => "bad_scenario": "`when.state` or `set_state` without a `scenario`",
    BadSequence => "bad_sequence": "an empty `sequence`, or a `repeat` or `times` that is not a positive number",
    BadConversation => "bad_conversation": "a conversation step that does not apply, or a conversation on a method that receives one message",
    BadMode => "bad_mode": "a `mode` other than `reactive` or `collect` (bidi methods only)",
    BadFault => "bad_fault": "an unknown HTTP/2 error code for `abort`",
    BadHealth => "bad_health": "a health status other than SERVING, NOT_SERVING or UNKNOWN",
    BadDuration => "bad_duration": "a delay that is not a duration",
    BadExpect => "bad_expect": "an `expect` that is not a count (`1`, `never`, `{ at_least: 1 }`, `{ at_most: 3 }`)",
}

/// One problem in a fixture file, with its location, a label and a hint.
#[derive(Debug, Clone)]
pub struct FixtureError(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    code: Code,
    message: String,
    label: String,
    help: Option<String>,
    location: FixtureLocation,
    span: Range<usize>,
    source: Option<Windowed<NamedSource<Arc<str>>>>,
}

impl FixtureError {
    /// A problem, not yet located.
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            code,
            message: message.into(),
            label: String::new(),
            help: None,
            location: FixtureLocation {
                file: Arc::from(""),
                line: 0,
                col: 0,
            },
            span: 0..0,
            source: None,
        }))
    }

    /// Sets the label shown under the snippet.
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.0.label = label.into();
        self
    }

    /// Sets the hint that says how to fix it.
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// Locates the problem at `span` of `source`.
    pub(crate) fn at(mut self, source: &impl Located, span: Range<usize>) -> Self {
        self.0.location = source.location(span.start);
        self.0.source = Some(Windowed(NamedSource::new(
            source.name(),
            source.shared_text(),
        )));
        self.0.span = span;
        self
    }

    /// Gets where the problem is.
    pub fn location(&self) -> &FixtureLocation {
        &self.0.location
    }

    /// Gets the message, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub(crate) fn set_message(&mut self, message: String) {
        self.0.message = message;
    }

    /// Gets the hint that says how to fix it, if there is one.
    pub fn hint(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// Gets the stable error code, e.g. `grpc_double::fixture::unknown_field`.
    pub fn code(&self) -> &'static str {
        self.0.code.id()
    }
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.location, self.0.message)
    }
}

impl std::error::Error for FixtureError {}

impl Diagnostic for FixtureError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.0.code.id()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.source.as_ref()?;
        let label = (!self.0.label.is_empty()).then(|| self.0.label.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label,
            self.0.span.clone(),
        ))))
    }
}

/// Every problem found in a set of fixtures; `serve` and `check` print them all and exit 1.
#[derive(Debug, Clone, Default)]
pub struct FixtureErrors {
    errors: Vec<FixtureError>,
    /// The summary shown after the first related errors, when there are more.
    more: Option<More>,
}

impl FixtureErrors {
    pub(crate) fn push(&mut self, error: FixtureError) {
        self.errors.push(error);
        self.more = More::of(self.errors.len());
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
        // A report shows the first errors and counts the rest; `errors()` has them all.
        Some(capped(
            self.errors.iter().map(|e| e as &dyn Diagnostic),
            self.more.as_ref(),
        ))
    }
}

impl From<FixtureErrors> for crate::Error {
    fn from(errors: FixtureErrors) -> Self {
        crate::Error::diagnostics(errors)
    }
}

impl crate::Error {
    /// Gets the fixture diagnostics when this error is a failed fixture validation.
    pub fn fixture_errors(&self) -> Option<&FixtureErrors> {
        self.diagnostics_as::<FixtureErrors>()
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn docs_list_every_fixture_error_code_with_its_meaning() {
        let docs = include_str!("../../../docs/fixtures.md");
        for code in Code::ALL {
            let row = format!("| `{}` | {} |", code.id(), code.meaning());
            assert!(docs.contains(&row), "docs/fixtures.md lacks the row\n{row}");
        }
    }
}
