//! Sending a reply: waits that honour the client's deadline, messages rendered one at a time
//! as the client reads them, the closing status, and the reply's effects on the server.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use tokio::time::Instant;
use tonic::{Code, Status, Streaming, metadata::MetadataMap};

use super::{
    journal::Capture,
    listen::ConnInfo,
    queue::{Receiver, Sender},
    state::Shared,
    trailers::Slots,
};
use crate::fake::{
    model::{Delay, Effects, StatusReply, StreamPart, render},
    template::{CallEnv, with_vars},
};
use crate::schema::value::lazy::LazyMessage;

/// The client's deadline (`grpc-timeout`), in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(pub(crate) Instant);

/// Where a stream's messages go: the response body.
pub(crate) type Tx = Sender<Result<Bytes, Status>>;

/// What every part of sending one call needs.
#[derive(Clone)]
pub(crate) struct Out {
    pub(crate) env: Arc<CallEnv>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) conn: Option<ConnInfo>,
    pub(crate) slots: Arc<Slots>,
    /// What the journal records of the call (`None` when the journal is off).
    pub(crate) capture: Option<Arc<Capture>>,
}

/// A reply stream whose producer (the code that reads the client's messages and renders the
/// replies) runs inside the body's own polls instead of a task of its own.
///
/// When the body is polled, the producer runs until it waits (for a client message, a delay,
/// or room in the buffer), so every message it can answer now is in the buffer when the body
/// reads it: HTTP/2 writes them together, and no second task is woken per message. Dropping
/// the body (the client went away) drops the producer.
pub(crate) struct Driven {
    producer: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    rx: Receiver<Result<Bytes, Status>>,
}

impl Driven {
    pub(crate) fn new(
        producer: impl std::future::Future<Output = ()> + Send + 'static,
        rx: Receiver<Result<Bytes, Status>>,
    ) -> Self {
        Self {
            producer: Some(Box::pin(producer)),
            rx,
        }
    }
}

impl futures_util::Stream for Driven {
    type Item = Result<Bytes, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let std::task::Poll::Ready(item) = this.rx.poll_recv(cx) {
            return std::task::Poll::Ready(item);
        }
        if let Some(producer) = &mut this.producer
            && producer.as_mut().poll(cx).is_ready()
        {
            // Done: its sender is gone, so the buffer ends after what it holds.
            this.producer = None;
        }
        this.rx.poll_recv(cx)
    }
}

/// Why sending stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The client went away.
    Gone,
    /// The call ended with this status (deadline, template failure, limit).
    Status(Status),
    /// The stream was reset.
    Aborted,
}

pub(crate) fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the client's deadline (grpc-timeout) passed before the reply")
}

/// Waits `delay`, or until the deadline (which ends the call with DEADLINE_EXCEEDED).
pub(crate) async fn wait(delay: Duration, deadline: Option<Instant>) -> Result<(), Status> {
    if let Some(deadline) = deadline
        && Instant::now() + delay >= deadline
    {
        tokio::time::sleep_until(deadline).await;
        return Err(deadline_exceeded());
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(())
}

/// Renders and waits a delay.
pub(crate) async fn wait_delay(
    delay: &Delay,
    ctx: &minijinja::Value,
    out: &Out,
) -> Result<(), Status> {
    if delay.is_zero() {
        return match out.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(deadline_exceeded()),
            _ => Ok(()),
        };
    }
    let d = render::delay(delay, ctx, || out.env.draw()).map_err(template_failed)?;
    wait(d, out.deadline).await
}

pub(crate) fn template_failed(err: String) -> Status {
    Status::internal(format!("reply template failed: {err}"))
}

/// The next client message, or `None` when it half-closed; bounded by the deadline.
pub(crate) async fn next(
    inbound: &mut Streaming<Arc<LazyMessage>>,
    deadline: Option<Instant>,
) -> Result<Option<Arc<LazyMessage>>, Status> {
    let message = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, inbound.message())
            .await
            .map_err(|_| deadline_exceeded())?,
        None => inbound.message().await,
    };
    message.map_err(inbound_error)
}

/// A message over the size limit is RESOURCE_EXHAUSTED (as grpc-go and C-core answer).
pub(crate) fn inbound_error(status: Status) -> Status {
    if status.code() == Code::OutOfRange && status.message().contains("message length too large") {
        return Status::resource_exhausted(status.message().to_owned());
    }
    status
}

/// Sends stream parts, rendering each message just before it goes (as the client reads).
pub(crate) async fn send_parts(
    tx: &Tx,
    parts: &[StreamPart],
    ctx: &minijinja::Value,
    out: &Out,
    sent: &mut usize,
) -> Result<(), Stop> {
    for part in parts {
        match part {
            StreamPart::Message(item) => {
                wait_delay(&item.delay, ctx, out)
                    .await
                    .map_err(Stop::Status)?;
                let bytes = render::payload(&item.payload, ctx)
                    .map_err(|e| Stop::Status(template_failed(e)))?;
                push(tx, bytes, sent, out).await?;
            }
            StreamPart::Each(generated) => {
                let items = generated
                    .items
                    .render(ctx)
                    .map_err(|e| Stop::Status(template_failed(e)))?;
                let list: Box<dyn Iterator<Item = minijinja::Value> + Send> = match items.as_usize()
                {
                    Some(n) if items.as_str().is_none() => {
                        Box::new((0..n).map(minijinja::Value::from))
                    }
                    _ => match items.try_iter() {
                        Ok(iter) => Box::new(iter.collect::<Vec<_>>().into_iter()),
                        Err(err) => {
                            return Err(Stop::Status(template_failed(format!(
                                "`for_each` needs a list or a number: {err}"
                            ))));
                        }
                    },
                };
                for (index, element) in list.enumerate() {
                    let item_ctx = with_vars(
                        ctx,
                        [
                            (generated.var.clone(), element),
                            ("index".to_owned(), minijinja::Value::from(index)),
                        ],
                    );
                    wait_delay(&generated.delay, &item_ctx, out)
                        .await
                        .map_err(Stop::Status)?;
                    let bytes = render::payload(&generated.payload, &item_ctx)
                        .map_err(|e| Stop::Status(template_failed(e)))?;
                    push(tx, bytes, sent, out).await?;
                }
            }
            StreamPart::Abort(code) => {
                settle(tx).await;
                out.slots.abort(*code);
                return Err(Stop::Aborted);
            }
        }
    }
    Ok(())
}

/// Lets the messages before a reset reach the client: a reset discards what HTTP/2 still
/// holds for the stream, so wait until the body took every message, then a moment for the
/// connection to write them.
async fn settle(tx: &Tx) {
    while tx.is_pending() && !tx.is_closed() {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(SETTLE).await;
}

/// How long a reset waits for the messages before it to be written.
const SETTLE: Duration = Duration::from_millis(50);

async fn push(tx: &Tx, bytes: Bytes, sent: &mut usize, out: &Out) -> Result<(), Stop> {
    let limit = out.shared.limits.max_stream_messages;
    if *sent >= limit {
        return Err(Stop::Status(Status::resource_exhausted(format!(
            "the reply has more than {limit} messages (--max-stream-messages)"
        ))));
    }
    out.shared.limits.fits(&bytes).map_err(Stop::Status)?;
    if let Some(capture) = &out.capture {
        capture.reply(&bytes);
    }
    tx.send(Ok(bytes)).await.map_err(|_| Stop::Gone)?;
    *sent += 1;
    Ok(())
}

/// Ends a stream after a stop: the status goes to the client; an abort ends the body, which
/// the trailers wrapper turns into a reset.
pub(crate) async fn finish(tx: &Tx, stop: Stop) {
    match stop {
        Stop::Gone => {}
        Stop::Status(status) => {
            let _ = tx.send(Err(status)).await;
        }
        Stop::Aborted => {
            let _ = tx
                .send(Err(Status::cancelled("stream reset by the stub")))
                .await;
        }
    }
}

/// The status that ends a reply: `Err` to send for an error, `Ok(trailers)` for OK.
pub(crate) fn end_status(
    status: Option<&StatusReply>,
    trailers: MetadataMap,
    headers: Option<&MetadataMap>,
    ctx: &minijinja::Value,
) -> Result<MetadataMap, Status> {
    let Some(status) = status else {
        return Ok(trailers);
    };
    let (code, message, details) = render::status(status, ctx).map_err(template_failed)?;
    if code == Code::Ok {
        return Ok(trailers);
    }
    let mut metadata = headers.cloned().unwrap_or_default();
    for (key, value) in trailers.into_headers() {
        if let Some(key) = key {
            metadata.as_mut().append(key, value);
        }
    }
    Err(Status::with_details_and_metadata(
        code, message, details, metadata,
    ))
}

/// Applies a reply's effects on the server (the scenario moved when the stub was chosen).
pub(crate) async fn apply(effects: &Effects, out: &Out) {
    for (service, health) in &effects.health {
        out.shared.set_health(service, *health).await;
    }
    if let Some(conn) = &out.conn {
        if effects.goaway {
            conn.goaway.notify_one();
        }
        if let Some(window) = effects.outage {
            conn.control.outage(window);
        }
    }
}

/// Renders headers or trailers, failing the call on a template error.
pub(crate) fn render_metadata(
    entries: &crate::fake::model::Metadata,
    ctx: &minijinja::Value,
) -> Result<MetadataMap, Status> {
    if entries.is_empty() {
        return Ok(MetadataMap::new());
    }
    render::metadata(entries, ctx).map_err(template_failed)
}
