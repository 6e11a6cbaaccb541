//! The server engine: listeners, health, reflection, the call log and journal, sessions, and
//! graceful shutdown.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::BoxFuture;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tonic::{body::Body, codec::CompressionEncoding};
use tower::{Layer as _, ServiceExt as _, util::BoxCloneSyncService};

use super::{
    control::Control,
    journal::Journal,
    listen::{Http2Settings, Lifecycle, ListenerControl, accept_loop},
    observe::ObserveLayer,
    service::{CallOptions, DynamicService},
    state::{Limits, Shared},
    store::Store,
};
use crate::{
    Schema,
    error::{Error, ErrorKind, Result},
    fake::model::{Fixtures, Health},
};

/// Reply compression, when the client accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// How the server listens and talks.
///
/// Start from [`ServerOptions::default`] and set what differs (new options may be added).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Addresses to listen on; port 0 picks a free port. Default: `127.0.0.1:0`.
    pub listen: Vec<String>,
    /// Compress replies with this codec when the client accepts it. Requests are always
    /// accepted gzip- or zstd-compressed.
    pub compression: Option<Compression>,
    /// Largest message accepted or sent, in bytes (tonic's default: 4 MiB in, unlimited out).
    pub max_message_size: Option<usize>,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: Option<u32>,
    /// Interval of HTTP/2 keepalive pings.
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for a keepalive ping's answer.
    pub keepalive_timeout: Option<Duration>,
    /// How long in-flight calls may finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Log one line per call.
    pub log_calls: bool,
    /// Seeds the random source of templates and `when.chance` (same seed, same values for the
    /// same calls in the same order).
    pub seed: u64,
    /// Freezes the clock that templates read (`now()`); `None` is the real time.
    pub clock: Option<std::time::SystemTime>,
    /// The most messages one reply sends.
    pub max_stream_messages: usize,
    /// The most calls the journal keeps (the oldest are dropped, and counted); 0 turns the
    /// journal off.
    pub journal_size: usize,
    /// Sessions unused for this long are forgotten (their stubs, states and journal entries);
    /// `None` keeps them.
    pub session_ttl: Option<Duration>,
    /// The admin HTTP API's address (`None`: no admin API).
    pub admin: Option<String>,
    /// The bearer token the admin API requires; without one, it only listens on loopback.
    pub admin_token: Option<String>,
    /// Worker threads of the server's runtime; `None`: one per core.
    pub worker_threads: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1:0".into()],
            compression: None,
            max_message_size: None,
            max_concurrent_streams: None,
            keepalive_interval: None,
            keepalive_timeout: None,
            shutdown_grace: Duration::from_secs(5),
            log_calls: true,
            seed: 0,
            clock: None,
            max_stream_messages: 100_000,
            journal_size: 10_000,
            session_ttl: Some(Duration::from_secs(600)),
            admin: None,
            admin_token: None,
            worker_threads: None,
        }
    }
}

/// The engine of a running server, on the current tokio runtime: listeners, the dynamic
/// service, the journal, the session sweeper. [`crate::FakeServer`] runs one on its own thread.
#[derive(Debug)]
pub(crate) struct Server {
    addrs: Vec<SocketAddr>,
    control: Arc<Control>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<()>>>,
}

impl Server {
    /// Binds every listener and starts serving on the current tokio runtime.
    ///
    /// When this returns, every listener accepts connections.
    pub(crate) async fn start(
        schema: &Schema,
        fixtures: Fixtures,
        options: &ServerOptions,
    ) -> Result<Self> {
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for addr in &options.listen {
            let listener =
                TcpListener::bind(addr.as_str())
                    .await
                    .map_err(|source| ErrorKind::Bind {
                        addr: addr.clone(),
                        source,
                    })?;
            addrs.push(listener.local_addr().map_err(|source| ErrorKind::Bind {
                addr: addr.clone(),
                source,
            })?);
            listeners.push(listener);
        }
        let call_options = CallOptions {
            send_compression: options.compression.map(|c| match c {
                Compression::Gzip => CompressionEncoding::Gzip,
                Compression::Zstd => CompressionEncoding::Zstd,
            }),
            max_message_size: options.max_message_size,
        };
        let (reporter, health) = tonic_health::server::health_reporter();
        let start_health = fixtures.health().to_vec();
        let shared = Arc::new(Shared::new(
            reporter.clone(),
            options.seed,
            options.clock,
            Limits {
                max_stream_messages: options.max_stream_messages,
            },
        ));
        let services: Vec<String> = schema
            .services()
            .map(|s| s.full_name().to_owned())
            .collect();
        let store = Store::new(schema.services().collect(), fixtures);
        let dynamic = DynamicService::new(
            services.clone(),
            store.published(),
            call_options,
            shared.clone(),
        );
        shared.set_health("", Health::Serving).await;
        for service in &services {
            shared.set_health(service, Health::Serving).await;
        }
        for (service, health) in start_health {
            shared.set_health(&service, health).await;
        }
        let journal = Arc::new(Journal::new(options.journal_size));
        let control = Arc::new(Control::new(store, journal.clone(), shared, services));
        let root = root_service(schema, dynamic, health, options)?;
        let service: BoxedService = if options.log_calls || journal.is_on() {
            BoxCloneSyncService::new(
                ObserveLayer {
                    log: options.log_calls,
                    journal,
                }
                .layer(root)
                .map_response(|response: http::Response<_>| response.map(Body::new)),
            )
        } else {
            BoxCloneSyncService::new(root)
        };
        let settings = Http2Settings {
            max_concurrent_streams: options.max_concurrent_streams,
            keepalive_interval: options.keepalive_interval,
            keepalive_timeout: options.keepalive_timeout,
        };
        let (stop, stopped) = watch::channel(false);
        let (force, forced) = watch::channel(false);
        // Every accept loop and connection holds a sender; when all are gone, nothing serves.
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        for (index, listener) in listeners.into_iter().enumerate() {
            tokio::spawn(accept_loop(
                index,
                listener,
                Arc::new(ListenerControl::default()),
                service.clone(),
                settings.clone(),
                Lifecycle {
                    stop: stopped.clone(),
                    force: forced.clone(),
                    alive: alive.clone(),
                },
            ));
        }
        drop(alive);
        if let Some(ttl) = options.session_ttl {
            tokio::spawn(sweep_sessions(control.clone(), ttl, stopped.clone()));
        }
        let mut stop_watch = stop.subscribe();
        let grace = options.shutdown_grace;
        let task = tokio::spawn(async move {
            let _ = stop_watch.wait_for(|s| *s).await;
            // In-flight calls get `grace` to finish once shutdown starts; then the server stops.
            if tokio::time::timeout(grace, all_closed.recv())
                .await
                .is_err()
            {
                let _ = force.send(true);
            }
            Ok(())
        });
        Ok(Self {
            addrs,
            control,
            stop,
            task: Some(task),
        })
    }

    /// Gets the bound addresses, in `--listen` order.
    pub(crate) fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Gets what the server can be asked and told.
    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Gets a handle that starts a graceful shutdown.
    pub(crate) fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// Waits until the server stops (after its stop handle fires).
    pub(crate) async fn wait(mut self) -> Result<()> {
        match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|err| Err(ErrorKind::ServerTask(err).into())),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Forgets idle sessions, checking a few times per TTL.
async fn sweep_sessions(control: Arc<Control>, ttl: Duration, mut stopped: watch::Receiver<bool>) {
    let every = (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        for session in control.expire_sessions(ttl) {
            tracing::info!(session, "session expired (idle longer than --session-ttl)");
        }
    }
}

/// Starts a graceful shutdown of a [`crate::FakeServer`].
#[derive(Debug, Clone)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    /// Starts the shutdown; idempotent.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }

    /// Gets a receiver that sees the shutdown start.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }
}

type BoxedService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Routes health and reflection to their services and everything else to the stubs.
#[derive(Clone)]
struct Root {
    health: BoxedService,
    reflection_v1: BoxedService,
    reflection_v1alpha: BoxedService,
    dynamic: DynamicService,
}

fn root_service(
    schema: &Schema,
    dynamic: DynamicService,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    options: &ServerOptions,
) -> Result<Root> {
    let encoded = schema.encode_file_descriptor_set();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(&encoded)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_error = |err: tonic_reflection::server::Error| {
        Error::from(ErrorKind::Reflection {
            detail: err.to_string(),
        })
    };
    let v1 = reflection().build_v1().map_err(reflection_error)?;
    let v1alpha = reflection().build_v1alpha().map_err(reflection_error)?;
    let limit = options.max_message_size.unwrap_or(4 << 20);
    macro_rules! tuned {
        ($svc:expr) => {
            BoxCloneSyncService::new(
                $svc.accept_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Zstd)
                    .max_decoding_message_size(limit),
            )
        };
    }
    Ok(Root {
        health: tuned!(health),
        reflection_v1: tuned!(v1),
        reflection_v1alpha: tuned!(v1alpha),
        dynamic,
    })
}

impl tower::Service<http::Request<Body>> for Root {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let path = req.uri().path();
        let service = if path.starts_with(HEALTH) {
            &mut self.health
        } else if path.starts_with(REFLECTION_V1) {
            &mut self.reflection_v1
        } else if path.starts_with(REFLECTION_V1ALPHA) {
            &mut self.reflection_v1alpha
        } else {
            return tower::Service::call(&mut self.dynamic, req);
        };
        tower::Service::call(service, req)
    }
}

const HEALTH: &str = "/grpc.health.v1.Health/";
const REFLECTION_V1: &str = "/grpc.reflection.v1.ServerReflection/";
const REFLECTION_V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/";
