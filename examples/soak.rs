//! A bounded soak: the four RPC kinds of the bundled `userservice.UserService`, from several
//! clients at once, against a fake whose fixture file is rewritten (and hot-reloaded) all the
//! while. It reports calls, errors (there must be none), reloads, and the process's resident
//! memory at the start, at its peak and at the end, read from `/proc/self/status` (the clients
//! run in the same process, so the figures are an upper bound for the server).
//!
//! ```text
//! cargo run --release --example soak -- --duration 60s [--clients 8] [--reload-every 200ms]
//! ```
//!
//! Exits 1 when a call failed or a reload was refused. docs/reliability.md has the figures.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use grpc_double::{FakeServer, ServerOptions, parse_duration};

mod userservice {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/userservice.rs"));
}

use userservice::{
    ChatMessage, CreateRequest, ListRequest, UserRequest, user_service_client::UserServiceClient,
};

/// The fixture of generation `n`: every RPC kind answers with `gen-n` somewhere, from templates.
fn fixture(n: u64) -> String {
    format!(
        r#"- method: userservice.UserService/GetUser
  then:
    message: {{ user_id: "{{{{ request.user_id }}}}", name: gen-{n}, email: "gen-{n}@example.com", age: {age} }}
- method: userservice.UserService/ListUsers
  then:
    stream:
      - message: {{ user_id: "1", name: gen-{n} }}
      - message: {{ user_id: "2", name: "{{{{ request.page_token }}}}" }}
      - message: {{ user_id: "3", name: gen-{n} }}
- method: userservice.UserService/CreateUsers
  then:
    message: {{ success_count: "{{{{ requests | length }}}}", failed_ids: [gen-{n}] }}
- method: userservice.UserService/Chat
  then:
    message: {{ user_id: "{{{{ request.user_id }}}}", message: "gen-{n}: {{{{ request.message }}}}", timestamp: {n} }}
"#,
        age = n % 100
    )
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Args {
    duration: Duration,
    clients: usize,
    reload_every: Duration,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        duration: Duration::from_secs(60),
        clients: 8,
        reload_every: Duration::from_millis(200),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let duration = || parse_duration(&value).ok_or_else(|| format!("bad duration {value}"));
        match flag.as_str() {
            "--duration" => args.duration = duration()?,
            "--reload-every" => args.reload_every = duration()?,
            "--clients" => {
                args.clients = value.parse().map_err(|_| format!("bad count {value}"))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

#[derive(Default)]
struct Counts {
    calls: [AtomicU64; 4],
    errors: AtomicU64,
}

const KINDS: [&str; 4] = ["unary", "server stream", "client stream", "bidi"];

/// One call of kind `kind`; an error names what went wrong.
async fn call(
    client: &mut UserServiceClient<tonic::transport::Channel>,
    kind: usize,
    i: u64,
) -> Result<(), String> {
    let generation = |text: &str| text.starts_with("gen-");
    match kind {
        0 => {
            let user = client
                .get_user(UserRequest {
                    user_id: format!("u-{i}"),
                })
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            (user.user_id == format!("u-{i}") && generation(&user.name))
                .then_some(())
                .ok_or_else(|| format!("unexpected {user:?}"))
        }
        1 => {
            let mut stream = client
                .list_users(ListRequest {
                    page_size: 3,
                    page_token: format!("t{i}"),
                })
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            let mut n = 0;
            while let Some(user) = stream.message().await.map_err(|s| s.to_string())? {
                n += 1;
                if n == 2 && user.name != format!("t{i}") {
                    return Err(format!("unexpected {user:?}"));
                }
            }
            (n == 3)
                .then_some(())
                .ok_or_else(|| format!("{n} messages"))
        }
        2 => {
            let requests: Vec<CreateRequest> = (0..5)
                .map(|k| CreateRequest {
                    name: format!("n{k}"),
                    email: String::new(),
                    age: k,
                })
                .collect();
            let summary = client
                .create_users(tokio_stream::iter(requests))
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            (summary.success_count == 5)
                .then_some(())
                .ok_or_else(|| format!("unexpected {summary:?}"))
        }
        _ => {
            let messages: Vec<ChatMessage> = (0..5)
                .map(|k| ChatMessage {
                    user_id: format!("c{i}"),
                    message: format!("m{k}"),
                    timestamp: k,
                })
                .collect();
            let mut replies = client
                .chat(tokio_stream::iter(messages))
                .await
                .map_err(|s| s.to_string())?
                .into_inner();
            let mut n = 0;
            while let Some(reply) = replies.message().await.map_err(|s| s.to_string())? {
                if !generation(&reply.message) || reply.user_id != format!("c{i}") {
                    return Err(format!("unexpected {reply:?}"));
                }
                n += 1;
            }
            (n == 5).then_some(()).ok_or_else(|| format!("{n} replies"))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("soak: {err}");
            return ExitCode::from(2);
        }
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("stubs.yaml");
    std::fs::write(&file, fixture(0)).expect("the fixture is written");
    let mut options = ServerOptions::default();
    options.log_calls = false;
    let server = FakeServer::builder()
        .fixtures(&file)
        .watch(Some(Duration::from_millis(20)))
        .options(options)
        .start()
        .await
        .expect("the server starts");
    let uri = server.uri();
    let (start_rss, _) = memory();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());

    let mut workers = Vec::new();
    for worker in 0..args.clients {
        let (uri, stop, counts) = (uri.clone(), stop.clone(), counts.clone());
        workers.push(tokio::spawn(async move {
            let mut client = UserServiceClient::connect(uri).await.expect("connects");
            let mut i = worker as u64;
            while !stop.load(Ordering::Relaxed) {
                let kind = (i % 4) as usize;
                match call(&mut client, kind, i).await {
                    Ok(()) => {}
                    Err(err) => {
                        if counts.errors.fetch_add(1, Ordering::Relaxed) < 10 {
                            eprintln!("soak: {} call failed: {err}", KINDS[kind]);
                        }
                    }
                }
                counts.calls[kind].fetch_add(1, Ordering::Relaxed);
                i += args.clients as u64;
            }
        }));
    }

    // Rewrite the fixture (beside it, then renamed over, as editors do) until the end; sample
    // memory meanwhile.
    let mut generation = 0;
    let mut peak_rss = start_rss;
    while started.elapsed() < args.duration {
        tokio::time::sleep(args.reload_every).await;
        generation += 1;
        let tmp = dir.path().join(".stubs.yaml.tmp");
        std::fs::write(&tmp, fixture(generation)).expect("the fixture is written");
        std::fs::rename(&tmp, &file).expect("the fixture is renamed");
        peak_rss = peak_rss.max(memory().0);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    let status = server.reload_status();
    let (end_rss, hwm) = memory();
    let calls: Vec<u64> = counts
        .calls
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let total: u64 = calls.iter().sum();
    let errors = counts.errors.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "soak: {elapsed:.1} s, {} clients, {total} calls ({:.0}/s): {}",
        args.clients,
        total as f64 / elapsed,
        KINDS
            .iter()
            .zip(&calls)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (generations, reload_ok) = status.as_ref().map_or((0, false), |s| (s.generation, s.ok));
    println!(
        "soak: fixture rewritten {generation} times, {} reloads swapped in, last reload ok: {reload_ok}",
        generations.saturating_sub(1)
    );
    println!("soak: errors {errors}");
    println!(
        "soak: RSS start {:.1} MiB, peak {:.1} MiB (sampled; VmHWM {:.1} MiB), end {:.1} MiB",
        start_rss as f64 / 1024.0,
        peak_rss.max(end_rss) as f64 / 1024.0,
        hwm as f64 / 1024.0,
        end_rss as f64 / 1024.0
    );
    server.verify_on_drop(false);
    if errors == 0 && reload_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
