//! Figures: samples, medians, ratios, and the tables printed at the end (Markdown, so that a
//! run can go into docs/performance.md as it is).

use std::{collections::BTreeMap, path::Path, time::Duration};

use crate::{
    h2load,
    rounds::ServerMemory,
    rows::{Load, Row},
    startup::Starts,
};

/// One measurement: `calls` calls, and the server's CPU time and the wall time they took.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub calls: u64,
    pub cpu: Duration,
    pub wall: Duration,
}

impl Sample {
    /// Calls per second of server CPU.
    pub fn per_cpu_second(&self) -> f64 {
        self.calls as f64 / self.cpu.as_secs_f64().max(1e-9)
    }

    /// Share of the wall time the server was on the CPU: well under 100% means the load
    /// generator did not keep it busy.
    pub fn busy(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// What became of a row.
#[derive(Debug)]
pub enum Outcome {
    /// Per round, the fake's and the reference's sample.
    Measured(Vec<(Sample, Sample)>),
    /// A check failed (or a server did): not reported.
    Refused(String),
    /// Not measurable with this binary.
    Skipped(String),
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// What the run ran on, for the header.
#[derive(Debug)]
pub struct Conditions<'a> {
    pub quick: bool,
    pub rounds: usize,
    pub cores: usize,
    pub server_cpu: usize,
    pub load_cpu: usize,
    pub load_before: [f64; 3],
    pub load_after: [f64; 3],
    pub max_load: f64,
    pub spin_before: Vec<f64>,
    pub spin_after: Vec<f64>,
    pub min_spin: f64,
    pub fake: &'a Path,
    pub h2load: &'a str,
    /// Why the run would have been refused without `--allow-busy`.
    pub noisy: &'a [String],
}

/// Prints the header and every table.
pub fn print(
    conditions: &Conditions,
    rows: &[&Row],
    outcomes: &BTreeMap<&'static str, Outcome>,
    starts: &[(String, Starts)],
    memory: &[ServerMemory],
) {
    let c = conditions;
    let loadavg = |[one, five, fifteen]: [f64; 3]| format!("{one:.2} {five:.2} {fifteen:.2}");
    let spin = |i: usize| {
        format!(
            "{:.0}% / {:.0}%",
            c.spin_before[i] * 100.0,
            c.spin_after[i] * 100.0
        )
    };
    println!();
    println!(
        "grpc-double serve benchmark: {} mode, {} interleaved rounds, medians",
        if c.quick { "quick" } else { "full" },
        c.rounds
    );
    println!(
        "machine: {} cores; servers pinned to CPU {}, load on CPU {}; load average {} before, {} after (the run refuses above {:.2} for the 1-minute figure before)",
        c.cores,
        c.server_cpu,
        c.load_cpu,
        loadavg(c.load_before),
        loadavg(c.load_after),
        c.max_load
    );
    println!(
        "calibration spin, share of wall time a busy thread got (refused below {:.0}%): CPU {} {}, CPU {} {} (before / after)",
        c.min_spin * 100.0,
        c.server_cpu,
        spin(0),
        c.load_cpu,
        spin(1)
    );
    println!(
        "fake: {}; reference: hand-written tonic server (this bench binary); load: {} -c {} -m {}, or the Rust client with as many calls in flight",
        c.fake.display(),
        c.h2load,
        h2load::CLIENTS,
        h2load::STREAMS
    );
    if !c.noisy.is_empty() {
        println!(
            "NOISY: reported with --allow-busy although {}",
            c.noisy.join("; ")
        );
    }
    if !rows.is_empty() {
        println!();
        print_rows(rows, outcomes);
    }
    if !starts.is_empty() {
        println!();
        println!(
            "| start-up to the first SERVING health Check (server pinned) | median | range | VmRSS then | VmHWM then |"
        );
        println!("|---|---:|---:|---:|---:|");
        for (title, s) in starts {
            print_startup(title, s);
        }
    }
    if !memory.is_empty() {
        println!();
        println!("| server process | VmRSS idle (after start) | VmHWM (after the rounds) |");
        println!("|---|---:|---:|");
        for server in memory {
            print_memory(server);
        }
    }
}

/// The throughput table.
fn print_rows(rows: &[&Row], outcomes: &BTreeMap<&'static str, Outcome>) {
    println!(
        "| row | load | fake req/CPU-s | reference req/CPU-s | fake / reference | per-round range | compared | server busy (fake / ref) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let load = match row.load {
            Load::H2load(_) => "h2load",
            Load::PingPong => "Rust client",
        };
        match &outcomes[row.id] {
            Outcome::Measured(rounds) => {
                let fake: Vec<f64> = rounds.iter().map(|(f, _)| f.per_cpu_second()).collect();
                let reference: Vec<f64> = rounds.iter().map(|(_, r)| r.per_cpu_second()).collect();
                let ratios: Vec<f64> = fake.iter().zip(&reference).map(|(f, r)| f / r).collect();
                let (lo, hi) = min_max(&ratios);
                let compared = row
                    .versus
                    .and_then(|(other, label)| match outcomes.get(other) {
                        Some(Outcome::Measured(base)) => {
                            let per_round: Vec<f64> = rounds
                                .iter()
                                .zip(base)
                                .map(|((f, _), (b, _))| f.per_cpu_second() / b.per_cpu_second())
                                .collect();
                            Some(format!("{:.2} {label}", median(per_round)))
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                let busy_fake = median(rounds.iter().map(|(f, _)| f.busy()).collect());
                let busy_ref = median(rounds.iter().map(|(_, r)| r.busy()).collect());
                println!(
                    "| {} | {load} | {} | {} | **{:.2}** | {lo:.2}–{hi:.2} | {compared} | {:.0}% / {:.0}% |",
                    row.title,
                    thousands(median(fake)),
                    thousands(median(reference)),
                    median(ratios.clone()),
                    busy_fake * 100.0,
                    busy_ref * 100.0,
                );
            }
            Outcome::Refused(why) => {
                println!("| {} | {load} | refused: {why} | | | | | |", row.title)
            }
            Outcome::Skipped(why) => println!("| {} | {load} | {why} | | | | | |", row.title),
        }
    }
}

/// One start-up row: median and range of the time to SERVING, memory after it.
fn print_startup(title: &str, starts: &Starts) {
    let ms: Vec<f64> = starts
        .serving
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let (lo, hi) = min_max(&ms);
    let rss = median(starts.memory.iter().map(|m| m.rss_kib as f64).collect());
    let peak = median(starts.memory.iter().map(|m| m.peak_kib as f64).collect());
    println!(
        "| {title} ({} starts) | {:.1} ms | {lo:.1}–{hi:.1} ms | {} | {} |",
        ms.len(),
        median(ms.clone()),
        mib(rss),
        mib(peak)
    );
}

fn print_memory(server: &ServerMemory) {
    println!(
        "| {} | {} | {} |",
        server.name,
        mib(server.idle.rss_kib as f64),
        mib(server.after.peak_kib as f64)
    );
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}
