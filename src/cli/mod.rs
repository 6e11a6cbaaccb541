//! The `grpc-double` command line (clap only; every command calls into the library).

mod breaking;
mod check;
mod exit;
mod logging;
mod output;
mod roundtrip;
mod rules;
mod serve;

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use grpc_double::{
    BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, FixtureSource, Fixtures, Schema, schema::Loader,
};

use self::output::CliError;

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
    Serve(Box<serve::ServeArgs>),
    /// Validate fixtures against protos without serving; exits 0 when every stub loads, 1 if not.
    Check(check::CheckArgs),
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

    /// Gets the fixture paths given (none: the bundled fixtures, or no fixtures).
    pub(crate) fn fixture_paths(&self) -> &[PathBuf] {
        &self.fixtures
    }

    /// Loads the schema and validates the fixtures against it.
    pub(crate) fn load(&self) -> Result<(Schema, Fixtures, Vec<FixtureSource>), CliError> {
        let schema = self.schema()?;
        let sources = self.fixture_sources()?;
        let fixtures = Fixtures::load(&schema, &sources)?;
        Ok((schema, fixtures, sources))
    }
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
        Command::Serve(args) => serve::run(*args),
        Command::Check(args) => check::run(&args),
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

/// Parses a duration flag: `250ms`, `1.5s`, `2m`; a bare number is milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    grpc_double::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 250ms, 1.5s, 2m)"))
}
