//! Start-up: from spawning a server (pinned to the server core) to the first health `Check`
//! that answers SERVING, and what it holds in memory then.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    procfs::{self, Memory},
    server::{self, Launch},
};

/// The starts of one server, in order.
#[derive(Debug, Default)]
pub struct Starts {
    /// Spawn to the first SERVING answer.
    pub serving: Vec<Duration>,
    /// Memory right after that answer.
    pub memory: Vec<Memory>,
}

/// Starts `launch` `runs` times, one after the other.
pub fn measure(name: &str, launch: &Launch, cpu: usize, runs: usize) -> Result<Starts, String> {
    let mut starts = Starts::default();
    for _ in 0..runs {
        // A runtime per start: dropping it closes the health client's connection at once, so
        // the server is stopped idle rather than draining it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let fresh = server::start_fresh(name, launch, cpu)?;
        runtime.block_on(first_serving(fresh.server.addr))?;
        starts.serving.push(fresh.started_at.elapsed());
        starts.memory.push(procfs::memory(fresh.server.pid)?);
        drop(runtime);
    }
    Ok(starts)
}

/// Polls `Check("")` until it answers SERVING (a refused connection or another status is
/// retried at once; the server printed its address only after it listened).
async fn first_serving(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        match check(addr).await {
            Ok(ServingStatus::Serving) => return Ok(()),
            Ok(status) => last = format!("{status:?}"),
            Err(e) => last = e,
        }
        tokio::task::yield_now().await;
    }
    Err(format!("{addr} never answered SERVING: {last}"))
}

async fn check(addr: SocketAddr) -> Result<ServingStatus, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|s| s.to_string())?;
    Ok(reply.into_inner().status())
}
