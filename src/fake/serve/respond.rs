//! Answering calls of the four RPC kinds from the stub that matches.
//!
//! Messages are shared (`Arc`) between matchers, templates and the stream's history; on a bidi
//! stream each message is matched and answered as it arrives, at a cost that does not grow with
//! the number of messages before it.

use std::{
    pin::Pin,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use prost_reflect::DynamicMessage;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming, metadata::MetadataMap};

use super::{log::AnsweredBy, route::MethodEntry, trailers::add_trailers_later};
use crate::fake::{
    model::{Call, Reply, Stub, Text},
    template::Received,
};

pub(crate) type ReplyStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Status>> + Send>>;

/// Answers the calls of one method.
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) entry: Arc<MethodEntry>,
}

impl Handler {
    pub(crate) async fn unary(
        self,
        req: Request<DynamicMessage>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let message = Arc::new(message);
        let received = Received::one(message.clone());
        let cache = OnceLock::new();
        let call = self.call(Some(&message), &received, 1, &metadata, &cache);
        let stub = self.entry.find(&call)?;
        AnsweredBy::note(&extensions, &stub.label);
        single(stub, &call).await
    }

    pub(crate) async fn client_stream(
        self,
        req: Request<Streaming<DynamicMessage>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, mut inbound) = req.into_parts();
        let mut messages = Vec::new();
        while let Some(message) = inbound.message().await? {
            messages.push(Arc::new(message));
        }
        let last = messages.last().cloned();
        let len = messages.len();
        let received = Received::all(messages);
        let cache = OnceLock::new();
        let call = self.call(last.as_ref(), &received, len, &metadata, &cache);
        let stub = self.entry.find(&call)?;
        AnsweredBy::note(&extensions, &stub.label);
        single(stub, &call).await
    }

    pub(crate) async fn server_stream(
        self,
        req: Request<DynamicMessage>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let message = Arc::new(message);
        let received = Received::one(message.clone());
        let cache = OnceLock::new();
        let call = self.call(Some(&message), &received, 1, &metadata, &cache);
        let stub = self.entry.find(&call)?;
        AnsweredBy::note(&extensions, &stub.label);
        let reply = &stub.then;
        sleep(reply.delay).await;
        let (tx, rx) = mpsc::channel(16);
        let rendered = render_all(reply, &call);
        let trailers = if reply.fails() {
            MetadataMap::new()
        } else {
            reply.trailers.clone()
        };
        tokio::spawn(async move {
            for (delay, item) in rendered {
                sleep(delay).await;
                if tx.send(item).await.is_err() {
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
    pub(crate) async fn bidi(
        self,
        req: Request<Streaming<DynamicMessage>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, mut inbound) = req.into_parts();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let received = Arc::new(Received::default());
            let cache = OnceLock::new();
            loop {
                let message = match inbound.message().await {
                    Ok(Some(message)) => Arc::new(message),
                    Ok(None) => return,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                let len = received.push(message.clone());
                let items = {
                    let call = self.call(Some(&message), &received, len, &metadata, &cache);
                    match self.entry.find(&call) {
                        Ok(stub) => {
                            AnsweredBy::note(&extensions, &stub.label);
                            let mut items = render_all(&stub.then, &call);
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
            MetadataMap::new(),
            Box::pin(ReceiverStream::new(rx)) as ReplyStream,
            Default::default(),
        ))
    }

    fn call<'a>(
        &'a self,
        request: Option<&'a Arc<DynamicMessage>>,
        received: &'a Arc<Received>,
        len: usize,
        metadata: &'a MetadataMap,
        cache: &'a OnceLock<minijinja::Value>,
    ) -> Call<'a> {
        Call::new(&self.entry.name, request, received, len, metadata, cache)
    }
}

/// The template context when the reply needs one.
fn context<'c>(reply: &Reply, call: &'c Call<'_>) -> &'c minijinja::Value {
    static NONE: minijinja::Value = minijinja::Value::UNDEFINED;
    if reply.needs_context() {
        call.context()
    } else {
        &NONE
    }
}

/// Answers a unary or client-streaming call: one message, or an error status.
async fn single(stub: &Stub, call: &Call<'_>) -> Result<Response<Bytes>, Status> {
    let reply = &stub.then;
    sleep(reply.delay).await;
    let context = context(reply, call);
    if let Some(status) = error_status(reply, context, true) {
        return Err(status);
    }
    let Some(item) = reply.messages.first() else {
        return Err(Status::internal(format!("{stub} has no message")));
    };
    let bytes = item
        .payload
        .render(context)
        .map_err(|err| Status::internal(format!("reply template of {stub} failed: {err}")))?;
    let mut response = Response::from_parts(reply.headers.clone(), bytes, Default::default());
    add_trailers_later(&mut response, reply.trailers.clone());
    Ok(response)
}

/// Renders every message of a reply now, with their delays, then the closing status.
fn render_all(reply: &Reply, call: &Call<'_>) -> Vec<(Duration, Result<Bytes, Status>)> {
    let context = context(reply, call);
    let mut items = Vec::with_capacity(reply.messages.len() + 1);
    for item in &reply.messages {
        match item.payload.render(context) {
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
    if let Some(status) = error_status(reply, context, false) {
        items.push((Duration::ZERO, Err(status)));
    }
    items
}

/// The error status to end with, or `None` for OK. Trailers ride on the status, and so do
/// the headers when the error is the whole response (`with_headers`).
fn error_status(reply: &Reply, ctx: &minijinja::Value, with_headers: bool) -> Option<Status> {
    let status = reply.status.as_ref().filter(|s| s.code != Code::Ok)?;
    let message = match &status.message {
        Text::Static(text) => text.clone(),
        Text::Template(template) => match template.render_text(ctx) {
            Ok(text) => text,
            Err(err) => {
                return Some(Status::internal(format!(
                    "status message template failed: {err}"
                )));
            }
        },
    };
    let mut metadata = if with_headers {
        reply.headers.clone()
    } else {
        MetadataMap::new()
    };
    for (key, value) in reply.trailers.clone().into_headers() {
        if let Some(key) = key {
            metadata.as_mut().append(key, value);
        }
    }
    Some(Status::with_details_and_metadata(
        status.code,
        message,
        status.details.clone(),
        metadata,
    ))
}

async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}
