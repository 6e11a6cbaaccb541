//! Benchmark of `grpc-double breaking` on generated corpora of 100, 300 and 1,000 files (plus a
//! shared imported file), against the reference figures for buf (about 12 CPU-seconds and
//! 3.8 GB for a 1,000-file pair) and, when a `buf` binary is found (`$BUF`, or `buf` on `PATH`),
//! against buf measured on the same corpus in the same run.
//!
//! Every command runs in its own child process; a small measuring process (this binary again,
//! with `GRPC_DOUBLE_BENCH_MEASURE=1`) reads the grandchild's CPU time and peak RSS with
//! `getrusage(RUSAGE_CHILDREN)`, so peaks of different runs never mix.
//!
//! Run: `cargo bench --bench breaking` (sizes: `GRPC_DOUBLE_BENCH_SIZES=100,300,1000`).

mod corpus;

use std::{
    collections::BTreeSet,
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::Instant,
};

/// The reference: buf on a 1,000-file pair.
const BUF_REFERENCE_CPU_S: f64 = 12.0;
const BUF_REFERENCE_PEAK_MB: f64 = 3800.0;

#[derive(Debug, Clone, Copy)]
struct Usage {
    wall_s: f64,
    cpu_s: f64,
    peak_mb: f64,
}

fn main() -> ExitCode {
    if env::var_os("GRPC_DOUBLE_BENCH_MEASURE").is_some() {
        return measure_child();
    }
    // `cargo bench` passes `--bench`; nothing else to parse.
    let sizes: Vec<usize> = env::var("GRPC_DOUBLE_BENCH_SIZES")
        .unwrap_or_else(|_| "100,300,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_grpc-double"));
    let buf = find_buf();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/corpus");
    println!(
        "grpc-double breaking benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    match &buf {
        Some(b) => println!("buf: {} ({})", b.display(), version(b)),
        None => println!("buf: not found (set BUF=/path/to/buf to compare in the same run)"),
    }
    println!();
    println!(
        "{:>6}  {:>9} {:>8} {:>9} {:>9}  {:>9} {:>8} {:>9} {:>9}  {:>11} {:>11}  same findings",
        "files",
        "ours wall",
        "ours cpu",
        "ours peak",
        "findings",
        "buf wall",
        "buf cpu",
        "buf peak",
        "findings",
        "cpu ratio",
        "mem ratio",
    );
    let mut failed = false;
    for size in sizes {
        let dir = root.join(size.to_string());
        if let Err(err) = corpus::generate(&dir, size) {
            eprintln!("cannot generate the corpus in {}: {err}", dir.display());
            return ExitCode::FAILURE;
        }
        let Some((our_usage, our_findings)) = run(
            &dir,
            &ours,
            &[
                "breaking",
                "current",
                "--against",
                "previous",
                "--error-format",
                "json",
            ],
        ) else {
            failed = true;
            continue;
        };
        let theirs = buf.as_ref().and_then(|b| {
            run(
                &dir,
                b,
                &[
                    "breaking",
                    "current",
                    "--against",
                    "previous",
                    "--error-format",
                    "json",
                ],
            )
        });
        let (buf_cols, ratio_cols, same) = match &theirs {
            Some((u, f)) => (
                format!(
                    "{:>8.2}s {:>7.2}s {:>7.0}MB {:>9}",
                    u.wall_s,
                    u.cpu_s,
                    u.peak_mb,
                    f.len()
                ),
                format!(
                    "{:>10.1}x {:>10.1}x",
                    u.cpu_s / our_usage.cpu_s,
                    u.peak_mb / our_usage.peak_mb
                ),
                if *f == our_findings {
                    "yes".to_owned()
                } else {
                    diff_summary(f, &our_findings)
                },
            ),
            None => (
                format!("{:>8} {:>8} {:>9} {:>9}", "-", "-", "-", "-"),
                format!("{:>11} {:>11}", "-", "-"),
                "-".to_owned(),
            ),
        };
        println!(
            "{size:>6}  {:>8.2}s {:>7.2}s {:>7.0}MB {:>9}  {buf_cols}  {ratio_cols}  {same}",
            our_usage.wall_s,
            our_usage.cpu_s,
            our_usage.peak_mb,
            our_findings.len()
        );
        if size == 1000 {
            println!(
                "        vs the issue's buf figures for 1,000 files ({BUF_REFERENCE_CPU_S} CPU-s, {BUF_REFERENCE_PEAK_MB} MB): {:.1}x less CPU, {:.1}x less memory",
                BUF_REFERENCE_CPU_S / our_usage.cpu_s,
                BUF_REFERENCE_PEAK_MB / our_usage.peak_mb
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn find_buf() -> Option<PathBuf> {
    if let Some(path) = env::var_os("BUF") {
        return Some(PathBuf::from(path));
    }
    env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|p| p.join("buf"))
            .find(|p| p.is_file())
    })
}

fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs a command under the measuring process; returns usage and the findings as
/// `(file name, line, rule)`.
/// Findings as `(file name, line, rule)`.
type Findings = BTreeSet<(String, u64, String)>;

fn run(dir: &Path, bin: &Path, args: &[&str]) -> Option<(Usage, Findings)> {
    let out_file = dir.join(format!("{}.out", bin.file_name()?.to_string_lossy()));
    let output = Command::new(env::current_exe().ok()?)
        .env("GRPC_DOUBLE_BENCH_MEASURE", "1")
        .env("GRPC_DOUBLE_BENCH_OUT", &out_file)
        .current_dir(dir)
        .arg(bin)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0));
    let usage = Usage {
        wall_s: parts.next()?,
        cpu_s: parts.next()?,
        peak_mb: parts.next()? / 1024.0,
    };
    let findings = std::fs::read_to_string(&out_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| {
            (
                v["path"].as_str().unwrap_or_default().to_owned(),
                v["start_line"].as_u64().unwrap_or(0),
                v["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Some((usage, findings))
}

fn diff_summary(
    theirs: &BTreeSet<(String, u64, String)>,
    ours: &BTreeSet<(String, u64, String)>,
) -> String {
    let only_buf: Vec<_> = theirs.difference(ours).collect();
    let only_ours: Vec<_> = ours.difference(theirs).collect();
    format!("no: only buf {only_buf:?}, only ours {only_ours:?}")
}

/// The measuring process: runs argv[1..], then prints "wall cpu maxrss_kb" of that child.
fn measure_child() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((bin, rest)) = args.split_first() else {
        return ExitCode::FAILURE;
    };
    let out = env::var_os("GRPC_DOUBLE_BENCH_OUT").map(PathBuf::from);
    let stdout = match out.and_then(|p| std::fs::File::create(p).ok()) {
        Some(file) => Stdio::from(file),
        None => Stdio::null(),
    };
    let start = Instant::now();
    let status = Command::new(bin).args(rest).stdout(stdout).status();
    let wall = start.elapsed().as_secs_f64();
    if !matches!(status.as_ref().map(|s| s.code()), Ok(Some(0 | 100))) {
        eprintln!("{bin} failed: {status:?}");
        return ExitCode::FAILURE;
    }
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    println!(
        "{wall:.3} {:.3} {}",
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
        usage.ru_maxrss
    );
    ExitCode::SUCCESS
}
