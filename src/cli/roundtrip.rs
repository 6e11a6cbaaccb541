//! `grpc-double roundtrip`: property-tested round trips, and old writer → new reader checks.

use std::{
    io::{IsTerminal as _, Write as _},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Args, ValueEnum};

use grpc_double::{
    Schema,
    roundtrip::{self, Encoding, Format, Options, Progress, StrategyConfig},
};

use super::{
    exit,
    output::{CliError, Out},
};

#[derive(Debug, Args)]
pub(crate) struct RoundtripArgs {
    /// The schema to check: a directory of .proto files, one .proto file, a binary
    /// FileDescriptorSet (.binpb, .pb), or a git ref of this repository
    /// (`.git#branch=main,subdir=proto`). With --against, the NEW schema.
    #[arg(value_name = "INPUT")]
    input: String,
    /// The OLD schema, in the same forms as INPUT: generate messages with it, read them with
    /// INPUT's types, and report every message type whose data the new reader sees lost or
    /// changed.
    #[arg(long, value_name = "OLD")]
    against: Option<String>,
    /// An include path for imports (like protoc's -I), searched before the input's own directory
    /// (always one). A file is named relative to the first that holds it. Repeatable.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    includes: Vec<PathBuf>,
    /// Check only this message type (full name, e.g. pkg.Msg). Repeatable.
    #[arg(long = "message", value_name = "NAME")]
    messages: Vec<String>,
    /// Check only message types in this package or its sub-packages, imports included. Repeatable.
    #[arg(long = "package", value_name = "PKG")]
    packages: Vec<String>,
    /// The encodings to check.
    #[arg(long, value_enum, default_value_t = EncodingArg::Both)]
    encoding: EncodingArg,
    /// Generated cases per message type.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 256,
        env = "GRPC_DOUBLE_CASES"
    )]
    cases: u32,
    /// The seed; a failing run prints it, and the same seed reproduces the same counterexamples.
    /// Default: random.
    #[arg(long, value_name = "S", env = "GRPC_DOUBLE_SEED")]
    seed: Option<u64>,
    /// How deep generated messages nest.
    #[arg(long, value_name = "N", default_value_t = 3)]
    depth: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Never draw the progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EncodingArg {
    Binary,
    Json,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Junit,
}

/// Loads one input: a directory, a .proto file, a descriptor set or a git ref (`schema::Input`).
pub(crate) fn load_input(input: &str, includes: &[PathBuf]) -> Result<Schema, CliError> {
    Ok(grpc_double::schema::Input::parse(input)?.load(includes)?)
}

pub(crate) fn run(args: RoundtripArgs) -> Result<ExitCode, CliError> {
    let new = load_input(&args.input, &args.includes)?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let options = Options {
        encoding: match args.encoding {
            EncodingArg::Binary => Encoding::Binary,
            EncodingArg::Json => Encoding::Json,
            EncodingArg::Both => Encoding::Both,
        },
        cases: args.cases,
        seed,
        messages: args.messages.clone(),
        packages: args.packages.clone(),
        strategy: StrategyConfig {
            depth: args.depth,
            ..StrategyConfig::default()
        },
        persistence: None,
    };
    let draw = !args.no_progress && std::io::stderr().is_terminal();
    let mut bar = ProgressBar::default();
    let mut progress = |p: Progress<'_>| {
        if draw {
            bar.draw(p);
        }
    };
    let report = match &args.against {
        Some(old_path) => {
            let old = load_input(old_path, &args.includes)?;
            roundtrip::check_compat_with_progress(&old, &new, &options, &mut progress)?
        }
        None => roundtrip::check_schema_with_progress(&new, &options, &mut progress)?,
    };
    let mut command = format!("grpc-double roundtrip {}", args.input);
    if let Some(old) = &args.against {
        command.push_str(&format!(" --against {old}"));
    }
    if args.encoding != EncodingArg::Both {
        command.push_str(&format!(" --encoding {}", options.encoding.name()));
    }
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Junit => Format::Junit,
    };
    // A reader that stopped early still gets the verdict in the exit code.
    match Out::new().write(&report.render(format, &command)) {
        Ok(()) | Err(CliError::ClosedPipe) => {}
        Err(err) => return Err(err),
    }
    Ok(exit::code(if report.passed() {
        exit::OK
    } else {
        exit::ERROR
    }))
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // Seeds people retype: keep them short.
    hasher.finish() % 1_000_000
}

/// A one-line progress bar on stderr, redrawn in place and erased when done.
#[derive(Debug, Default)]
struct ProgressBar {
    drawn: bool,
}

impl ProgressBar {
    fn draw(&mut self, p: Progress<'_>) {
        let mut err = std::io::stderr().lock();
        if p.done >= p.total {
            if self.drawn {
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
            return;
        }
        const WIDTH: usize = 30;
        let filled = WIDTH * p.done / p.total.max(1);
        let mut name = p.message.to_owned();
        if name.chars().count() > 48 {
            name = format!(
                "…{}",
                name.chars()
                    .rev()
                    .take(47)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            );
        }
        let _ = write!(
            err,
            "\r\x1b[2K[{}{}] {}/{} {name}",
            "=".repeat(filled),
            " ".repeat(WIDTH - filled),
            p.done,
            p.total
        );
        let _ = err.flush();
        self.drawn = true;
    }
}
