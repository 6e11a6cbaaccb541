//! Listeners and connections: our own accept loop over hyper's HTTP/2 server.
//!
//! Owning the loop (instead of tonic's `Server`) is what lets a reply close *its* connection
//! (GOAWAY), a listener refuse connections for an outage window, every request know which
//! listener and peer it came from, and shutdown stop each connection deliberately. An accept
//! error (out of file descriptors) backs off instead of spinning.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, mpsc, watch},
};
use tower::{Service, ServiceExt as _};

/// HTTP/2 settings and connection limits of every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Http2Settings {
    pub(crate) max_concurrent_streams: Option<u32>,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Option<Duration>,
    /// A connection that has not sent the HTTP/2 preface by then is closed.
    pub(crate) handshake_timeout: Option<Duration>,
    /// A connection with no call running for this long is closed (GOAWAY).
    pub(crate) idle_timeout: Option<Duration>,
}

/// The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection are.
enum Opening {
    Http2,
    /// An HTTP/1.x request (it gets a plain-text answer saying what this server speaks).
    Http1,
    /// Anything else, a timeout, EOF or shutdown: close.
    Close,
}

/// Waits (up to the handshake timeout, and not past shutdown) for the preface, peeking so that
/// hyper still reads it.
async fn opening(
    stream: &TcpStream,
    timeout: Option<Duration>,
    stop: &mut watch::Receiver<bool>,
) -> Opening {
    let read = async {
        let mut buf = [0u8; PREFACE.len()];
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return Opening::Close,
                Ok(n) => n,
            };
            if buf[..n] != PREFACE[..n] {
                let text = &buf[..n];
                let http1 = [
                    &b"GET "[..],
                    b"POST ",
                    b"PUT ",
                    b"HEAD ",
                    b"DELETE ",
                    b"OPTIONS ",
                    b"PATCH ",
                    b"CONNECT ",
                ]
                .iter()
                .any(|m| text.starts_with(m) || m.starts_with(text));
                return if http1 {
                    Opening::Http1
                } else {
                    Opening::Close
                };
            }
            if n == PREFACE.len() {
                return Opening::Http2;
            }
            // Part of the preface so far: wait for more bytes without spinning.
            if stream.readable().await.is_err() {
                return Opening::Close;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let timed = async {
        match timeout {
            Some(t) => tokio::time::timeout(t, read)
                .await
                .unwrap_or(Opening::Close),
            None => read.await,
        }
    };
    tokio::select! {
        opening = timed => opening,
        _ = stop.wait_for(|s| *s) => Opening::Close,
    }
}

/// The answer to an HTTP/1.x request on a gRPC listener.
async fn answer_http1(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let body = "grpc-double serves gRPC over HTTP/2 (cleartext h2c with prior knowledge, or TLS with ALPN h2), not HTTP/1.1.\nUse a gRPC client (grpcurl -plaintext ADDR list); the admin API is HTTP/1.1 on --admin.\n";
    let answer = format!(
        "HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Calls running on one connection, and when the last one ended.
#[derive(Debug, Default)]
struct Activity {
    running: AtomicUsize,
    /// Milliseconds since `since` when a call last ended.
    last_end: std::sync::atomic::AtomicU64,
    since: Option<Instant>,
}

/// Held by a call's response body: the call runs until the body is done or dropped.
struct Running(Arc<Activity>);

impl Running {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.running.fetch_add(1, Ordering::Relaxed);
        Running(activity.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let at = self.0.since.map_or(0, |s| s.elapsed().as_millis() as u64);
        self.0.last_end.store(at, Ordering::Relaxed);
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its call counted as running.
struct Tracked {
    inner: tonic::body::Body,
    _running: Running,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a request knows about where it came from; in every request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The listener's index, in `--listen` order.
    pub(crate) listener: usize,
    /// The listener's bound address.
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    /// Asks this connection to close gracefully (GOAWAY) once its calls are done.
    pub(crate) goaway: Arc<Notify>,
    /// The listener, for outage windows.
    pub(crate) control: Arc<ListenerControl>,
    /// The verified client certificate's subject (mutual TLS).
    pub(crate) client_subject: Option<Arc<str>>,
}

/// Per-listener controls: an outage window during which connections are refused.
#[derive(Debug, Default)]
pub(crate) struct ListenerControl {
    refuse_until: Mutex<Option<Instant>>,
    /// Fired when an outage starts: every open connection of the listener closes.
    outage: Notify,
    open: AtomicUsize,
}

impl ListenerControl {
    /// Refuses new connections for `window`, and closes the open ones (GOAWAY).
    pub(crate) fn outage(&self, window: Duration) {
        let until = Instant::now() + window;
        let mut refuse = self.refuse_until.lock().unwrap_or_else(|e| e.into_inner());
        *refuse = Some(refuse.map_or(until, |u| u.max(until)));
        drop(refuse);
        self.outage.notify_waiters();
    }

    fn refusing(&self) -> bool {
        let mut refuse = self.refuse_until.lock().unwrap_or_else(|e| e.into_inner());
        match *refuse {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *refuse = None;
                false
            }
            None => false,
        }
    }
}

/// The server's lifecycle, as every accept loop and connection sees it.
#[derive(Debug, Clone)]
pub(crate) struct Lifecycle {
    /// Turns true when shutdown starts: stop accepting, close connections gracefully.
    pub(crate) stop: watch::Receiver<bool>,
    /// Turns true when the grace period is over: drop what still runs.
    pub(crate) force: watch::Receiver<bool>,
    /// Held while anything serves; the server waits until every clone is dropped.
    pub(crate) alive: mpsc::Sender<()>,
    /// Calls cut when the grace period ran out (counted at shutdown only).
    pub(crate) cut: Arc<AtomicUsize>,
}

/// Accepts connections on `listener` until shutdown starts, serving each with `service`.
pub(crate) async fn accept_loop<S>(
    index: usize,
    listener: TcpListener,
    control: Arc<ListenerControl>,
    service: S,
    settings: Http2Settings,
    life: Lifecycle,
    tls: Option<tokio_rustls::TlsAcceptor>,
) where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let local = match listener.local_addr() {
        Ok(addr) => addr,
        Err(_) => return,
    };
    let mut stop = life.stop.clone();
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(err) => {
                // Out of file descriptors, or a connection reset while queued: wait, then try
                // again, instead of spinning on an error that repeats.
                tracing::warn!(listener = %local, error = %err, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    _ = stop.wait_for(|s| *s) => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if control.refusing() {
            drop(stream);
            continue;
        }
        let info = ConnInfo {
            listener: index,
            local,
            peer,
            goaway: Arc::new(Notify::new()),
            control: control.clone(),
            client_subject: None,
        };
        tokio::spawn(serve_connection(
            stream,
            info,
            service.clone(),
            settings.clone(),
            life.clone(),
            tls.clone(),
        ));
    }
}

async fn serve_connection<S>(
    stream: TcpStream,
    info: ConnInfo,
    service: S,
    settings: Http2Settings,
    life: Lifecycle,
    tls: Option<tokio_rustls::TlsAcceptor>,
) where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut stop = life.stop.clone();
    let _ = stream.set_nodelay(true);
    let control = info.control.clone();
    control.open.fetch_add(1, Ordering::Relaxed);
    match tls {
        None => match opening(&stream, settings.handshake_timeout, &mut stop).await {
            Opening::Http2 => serve_h2(TokioIo::new(stream), info, service, settings, life).await,
            Opening::Http1 => {
                tracing::debug!(peer = %info.peer, "an HTTP/1.1 request on a gRPC listener: answered 505");
                answer_http1(stream).await;
            }
            Opening::Close => {
                tracing::debug!(peer = %info.peer, "closed a connection that did not start HTTP/2 in time");
            }
        },
        Some(acceptor) => {
            let handshake = acceptor.accept(stream);
            let timed = async {
                match settings.handshake_timeout {
                    Some(t) => tokio::time::timeout(t, handshake).await.ok(),
                    None => Some(handshake.await),
                }
            };
            let accepted = tokio::select! {
                accepted = timed => accepted,
                _ = stop.wait_for(|s| *s) => None,
            };
            match accepted {
                Some(Ok(tls)) => {
                    let mut info = info;
                    info.client_subject = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .and_then(|cert| super::tls::subject(cert))
                        .map(Arc::from);
                    serve_h2(TokioIo::new(tls), info, service, settings, life).await;
                }
                Some(Err(err)) => {
                    tracing::debug!(peer = %info.peer, error = %err, "TLS handshake failed");
                }
                None => {
                    tracing::debug!(peer = %info.peer, "closed a connection whose TLS handshake did not finish in time");
                }
            }
        }
    }
    control.open.fetch_sub(1, Ordering::Relaxed);
}

/// Serves HTTP/2 on an established connection (cleartext or TLS) until it closes, shutdown
/// ends it or the grace period runs out.
async fn serve_h2<S, IO>(
    io: IO,
    info: ConnInfo,
    service: S,
    settings: Http2Settings,
    life: Lifecycle,
) where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let Lifecycle {
        mut stop,
        mut force,
        alive,
        cut,
    } = life;
    let control = info.control.clone();
    let peer = info.peer;
    let goaway = info.goaway.clone();
    let activity = Arc::new(Activity {
        since: Some(Instant::now()),
        ..Activity::default()
    });
    let counted = activity.clone();
    let per_request = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let mut req = req.map(tonic::body::Body::new);
        // Only the TLS layer says who the client is.
        let headers = req.headers_mut();
        headers.remove(super::tls::CLIENT_SUBJECT_HEADER);
        if let Some(subject) = &info.client_subject
            && let Ok(value) = http::HeaderValue::from_str(subject)
        {
            headers.insert(super::tls::CLIENT_SUBJECT_HEADER, value);
        }
        req.extensions_mut().insert(info.clone());
        let running = Running::new(&counted);
        let call = service.clone().oneshot(req);
        async move {
            let response = call.await?;
            Ok::<_, Infallible>(response.map(|inner| Tracked {
                inner,
                _running: running,
            }))
        }
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.max_concurrent_streams)
        .keep_alive_interval(settings.keepalive_interval);
    if let Some(timeout) = settings.keepalive_timeout {
        builder.keep_alive_timeout(timeout);
    }
    let connection = builder.serve_connection(
        io,
        hyper_util::service::TowerToHyperService::new(per_request),
    );
    tokio::pin!(connection);
    let mut closing = false;
    let idle = settings.idle_timeout;
    let mut idle_check = tokio::time::interval(idle.map_or(Duration::from_secs(3600), |t| {
        (t / 4).max(Duration::from_millis(10))
    }));
    idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut connection => break,
            _ = idle_check.tick(), if idle.is_some() && !closing => {
                let quiet_ms = activity.since.map_or(0, |s| s.elapsed().as_millis() as u64)
                    .saturating_sub(activity.last_end.load(Ordering::Relaxed));
                if activity.running.load(Ordering::Relaxed) == 0
                    && idle.is_some_and(|t| quiet_ms >= t.as_millis() as u64)
                {
                    tracing::debug!(%peer, "closing an idle connection");
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = goaway.notified(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = control.outage.notified(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            // The grace period is over: drop the connection and whatever it still serves.
            _ = force.wait_for(|f| *f) => {
                let running = activity.running.load(Ordering::Relaxed);
                if running > 0 {
                    tracing::warn!(%peer, calls = running, "shutdown: cut calls still running when the grace period ended");
                    cut.fetch_add(running, Ordering::Relaxed);
                }
                break;
            }
        }
    }
    drop(control);
    drop(alive);
}
