//! Answering calls of the four RPC kinds from the stub that matches.
//!
//! Messages are shared (`Arc`) between matchers, templates and the stream's history; a server
//! stream is rendered message by message as the client reads it; on a bidi stream each message
//! is matched and answered as it arrives, at a cost that does not grow with the number of
//! messages before it. A bidi call's headers wait for the first stub that matches (or for the
//! script's first step), so a stub can set them.

use std::{pin::Pin, sync::Arc};

use bytes::Bytes;
use tonic::{Code, Request, Response, Status, Streaming, metadata::MetadataMap};

pub(crate) use super::handler::Handler;
use super::{
    converse::{Sink, converse},
    handler::Setup,
    queue::queue,
    route::{Choice, context_for, reply_context},
    stream::{
        Driven, Out, Stop, Tx, apply, end_status, finish, next, render_metadata, send_parts,
        template_failed, wait_delay,
    },
    trailers::attach,
};
use crate::fake::{
    model::{Call, Mode, Reply, Respond, Step, StreamPart, render},
    template::Received,
};
use crate::schema::value::lazy::LazyMessage;

pub(crate) type ReplyStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Status>> + Send>>;

/// How many rendered messages wait for the client at most. More than one lets the body take
/// several messages per poll, so HTTP/2 writes them together; a bound keeps a long generated
/// stream from being rendered far ahead of a slow reader.
const STREAM_BUFFER: usize = 32;

impl Handler {
    /// A unary call from its body: exactly one request message, then the reply.
    pub(crate) async fn unary_checked(
        self,
        req: Request<tonic::Streaming<Arc<LazyMessage>>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, mut stream) = req.into_parts();
        let Some(message) = stream.message().await? else {
            return Err(Status::internal(
                "a unary call needs one request message; the request body had none",
            ));
        };
        if stream.message().await?.is_some() {
            return Err(Status::internal(
                "a unary call carries one request message; this request sent more",
            ));
        }
        self.unary(Request::from_parts(metadata, extensions, message))
            .await
    }

    pub(crate) async fn unary(
        self,
        req: Request<Arc<LazyMessage>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let setup = self.setup(metadata, extensions);
        let scope = self.scope(&setup, Received::one(message.clone()));
        let call = Call::new(&scope, Some(&message), 1);
        let choice = self.choose(&call, &setup, |s| {
            !matches!(s.then, Respond::Conversation(_))
        })?;
        self.single(&call, &choice, &setup).await
    }

    pub(crate) async fn client_stream(
        self,
        req: Request<Streaming<Arc<LazyMessage>>>,
    ) -> Result<Response<Bytes>, Status> {
        let (metadata, extensions, mut inbound) = req.into_parts();
        let setup = self.setup(metadata, extensions);
        // A conversation is chosen when the call starts, from its metadata.
        let empty = self.scope(&setup, Arc::default());
        let start = Call::new(&empty, None, 0);
        if let Some(choice) = self.conversation(&start, &setup) {
            drop(start);
            let mut sink = Sink::single();
            converse(&self, &setup, &choice, &mut inbound, &mut sink).await;
            return sink.into_response(&setup.out);
        }
        drop(start);
        let mut messages = Vec::new();
        while let Some(message) = next(&mut inbound, setup.out.deadline).await? {
            messages.push(message);
        }
        let last = messages.last().cloned();
        let len = messages.len();
        let scope = self.scope(&setup, Received::all(messages));
        let call = Call::new(&scope, last.as_ref(), len);
        let choice = self.choose(&call, &setup, |s| {
            !matches!(s.then, Respond::Conversation(_))
        })?;
        self.single(&call, &choice, &setup).await
    }

    /// One message, or an error status (unary and client-streaming calls).
    async fn single(
        &self,
        call: &Call<'_>,
        choice: &Choice,
        setup: &Setup,
    ) -> Result<Response<Bytes>, Status> {
        let reply = choice
            .reply()
            .ok_or_else(|| Status::internal("the stub has no reply"))?;
        let ctx = context_for(call, choice);
        let out = &setup.out;
        wait_delay(&reply.delay, &ctx, out).await?;
        apply(&reply.effects, out).await;
        let headers = render_metadata(&reply.headers, &ctx)?;
        let trailers = render_metadata(&reply.trailers, &ctx)?;
        let trailers = end_status(reply.status.as_ref(), trailers, Some(&headers), &ctx)?;
        if reply.trailers_only {
            let mut all = headers;
            for (key, value) in trailers.into_headers() {
                if let Some(key) = key {
                    all.as_mut().append(key, value);
                }
            }
            return Err(Status::with_metadata(Code::Ok, "", all));
        }
        let bytes = match reply.stream.first() {
            Some(StreamPart::Message(item)) => {
                render::payload(&item.payload, &ctx).map_err(|e| {
                    Status::internal(format!("reply template of {} failed: {e}", choice.stub()))
                })?
            }
            _ => Bytes::new(),
        };
        self.shared.limits.fits(&bytes)?;
        if let Some(capture) = &out.capture {
            capture.reply(&bytes);
        }
        let mut response = Response::from_parts(headers, bytes, Default::default());
        // Nothing resets a single reply, so without trailers of its own its body needs no
        // wrapper.
        if !trailers.is_empty() {
            out.slots.set_trailers(trailers);
            attach(&mut response, out.slots.clone());
        }
        Ok(response)
    }

    pub(crate) async fn server_stream(
        self,
        req: Request<Arc<LazyMessage>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, message) = req.into_parts();
        let setup = self.setup(metadata, extensions);
        let scope = self.scope(&setup, Received::one(message.clone()));
        let call = Call::new(&scope, Some(&message), 1);
        let choice = self.choose(&call, &setup, |s| {
            !matches!(s.then, Respond::Conversation(_))
        })?;
        let reply = choice
            .reply()
            .ok_or_else(|| Status::internal("the stub has no reply"))?;
        let ctx = context_for(&call, &choice);
        let out = setup.out.clone();
        wait_delay(&reply.delay, &ctx, &out).await?;
        apply(&reply.effects, &out).await;
        let headers = render_metadata(&reply.headers, &ctx)?;
        if reply.trailers_only || (reply.stream.is_empty() && reply.fails()) {
            let trailers = render_metadata(&reply.trailers, &ctx)?;
            end_status(reply.status.as_ref(), trailers, Some(&headers), &ctx)?;
            return Err(Status::with_metadata(Code::Ok, "", headers));
        }
        if let Some(body) = immediate_stream(reply, &ctx, &out) {
            let mut response = Response::from_parts(headers, body, Default::default());
            attach(&mut response, out.slots.clone());
            return Ok(response);
        }
        let (tx, rx) = queue(STREAM_BUFFER);
        let task_out = out.clone();
        let body = Driven::new(
            async move {
                let Some(reply) = choice.reply() else {
                    return;
                };
                stream_reply(&tx, reply, &ctx, &task_out).await;
            },
            rx,
        );
        let mut response =
            Response::from_parts(headers, Box::pin(body) as ReplyStream, Default::default());
        attach(&mut response, out.slots.clone());
        Ok(response)
    }

    /// Each message is answered as it arrives, from the stub that matches it (or the call runs
    /// a conversation); the call stays open until the client half-closes.
    ///
    /// The headers go when the call starts (many clients wait for them before they send):
    /// a conversation's first `headers` step, or the headers of the first reactive stub whose
    /// conditions on metadata, state and chance hold.
    pub(crate) async fn bidi(
        self,
        req: Request<Streaming<Arc<LazyMessage>>>,
    ) -> Result<Response<ReplyStream>, Status> {
        let (metadata, extensions, inbound) = req.into_parts();
        let setup = Arc::new(self.setup(metadata, extensions));
        let (tx, rx) = queue(STREAM_BUFFER);
        let slots = setup.out.slots.clone();
        let empty = self.scope(&setup, Arc::default());
        let (conversation, headers) = {
            let start = Call::new(&empty, None, 0);
            match self.conversation(&start, &setup) {
                Some(choice) => {
                    let headers = match choice.respond() {
                        Respond::Conversation(steps) => match steps.first() {
                            Some(Step::Headers(entries)) => {
                                render_metadata(entries, &reply_context(&start, &choice))?
                            }
                            _ => MetadataMap::new(),
                        },
                        _ => MetadataMap::new(),
                    };
                    (Some(choice), headers)
                }
                None => (None, self.reactive_headers(&start)?),
            }
        };
        let body = Driven::new(
            async move {
                let mut inbound = inbound;
                match conversation {
                    Some(choice) => {
                        let mut sink = Sink::stream(tx);
                        converse(&self, &setup, &choice, &mut inbound, &mut sink).await;
                    }
                    None => self.bidi_task(&setup, inbound, tx).await,
                }
            },
            rx,
        );
        let mut response =
            Response::from_parts(headers, Box::pin(body) as ReplyStream, Default::default());
        attach(&mut response, slots);
        Ok(response)
    }

    /// The headers of the first reactive stub with headers whose conditions that do not read
    /// messages hold at the call's start.
    fn reactive_headers(&self, start: &Call<'_>) -> Result<MetadataMap, Status> {
        for stub in self.stubs() {
            let Some(reply) = stub.then.reply_for(1) else {
                continue;
            };
            if reply.headers.is_empty() || stub.mode != Mode::Reactive {
                continue;
            }
            let state = stub
                .scenario
                .as_ref()
                .and_then(|s| self.snapshot.scenario(s))
                .map_or_else(|| Arc::from(""), |s| super::state::state_of(&s.lock(), ""));
            start.set_scenario_state(state);
            if stub
                .when
                .iter()
                .filter(|m| !m.reads_messages())
                .all(|m| m.matches(start))
            {
                return render_metadata(&reply.headers, start.context());
            }
        }
        Ok(MetadataMap::new())
    }

    async fn bidi_task(&self, setup: &Setup, mut inbound: Streaming<Arc<LazyMessage>>, tx: Tx) {
        let scope = self.scope(setup, Arc::default());
        let received = &scope.received;
        let mut last_trailers = MetadataMap::new();
        let mut unanswered = 0usize;
        let reactive = |s: &crate::fake::Stub| {
            s.mode == Mode::Reactive && !matches!(s.then, Respond::Conversation(_))
        };
        loop {
            let message = match next(&mut inbound, setup.out.deadline).await {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(status) => return finish(&tx, Stop::Status(status)).await,
            };
            let len = received.push(message.clone());
            let answer = {
                let call = Call::new(&scope, Some(&message), len);
                match self.choose(&call, setup, reactive) {
                    Ok(choice) => Ok((context_for(&call, &choice), choice)),
                    Err(status) => Err(status),
                }
            };
            match answer {
                Ok((ctx, choice)) => {
                    let Some(reply) = choice.reply() else {
                        continue;
                    };
                    match self.answer(reply, &ctx, setup, &tx).await {
                        Ok(trailers) => last_trailers = trailers,
                        Err(()) => return,
                    }
                }
                // Collect stubs may still answer the messages no reactive stub took.
                Err(_) if self.has_collect() => unanswered += 1,
                Err(status) => return finish(&tx, Stop::Status(status)).await,
            }
        }
        // Half-closed: a collect stub answers everything received, or the call ends OK.
        let len = received.with(usize::MAX, <[_]>::len);
        if self.has_collect() {
            let last = received.get(len.saturating_sub(1));
            let answer = {
                let call = Call::new(&scope, last.as_ref(), len);
                match self.choose(&call, setup, |s| s.mode == Mode::Collect) {
                    Ok(choice) => Ok((context_for(&call, &choice), choice)),
                    Err(status) => Err(status),
                }
            };
            match answer {
                Ok((ctx, choice)) => {
                    if let Some(reply) = choice.reply() {
                        match self.answer(reply, &ctx, setup, &tx).await {
                            Ok(trailers) => last_trailers = trailers,
                            Err(()) => return,
                        }
                    }
                }
                Err(status) if unanswered > 0 => return finish(&tx, Stop::Status(status)).await,
                Err(_) => {}
            }
        }
        setup.out.slots.set_trailers(last_trailers);
    }

    /// Sends one reply on a bidi stream: its messages, and its status when it ends the call
    /// (`Err(())`); else its trailers.
    async fn answer(
        &self,
        reply: &Reply,
        ctx: &minijinja::Value,
        setup: &Setup,
        tx: &Tx,
    ) -> Result<MetadataMap, ()> {
        let out = &setup.out;
        if let Err(status) = wait_delay(&reply.delay, ctx, out).await {
            finish(tx, Stop::Status(status)).await;
            return Err(());
        }
        apply(&reply.effects, out).await;
        let mut sent = 0;
        if let Err(stop) = send_parts(tx, &reply.stream, ctx, out, &mut sent).await {
            finish(tx, stop).await;
            return Err(());
        }
        let trailers = match render_metadata(&reply.trailers, ctx) {
            Ok(t) => t,
            Err(status) => {
                let _ = tx.send(Err(status)).await;
                return Err(());
            }
        };
        match end_status(reply.status.as_ref(), trailers, None, ctx) {
            Ok(trailers) => Ok(trailers),
            Err(status) => {
                let _ = tx.send(Err(status)).await;
                Err(())
            }
        }
    }
}

/// A server-streaming reply with nothing to wait for (listed messages, no delays), rendered at
/// once and handed to the body as a plain iterator: no task, no channel. `None` when a part
/// waits or is generated.
fn immediate_stream(reply: &Reply, ctx: &minijinja::Value, out: &Out) -> Option<ReplyStream> {
    let all_immediate = reply
        .stream
        .iter()
        .all(|part| matches!(part, StreamPart::Message(item) if item.delay.is_zero()));
    if !all_immediate {
        return None;
    }
    let limit = out.shared.limits.max_stream_messages;
    let mut items: Vec<Result<Bytes, Status>> = Vec::with_capacity(reply.stream.len() + 1);
    let mut stop = None;
    for item in reply.messages() {
        if items.len() >= limit {
            stop = Some(Status::resource_exhausted(format!(
                "the reply has more than {limit} messages (--max-stream-messages)"
            )));
            break;
        }
        match render::payload(&item.payload, ctx) {
            Ok(bytes) => items.push(Ok(bytes)),
            Err(e) => {
                stop = Some(template_failed(e));
                break;
            }
        }
    }
    if let Some(capture) = &out.capture {
        capture.replies(items.iter().filter_map(|item| item.as_ref().ok()));
    }
    let end = match stop {
        Some(status) => Some(status),
        None => match render_metadata(&reply.trailers, ctx)
            .and_then(|trailers| end_status(reply.status.as_ref(), trailers, None, ctx))
        {
            Ok(trailers) => {
                out.slots.set_trailers(trailers);
                None
            }
            Err(status) => Some(status),
        },
    };
    items.extend(end.map(Err));
    Some(Box::pin(futures_util::stream::iter(items)))
}

/// Streams a server-streaming reply: its messages as the client reads, then its status.
async fn stream_reply(tx: &Tx, reply: &Reply, ctx: &minijinja::Value, out: &Out) {
    let mut sent = 0;
    if let Err(stop) = send_parts(tx, &reply.stream, ctx, out, &mut sent).await {
        return finish(tx, stop).await;
    }
    let trailers = match render_metadata(&reply.trailers, ctx) {
        Ok(trailers) => trailers,
        Err(status) => return finish(tx, Stop::Status(status)).await,
    };
    match end_status(reply.status.as_ref(), trailers, None, ctx) {
        Ok(trailers) => out.slots.set_trailers(trailers),
        Err(status) => {
            let _ = tx.send(Err(status)).await;
        }
    }
}
