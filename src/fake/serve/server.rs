//! The fake server: listeners, health, reflection, the call log and graceful shutdown.

use std::{
    convert::Infallible,
    net::SocketAddr,
    path::Path,
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
    listen::{Http2Settings, Lifecycle, ListenerControl, accept_loop},
    log::CallLogLayer,
    service::{CallOptions, DynamicService},
    state::{Limits, Shared},
};
use crate::{
    Schema,
    error::{Error, ErrorKind, Result},
    fake::model::Fixtures,
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
        }
    }
}

/// A running fake gRPC server.
///
/// Dropping it stops the server; [`FakeServer::shutdown`] stops it gracefully and waits.
///
/// # Examples
///
/// ```no_run
/// use grpc_double::{FakeServer, Fixtures, Schema, ServerOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Arrange
/// let schema = Schema::bundled();
/// let fixtures = Fixtures::bundled(&schema)?;
/// let server = FakeServer::start(&schema, fixtures, ServerOptions::default()).await?;
/// // Act: point a client at `server.uri()`.
/// println!("{}", server.uri());
/// // Assert, then:
/// server.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeServer {
    addrs: Vec<SocketAddr>,
    services: Vec<String>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<()>>>,
}

impl FakeServer {
    /// Binds every listener and starts serving on the current tokio runtime.
    ///
    /// When this returns, every listener accepts connections.
    ///
    /// # Errors
    ///
    /// A listen address is invalid or cannot be bound.
    pub async fn start(
        schema: &Schema,
        fixtures: Fixtures,
        options: ServerOptions,
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
        let scenarios: std::collections::BTreeSet<String> = fixtures
            .stubs()
            .iter()
            .filter_map(|s| s.scenario.clone())
            .collect();
        let start_health = fixtures.health().to_vec();
        let shared = Arc::new(Shared::new(
            scenarios,
            reporter.clone(),
            options.seed,
            options.clock,
            Limits {
                max_stream_messages: options.max_stream_messages,
            },
        ));
        let dynamic =
            DynamicService::new(schema.services(), fixtures, call_options, shared.clone());
        let services = dynamic.services().to_vec();
        for service in &services {
            reporter
                .set_service_status(service, tonic_health::ServingStatus::Serving)
                .await;
        }
        for (service, health) in start_health {
            shared.set_health(&service, health).await;
        }
        let root = root_service(schema, dynamic, health, &options)?;
        let service: BoxedService = if options.log_calls {
            BoxCloneSyncService::new(
                CallLogLayer
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
            services,
            stop,
            task: Some(task),
        })
    }

    /// Gets the bound addresses, in `--listen` order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Gets the URI of the first listener, e.g. `http://127.0.0.1:50051`.
    pub fn uri(&self) -> String {
        self.addrs
            .first()
            .map_or_else(String::new, |addr| format!("http://{addr}"))
    }

    /// Gets the full names of the served services, e.g. `userservice.UserService`.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// Stops accepting connections, lets in-flight calls finish (bounded by the grace period),
    /// and waits.
    ///
    /// # Errors
    ///
    /// The server failed while running.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.stop.send(true);
        self.wait_inner().await
    }

    /// Waits until the server stops (after [`FakeServer::stop_handle`] fires).
    ///
    /// # Errors
    ///
    /// The server failed while running.
    pub async fn wait(mut self) -> Result<()> {
        self.wait_inner().await
    }

    async fn wait_inner(&mut self) -> Result<()> {
        match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|err| Err(ErrorKind::ServerTask(err).into())),
            None => Ok(()),
        }
    }

    /// Gets a handle that starts a graceful shutdown from elsewhere (a signal handler).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// Writes `{"grpc": ["127.0.0.1:PORT", …], "pid": N}` to `path` atomically (a temporary file
    /// renamed into place), so that harnesses polling for the file never read half of it.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write_ready_file(&self, path: &Path) -> Result<()> {
        let body = serde_json::json!({
            "grpc": self.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "pid": std::process::id(),
        });
        let file_name = path
            .file_name()
            .map_or_else(|| "ready".into(), |n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, format!("{body}\n")).map_err(|err| Error::io(&tmp, err))?;
        std::fs::rename(&tmp, path).map_err(|err| Error::io(path, err))
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts a graceful shutdown of a [`FakeServer`].
#[derive(Debug, Clone)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    /// Starts the shutdown; idempotent.
    pub fn stop(&self) {
        let _ = self.0.send(true);
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
