//! The dynamic gRPC service: routes `/package.Service/Method` to stubs and answers.
//!
//! One tower service serves every method of every loaded service. The route table is built once;
//! each entry holds the method's descriptors, its RPC kind and its stubs in priority order, so a
//! call costs one hash lookup on the path and no descriptor lookups by name.

use std::{
    cell::OnceCell,
    collections::HashMap,
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{FutureExt as _, future::BoxFuture};
use http_body::Frame;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    Request, Response, Status, Streaming, codec::CompressionEncoding, metadata::MetadataMap,
    server::Grpc,
};

use super::{
    Fixtures,
    codec::DynamicCodec,
    matchers::{Candidate, show_message},
    respond::Reply,
    stub::{Stub, method_name},
    template::CallView,
};

/// Transport settings applied to every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub(crate) send_compression: Option<CompressionEncoding>,
    pub(crate) max_message_size: Option<usize>,
}

/// One method: descriptors, kind and its stubs, highest priority first.
#[derive(Debug)]
struct MethodEntry {
    method: MethodDescriptor,
    name: String,
    stubs: Vec<Stub>,
}

#[derive(Debug)]
struct Inner {
    routes: HashMap<String, Arc<MethodEntry>>,
    services: Vec<String>,
    env: minijinja::Environment<'static>,
    options: CallOptions,
}

/// Serves every method of the given services from the fixtures.
#[derive(Debug, Clone)]
pub(crate) struct DynamicService {
    inner: Arc<Inner>,
}

/// Where a handler notes the stub that answered, for the call log (which puts it in the request).
#[derive(Debug, Clone, Default)]
pub(crate) struct AnsweredBy(pub(crate) Arc<std::sync::OnceLock<Arc<str>>>);

fn note_answer(extensions: &tonic::Extensions, stub: &Stub) {
    if let Some(slot) = extensions.get::<AnsweredBy>() {
        let _ = slot.0.set(stub.label.clone());
    }
}

/// Trailers to add to a successful response (errors carry theirs in the status).
#[derive(Debug, Clone)]
struct ExtraTrailers(MetadataMap);

impl DynamicService {
    pub(crate) fn new(
        services: impl IntoIterator<Item = prost_reflect::ServiceDescriptor>,
        fixtures: Fixtures,
        options: CallOptions,
    ) -> Self {
        let mut by_method: HashMap<String, Vec<Stub>> = HashMap::new();
        for stub in fixtures.stubs {
            by_method.entry(stub.method_name()).or_default().push(stub);
        }
        let mut routes = HashMap::new();
        let mut names = Vec::new();
        for service in services {
            names.push(service.full_name().to_owned());
            for method in service.methods() {
                let name = method_name(&method);
                let stubs = by_method.remove(&name).unwrap_or_default();
                routes.insert(
                    format!("/{name}"),
                    Arc::new(MethodEntry {
                        method,
                        name,
                        stubs,
                    }),
                );
            }
        }
        Self {
            inner: Arc::new(Inner {
                routes,
                services: names,
                env: fixtures.env,
                options,
            }),
        }
    }

    /// Gets the full names of the services served, e.g. `userservice.UserService`.
    pub(crate) fn services(&self) -> &[String] {
        &self.inner.services
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

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        async move {
            let Some(entry) = inner.routes.get(req.uri().path()).cloned() else {
                let status = unknown_method(&inner, req.uri().path());
                return Ok(status.into_http());
            };
            let mut grpc = Grpc::new(DynamicCodec::new(entry.method.input()))
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd);
            if let Some(encoding) = inner.options.send_compression {
                grpc = grpc.send_compressed(encoding);
            }
            if let Some(size) = inner.options.max_message_size {
                grpc = grpc
                    .max_decoding_message_size(size)
                    .max_encoding_message_size(size);
            }
            let call = Call {
                entry: entry.clone(),
                inner: inner.clone(),
            };
            let response = match (
                entry.method.is_client_streaming(),
                entry.method.is_server_streaming(),
            ) {
                (false, false) => {
                    grpc.unary(tower::service_fn(move |r| call.clone().unary(r)), req)
                        .await
                }
                (false, true) => {
                    grpc.server_streaming(
                        tower::service_fn(move |r| call.clone().server_stream(r)),
                        req,
                    )
                    .await
                }
                (true, false) => {
                    grpc.client_streaming(
                        tower::service_fn(move |r| call.clone().client_stream(r)),
                        req,
                    )
                    .await
                }
                (true, true) => {
                    grpc.streaming(tower::service_fn(move |r| call.clone().bidi(r)), req)
                        .await
                }
            };
            Ok(add_trailers(response))
        }
        .boxed()
    }
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

type ReplyStream = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Status>> + Send>>;

#[derive(Clone)]
struct Call {
    entry: Arc<MethodEntry>,
    inner: Arc<Inner>,
}

impl Call {
    async fn unary(self, req: Request<DynamicMessage>) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let view = self.view(Some(&message), std::slice::from_ref(&message), &metadata);
        let stub = self.find(&view)?;
        note_answer(&extensions, stub);
        self.single(stub, &view).await
    }

    async fn client_stream(
        self,
        req: Request<Streaming<DynamicMessage>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, mut inbound) = req.into_parts();
        let mut messages = Vec::new();
        while let Some(message) = inbound.message().await? {
            messages.push(message);
        }
        let view = self.view(messages.last(), &messages, &metadata);
        let stub = self.find(&view)?;
        note_answer(&extensions, stub);
        self.single(stub, &view).await
    }

    async fn server_stream(
        self,
        req: Request<DynamicMessage>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let view = self.view(Some(&message), std::slice::from_ref(&message), &metadata);
        let stub = self.find(&view)?;
        note_answer(&extensions, stub);
        let reply = &stub.then;
        sleep(reply.delay).await;
        let (tx, rx) = mpsc::channel(16);
        let rendered = self.render_all(reply, &view);
        let trailers = if reply.fails() {
            MetadataMap::new()
        } else {
            reply.trailers.clone()
        };
        tokio::spawn(async move {
            for item in rendered {
                sleep(item.0).await;
                if tx.send(item.1).await.is_err() {
                    return;
                }
            }
        });
        let mut response = Response::from_parts(
            reply.headers.clone(),
            Box::pin(ReceiverStream::new(rx)) as ReplyStream,
            Default::default(),
        );
        add_trailers_later(&mut response, trailers);
        Ok(response)
    }

    /// Each message is answered as it arrives, from the stub that matches it; the call stays open
    /// until the client half-closes.
    async fn bidi(
        self,
        req: Request<Streaming<DynamicMessage>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, mut inbound) = req.into_parts();
        let (tx, rx) = mpsc::channel(16);
        let call = self.clone();
        let headers = MetadataMap::new();
        tokio::spawn(async move {
            let mut received: Vec<DynamicMessage> = Vec::new();
            loop {
                let message = match inbound.message().await {
                    Ok(Some(message)) => message,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                received.push(message);
                let items = {
                    let view = call.view(received.last(), &received, &metadata);
                    match call.find(&view) {
                        Ok(stub) => {
                            note_answer(&extensions, stub);
                            let mut items = call.render_all(&stub.then, &view);
                            if let Some(first) = items.first_mut() {
                                first.0 += stub.then.delay;
                            }
                            items
                        }
                        Err(status) => vec![(Duration::ZERO, Err(status))],
                    }
                };
                for (delay, item) in items {
                    let end = item.is_err();
                    sleep(delay).await;
                    if tx.send(item).await.is_err() || end {
                        return;
                    }
                }
            }
        });
        Ok(Response::from_parts(
            headers,
            Box::pin(ReceiverStream::new(rx)) as ReplyStream,
            Default::default(),
        ))
    }

    fn view<'a>(
        &'a self,
        request: Option<&'a DynamicMessage>,
        requests: &'a [DynamicMessage],
        metadata: &'a MetadataMap,
    ) -> CallView<'a> {
        CallView {
            request,
            requests,
            metadata,
            method: &self.entry.name,
        }
    }

    /// The first stub (by priority, then file order) whose conditions all hold.
    fn find(&self, view: &CallView<'_>) -> Result<&Stub, Status> {
        let context = OnceCell::new();
        let candidate = Candidate {
            view,
            env: &self.inner.env,
            context: &context,
        };
        let mut reasons = Vec::new();
        for stub in &self.entry.stubs {
            reasons.clear();
            if stub.when.iter().all(|m| {
                m.mismatches(&candidate, &mut reasons);
                reasons.is_empty()
            }) {
                return Ok(stub);
            }
        }
        Err(self.unmatched(&candidate))
    }

    /// UNIMPLEMENTED, naming the closest stub and why it did not match.
    fn unmatched(&self, candidate: &Candidate<'_>) -> Status {
        let name = &self.entry.name;
        let request = match candidate.view.request {
            Some(message) if candidate.view.requests.len() <= 1 => {
                truncate(&show_message(message), 200)
            }
            _ => format!("{} messages", candidate.view.requests.len()),
        };
        let closest = self
            .entry
            .stubs
            .iter()
            .map(|stub| {
                let mut reasons = Vec::new();
                stub.when
                    .iter()
                    .for_each(|m| m.mismatches(candidate, &mut reasons));
                (reasons, stub)
            })
            .min_by_key(|(reasons, _)| reasons.len());
        let message = match closest {
            None => format!(
                "no stub for {name}; add one to your fixtures: `- method: {name}` (request: {request})"
            ),
            Some((reasons, stub)) => format!(
                "no stub matched {name} (request: {request}); closest is {stub}: {}",
                reasons.join("; ")
            ),
        };
        Status::unimplemented(message)
    }

    async fn single(&self, stub: &Stub, view: &CallView<'_>) -> Result<Response<Bytes>, Status> {
        let reply = &stub.then;
        sleep(reply.delay).await;
        let context = if reply.needs_context() {
            view.context()
        } else {
            minijinja::Value::UNDEFINED
        };
        if let Some(status) = reply.error(&self.inner.env, &context, true) {
            return Err(status);
        }
        let Some(item) = reply.messages.first() else {
            return Err(Status::internal(format!("{stub} has no message")));
        };
        let bytes = item
            .payload
            .render(&self.inner.env, &context)
            .map_err(|e| template_failed(stub, &e))?;
        let mut response = Response::from_parts(reply.headers.clone(), bytes, Default::default());
        add_trailers_later(&mut response, reply.trailers.clone());
        Ok(response)
    }

    /// Renders every message of a reply now, with their delays, then the closing status.
    fn render_all(
        &self,
        reply: &Reply,
        view: &CallView<'_>,
    ) -> Vec<(Duration, Result<Bytes, Status>)> {
        let context = if reply.needs_context() {
            view.context()
        } else {
            minijinja::Value::UNDEFINED
        };
        let mut items = Vec::with_capacity(reply.messages.len() + 1);
        for item in &reply.messages {
            match item.payload.render(&self.inner.env, &context) {
                Ok(bytes) => items.push((item.delay, Ok(bytes))),
                Err(err) => {
                    items.push((
                        item.delay,
                        Err(Status::internal(format!("reply template failed: {err}"))),
                    ));
                    return items;
                }
            }
        }
        if let Some(status) = reply.error(&self.inner.env, &context, false) {
            items.push((Duration::ZERO, Err(status)));
        }
        items
    }
}

fn add_trailers_later<T>(response: &mut Response<T>, trailers: MetadataMap) {
    if !trailers.is_empty() {
        response.extensions_mut().insert(ExtraTrailers(trailers));
    }
}

fn template_failed(stub: &Stub, err: &str) -> Status {
    Status::internal(format!("reply template of {stub} failed: {err}"))
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Moves [`ExtraTrailers`] from the response extensions into the trailers frame.
fn add_trailers(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let Some(ExtraTrailers(extra)) = response.extensions_mut().remove::<ExtraTrailers>() else {
        return response;
    };
    response.map(|body| {
        tonic::body::Body::new(WithTrailers {
            inner: body,
            extra: Some(extra.into_headers()),
        })
    })
}

struct WithTrailers {
    inner: tonic::body::Body,
    extra: Option<http::HeaderMap>,
}

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    if let Some(extra) = self.extra.take() {
                        for (key, value) in extra {
                            if let Some(key) = key {
                                trailers.append(key, value);
                            }
                        }
                    }
                    Some(Ok(Frame::trailers(trailers)))
                }
                Err(frame) => Some(Ok(frame)),
            },
            other => other,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
