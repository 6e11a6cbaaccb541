//! The dynamic gRPC service: routes `/package.Service/Method` to stubs and answers.
//!
//! One tower service serves every method of every loaded service. The route table is built once;
//! each entry holds the method's descriptors, its RPC kind and its stubs in priority order, so a
//! call costs one hash lookup on the path and no descriptor lookups by name.

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::{FutureExt as _, future::BoxFuture};
use tonic::{Status, codec::CompressionEncoding, server::Grpc};

use super::{
    codec::DynamicCodec, journal::Capture, observe::SESSION_HEADER, respond::Handler,
    state::Shared, store::Snapshot, stream::Deadline, trailers::add_trailers,
};

/// Transport settings applied to every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub(crate) send_compression: Option<CompressionEncoding>,
    pub(crate) max_message_size: Option<usize>,
    pub(crate) max_received_bytes: usize,
}

#[derive(Debug)]
struct Inner {
    published: Arc<ArcSwap<Snapshot>>,
    services: Vec<String>,
    options: CallOptions,
    shared: Arc<Shared>,
}

/// Serves every method of the given services from the store's current snapshot.
#[derive(Debug, Clone)]
pub(crate) struct DynamicService {
    inner: Arc<Inner>,
}

impl DynamicService {
    pub(crate) fn new(
        services: Vec<String>,
        published: Arc<ArcSwap<Snapshot>>,
        options: CallOptions,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                published,
                services,
                options,
                shared,
            }),
        }
    }
}

impl<B> tower::Service<http::Request<B>> for DynamicService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        async move {
            let snapshot = inner.published.load_full();
            let path = req.uri().path();
            let Some(entry) = snapshot.shared.get(path).cloned() else {
                let status = unknown_method(&inner, path);
                return Ok(status.into_http());
            };
            let session = req
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let session_entry = session.as_deref().and_then(|s| {
                snapshot.touch(s);
                snapshot.sessions.get(s)?.get(path).cloned()
            });
            match deadline(req.headers()) {
                Ok(Some(deadline)) => {
                    if deadline <= tokio::time::Instant::now() {
                        return Ok(super::stream::deadline_exceeded().into_http());
                    }
                    req.extensions_mut().insert(Deadline(deadline));
                }
                Ok(None) => {}
                Err(status) => return Ok(status.into_http()),
            }
            let capture = req.extensions().get::<Arc<Capture>>().cloned();
            if let Some(capture) = &capture {
                capture.with(|c| {
                    c.path = Some(entry.path.clone());
                    c.method = Some(entry.method.clone());
                });
            }
            let mut grpc = Grpc::new(DynamicCodec::new(
                entry.method.input(),
                entry.flat.clone(),
                capture,
                inner.options.max_received_bytes,
                inner
                    .options
                    .max_message_size
                    .unwrap_or(DEFAULT_MAX_MESSAGE),
            ))
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
            if let Some(encoding) = inner.options.send_compression {
                grpc = grpc.send_compressed(encoding);
            }
            let size = inner
                .options
                .max_message_size
                .unwrap_or(DEFAULT_MAX_MESSAGE);
            grpc = grpc
                .max_decoding_message_size(size)
                .max_encoding_message_size(size);
            let handler = Handler {
                entry,
                session_entry,
                snapshot,
                session,
                shared: inner.shared.clone(),
            };
            let response = match (
                handler.entry.method.is_client_streaming(),
                handler.entry.method.is_server_streaming(),
            ) {
                // A unary call is read as a stream so that a second request message is an
                // error (tonic's unary path drops it silently).
                (false, false) => {
                    grpc.client_streaming(
                        tower::service_fn(move |r| handler.clone().unary_checked(r)),
                        req,
                    )
                    .await
                }
                (false, true) => {
                    grpc.server_streaming(
                        tower::service_fn(move |r| handler.clone().server_stream(r)),
                        req,
                    )
                    .await
                }
                (true, false) => {
                    grpc.client_streaming(
                        tower::service_fn(move |r| handler.clone().client_stream(r)),
                        req,
                    )
                    .await
                }
                (true, true) => {
                    grpc.streaming(tower::service_fn(move |r| handler.clone().bidi(r)), req)
                        .await
                }
            };
            Ok(add_trailers(resource_exhausted(response)))
        }
        .boxed()
    }
}

/// The largest message received or sent by default: 4 MiB, every gRPC client's default receive
/// limit (a larger reply would only fail in the client).
pub(crate) const DEFAULT_MAX_MESSAGE: usize = 4 << 20;

/// The deadline a `grpc-timeout` header sets: `1-8 digits` and a unit (`H M S m u n`).
fn deadline(headers: &http::HeaderMap) -> Result<Option<tokio::time::Instant>, Status> {
    let Some(value) = headers.get("grpc-timeout") else {
        return Ok(None);
    };
    let malformed = || {
        Status::internal(format!(
            "malformed grpc-timeout {value:?}: expected 1 to 8 digits and a unit (H, M, S, m, u, n)"
        ))
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let n: u64 = digits.parse().map_err(|_| malformed())?;
    let timeout = match unit {
        "H" => std::time::Duration::from_secs(n * 3600),
        "M" => std::time::Duration::from_secs(n * 60),
        "S" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_millis(n),
        "u" => std::time::Duration::from_micros(n),
        "n" => std::time::Duration::from_nanos(n),
        _ => return Err(malformed()),
    };
    Ok(Some(tokio::time::Instant::now() + timeout))
}

/// tonic answers a request over the size limit with OUT_OF_RANGE; gRPC servers answer
/// RESOURCE_EXHAUSTED (grpc-go, C-core), and so does this one.
fn resource_exhausted(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    let too_large = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| {
                m.contains("message%20length%20too%20large")
                    || m.contains("message length too large")
            });
    if too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

fn unknown_method(inner: &Inner, path: &str) -> Status {
    let service = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let served = inner.services.join(", ");
    if inner.services.iter().any(|s| s == service) {
        Status::unimplemented(format!(
            "unknown method {path}: `{service}` has no such method in the loaded protos"
        ))
    } else {
        Status::unimplemented(format!(
            "unknown service in {path}; this server serves: {served}"
        ))
    }
}
