//! What the server remembers of each call: one log line (method, peer, listener, status,
//! duration, the stub that answered) and one journal entry.
//!
//! The status of a gRPC call is known only when its last frame leaves (trailers), or at once for
//! trailers-only errors, so the layer wraps the response body and finishes the record when the
//! trailers pass or the body is dropped (a cancelled call). Handlers fill the call's
//! [`Capture`], found in the request's extensions.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Instant, SystemTime},
};

use bytes::Bytes;
use futures_util::{FutureExt as _, future::BoxFuture};
use http::uri::PathAndQuery;
use http_body::Frame;

use super::{
    journal::{Capture, Entry, Journal},
    listen::ConnInfo,
};
use crate::fake::model::code_name;

/// The request header that names a call's session.
pub const SESSION_HEADER: &str = "x-grpc-double-session";

/// Paths the journal leaves out: the server's own services, not the user's contract.
fn is_infrastructure(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Adds the call log and the journal to every service of the server.
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    pub(crate) log: bool,
    pub(crate) journal: Arc<Journal>,
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
{
    type Response = http::Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let started = SystemTime::now();

        // Shared with the request (no copy); addresses are written out only when read.
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let conn = req.extensions().get::<ConnInfo>();
        let peer = conn.map(|info| info.peer);
        let listener = conn.map(|info| info.local);
        let journal = (self.layer.journal.is_on() && !is_infrastructure(path.path()))
            .then(|| self.layer.journal.clone());
        let capture = Arc::new(Capture::for_request(journal.is_some(), req.headers()));
        req.extensions_mut().insert(capture.clone());

        let session = req
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let log = self.layer.log;
        let future = self.inner.call(req);
        async move {
            let response = future.await?;
            let mut record = Record {
                path,
                peer,
                listener,
                session,
                start,
                started,
                capture,
                log,
                journal,
                done: false,
            };
            // Trailers-only responses (immediate errors) carry the status in the headers.
            let status = grpc_status(response.headers());
            if record.journal.is_some() {
                record
                    .capture
                    .response_metadata(response.headers(), status.is_some());
            }
            if let Some(code) = status {
                record.finish(code, grpc_message(response.headers()));
            }
            Ok(response.map(|inner| ObservedBody { inner, record }))
        }
        .boxed()
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

fn grpc_message(headers: &http::HeaderMap) -> String {
    headers
        .get("grpc-message")
        .map(|m| {
            percent_encoding::percent_decode(m.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

struct Record {
    path: PathAndQuery,
    peer: Option<SocketAddr>,
    listener: Option<SocketAddr>,
    session: Option<String>,
    start: Instant,
    started: SystemTime,
    capture: Arc<Capture>,
    log: bool,
    journal: Option<Arc<Journal>>,
    done: bool,
}

impl Record {
    fn finish(&mut self, code: i32, message: String) {
        self.finish_with(code, message, None);
    }

    /// Finishes the record; `trailers` are the response's, noted in the journal's entry.
    fn finish_with(&mut self, code: i32, message: String, trailers: Option<&http::HeaderMap>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let duration = self.start.elapsed();
        // The line is put together only when the subscriber would print it (not under -q).
        let shown = self.log
            && if code == 0 {
                tracing::enabled!(target: "grpc_double::call", tracing::Level::INFO)
            } else {
                tracing::enabled!(target: "grpc_double::call", tracing::Level::WARN)
            };
        if shown {
            let status = code_name(tonic::Code::from(code));
            let address =
                |addr: Option<SocketAddr>| addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
            let peer = address(self.peer);
            let listener = address(self.listener);
            let method = self.path.path();
            let millis = duration.as_secs_f64() * 1e3;
            let stub = self
                .capture
                .with(|c| c.stub.as_ref().map(|s| s.label.clone()));
            let stub = stub.as_deref().unwrap_or("-");
            if code == 0 {
                tracing::info!(target: "grpc_double::call", method = %method, peer = %peer, listener = %listener, status, duration_ms = format_args!("{millis:.2}"), stub, "call");
            } else {
                tracing::warn!(target: "grpc_double::call", method = %method, peer = %peer, listener = %listener, status, duration_ms = format_args!("{millis:.2}"), stub, "call");
            }
        }
        if let Some(journal) = self.journal.take() {
            let mut data = match trailers {
                Some(trailers) => self.capture.take_with_trailers(trailers),
                None => self.capture.take(),
            };
            let path = data
                .path
                .take()
                .unwrap_or_else(|| Arc::from(self.path.path()));
            journal.push(Entry {
                seq: journal.next_seq(),
                path,
                session: self.session.take(),
                started: self.started,
                duration,
                peer: self.peer.take(),
                listener: self.listener.take(),
                code,
                message,
                data,
            });
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        // The body was dropped before its trailers: the client went away.
        self.finish(
            tonic::Code::Cancelled as i32,
            "the client cancelled the call".into(),
        );
    }
}

/// A response body that finishes the call's record when its trailers pass.
pub(crate) struct ObservedBody<B> {
    inner: B,
    record: Record,
}

impl<B> http_body::Body for ObservedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(trailers) = f.trailers_ref()
                    && let Some(code) = grpc_status(trailers)
                {
                    let message = grpc_message(trailers);
                    self.record.finish_with(code, message, Some(trailers));
                }
            }
            Some(Err(_)) => self
                .record
                .finish(tonic::Code::Internal as i32, "the stream was reset".into()),
            None => self.record.finish(0, String::new()),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
