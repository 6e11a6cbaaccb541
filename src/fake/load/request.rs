//! What the admin API reads besides stubs: a verification request, written in the fixture
//! language — the `when` vocabulary and an `expect` count — and checked as strictly as a
//! fixture file, with errors located in the request body.
//!
//! ```yaml
//! method: userservice.UserService/GetUser
//! when:
//!   message: { user_id: "42" }
//! expect: 1            # or never, { at_least: 1 }, { at_most: 3 }; default { at_least: 1 }
//! ```

use super::{
    convert::Converter,
    diagnostic::{Code, FixtureErrors},
    expect::expect,
    shape::{keys, scalar_text},
    source::FixtureSource,
    stub::find_method,
    when::when,
    yaml,
};
use crate::{
    Schema,
    fake::{
        model::{Expect, Matcher},
        template::{Scope, TemplateCompiler},
    },
    schema::method_name,
};

/// A verification: which calls (method and `when`), and how many are expected.
#[derive(Debug)]
pub(crate) struct VerifyRequest {
    /// `package.Service/Method`.
    pub(crate) method: String,
    pub(crate) when: Vec<Matcher>,
    pub(crate) expect: Expect,
    /// The session whose calls count (`None`: every call).
    pub(crate) session: Option<String>,
}

/// Reads a verification request (YAML or JSON).
///
/// # Errors
///
/// Every problem, located in the request body.
pub(crate) fn verify_request(
    schema: &Schema,
    source: &FixtureSource,
) -> Result<VerifyRequest, FixtureErrors> {
    let mut errors = FixtureErrors::default();
    let request = read(schema, source, &mut errors);
    match request {
        Some(request) if errors.is_empty() => Ok(request),
        _ => Err(errors),
    }
}

fn read(
    schema: &Schema,
    source: &FixtureSource,
    errors: &mut FixtureErrors,
) -> Option<VerifyRequest> {
    let mut conv = Converter::new(source, errors);
    let docs = match yaml::parse(source.text()) {
        Ok(docs) => docs,
        Err(err) => {
            super::syntax_error(&mut conv, source, &err);
            return None;
        }
    };
    let Some(doc) = docs.iter().find(|d| !d.is_null()) else {
        conv.error(0..0, Code::TopLevel, "the request body is empty")
            .label("empty")
            .help("send `{\"method\": \"pkg.Service/Method\", \"when\": {…}, \"expect\": 1}`")
            .emit(&mut conv);
        return None;
    };
    let keys = keys(
        &mut conv,
        doc,
        ["method", "when", "expect", "session"],
        "a verification",
    )?;
    let Some(&(_, method_node)) = keys.get("method") else {
        conv.error(
            doc.span.start..doc.span.start,
            Code::MissingMethod,
            "the verification has no `method`",
        )
        .label("here")
        .help("name the method, e.g. `\"method\": \"userservice.UserService/GetUser\"`")
        .emit(&mut conv);
        return None;
    };
    let method = find_method(schema, &mut conv, method_node)?;
    let mut templates = TemplateCompiler::new();
    let scope = Scope::new(method.input());
    let matchers = match keys.get("when") {
        Some(&(_, node)) => when(&mut conv, &mut templates, &scope, &method, node),
        None => Vec::new(),
    };
    let expect = match keys.get("expect") {
        Some(&(_, node)) => expect(&mut conv, node)?,
        None => Expect::at_least(1),
    };
    let session = match keys.get("session") {
        Some(&(_, node)) => Some(scalar_text(&mut conv, node, "a session name")?.to_owned()),
        None => None,
    };
    templates.finish();
    Some(VerifyRequest {
        method: method_name(&method),
        when: matchers,
        expect,
        session,
    })
}
