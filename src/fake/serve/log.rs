//! One log line per call: method, peer, listener, status code, duration and the stub that
//! answered.
//!
//! The status of a gRPC call is known only when its last frame leaves (trailers), or at once for
//! trailers-only errors, so the layer wraps the response body and logs when the trailers pass or
//! the body is dropped (a cancelled call).

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use futures_util::{FutureExt as _, future::BoxFuture};
use http_body::Frame;

use super::listen::ConnInfo;
use crate::fake::model::code_name;

/// Where a handler notes the stub that answered, for the call log (which puts it in the request).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnsweredBy(pub(crate) Arc<std::sync::OnceLock<Arc<str>>>);

impl AnsweredBy {
    /// Notes the label of the stub that answers the call whose extensions hold the slot.
    pub(crate) fn note(extensions: &tonic::Extensions, label: &Arc<str>) {
        if let Some(slot) = extensions.get::<AnsweredBy>() {
            let _ = slot.0.set(label.clone());
        }
    }
}

/// Adds the call log to every service of the server.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallLogLayer;

impl<S> tower::Layer<S> for CallLogLayer {
    type Service = CallLog<S>;

    fn layer(&self, inner: S) -> CallLog<S> {
        CallLog { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CallLog<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for CallLog<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
{
    type Response = http::Response<LoggedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let answered = AnsweredBy::default();
        req.extensions_mut().insert(answered.clone());
        let method: Arc<str> = req.uri().path().into();
        let conn = req.extensions().get::<ConnInfo>();
        let peer = conn.map(|info| info.peer);
        let listener = conn.map(|info| info.local);
        let future = self.inner.call(req);
        async move {
            let response = future.await?;
            let mut record = Record {
                method,
                peer,
                listener,
                start,
                answered,
                done: false,
            };
            // Trailers-only responses (immediate errors) carry the status in the headers.
            if let Some(code) = grpc_status(response.headers()) {
                record.log(code);
            }
            Ok(response.map(|inner| LoggedBody { inner, record }))
        }
        .boxed()
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

struct Record {
    method: Arc<str>,
    peer: Option<SocketAddr>,
    listener: Option<SocketAddr>,
    start: Instant,
    answered: AnsweredBy,
    done: bool,
}

impl Record {
    fn log(&mut self, code: i32) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let status = code_name(tonic::Code::from(code));
        let peer = self.peer.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let listener = self
            .listener
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        let millis = self.start.elapsed().as_secs_f64() * 1e3;
        let stub = self.answered.0.get().map_or("-", |s| &**s);
        if code == 0 {
            tracing::info!(target: "grpc_double::call", method = %self.method, peer = %peer, listener = %listener, status, duration_ms = format_args!("{millis:.2}"), stub, "call");
        } else {
            tracing::warn!(target: "grpc_double::call", method = %self.method, peer = %peer, listener = %listener, status, duration_ms = format_args!("{millis:.2}"), stub, "call");
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        // The body was dropped before its trailers: the client went away.
        self.log(tonic::Code::Cancelled as i32);
    }
}

/// A response body that logs the call when its trailers pass.
pub(crate) struct LoggedBody<B> {
    inner: B,
    record: Record,
}

impl<B> http_body::Body for LoggedBody<B>
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
                if let Some(code) = f.trailers_ref().and_then(grpc_status) {
                    self.record.log(code);
                }
            }
            Some(Err(_)) => self.record.log(tonic::Code::Internal as i32),
            None => self.record.log(0),
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
