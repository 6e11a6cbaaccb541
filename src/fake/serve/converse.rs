//! Running a scripted conversation on a client or bidi stream: expect a message, send some,
//! wait, send without waiting for input, close with a status — step by step.

use std::sync::Arc;

use bytes::Bytes;
use tonic::{Response, Status, Streaming, metadata::MetadataMap};

use super::{
    handler::{Handler, Setup},
    route::{Choice, reply_context},
    stream::{
        Out, Stop, Tx, apply, end_status, finish, next, render_metadata, send_parts,
        template_failed, wait_delay,
    },
    trailers::{Slots, attach},
};
use crate::fake::model::{Call, Computed, Miss, Respond, Step, StreamPart, render};
use crate::schema::value::lazy::LazyMessage;

/// Where a conversation's output goes: a bidi stream, or the one reply of a client stream.
pub(crate) enum Sink {
    Stream {
        tx: Tx,
    },
    Single {
        headers: MetadataMap,
        message: Option<Bytes>,
        status: Option<Status>,
    },
}

impl Sink {
    pub(crate) fn stream(tx: Tx) -> Self {
        Sink::Stream { tx }
    }

    pub(crate) fn single() -> Self {
        Sink::Single {
            headers: MetadataMap::new(),
            message: None,
            status: None,
        }
    }

    /// Headers: a stream sent its own when the call started.
    fn headers(&mut self, headers: MetadataMap) {
        match self {
            Sink::Stream { .. } => {}
            Sink::Single { headers: h, .. } => {
                for (key, value) in headers.into_headers() {
                    if let Some(key) = key {
                        h.as_mut().append(key, value);
                    }
                }
            }
        }
    }

    async fn send(
        &mut self,
        parts: &[StreamPart],
        ctx: &minijinja::Value,
        out: &Out,
    ) -> Result<(), ()> {
        match self {
            Sink::Stream { tx } => {
                let mut sent = 0;
                if let Err(stop) = send_parts(tx, parts, ctx, out, &mut sent).await {
                    finish(tx, stop).await;
                    return Err(());
                }
                Ok(())
            }
            Sink::Single {
                message, status, ..
            } => {
                for part in parts {
                    if let StreamPart::Message(item) = part {
                        if let Err(err) = wait_delay(&item.delay, ctx, out).await {
                            *status = Some(err);
                            return Err(());
                        }
                        match render::payload(&item.payload, ctx) {
                            Ok(bytes) => *message = Some(bytes),
                            Err(err) => {
                                *status = Some(template_failed(err));
                                return Err(());
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }

    async fn fail(&mut self, error: Status) {
        match self {
            Sink::Stream { tx } => finish(tx, Stop::Status(error)).await,
            Sink::Single { status, .. } => *status = Some(error),
        }
    }

    fn ok(&mut self, trailers: MetadataMap, slots: &Slots) {
        slots.set_trailers(trailers);
    }

    /// The reply of a client-streaming conversation.
    pub(crate) fn into_response(self, out: &Out) -> Result<Response<Bytes>, Status> {
        let Sink::Single {
            headers,
            message,
            status,
        } = self
        else {
            return Err(Status::internal("a bidi conversation has no single reply"));
        };
        if let Some(status) = status {
            return Err(status);
        }
        let message = message.unwrap_or_default();
        out.shared.limits.fits(&message)?;
        if let Some(capture) = &out.capture {
            capture.reply(&message);
        }
        let mut response = Response::from_parts(headers, message, Default::default());
        attach(&mut response, out.slots.clone());
        Ok(response)
    }
}

/// Runs the chosen stub's conversation to its end.
pub(crate) async fn converse(
    handler: &Handler,
    setup: &Setup,
    choice: &Choice,
    inbound: &mut Streaming<Arc<LazyMessage>>,
    sink: &mut Sink,
) {
    let Respond::Conversation(steps) = choice.respond() else {
        return;
    };
    let stub = choice.stub();
    let out = &setup.out;
    let scope = handler.scope(setup, Arc::default());
    let received = &scope.received;
    let mut last: Option<Arc<LazyMessage>> = None;
    let mut len = 0;
    for (n, step) in steps.iter().enumerate() {
        let ctx = {
            let call = Call::new(&scope, last.as_ref(), len);
            reply_context(&call, choice)
        };
        match step {
            Step::Headers(entries) => match render_metadata(entries, &ctx) {
                Ok(headers) => sink.headers(headers),
                Err(status) => return sink.fail(status).await,
            },
            Step::Expect(matchers) => {
                let message = match next(inbound, out.deadline).await {
                    Ok(Some(message)) => message,
                    Ok(None) => {
                        return sink
                            .fail(Status::failed_precondition(format!(
                                "{stub} expected a message at step {} of its conversation, but the client half-closed",
                                n + 1
                            )))
                            .await;
                    }
                    Err(status) => return sink.fail(status).await,
                };
                len = received.push(message.clone());
                last = Some(message);
                let call = Call::new(&scope, last.as_ref(), len);
                if !matchers.iter().all(|m| m.matches(&call)) {
                    let mut misses: Vec<Miss> = Vec::new();
                    matchers
                        .iter()
                        .for_each(|m| m.mismatches(&call, &mut misses));
                    let reasons: Vec<&str> = misses.iter().map(|m| m.reason.as_str()).collect();
                    drop(call);
                    return sink
                        .fail(Status::unimplemented(format!(
                            "{stub}: message {len} does not meet step {} of the conversation: {}",
                            n + 1,
                            reasons.join("; ")
                        )))
                        .await;
                }
            }
            Step::HalfClose => loop {
                match next(inbound, out.deadline).await {
                    Ok(Some(message)) => {
                        len = received.push(message.clone());
                        last = Some(message);
                    }
                    Ok(None) => break,
                    Err(status) => return sink.fail(status).await,
                }
            },
            Step::Send(parts) => {
                if sink.send(parts, &ctx, out).await.is_err() {
                    return;
                }
            }
            Step::Wait(delay) => {
                if let Err(status) = wait_delay(delay, &ctx, out).await {
                    return sink.fail(status).await;
                }
            }
            Step::Close { status, trailers } => {
                let trailers = match render_metadata(trailers, &ctx) {
                    Ok(t) => t,
                    Err(status) => return sink.fail(status).await,
                };
                match end_status(status.as_ref(), trailers, None, &ctx) {
                    Ok(trailers) => sink.ok(trailers, &out.slots),
                    Err(status) => sink.fail(status).await,
                }
                return;
            }
            Step::Effects(effects) => {
                apply(effects, out).await;
                if let (Some(next), Some(scenario)) = (
                    &effects.set_state,
                    stub.scenario
                        .as_ref()
                        .and_then(|s| handler.snapshot.scenario(s)),
                ) {
                    let state = match next {
                        Computed::Fixed(s) => s.clone(),
                        Computed::Template(t) => t.render_text(&ctx).unwrap_or_default(),
                    };
                    scenario
                        .lock()
                        .insert(choice.key.clone().unwrap_or_default(), Arc::from(state));
                }
            }
        }
    }
    sink.ok(MetadataMap::new(), &out.slots);
}
