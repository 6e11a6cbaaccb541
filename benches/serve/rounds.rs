//! The throughput rows: start the servers they need, check every row's answer, size each side,
//! measure in interleaved rounds, check again.

use std::{collections::BTreeMap, path::Path, time::Duration};

use crate::{
    check, h2load, pingpong,
    procfs::{self, Memory},
    report::{Outcome, Sample},
    rows::{Load, Proc, Row, Setup},
    server::{self, Server},
    wire,
};

/// The load side: this process's runtime (pinned to the load core) and that core.
#[derive(Debug)]
pub struct LoadSide {
    pub runtime: tokio::runtime::Runtime,
    pub cpu: usize,
}

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub rounds: usize,
    /// Server CPU time each side should spend per row and round.
    pub target_cpu: Duration,
}

/// Memory of one server process: idle after start, and at the end of the rounds.
#[derive(Debug)]
pub struct ServerMemory {
    pub name: &'static str,
    pub idle: Memory,
    pub after: Memory,
}

/// Measures `rows` (their outcomes go into `outcomes`); returns the servers' memory.
pub fn measure(
    rows: &[&Row],
    setup: &Setup,
    server_cpu: usize,
    load: LoadSide,
    plan: Plan,
    dir: &Path,
    outcomes: &mut BTreeMap<&'static str, Outcome>,
) -> Result<Vec<ServerMemory>, String> {
    // Every process the rows need, started once; idle memory read before any call.
    let mut procs: Vec<Proc> = rows.iter().flat_map(|r| [r.fake, r.reference]).collect();
    procs.sort();
    procs.dedup();
    let mut servers: BTreeMap<Proc, (Server, Memory)> = BTreeMap::new();
    for &proc in &procs {
        eprintln!("starting {}", proc.name());
        let server = server::start(proc.name(), &setup.launch(proc), server_cpu, dir)?;
        let idle = procfs::memory(server.pid)?;
        servers.insert(proc, (server, idle));
    }
    let pair = |row: &Row| (&servers[&row.fake].0, &servers[&row.reference].0);

    // Check, then size each side.
    let mut calls: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for row in rows {
        let (fake, reference) = pair(row);
        let sized = check_both(&load, row, fake, reference, "before the rounds").and_then(|()| {
            Ok((
                size(&load, row, fake, plan.target_cpu)?,
                size(&load, row, reference, plan.target_cpu)?,
            ))
        });
        match sized {
            Ok(n) => {
                calls.insert(row.id, n);
                outcomes.insert(row.id, Outcome::Measured(Vec::new()));
            }
            Err(e) => {
                outcomes.insert(row.id, Outcome::Refused(e));
            }
        }
    }

    for round in 0..plan.rounds {
        eprintln!("round {}/{}", round + 1, plan.rounds);
        for row in rows {
            let Some(Outcome::Measured(samples)) = outcomes.get_mut(row.id) else {
                continue;
            };
            let (fake, reference) = pair(row);
            let (n_fake, n_ref) = calls[row.id];
            // Alternate which side goes first, so that drift within a round cancels out.
            let measured = if round % 2 == 0 {
                sample(&load, row, fake, n_fake)
                    .and_then(|f| Ok((f, sample(&load, row, reference, n_ref)?)))
            } else {
                sample(&load, row, reference, n_ref)
                    .and_then(|r| Ok((sample(&load, row, fake, n_fake)?, r)))
            };
            match measured {
                Ok(measured) => samples.push(measured),
                Err(e) => {
                    outcomes.insert(row.id, Outcome::Refused(e));
                }
            }
        }
    }

    eprintln!("checking again");
    for row in rows {
        if let Some(Outcome::Measured(_)) = outcomes.get(row.id) {
            let (fake, reference) = pair(row);
            if let Err(e) = check_both(&load, row, fake, reference, "after the rounds") {
                outcomes.insert(row.id, Outcome::Refused(e));
            }
        }
    }
    let mut memory = Vec::new();
    for (proc, (server, idle)) in &servers {
        memory.push(ServerMemory {
            name: proc.name(),
            idle: *idle,
            after: procfs::memory(server.pid)?,
        });
    }
    // The load side first: its runtime holds the clients' connections, which the servers would
    // otherwise wait for on their graceful shutdown.
    drop(load);
    eprintln!("stopping the servers");
    drop(servers);
    Ok(memory)
}

/// Checks the row's call against both servers.
fn check_both(
    load: &LoadSide,
    row: &Row,
    fake: &Server,
    reference: &Server,
    when: &str,
) -> Result<(), String> {
    for server in [fake, reference] {
        let result = match &row.load {
            Load::H2load(_) => load
                .runtime
                .block_on(wire::call(server.addr, row.path, &row.body))
                .and_then(|reply| check::compare(&row.expected, &reply)),
            Load::PingPong => load.runtime.block_on(pingpong::check(server.addr)),
        };
        result.map_err(|e| format!("{} check {when} failed: {e}", server.name))?;
    }
    Ok(())
}

/// One measurement: the server's CPU time around `calls` calls.
fn sample(load: &LoadSide, row: &Row, server: &Server, calls: u64) -> Result<Sample, String> {
    let before = procfs::cpu_time(server.pid)?;
    let run = match &row.load {
        Load::H2load(body) => h2load::run(load.cpu, server.addr, row.path, body, calls),
        Load::PingPong => load.runtime.block_on(pingpong::run(server.addr, calls)),
    }
    .map_err(|e| format!("{}: {e}", server.name))?;
    let after = procfs::cpu_time(server.pid)?;
    Ok(Sample {
        calls,
        cpu: after.saturating_sub(before),
        wall: run.wall,
    })
}

/// Warms a server up on the row and picks the number of calls that costs it about `target` of
/// CPU time per measurement. Each side gets its own count: the figure is per CPU-second, and a
/// side ten times slower must not make the round ten times longer.
fn size(load: &LoadSide, row: &Row, server: &Server, target: Duration) -> Result<u64, String> {
    // Enough clock ticks to estimate from (a tick is usually 10 ms).
    const ENOUGH: Duration = Duration::from_millis(100);
    let mut calls = row.warmup;
    loop {
        let warmup = sample(load, row, server, calls)?;
        if warmup.cpu >= ENOUGH {
            let per_call = warmup.cpu.as_secs_f64() / calls as f64;
            let sized = (target.as_secs_f64() / per_call) as u64;
            // At least a few calls per stream in flight.
            return Ok(sized.max(u64::from(4 * h2load::CLIENTS * h2load::STREAMS)));
        }
        let grow = if warmup.cpu.is_zero() {
            16.0
        } else {
            (1.5 * ENOUGH.as_secs_f64() / warmup.cpu.as_secs_f64()).clamp(2.0, 16.0)
        };
        calls = (calls as f64 * grow) as u64;
    }
}
