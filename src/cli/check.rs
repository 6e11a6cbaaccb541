//! `grpc-double check`: validate fixtures without serving, and lint them — for CI.
//!
//! Errors (fixtures that do not load) exit 1; warnings (stubs that never answer, scenario states
//! nothing reaches) exit 0 unless `--deny-warnings`; notes (RPCs without stubs) never fail.
//! `--format json` and `--format github-actions` are for tools and CI annotations.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, ValueEnum};
use grpc_double::{FixtureErrors, FixtureSource, Fixtures, Lint, LintLevel, schema::Input};

use super::{
    SchemaArgs, exit,
    output::{CliError, Out},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// Lines for people.
    Text,
    /// One JSON document: errors, lints and coverage.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`), for annotations.
    GithubActions,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    /// Fixture drift: the old contract the fixtures were written against — a .proto file, a
    /// directory, a descriptor set, or a git ref of this repository (`.git#branch=main,subdir=proto`).
    /// Lists every stub that would fail to load against the new protos or silently change
    /// meaning; exits 1 if there is any.
    #[arg(long, value_name = "INPUT")]
    against: Option<String>,
    /// Include path for the --against protos. Repeatable.
    #[arg(long = "against-include", value_name = "DIR")]
    against_includes: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
    /// Exit 1 on warnings too (stubs that can never answer, unreachable scenario states).
    #[arg(long)]
    deny_warnings: bool,
    /// Also print how many stubs answer each RPC.
    #[arg(long)]
    coverage: bool,
}

pub(crate) fn run(args: &CheckArgs) -> Result<ExitCode, CliError> {
    if let Some(against) = &args.against {
        return drift(args, against);
    }
    let schema = args.schema.schema()?;
    let sources = args.schema.fixture_sources()?;
    let mut out = Out::new();
    let fixtures = match Fixtures::load(&schema, &sources) {
        Ok(fixtures) => fixtures,
        Err(errors) if args.format == CheckFormat::Text => return Err(errors.into()),
        Err(errors) => {
            out.write(&render_errors(&errors, args.format))?;
            return Ok(exit::code(exit::ERROR));
        }
    };
    let lints = fixtures.lint(&schema);
    let warnings = lints
        .iter()
        .filter(|l| l.level == LintLevel::Warning)
        .count();
    match args.format {
        CheckFormat::Text => {
            let files: Vec<&str> = sources.iter().map(FixtureSource::name).collect();
            let methods = fixtures.methods().len();
            out.line(format_args!(
                "ok: {} stub{} for {methods} method{} in {}",
                fixtures.len(),
                plural(fixtures.len()),
                plural(methods),
                if files.is_empty() {
                    "no fixture files".to_owned()
                } else {
                    files.join(", ")
                }
            ))?;
            for lint in &lints {
                let level = match lint.level {
                    LintLevel::Warning => "warning",
                    _ => "note",
                };
                match &lint.location {
                    Some(at) => out.line(format_args!("{at}: {level}: {}", lint.message))?,
                    None => out.line(format_args!("{level}: {}", lint.message))?,
                }
            }
            if args.coverage {
                out.line("coverage:")?;
                for entry in fixtures.coverage(&schema) {
                    out.line(format_args!("  {:>4}  {}", entry.stubs, entry.method))?;
                }
            }
        }
        CheckFormat::Json => {
            let value = serde_json::json!({
                "ok": true,
                "stubs": fixtures.len(),
                "errors": [],
                "lints": lints.iter().map(lint_json).collect::<Vec<_>>(),
                "coverage": fixtures.coverage(&schema).iter().map(|c| serde_json::json!({
                    "method": c.method,
                    "stubs": c.stubs,
                })).collect::<Vec<_>>(),
            });
            out.line(value)?;
        }
        CheckFormat::GithubActions => {
            for lint in &lints {
                let command = match lint.level {
                    LintLevel::Warning => "warning",
                    _ => "notice",
                };
                out.line(annotation(command, lint.location.as_ref(), &lint.message))?;
            }
        }
    }
    let failed = args.deny_warnings && warnings > 0;
    Ok(exit::code(if failed { exit::ERROR } else { exit::OK }))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn lint_json(lint: &Lint) -> serde_json::Value {
    serde_json::json!({
        "level": match lint.level { LintLevel::Warning => "warning", _ => "note" },
        "code": lint.code,
        "message": lint.message,
        "file": lint.location.as_ref().map(|l| l.file.to_string()),
        "line": lint.location.as_ref().map(|l| l.line),
        "col": lint.location.as_ref().map(|l| l.col),
    })
}

/// Fixture errors for tools: JSON, or GitHub annotations.
fn render_errors(errors: &FixtureErrors, format: CheckFormat) -> String {
    match format {
        CheckFormat::Json => {
            let value = serde_json::json!({
                "ok": false,
                "errors": errors.errors().iter().map(|e| serde_json::json!({
                    "level": "error",
                    "code": e.code(),
                    "message": e.message(),
                    "file": e.location().file.to_string(),
                    "line": e.location().line,
                    "col": e.location().col,
                })).collect::<Vec<_>>(),
                "lints": [],
            });
            format!("{value}\n")
        }
        _ => errors
            .errors()
            .iter()
            .map(|e| annotation("error", Some(e.location()), e.message()) + "\n")
            .collect(),
    }
}

/// A GitHub Actions workflow command; `%`, CR and LF escaped as the runner expects.
fn annotation(command: &str, at: Option<&grpc_double::FixtureLocation>, message: &str) -> String {
    let escape = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    match at {
        Some(at) => format!(
            "::{command} file={},line={},col={}::{}",
            property(&at.file),
            at.line,
            at.col,
            escape(message)
        ),
        None => format!("::{command}::{}", escape(message)),
    }
}

fn drift(args: &CheckArgs, against: &str) -> Result<ExitCode, CliError> {
    let old = Input::parse(against)?.load(&args.against_includes)?;
    let new = args.schema.schema()?;
    let sources = args.schema.fixture_sources()?;
    let mut out = Out::new();
    let drifts = grpc_double::fixture_drift(&old, &new, &sources).map_err(|errors| {
        CliError::Usage {
            message: format!("the fixtures do not load against the old contract either ({} problems); fix them first", errors.errors().len()),
            help: Some("run `grpc-double check` with the old protos to see them".into()),
        }
    })?;
    if drifts.is_empty() {
        out.line(format_args!(
            "ok: no fixture drift between {against} and the new protos"
        ))?;
        return Ok(exit::code(exit::OK));
    }
    for drift in &drifts {
        let level = if drift.breaks { "error" } else { "warning" };
        out.line(format_args!(
            "{}: {level}: {}",
            drift.location, drift.message
        ))?;
    }
    let breaks = drifts.iter().filter(|d| d.breaks).count();
    out.line(format_args!(
        "drift: {} problem{} ({breaks} would fail to load, {} would silently change meaning)",
        drifts.len(),
        plural(drifts.len()),
        drifts.len() - breaks
    ))?;
    Ok(exit::code(exit::ERROR))
}
