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

/// HTTP/2 settings of every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Http2Settings {
    pub(crate) max_concurrent_streams: Option<u32>,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Option<Duration>,
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
}

/// Accepts connections on `listener` until shutdown starts, serving each with `service`.
pub(crate) async fn accept_loop<S>(
    index: usize,
    listener: TcpListener,
    control: Arc<ListenerControl>,
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
        };
        tokio::spawn(serve_connection(
            stream,
            info,
            service.clone(),
            settings.clone(),
            life.clone(),
        ));
    }
}

async fn serve_connection<S>(
    stream: TcpStream,
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
{
    let Lifecycle {
        mut stop,
        mut force,
        alive,
    } = life;
    let _ = stream.set_nodelay(true);
    let control = info.control.clone();
    control.open.fetch_add(1, Ordering::Relaxed);
    let goaway = info.goaway.clone();
    let per_request = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let mut req = req.map(tonic::body::Body::new);
        req.extensions_mut().insert(info.clone());
        service.clone().oneshot(req)
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
        TokioIo::new(stream),
        hyper_util::service::TowerToHyperService::new(per_request),
    );
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = &mut connection => break,
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
            _ = force.wait_for(|f| *f) => break,
        }
    }
    control.open.fetch_sub(1, Ordering::Relaxed);
    drop(alive);
}
