//! `grpc-double serve`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, ValueEnum};

use grpc_double::{Compression, FakeServer, ServerOptions};

use super::{SchemaArgs, exit, output::CliError, parse_duration};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    /// Address to listen on; repeatable. Port 0 picks a free port (see --ready-file).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:50051",
        env = "GRPC_DOUBLE_LISTEN",
        value_delimiter = ','
    )]
    listen: Vec<String>,
    /// Once every listener serves, write `{"grpc": ["127.0.0.1:PORT", …], "admin":
    /// "127.0.0.1:PORT", "pid": N}` to this file (atomically), for test harnesses to wait on.
    /// Removed on shutdown.
    #[arg(long, value_name = "PATH", env = "GRPC_DOUBLE_READY_FILE")]
    ready_file: Option<PathBuf>,
    /// Compress replies when the client accepts it. Compressed requests (gzip, zstd) are always
    /// accepted.
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    compression: CompressionArg,
    /// Largest message accepted or sent, e.g. 4MiB, 512KiB, 1048576 (default 4MiB, every gRPC
    /// client's default receive limit; a larger reply fails with RESOURCE_EXHAUSTED).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_message_size: Option<usize>,
    /// The most request bytes one call may send, all its messages together; past it the call
    /// fails with RESOURCE_EXHAUSTED (client streams are kept for templates and the journal).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    max_received_bytes: usize,
    /// Threads that serve calls (default: one per CPU this process may use). With one, the
    /// server runs tokio's single-threaded scheduler, which writes the replies of many calls
    /// together (the least CPU per call; see docs/performance.md).
    #[arg(long, value_name = "N", env = "GRPC_DOUBLE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Maximum concurrent HTTP/2 streams per connection (advertised in SETTINGS).
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_concurrent_streams: u32,
    /// Close a connection that has not started HTTP/2 within this time.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    handshake_timeout: Duration,
    /// Close (GOAWAY) a connection with no call running for this long; 0 never.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    idle_timeout: Duration,
    /// Send HTTP/2 keepalive pings this often, e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    http2_keepalive_interval: Option<Duration>,
    /// Close the connection when a keepalive ping is not answered within this time.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    http2_keepalive_timeout: Option<Duration>,
    /// Seed of the random source that templates (`random()`, `uuid()`, `fake_name()`…) and
    /// `when.chance` draw from: the same seed gives the same values for the same calls in the
    /// same order.
    #[arg(long, value_name = "N", default_value_t = 0, env = "GRPC_DOUBLE_SEED")]
    seed: u64,
    /// Freeze the clock that templates read (`now()`), e.g. 2024-05-01T12:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_clock, env = "GRPC_DOUBLE_CLOCK")]
    clock: Option<std::time::SystemTime>,
    /// The most messages one reply may send (a generated stream is cut there with
    /// RESOURCE_EXHAUSTED).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_stream_messages: usize,
    /// On SIGINT/SIGTERM, how long in-flight calls may finish before the server stops.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    shutdown_grace: Duration,
    /// Serve the admin HTTP API (stubs, journal, verify, scenarios, health, reload, sessions)
    /// on this address, e.g. 127.0.0.1:0. See docs/admin-api.md.
    #[arg(long, value_name = "ADDR", env = "GRPC_DOUBLE_ADMIN")]
    admin: Option<String>,
    /// Require `Authorization: Bearer TOKEN` on the admin API; without a token it listens on
    /// loopback only.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GRPC_DOUBLE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// The most calls the journal keeps (the oldest are dropped and counted); 0 turns it off.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10_000,
        env = "GRPC_DOUBLE_JOURNAL_SIZE"
    )]
    journal_size: usize,
    /// Forget a session (its stubs, states and calls) after it is unused this long; 0 keeps
    /// sessions forever.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    session_ttl: Duration,
    /// Do not watch the fixture files (SIGHUP and POST /api/reload still reload them).
    #[arg(long)]
    no_watch: bool,
    /// How often to check the fixture files for changes.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "500ms")]
    watch_interval: Duration,
    /// On exit, write journal.json, unmatched.json, unused.json, stubs.json, summary.txt and
    /// junit.xml (one case per `expect`) into this directory.
    #[arg(long, value_name = "DIR", env = "GRPC_DOUBLE_REPORT_DIR")]
    report_dir: Option<PathBuf>,
    /// Exit with code 3 at shutdown if any call went unmatched or a stub's `expect` was not
    /// met.
    #[arg(long)]
    strict: bool,
    /// Serve TLS with this certificate chain (PEM); every --listen is TLS unless written
    /// `h2c://ADDR` (and `tls://ADDR` marks one explicitly). Needs --tls-key.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        env = "GRPC_DOUBLE_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        env = "GRPC_DOUBLE_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate that chains to this CA (PEM). Its subject
    /// reaches matching, templates and the journal as metadata `x-grpc-double-client-subject`.
    #[arg(long, value_name = "PEM", env = "GRPC_DOUBLE_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Serve TLS with a throwaway certificate for localhost, 127.0.0.1 and ::1, and write it
    /// (the CA the client under test must trust) to this file.
    #[arg(long, value_name = "PATH", conflicts_with = "tls_cert")]
    tls_self_signed: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CompressionArg {
    None,
    Gzip,
    Zstd,
}

fn parse_clock(text: &str) -> Result<std::time::SystemTime, String> {
    grpc_double::parse_rfc3339(text)
        .ok_or_else(|| format!("`{text}` is not an RFC 3339 UTC time (e.g. 2024-05-01T12:00:00Z)"))
}

/// `4MiB`, `512KiB`, `64KB`, or bytes.
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 4MiB)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit (use B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

pub(crate) fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    // The server runs on its own runtime; this one only waits for signals.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::Io {
            what: "start the tokio runtime",
            source,
        })?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let (schema, fixtures, sources) = args.schema.load()?;
    let stubs = fixtures.len();
    let mut options = ServerOptions::default();
    options.listen.clone_from(&args.listen);
    options.compression = match args.compression {
        CompressionArg::None => None,
        CompressionArg::Gzip => Some(Compression::Gzip),
        CompressionArg::Zstd => Some(Compression::Zstd),
    };
    options.max_message_size = args.max_message_size;
    options.max_received_bytes = args.max_received_bytes;
    options.max_concurrent_streams = Some(args.max_concurrent_streams);
    options.worker_threads = args.threads.map(usize::from);
    options.handshake_timeout = Some(args.handshake_timeout);
    options.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    options.keepalive_interval = args.http2_keepalive_interval;
    options.keepalive_timeout = args.http2_keepalive_timeout;
    options.shutdown_grace = args.shutdown_grace;
    options.log_calls = true;
    options.seed = args.seed;
    options.clock = args.clock;
    options.max_stream_messages = args.max_stream_messages;
    options.journal_size = args.journal_size;
    options.session_ttl = (!args.session_ttl.is_zero()).then_some(args.session_ttl);
    options.admin.clone_from(&args.admin);
    options.admin_token.clone_from(&args.admin_token);
    options.tls = tls_options(&args)?;
    let mut builder = FakeServer::builder()
        .schema(schema)
        .no_fixtures()
        .loaded(fixtures)
        .options(options)
        .reload_from(args.schema.fixture_paths().to_vec());
    if !args.no_watch {
        builder = builder.watch(Some(args.watch_interval));
    }
    let server = builder.start().await?;
    // The report and --strict judge the run; dropping the server must not judge it again.
    server.verify_on_drop(false);
    let files: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    tracing::info!(
        services = %server.services().join(", "),
        stubs,
        fixtures = %files.join(", "),
        "serving"
    );
    if stubs == 0 {
        tracing::warn!("no stubs loaded: every call answers UNIMPLEMENTED; pass --fixtures");
    }
    // A closed stdout must not stop the server: the lines are a courtesy.
    let mut out = super::output::Out::new();
    for addr in server.addrs() {
        let _ = out.line(format_args!("grpc-double listening on {addr}"));
    }
    if let Some(addr) = server.admin_addr() {
        let _ = out.line(format_args!("grpc-double admin API on http://{addr}"));
    }
    drop(out);
    // Signal handlers are installed before the ready file appears, so a harness may send
    // SIGTERM as soon as it sees the file.
    let mut signals = Signals::new().map_err(|source| CliError::Io {
        what: "install the signal handlers",
        source,
    })?;
    if let Some(path) = &args.ready_file {
        server.write_ready_file(path)?;
    }
    let stop = server.stop_handle();
    let stopping = stop.clone();
    let grace = args.shutdown_grace;
    tokio::spawn(async move {
        signals.recv().await;
        tracing::info!(
            ?grace,
            "shutting down: finishing in-flight calls (a second signal stops now)"
        );
        stop.stop();
        signals.recv().await;
        tracing::warn!("second signal: stopping now, cutting calls still running");
        stop.stop_now();
    });
    let server = std::sync::Arc::new(server);
    #[cfg(unix)]
    reload_on_hangup(server.clone()).map_err(|source| CliError::Io {
        what: "install the SIGHUP handler",
        source,
    })?;
    let result = server.wait().await;
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    result?;
    let cut = stopping.cut_calls();
    if cut > 0 {
        // A client that keeps a stream open (a health Watch, say) is cut at shutdown in every
        // run: logged, not an error, so the exit code stays that of the run.
        tracing::warn!(
            calls = cut,
            "calls still running when the grace period ended were cut (--shutdown-grace)"
        );
    }
    let report = server.report();
    if let Some(dir) = &args.report_dir {
        report.write_to(dir, args.strict)?;
        tracing::info!(dir = %dir.display(), "report written");
    }
    let summary = report.summary();
    if report.failed(true) {
        tracing::warn!("{}", summary.trim_end());
    } else {
        tracing::info!("{}", summary.trim_end());
    }
    if args.strict && report.failed(true) {
        return Ok(exit::code(exit::STRICT));
    }
    Ok(exit::code(exit::OK))
}

/// SIGHUP reloads the fixture files (validated first; an invalid change keeps the old ones).
#[cfg(unix)]
fn reload_on_hangup(server: std::sync::Arc<FakeServer>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let server = server.clone();
            let status = tokio::task::spawn_blocking(move || server.reload()).await;
            if let Ok(None) = status {
                tracing::warn!("SIGHUP: no fixture files to reload (pass --fixtures)");
            }
        }
    });
    Ok(())
}

/// The TLS set-up the flags ask for; a self-signed certificate is written out first.
fn tls_options(args: &ServeArgs) -> Result<Option<grpc_double::TlsOptions>, CliError> {
    let mut tls = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(grpc_double::TlsOptions::from_files(cert, key, None)?),
        (_, _, Some(ca_out)) => {
            let options = grpc_double::TlsOptions::self_signed_to(ca_out)?;
            tracing::info!(path = %ca_out.display(), "self-signed certificate written: trust it in the client under test");
            Some(options)
        }
        _ => None,
    };
    if let Some(ca) = &args.tls_client_ca {
        let Some(options) = tls.take() else {
            return Err(CliError::Usage {
                message: "--tls-client-ca needs a server certificate".into(),
                help: Some("add --tls-cert and --tls-key, or --tls-self-signed PATH".into()),
            });
        };
        let pem = std::fs::read(ca).map_err(|source| CliError::Io {
            what: "read --tls-client-ca",
            source,
        })?;
        tls = Some(options.with_client_ca(pem));
    }
    Ok(tls)
}

/// SIGINT and SIGTERM, registered when made: the first starts the shutdown, the second ends
/// its grace period.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("4 parsecs").is_err());
    }
}
