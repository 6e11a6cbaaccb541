//! How much server CPU grpc-double spends per call, against a hand-written tonic server for the
//! same proto (issue 12).
//!
//! ```sh
//! cargo bench --bench serve              # full: 5 rounds
//! cargo bench --bench serve -- --quick   # under 2 minutes, before and after a change
//! cargo bench --bench serve -- --help
//! ```
//!
//! **Why from outside.** A server's cost per call is what decides whether it becomes the
//! bottleneck of a load test. Counting calls per second with client and server in one process
//! hides that cost: the client takes its share of the same cores. So each server runs as its own
//! process pinned to one core (`taskset`), the load generator runs on the other core, and the
//! figure is **calls per second of the server's own CPU time** (utime + stime from
//! `/proc/PID/stat`, read before and after each measurement).
//!
//! **Why interleaved.** A shared machine drifts. Every row measures the fake and the reference
//! back to back, alternating which goes first, for several rounds; ratios are taken per round
//! and the median is reported with the range.
//!
//! **Why checked.** h2load counts HTTP statuses, so a server answering every call with a gRPC
//! error would look fast. Before the rounds and again after them, each row's request is sent
//! once over raw HTTP/2 (the same bytes h2load replays) and the answer is compared, byte for
//! byte and with `grpc-status`, against what the fixture says; a row that fails is refused.
//!
//! **Why it refuses.** On a busy machine the figures mean nothing: the run stops (exit 3) when
//! the 1-minute load average is above a limit or a calibration spin on either core does not get
//! the CPU it asks for; `--allow-busy` reports anyway, marked as noisy.

#[path = "../corpus.rs"]
mod corpus;

mod check; // what a row's call must answer, compared field by field
mod fixtures; // the generated fixture files and the replies they promise
mod h2load; // the load for every row a body file can drive
mod machine; // cores, pinning, load average, the calibration spin
mod pingpong; // the Rust load generator for ping-pong Chat
mod procfs; // CPU time and memory from /proc
mod reference; // the hand-written tonic server (this binary, re-executed)
mod report; // samples, medians and the printed tables
mod rounds; // check, size, interleaved rounds, check again
mod rows; // what is measured: rows, their servers, their requests
mod server; // server processes under taskset, found through ready files
mod startup; // time to the first SERVING health Check
mod wire; // gRPC framing and one raw HTTP/2 call

mod userservice {
    #![allow(clippy::all, missing_docs, dead_code)]
    include!(concat!(env!("OUT_DIR"), "/userservice.rs"));
}

use std::{
    collections::BTreeMap,
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Duration,
};

use crate::{
    report::{Conditions, Outcome},
    rounds::{LoadSide, Plan},
    rows::{Proc, Row, Setup},
    startup::Starts,
};

/// Exit codes of the bench.
mod exit {
    /// Every row was measured and reported.
    pub const OK: u8 = 0;
    /// A server or the harness failed, or a row was refused because its check failed.
    pub const FAILED: u8 = 1;
    /// Bad arguments.
    pub const USAGE: u8 = 2;
    /// The machine is too busy for the figures to mean anything (see `--allow-busy`).
    pub const BUSY: u8 = 3;
    /// h2load or taskset is not installed.
    pub const MISSING_TOOL: u8 = 4;
}

/// A calibration spin must get at least this share of its wall time on each core.
const MIN_AVAILABILITY: f64 = 0.90;
const SPIN: Duration = Duration::from_millis(300);
/// Files in the generated proto tree of the start-up row.
const TREE_FILES: usize = 2000;

const USAGE: &str = "\
cargo bench --bench serve [-- OPTIONS]

  --quick          under 2 minutes: 3 rounds of ~0.4 server CPU-s per side and row
  --rounds N       rounds (default 5, quick 3)
  --only IDS       comma-separated parts of row ids to run (`startup` for the start-up rows);
                   --list shows the ids
  --max-load X     refuse when the 1-minute load average is above X (default: cores / 2)
  --allow-busy     report even when the machine is busy; the output says it is noisy
  --fake PATH      the grpc-double binary to measure (default: the release build cargo made)
  --cpus S,L       the server's and the load generator's CPU (default: the first two allowed)
  --list           print the row ids and exit
  --write DIR      write the fixtures and request bodies into DIR, print each row's server and
                   h2load command lines (to profile one row by hand), and exit";

#[derive(Debug)]
struct Options {
    quick: bool,
    rounds: usize,
    only: Vec<String>,
    max_load: Option<f64>,
    allow_busy: bool,
    fake: PathBuf,
    cpus: Option<(usize, usize)>,
    list: bool,
    write: Option<PathBuf>,
    help: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            rounds: 0,
            only: Vec::new(),
            max_load: None,
            allow_busy: false,
            fake: PathBuf::from(env!("CARGO_BIN_EXE_grpc-double")),
            cpus: None,
            list: false,
            write: None,
            help: false,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                // Passed by `cargo bench` to every bench.
                "--bench" => {}
                "--quick" => options.quick = true,
                "--rounds" => {
                    options.rounds = value("--rounds")?
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or("--rounds takes a positive number")?
                }
                "--only" => {
                    options.only = value("--only")?
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .collect()
                }
                "--max-load" => {
                    options.max_load = Some(
                        value("--max-load")?
                            .parse()
                            .map_err(|_| "--max-load takes a number")?,
                    )
                }
                "--allow-busy" => options.allow_busy = true,
                "--fake" => options.fake = value("--fake")?.into(),
                "--cpus" => {
                    let text = value("--cpus")?;
                    let (s, l) = text
                        .split_once(',')
                        .and_then(|(s, l)| Some((s.trim().parse().ok()?, l.trim().parse().ok()?)))
                        .filter(|(s, l)| s != l)
                        .ok_or("--cpus takes two different CPU numbers, e.g. 0,1")?;
                    options.cpus = Some((s, l));
                }
                "--list" => options.list = true,
                "--write" => options.write = Some(value("--write")?.into()),
                "--help" | "-h" => options.help = true,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if options.rounds == 0 {
            options.rounds = if options.quick { 3 } else { 5 };
        }
        Ok(options)
    }

    fn selects(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|part| id.contains(part.as_str()))
    }

    /// Server CPU time each side should spend per row and round.
    fn target_cpu(&self) -> Duration {
        if self.quick {
            Duration::from_millis(400)
        } else {
            Duration::from_millis(1500)
        }
    }
}

fn main() -> ExitCode {
    if let Ok(mode) = env::var(reference::ENV) {
        return reference::main(&mode);
    }
    let options = match Options::parse(env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("serve bench: {e}\n\n{USAGE}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if options.help {
        println!("{USAGE}");
        return ExitCode::from(exit::OK);
    }
    match run(&options) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("serve bench: {e}");
            ExitCode::from(exit::FAILED)
        }
    }
}

fn run(options: &Options) -> Result<u8, String> {
    if let Some(dir) = &options.write {
        return write_commands(options, dir);
    }
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let rows = rows::all(dir.path()).map_err(|e| format!("write the request bodies: {e}"))?;
    if options.list {
        for row in &rows {
            println!("{:<18} {}", row.id, row.title);
        }
        println!("{:<18} start-up to SERVING and memory", "startup");
        return Ok(exit::OK);
    }

    // Tools first: never install anything, say how.
    let Some(h2load_version) = h2load::version() else {
        eprintln!(
            "serve bench: h2load is not installed. It is in Debian's nghttp2-client package:\n\n    apt-get install nghttp2-client\n"
        );
        return Ok(exit::MISSING_TOOL);
    };
    if Command::new("taskset").arg("--version").output().is_err() {
        eprintln!("serve bench: taskset is not installed (Debian: apt-get install util-linux)");
        return Ok(exit::MISSING_TOOL);
    }
    let setup = setup(options, dir.path())?;

    // The machine: refuse before measuring anything when it is busy.
    let allowed = machine::allowed_cpus()?;
    let (server_cpu, load_cpu) = match options.cpus {
        Some(cpus) => cpus,
        None if allowed.len() >= 2 => (allowed[0], allowed[1]),
        None => {
            return Err(format!(
                "this needs two CPUs (one for the server, one for the load); it may use {allowed:?}"
            ));
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_load = options.max_load.unwrap_or(cores as f64 / 2.0);
    let load_before = machine::load_average()?;
    let spin_before = machine::availability(&[server_cpu, load_cpu], SPIN)?;
    let mut busy = Vec::new();
    if load_before[0] > max_load {
        busy.push(format!(
            "the 1-minute load average is {:.2}, above the limit of {max_load:.2} (--max-load)",
            load_before[0]
        ));
    }
    busy.extend(spin_shortfall(
        "before the run",
        &[server_cpu, load_cpu],
        &spin_before,
    ));
    if !busy.is_empty() && !options.allow_busy {
        return Ok(refuse_busy(&busy));
    }

    // Throughput rows: the selected ones and the rows they are compared with.
    let wanted: Vec<&str> = rows
        .iter()
        .filter(|row| options.selects(row.id))
        .flat_map(|row| std::iter::once(row.id).chain(row.versus.map(|(id, _)| id)))
        .collect();
    let shown: Vec<&Row> = rows.iter().filter(|row| wanted.contains(&row.id)).collect();
    let mut outcomes: BTreeMap<&'static str, Outcome> = BTreeMap::new();
    let mut measured = Vec::new();
    for row in &shown {
        if row.fake == Proc::FakeJournalOff && !setup.journal_size {
            let skip = Outcome::Skipped("n/a (no --journal-size flag)".into());
            outcomes.insert(row.id, skip);
        } else {
            measured.push(*row);
        }
    }
    machine::pin_current_thread(load_cpu)?;
    let load = LoadSide {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?,
        cpu: load_cpu,
    };
    let plan = Plan {
        rounds: options.rounds,
        target_cpu: options.target_cpu(),
    };
    let memory = if measured.is_empty() {
        Vec::new()
    } else {
        rounds::measure(
            &measured,
            &setup,
            server_cpu,
            load,
            plan,
            dir.path(),
            &mut outcomes,
        )?
    };

    let starts = if options.selects("startup") {
        measure_startup(options, &setup, server_cpu, dir.path())?
    } else {
        Vec::new()
    };

    // The machine again: a build that started during the run spoils it too.
    let load_after = machine::load_average()?;
    let spin_after = machine::availability(&[server_cpu, load_cpu], SPIN)?;
    busy.extend(spin_shortfall(
        "after the run",
        &[server_cpu, load_cpu],
        &spin_after,
    ));
    if !busy.is_empty() && !options.allow_busy {
        return Ok(refuse_busy(&busy));
    }

    report::print(
        &Conditions {
            quick: options.quick,
            rounds: options.rounds,
            cores,
            server_cpu,
            load_cpu,
            load_before,
            load_after,
            max_load,
            spin_before,
            spin_after,
            min_spin: MIN_AVAILABILITY,
            fake: &setup.fake,
            h2load: &h2load_version,
            noisy: &busy,
        },
        &shown,
        &outcomes,
        &starts,
        &memory,
    );
    let refused = outcomes.values().any(|o| matches!(o, Outcome::Refused(_)));
    if refused {
        eprintln!("serve bench: some rows were refused (see the table)");
        return Ok(exit::FAILED);
    }
    Ok(exit::OK)
}

/// `--write`: the files of every row in `dir`, and the commands that serve and load it.
fn write_commands(options: &Options, dir: &Path) -> Result<u8, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let rows = rows::all(dir).map_err(|e| format!("write the request bodies: {e}"))?;
    let setup = setup(options, dir)?;
    for row in rows.iter().filter(|row| options.selects(row.id)) {
        println!("# {}: {}", row.id, row.title);
        for proc in [row.fake, row.reference] {
            let launch = setup.launch(proc);
            let env = launch
                .env
                .as_ref()
                .map(|(key, value)| format!("{key}={value} "))
                .unwrap_or_default();
            let args: Vec<String> = launch
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            println!(
                "{env}taskset -c 0 {} {} --listen 127.0.0.1:50051",
                launch.program.display(),
                args.join(" ")
            );
        }
        match &row.load {
            rows::Load::H2load(body) => println!(
                "{}\n",
                h2load::command_line(1, "127.0.0.1:50051", row.path, body, 200_000)
            ),
            rows::Load::PingPong => println!("(the Rust ping-pong client: no command line)\n"),
        }
    }
    Ok(exit::OK)
}

/// Fixture files, the binaries, and whether the fake can turn its journal off.
fn setup(options: &Options, dir: &Path) -> Result<Setup, String> {
    let help = Command::new(&options.fake)
        .args(["serve", "--help"])
        .output()
        .map_err(|e| format!("run {} serve --help: {e}", options.fake.display()))?;
    Ok(Setup {
        fake: options.fake.clone(),
        this: env::current_exe().map_err(|e| format!("this executable: {e}"))?,
        manifest_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        files: fixtures::write(dir).map_err(|e| format!("write the fixtures: {e}"))?,
        journal_size: rows::has_journal_size(&String::from_utf8_lossy(&help.stdout)),
    })
}

/// Start-up of the bundled default, of the reference (for scale), and of a proto tree.
fn measure_startup(
    options: &Options,
    setup: &Setup,
    cpu: usize,
    dir: &Path,
) -> Result<Vec<(String, Starts)>, String> {
    let runs = if options.quick { 5 } else { 20 };
    eprintln!("start-up: bundled default");
    let default = startup::measure("fake-default", &setup.launch_default(), cpu, runs)?;
    let reference = startup::measure("reference", &setup.launch(Proc::RefDefault), cpu, runs)?;
    eprintln!("start-up: {TREE_FILES} generated protos");
    let tree = dir.join("tree");
    corpus::generate(&tree, TREE_FILES).map_err(|e| format!("generate the protos: {e}"))?;
    let tree_runs = if options.quick { 2 } else { 5 };
    let launch = setup.launch_tree(&tree.join("current"));
    let big = startup::measure("fake-tree", &launch, cpu, tree_runs)?;
    Ok(vec![
        ("grpc-double serve (bundled default)".to_owned(), default),
        ("reference server".to_owned(), reference),
        (
            format!(
                "grpc-double serve --proto <{} generated files>",
                TREE_FILES + 1
            ),
            big,
        ),
    ])
}

fn spin_shortfall(when: &str, cpus: &[usize], shares: &[f64]) -> Vec<String> {
    cpus.iter()
        .zip(shares)
        .filter(|(_, share)| **share < MIN_AVAILABILITY)
        .map(|(cpu, share)| {
            format!(
                "{when}, a calibration spin on CPU {cpu} got {:.0}% of its wall time (limit {:.0}%)",
                share * 100.0,
                MIN_AVAILABILITY * 100.0
            )
        })
        .collect()
}

fn refuse_busy(reasons: &[String]) -> u8 {
    eprintln!(
        "serve bench: the machine is too busy for the figures to mean anything, so none are reported:"
    );
    for reason in reasons {
        eprintln!("  - {reason}");
    }
    eprintln!(
        "Wait until it is quiet (other builds and benchmarks finished), or pass --max-load X or --allow-busy."
    );
    exit::BUSY
}
