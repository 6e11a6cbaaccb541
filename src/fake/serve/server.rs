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
    listen::{BoxedService, Http2Settings, Lifecycle, ListenerControl, accept_loop},
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
    /// Addresses to listen on; port 0 picks a free port. Default: `127.0.0.1:0`. With
    /// [`ServerOptions::tls`] set, each is TLS unless written `h2c://ADDR`; `tls://ADDR` asks for
    /// TLS explicitly.
    pub listen: Vec<String>,
    /// The certificate (and client CA, for mutual TLS) of the TLS listeners.
    pub tls: Option<super::tls::TlsOptions>,
    /// Compress replies with this codec when the client accepts it. Requests are always
    /// accepted gzip- or zstd-compressed.
    pub compression: Option<Compression>,
    /// Largest message accepted or sent, in bytes; `None`: 4 MiB, every gRPC client's default
    /// receive limit. A larger reply fails with RESOURCE_EXHAUSTED.
    pub max_message_size: Option<usize>,
    /// The most request bytes one call may send, all its messages together (client streams are
    /// kept for templates and the journal). Default 16 MiB.
    pub max_received_bytes: usize,
    /// Concurrent HTTP/2 streams per connection (default 256; `None`: unlimited).
    pub max_concurrent_streams: Option<u32>,
    /// Close a connection that has not sent the HTTP/2 preface within this time (default 10 s).
    pub handshake_timeout: Option<Duration>,
    /// Close (GOAWAY) a connection with no call running for this long (default 10 min).
    pub idle_timeout: Option<Duration>,
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
    /// Worker threads of the server's runtime; `None`: one per CPU the process may use. With
    /// one, the runtime is tokio's single-threaded scheduler: a call's reply does not jump
    /// ahead of the other calls' work (the multi-threaded scheduler's LIFO slot), so HTTP/2
    /// writes many replies at once.
    pub worker_threads: Option<usize>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1:0".into()],
            tls: None,
            compression: None,
            max_message_size: None,
            max_received_bytes: 16 << 20,
            max_concurrent_streams: Some(256),
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(600)),
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
    tls_addrs: Vec<SocketAddr>,
    control: Arc<Control>,
    stop: StopHandle,
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
        let mut secure = Vec::new();
        let acceptor = options.tls.as_ref().map(super::tls::acceptor).transpose()?;
        for written in &options.listen {
            let (addr, tls) = if let Some(addr) = written.strip_prefix("tls://") {
                (addr, true)
            } else if let Some(addr) = written.strip_prefix("h2c://") {
                (addr, false)
            } else {
                (written.as_str(), acceptor.is_some())
            };
            if tls && acceptor.is_none() {
                return Err(ErrorKind::Tls {
                    what: "the listener",
                    detail: format!("{written} asks for TLS, but no certificate was given"),
                }
                .into());
            }
            secure.push(tls.then(|| acceptor.clone()).flatten());
            let addr = &addr.to_owned();
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
        for addr in &addrs {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "listening beyond this machine: anyone who can reach {addr} can call the fake, \
                     read its protos through reflection and see its journal's effects; \
                     bind 127.0.0.1, or serve TLS with client certificates (--tls-client-ca; docs/security.md)"
                );
            }
        }
        let call_options = CallOptions {
            send_compression: options.compression.map(|c| match c {
                Compression::Gzip => CompressionEncoding::Gzip,
                Compression::Zstd => CompressionEncoding::Zstd,
            }),
            max_message_size: options.max_message_size,
            max_received_bytes: options.max_received_bytes,
        };
        let (reporter, health) = tonic_health::server::health_reporter();
        let start_health = fixtures.health().to_vec();
        let shared = Arc::new(Shared::new(
            reporter.clone(),
            options.seed,
            options.clock,
            Limits {
                max_stream_messages: options.max_stream_messages,
                max_message: options
                    .max_message_size
                    .unwrap_or(super::service::DEFAULT_MAX_MESSAGE),
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
            handshake_timeout: options.handshake_timeout,
            idle_timeout: options.idle_timeout,
        };
        let (stop, stopped) = watch::channel(false);
        let (force, forced) = watch::channel(false);
        let force = Arc::new(force);
        let cut = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Every accept loop and connection holds a sender; when all are gone, nothing serves.
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        let tls_addrs = addrs
            .iter()
            .zip(&secure)
            .filter(|(_, tls)| tls.is_some())
            .map(|(addr, _)| *addr)
            .collect();
        for (index, (listener, tls)) in listeners.into_iter().zip(secure).enumerate() {
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
                    cut: cut.clone(),
                },
                tls,
            ));
        }
        drop(alive);
        if let Some(ttl) = options.session_ttl {
            tokio::spawn(sweep_sessions(control.clone(), ttl, stopped.clone()));
        }
        let mut stop_watch = stop.subscribe();
        let grace = options.shutdown_grace;
        let forcing = force.clone();
        let mut forced_early = forced.clone();
        let task = tokio::spawn(async move {
            let _ = stop_watch.wait_for(|s| *s).await;
            // In-flight calls get `grace` to finish once shutdown starts (a second signal ends
            // it early); then whatever still runs is cut, and the server stops.
            tokio::select! {
                _ = all_closed.recv() => return Ok(()),
                () = tokio::time::sleep(grace) => {}
                _ = forced_early.wait_for(|f| *f) => {}
            }
            let _ = forcing.send(true);
            // Every connection counts what it cuts, then lets go.
            let _ = all_closed.recv().await;
            Ok(())
        });
        Ok(Self {
            addrs,
            tls_addrs,
            control,
            stop: StopHandle {
                stop: Arc::new(stop),
                force,
                cut,
            },
            task: Some(task),
        })
    }

    /// Gets the bound addresses, in `--listen` order.
    pub(crate) fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Gets the addresses of the TLS listeners.
    pub(crate) fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Gets what the server can be asked and told.
    pub(crate) fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Gets a handle that starts a graceful shutdown.
    pub(crate) fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
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
        self.stop.stop();
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

/// Starts a graceful shutdown of a [`crate::FakeServer`], or ends it now.
#[derive(Debug, Clone)]
pub struct StopHandle {
    stop: Arc<watch::Sender<bool>>,
    force: Arc<watch::Sender<bool>>,
    cut: Arc<std::sync::atomic::AtomicUsize>,
}

impl StopHandle {
    /// Starts the shutdown: stop accepting, let running calls finish within the grace
    /// period; idempotent.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Ends the grace period now (a second SIGTERM): calls still running are cut.
    pub fn stop_now(&self) {
        let _ = self.stop.send(true);
        let _ = self.force.send(true);
    }

    /// Gets how many calls were cut because the grace period ended before they did.
    pub fn cut_calls(&self) -> usize {
        self.cut.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Gets a receiver that sees the shutdown start.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

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
        if let Some(refused) = not_grpc(&req) {
            return Box::pin(std::future::ready(Ok(refused)));
        }
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

/// The gRPC spec: a request whose `content-type` does not begin with `application/grpc` gets
/// HTTP 415; a method other than POST gets 405. Each says what the server expected.
fn not_grpc(req: &http::Request<Body>) -> Option<http::Response<Body>> {
    let refuse = |status: http::StatusCode, text: String| {
        let mut response = http::Response::new(Body::new(http_body_util::Full::new(
            bytes::Bytes::from(text),
        )));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let grpc = content_type
        .strip_prefix("application/grpc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('+') || rest.starts_with(';'));
    if !grpc {
        return Some(refuse(
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "grpc-double serves gRPC: expected content-type application/grpc, got {:?}\n",
                content_type
            ),
        ));
    }
    if req.method() != http::Method::POST {
        return Some(refuse(
            http::StatusCode::METHOD_NOT_ALLOWED,
            format!("gRPC calls are POST requests, not {}\n", req.method()),
        ));
    }
    None
}

const HEALTH: &str = "/grpc.health.v1.Health/";
const REFLECTION_V1: &str = "/grpc.reflection.v1.ServerReflection/";
const REFLECTION_V1ALPHA: &str = "/grpc.reflection.v1alpha.ServerReflection/";
