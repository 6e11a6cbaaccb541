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
        .arg("-c")
        .arg(cpu.to_string())
        .arg("h2load")
        .arg("-n")
        .arg(requests.to_string())
        .arg("-c")
        .arg(CLIENTS.to_string())
        .arg("-m")
        .arg(STREAMS.to_string())
        .arg("-d")
        .arg(body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg(format!("http://{addr}{path}"))
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
