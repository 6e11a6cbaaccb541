//! Entry points for the coverage-guided fuzz targets in `fuzz/` (hidden from the docs: not an
//! API). Each runs one path of the fake on untrusted input the way the server or the loader
//! runs it, and must return, never panic, whatever the bytes: the fixture loader with its
//! rendered diagnostics, a request decoded and matched against stubs with its reply rendered,
//! and one template compiled and rendered against a decoded request.

use std::{
    sync::{Arc, OnceLock},
    time::SystemTime,
};

use prost_reflect::DynamicMessage;
use tonic::metadata::MetadataMap;

use super::{
    load::FixtureSource,
    model::Fixtures,
    serve,
    template::{
        self, CallEnv, CallScope, CallVars, Received, RequestMetadata, Scope, TemplateCompiler,
    },
};
use crate::{
    Schema,
    schema::value::{flat::FlatDecoder, lazy::LazyMessage},
};

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(Schema::bundled)
}

/// Renders a diagnostic as the CLI does (the graphical handler, no colour).
fn render(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    // A failed render is a bug too: the handler reports it as a formatting error.
    handler
        .render_report(&mut out, diagnostic)
        .unwrap_or_else(|err| panic!("the report of a fixture error failed to render: {err}"));
    out
}

/// Loads fixture text against the bundled schema, renders every error, lints what loads.
pub fn fixtures(text: &str) {
    match Fixtures::load(schema(), &[FixtureSource::new("fuzz.yaml", text)]) {
        Ok(fixtures) => {
            let _ = fixtures.lint(schema());
        }
        Err(errors) => {
            assert!(!errors.errors().is_empty(), "a failed load names a problem");
            let _ = render(&errors);
        }
    }
}

/// Fixtures for [`request`]: loaded once from the given text (which must load).
///
/// # Panics
///
/// The fixture text does not load.
pub fn request_fixtures(text: &str) -> Fixtures {
    Fixtures::load(schema(), &[FixtureSource::new("fuzz.yaml", text)])
        .unwrap_or_else(|err| panic!("the fuzz fixtures load: {err}"))
}

/// Answers a unary call of the bundled schema's method `method % 4` whose request is `bytes`,
/// with one `x-fuzz` header: decode, match, render.
pub fn request(fixtures: &Fixtures, method: u8, header: &str, bytes: &[u8]) {
    let methods: Vec<_> = schema()
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    let Some(method) = methods.get(usize::from(method) % methods.len().max(1)) else {
        return;
    };
    let mut metadata = MetadataMap::new();
    if let Ok(value) = header.parse() {
        metadata.insert("x-fuzz", value);
    }
    if let Ok(messages) = serve::answer(fixtures, method, metadata, bytes) {
        for message in messages {
            // What is sent decodes as the method's output.
            DynamicMessage::decode(method.output(), message.as_slice())
                .unwrap_or_else(|err| panic!("a rendered reply does not decode: {err}"));
        }
    }
}

/// Compiles `text` as a reply template of `userservice.UserService/GetUser` and renders it
/// against a request decoded from `bytes` as the server keeps it (bytes read field by field,
/// for a flat input type) — an empty request when they do not decode.
pub fn template(text: &str, bytes: &[u8]) {
    let Some(method) = schema().method("userservice.UserService/GetUser") else {
        return;
    };
    let mut compiler = TemplateCompiler::new();
    let Ok(compiled) = compiler.compile(text, &Scope::new(method.input())) else {
        return;
    };
    compiler.finish();
    let flat = FlatDecoder::new(&method.input()).map(Arc::new);
    let mut bytes = bytes::Bytes::copy_from_slice(bytes);
    let message = serve::codec::decode_frame(&method.input(), flat.as_ref(), &mut bytes, |_| {})
        .unwrap_or_else(|_| Arc::new(LazyMessage::decoded(DynamicMessage::new(method.input()))));
    let received = Received::one(message.clone());
    let env = Arc::new(CallEnv::new(1, 7, SystemTime::UNIX_EPOCH));
    let ctx = template::context(CallVars {
        request: Some(message),
        scope: Arc::new(CallScope {
            received,
            metadata: Arc::new(RequestMetadata::new(MetadataMap::new())),
            method: Arc::from("userservice.UserService/GetUser"),
            env,
        }),
        len: 1,
        attempt: None,
        state: None,
    });
    let _ = compiled.render(&ctx);
    let _ = compiled.render_text(&ctx);
}
