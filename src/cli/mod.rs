//! The `grpc-double` command line (clap only; every command calls into the library).

mod breaking;
mod exit;
mod logging;
mod output;
mod roundtrip;
mod rules;
mod serve;

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use grpc_double::{
    BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, FixtureSource, Fixtures, Schema,
    schema::{Input, Loader},
};

use self::output::{CliError, Out};

/// A scriptable fake gRPC server, a buf-compatible breaking-change checker, and
/// property-tested protobuf round trips.
#[derive(Debug, Parser)]
#[command(name = "grpc-double", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Only log warnings and errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Logging"
    )]
    quiet: bool,
    /// Log more: -v for debug, -vv for trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Logging")]
    verbose: u8,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "GRPC_DOUBLE_LOG_FORMAT", help_heading = "Logging")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC services from fixtures. With no --proto and no --fixtures, serves the bundled
    /// userservice.UserService from fixtures/users.yaml.
    Serve(serve::ServeArgs),
    /// Validate fixtures against protos without serving; exits 0 when every stub loads, 1 if not.
    Check(CheckArgs),
    /// Check that protos have no breaking changes against a previous version (a drop-in for
    /// `buf breaking`); exits 100 when there are.
    Breaking(breaking::BreakingArgs),
    /// List every breaking-change rule with its categories and purpose.
    Rules(rules::RulesArgs),
    /// Property-test round trips of every message type (binary and JSON), or with --against
    /// OLD, check that data written with OLD reads back unchanged; exits 0 when all hold, 1 if not.
    Roundtrip(roundtrip::RoundtripArgs),
}

/// Where the protos come from.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// A .proto file, or a directory searched recursively for .proto files. Repeatable.
    /// Default: the bundled proto/users.proto.
    #[arg(
        long = "proto",
        value_name = "PATH",
        env = "GRPC_DOUBLE_PROTO",
        value_delimiter = ','
    )]
    protos: Vec<PathBuf>,
    /// An include path for imports (like protoc's -I), searched before each --proto's own
    /// directory (always one). A file is named relative to the first that holds it. Repeatable.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    includes: Vec<PathBuf>,
    /// A binary FileDescriptorSet (`buf build -o x.binpb`, `protoc --include_imports -o x.binpb`).
    /// Repeatable.
    #[arg(long = "descriptor-set", value_name = "FILE")]
    descriptor_sets: Vec<PathBuf>,
    /// A fixture file (.yaml, .yml, .json), or a directory searched recursively. Repeatable.
    /// Default: the bundled fixtures/users.yaml when no proto is given.
    #[arg(
        long = "fixtures",
        value_name = "PATH",
        env = "GRPC_DOUBLE_FIXTURES",
        value_delimiter = ','
    )]
    fixtures: Vec<PathBuf>,
}

impl SchemaArgs {
    fn uses_bundled_schema(&self) -> bool {
        self.protos.is_empty() && self.descriptor_sets.is_empty()
    }

    /// Compiles the protos, or the bundled contract when none is given.
    pub(crate) fn schema(&self) -> Result<Schema, CliError> {
        if self.uses_bundled_schema() {
            return Ok(Schema::bundled());
        }
        let mut loader = Loader::new();
        self.includes.iter().for_each(|i| {
            loader.include(i);
        });
        self.protos.iter().for_each(|p| {
            loader.proto(p);
        });
        self.descriptor_sets.iter().for_each(|d| {
            loader.descriptor_set(d);
        });
        Ok(loader.load()?)
    }

    /// Reads the fixture files, or the bundled ones when neither protos nor fixtures are given.
    pub(crate) fn fixture_sources(&self) -> Result<Vec<FixtureSource>, CliError> {
        if self.fixtures.is_empty() && self.uses_bundled_schema() {
            return Ok(vec![FixtureSource::new(
                BUNDLED_FIXTURES_NAME,
                BUNDLED_FIXTURES,
            )]);
        }
        let mut sources = Vec::new();
        for path in &self.fixtures {
            sources.extend(FixtureSource::read_all(path)?);
        }
        Ok(sources)
    }

    /// Loads the schema and validates the fixtures against it.
    pub(crate) fn load(&self) -> Result<(Schema, Fixtures, Vec<FixtureSource>), CliError> {
        let schema = self.schema()?;
        let sources = self.fixture_sources()?;
        let fixtures = Fixtures::load(&schema, &sources)?;
        Ok((schema, fixtures, sources))
    }
}

#[derive(Debug, Args)]
struct CheckArgs {
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
}

/// Parses the command line and runs the command; errors are reported here.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    let terminal = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(terminal)
                .terminal_links(false)
                .build(),
        )
    }));
    logging::init(cli.quiet, cli.verbose, cli.log_format == LogFormat::Json);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Check(args) => check(&args),
        Command::Breaking(args) => breaking::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::Roundtrip(args) => roundtrip::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader went away: nothing left to say, and nothing went wrong.
        Err(CliError::ClosedPipe) => exit::code(exit::OK),
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(err));
            exit::code(exit::ERROR)
        }
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode, CliError> {
    if let Some(against) = &args.against {
        return drift(args, against);
    }
    let (schema, fixtures, sources) = args.schema.load()?;
    let mut out = Out::new();
    let files: Vec<&str> = sources.iter().map(FixtureSource::name).collect();
    out.line(format_args!(
        "ok: {} stub{} for {} method{} in {}",
        fixtures.len(),
        if fixtures.len() == 1 { "" } else { "s" },
        fixtures.methods().len(),
        if fixtures.methods().len() == 1 {
            ""
        } else {
            "s"
        },
        if files.is_empty() {
            "no fixture files".to_owned()
        } else {
            files.join(", ")
        }
    ))?;
    for (stub, by) in fixtures.shadowed() {
        out.line(format_args!(
            "warning: {stub} can never match: {by} has no `when` and is tried first"
        ))?;
    }
    let covered = fixtures.methods();
    for service in schema.services() {
        for method in service.methods() {
            let name = grpc_double::schema::method_name(&method);
            if !covered.contains(&name) {
                out.line(format_args!(
                    "note: {name} has no stub; calls to it answer UNIMPLEMENTED"
                ))?;
            }
        }
    }
    Ok(exit::code(exit::OK))
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
        if drifts.len() == 1 { "" } else { "s" },
        drifts.len() - breaks
    ))?;
    Ok(exit::code(exit::ERROR))
}

/// Parses a duration flag: `250ms`, `1.5s`, `2m`; a bare number is milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    grpc_double::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 250ms, 1.5s, 2m)"))
}
