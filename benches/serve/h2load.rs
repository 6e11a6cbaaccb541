//! The load for every row a body file can drive: h2load, pinned to the load core, replaying a
//! pre-framed gRPC body (`-d`) on 8 connections × 16 streams.
//!
//! h2load sends the whole body, half-closes and reads the whole answer, so besides unary calls
//! it drives server streams (one request, many frames back), client streams (many frames in the
//! body) and a batched bidi call (all messages sent, then all replies read). It counts HTTP
//! statuses only: a gRPC error is a success to it, which is why every row is checked first.

use std::{
    net::SocketAddr,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

pub const CLIENTS: u32 = 8;
pub const STREAMS: u32 = 16;

/// `Some(version)` when h2load runs.
pub fn version() -> Option<String> {
    let output = Command::new("h2load").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The arguments of `taskset` that run h2load on `cpu`.
fn arguments(cpu: usize, addr: &str, path: &str, body: &Path, requests: u64) -> Vec<String> {
    let mut args: Vec<String> = [
        "-c",
        &cpu.to_string(),
        "h2load",
        "-n",
        &requests.to_string(),
    ]
    .map(str::to_owned)
    .into();
    args.extend(["-c", &CLIENTS.to_string(), "-m", &STREAMS.to_string()].map(str::to_owned));
    args.extend(["-d".to_owned(), body.display().to_string()]);
    for header in ["content-type: application/grpc", "te: trailers"] {
        args.extend(["-H".to_owned(), header.to_owned()]);
    }
    args.push(format!("http://{addr}{path}"));
    args
}

/// The shell command line of one run (`--write`).
pub fn command_line(cpu: usize, addr: &str, path: &str, body: &Path, requests: u64) -> String {
    let quote = |a: String| if a.contains(' ') { format!("'{a}'") } else { a };
    let args: Vec<String> = arguments(cpu, addr, path, body, requests)
        .into_iter()
        .map(quote)
        .collect();
    format!("taskset {}", args.join(" "))
}

/// One finished run of the load.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: Duration,
}

/// Sends `requests` calls of `path` with `body` to `addr`.
pub fn run(
    cpu: usize,
    addr: SocketAddr,
    path: &str,
    body: &Path,
    requests: u64,
) -> Result<Run, String> {
    let start = Instant::now();
    let output = Command::new("taskset")
        .args(arguments(cpu, &addr.to_string(), path, body, requests))
        .output()
        .map_err(|e| format!("run h2load: {e}"))?;
    let wall = start.elapsed();
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "h2load failed ({}): {}{}",
            output.status,
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let counts = |prefix: &str| -> Vec<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(|rest| {
                rest.split(',')
                    .filter_map(|part| part.split_whitespace().next()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // "requests: N total, N started, N done, N succeeded, 0 failed, 0 errored, 0 timeout"
    let done = counts("requests:");
    // "status codes: N 2xx, 0 3xx, 0 4xx, 0 5xx"
    let statuses = counts("status codes:");
    let succeeded = done.get(3).copied();
    let ok_2xx = statuses.first().copied();
    if succeeded != Some(requests) || ok_2xx != Some(requests) {
        return Err(format!(
            "h2load: {requests} requests sent, {succeeded:?} succeeded, {ok_2xx:?} with 2xx:\n{}",
            text.trim()
        ));
    }
    Ok(Run { wall })
}
