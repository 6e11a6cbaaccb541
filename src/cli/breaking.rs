//! `grpc-double breaking`: a drop-in for `buf breaking`.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;

use grpc_double::{
    breaking::{self, Config, Format, PathDisplay, PathFilter},
    schema::Input,
};

use super::{
    exit,
    output::{CliError, Out},
};

#[derive(Debug, Args)]
pub(crate) struct BreakingArgs {
    /// The current input: a directory, a .proto file, a .binpb descriptor set, or a git
    /// reference (.git#branch=main, .git#ref=HEAD~1, .git#tag=v1.2, with ,subdir=proto).
    #[arg(value_name = "INPUT", default_value = ".")]
    input: String,
    /// The previous input to compare against, in the same forms as INPUT.
    #[arg(long, value_name = "INPUT")]
    against: String,
    /// An include path for imports (like protoc's -I), searched before each input's own
    /// directory. A file is named relative to the first that holds it. Repeatable.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    includes: Vec<PathBuf>,
    /// Only check files at or below this path (relative to the input, or including the
    /// input's own path). Repeatable.
    #[arg(long = "path", value_name = "PATH")]
    paths: Vec<String>,
    /// Skip files at or below this path. Repeatable.
    #[arg(long = "exclude-path", value_name = "PATH")]
    exclude_paths: Vec<String>,
    /// A buf.yaml, or inline buf config as JSON or YAML, e.g.
    /// '{"version":"v1","breaking":{"use":["WIRE_JSON"]}}'. Default: INPUT/buf.yaml if present.
    #[arg(long, value_name = "FILE|JSON|YAML")]
    config: Option<String>,
    /// Rules or categories to run, replacing the config's `use` (comma-separated).
    #[arg(long = "use", value_name = "RULE|CATEGORY", value_delimiter = ',')]
    use_: Vec<String>,
    /// Rules or categories to skip, added to the config's `except` (comma-separated).
    #[arg(long, value_name = "RULE|CATEGORY", value_delimiter = ',')]
    except: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    error_format: Format,
    /// Print a fix-it hint under each finding and, for wire-level findings, a payload written
    /// by the previous schema with what each schema reads from it.
    #[arg(long)]
    explain: bool,
    /// Accepted for buf compatibility; imports are never checked.
    #[arg(long, hide = true)]
    exclude_imports: bool,
    /// Accepted for buf compatibility; only the input's own files are checked.
    #[arg(long, hide = true)]
    limit_to_input_files: bool,
}

fn strip_prefix(path: &str, prefix: &str) -> String {
    let path = path.trim_start_matches("./");
    if prefix.is_empty() {
        return path.to_owned();
    }
    match path.strip_prefix(prefix) {
        Some("") => String::new(),
        Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/').to_owned(),
        _ => path.to_owned(),
    }
}

pub(crate) fn run(args: &BreakingArgs) -> Result<ExitCode, CliError> {
    let mut current_input = Input::parse(&args.input)?;
    let mut against_input = Input::parse(&args.against)?;
    let mut config = match (&args.config, &current_input) {
        (Some(text), _) => Config::from_arg(text)?,
        (None, Input::Dir(dir)) if dir.join("buf.yaml").is_file() => {
            Config::read(&dir.join("buf.yaml"))?
        }
        _ => Config::default(),
    };
    // A v2 buf.yaml with one module: its files are named relative to the module.
    if let Some(module) = config.module_path.clone() {
        for input in [&mut current_input, &mut against_input] {
            match input {
                Input::Dir(dir) if dir.join(&module).is_dir() => *dir = dir.join(&module),
                Input::Git { subdir, .. } if subdir.is_none() => *subdir = Some(module.clone()),
                _ => {}
            }
        }
    }
    if !args.use_.is_empty() {
        config.use_.clone_from(&args.use_);
    }
    config.except.extend(args.except.iter().cloned());
    config.rules()?;

    let timing = std::env::var_os("GRPC_DOUBLE_TIMING").is_some();
    let start = std::time::Instant::now();
    let lap = |what: &str| {
        if timing {
            let memory = std::fs::read_to_string("/proc/self/status")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ");
            eprintln!("{what}: {:.3}s {memory}", start.elapsed().as_secs_f64());
        }
    };
    // Neither side keeps source info: only files with findings are compiled again for spans.
    // Files the same on both sides are checked to compile, then left out of both schemas.
    let pair = Input::load_pair(&against_input, &current_input, &args.includes)?;
    lap("loaded");
    let display = PathDisplay {
        current: current_input.display_prefix_in(&args.includes),
        previous: against_input.display_prefix_in(&args.includes),
    };
    let filter = PathFilter {
        paths: args
            .paths
            .iter()
            .map(|p| strip_prefix(p, &display.current))
            .collect(),
        exclude_paths: args
            .exclude_paths
            .iter()
            .map(|p| strip_prefix(p, &display.current))
            .collect(),
    };
    let findings = breaking::check_pair(&pair, &config, &filter)?;
    lap("checked");
    let annotations = grpc_double::explain::annotate_with_sources(
        &findings,
        pair.previous.pool(),
        pair.current.pool(),
        &display,
        args.explain,
        &|name| current_input.source_info(name, &args.includes),
    );
    let text = breaking::render(&annotations, args.error_format, args.explain);
    lap("rendered");
    let written = Out::new().write(&text);
    // The process ends here: leave the two pools to the OS instead of freeing millions of
    // small allocations one by one (a tenth of the run time on big trees).
    std::mem::forget(pair);
    // A reader that stopped early still gets the verdict in the exit code.
    match written {
        Ok(()) | Err(CliError::ClosedPipe) => {}
        Err(err) => return Err(err),
    }
    Ok(exit::code(if breaking::is_breaking(&findings) {
        exit::BREAKING
    } else {
        exit::OK
    }))
}
