//! The call journal: every call the server answered, as plain data a test can query.
//!
//! A call records into its own [`Capture`] while it runs (one uncontended lock per call); when it
//! ends, the capture becomes an [`Entry`] in one of several shards, so recording never
//! serialises calls. The journal keeps the newest `--journal-size` entries and counts the ones it
//! dropped. Messages are kept as the bytes that came off the wire (one small block each, about
//! the size of the message) and decoded, then turned into JSON, only when someone reads the
//! journal: recording a call costs a copy, not a second life for its decoded messages.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use tonic::metadata::{KeyAndValueRef, MetadataMap};

use crate::fake::model::code_name;

/// The most replies one entry keeps (the rest are counted).
const MAX_REPLIES: usize = 100;
const SHARDS: usize = 16;

/// Which stub answered, as the journal and verification name it.
#[derive(Debug, Clone)]
pub(crate) struct StubRef {
    /// `stub `id` (file:line:col)`.
    pub(crate) label: Arc<str>,
    pub(crate) id: Option<Arc<str>>,
}

/// What one call records while it runs.
#[derive(Debug, Default)]
pub(crate) struct CaptureData {
    /// The method's path as its route spells it (`/package.Service/Method`).
    pub(crate) path: Option<Arc<str>>,
    /// The method, whose input and output types decode the kept messages.
    pub(crate) method: Option<MethodDescriptor>,
    /// The request headers and messages, the reply messages and the headers and trailers a
    /// stub set, as bytes (read back only when someone reads the journal).
    packed: Packed,
    replies_kept: usize,
    pub(crate) replies_dropped: usize,
    pub(crate) stub: Option<StubRef>,
    pub(crate) near_miss: Option<String>,
}

impl CaptureData {
    /// Notes response headers or trailers a stub set, without the protocol's own.
    fn response_metadata(&mut self, headers: &http::HeaderMap, part: Part) {
        for (name, value) in headers {
            let protocol = matches!(
                name.as_str(),
                "content-type"
                    | "grpc-status"
                    | "grpc-message"
                    | "grpc-status-details-bin"
                    | "grpc-encoding"
                    | "grpc-accept-encoding"
            );
            if !protocol {
                self.packed
                    .push_header(part, name.as_str(), value.as_bytes());
            }
        }
    }

    fn reply(&mut self, bytes: &[u8]) {
        if self.replies_kept < MAX_REPLIES {
            self.packed.push(Part::Reply, bytes);
            self.replies_kept += 1;
        } else {
            self.replies_dropped += 1;
        }
    }
}

/// A call's capture, shared by its handler (which fills it) and the layer that ends the call.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    data: Mutex<CaptureData>,
    /// Whether the journal records the call (else only the call log reads the capture, and
    /// neither headers nor messages are kept).
    journaled: bool,
}

impl Capture {
    /// A capture for one call; `journaled` when the journal records it.
    #[cfg(test)]
    pub(crate) fn new(journaled: bool) -> Self {
        Self {
            data: Mutex::default(),
            journaled,
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut CaptureData) -> R) -> R {
        f(&mut self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A capture for one call that starts with its request headers (noted before the
    /// capture is shared, so without taking its lock); `journaled` when the journal records
    /// the call.
    pub(crate) fn for_request(journaled: bool, headers: &http::HeaderMap) -> Self {
        let mut data = CaptureData::default();
        if journaled {
            // One block for the headers and a small call's messages: entries stay small.
            let size: usize = headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 4)
                .sum();
            data.packed.0.reserve(size + Packed::FIRST);
            for (name, value) in headers {
                data.packed
                    .push_header(Part::Header, name.as_str(), value.as_bytes());
            }
        }
        Self {
            data: Mutex::new(data),
            journaled,
        }
    }

    /// Notes the headers (or, `trailers`, the trailers) of the response that a stub set,
    /// without the protocol's own.
    pub(crate) fn response_metadata(&self, headers: &http::HeaderMap, trailers: bool) {
        if !self.journaled {
            return;
        }
        let part = if trailers {
            Part::Trailer
        } else {
            Part::ResponseHeader
        };
        self.with(|c| c.response_metadata(headers, part));
    }

    /// Takes what was recorded, noting the trailers of the response first (one lock for
    /// both).
    pub(crate) fn take_with_trailers(&self, trailers: &http::HeaderMap) -> CaptureData {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        if self.journaled {
            data.response_metadata(trailers, Part::Trailer);
        }
        std::mem::take(&mut *data)
    }

    /// Notes a request message received.
    pub(crate) fn request(&self, bytes: &[u8]) {
        if !self.journaled {
            return;
        }
        self.with(|c| c.packed.push(Part::Request, bytes));
    }

    /// Notes request records packed elsewhere (a [`RequestLog`]'s batch).
    fn requests(&self, batch: &Packed) {
        self.with(|c| c.packed.0.extend_from_slice(&batch.0));
    }

    /// Notes a reply message sent.
    pub(crate) fn reply(&self, bytes: &Bytes) {
        if !self.journaled {
            return;
        }
        self.with(|c| c.reply(bytes));
    }

    /// Notes several reply messages sent.
    pub(crate) fn replies<'a>(&self, sent: impl Iterator<Item = &'a Bytes>) {
        if !self.journaled {
            return;
        }
        self.with(|c| sent.for_each(|bytes| c.reply(bytes)));
    }

    pub(crate) fn take(&self) -> CaptureData {
        std::mem::take(&mut *self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The request messages of one call as its decoder reads them, for the journal: the first goes
/// to the capture at once (a unary call's only message), later ones are packed here and handed
/// over in batches, so a long client stream locks the capture once per batch instead of once
/// per frame.
///
/// The batch is handed over when it passes [`RequestLog::BATCH`] bytes and when the log is
/// dropped — with the decoder, which the handler (or the reply body that runs it) owns, so
/// before the call's record takes the capture: a finished call's handler has dropped its
/// request stream by then, and a cancelled call's body drops its producer before the record.
#[derive(Debug)]
pub(crate) struct RequestLog {
    capture: Arc<Capture>,
    pending: Packed,
    noted: usize,
}

impl RequestLog {
    /// The bytes a batch gathers before it is handed over.
    const BATCH: usize = 16 * 1024;

    /// A log into `capture`, or `None` when the journal does not record the call.
    pub(crate) fn new(capture: &Arc<Capture>) -> Option<Self> {
        capture.journaled.then(|| Self {
            capture: capture.clone(),
            pending: Packed::default(),
            noted: 0,
        })
    }

    /// Notes a request message received.
    pub(crate) fn note(&mut self, bytes: &[u8]) {
        self.noted += 1;
        if self.noted == 1 {
            self.capture.request(bytes);
            return;
        }
        self.pending.push(Part::Request, bytes);
        if self.pending.0.len() >= Self::BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.0.is_empty() {
            self.capture.requests(&self.pending);
            self.pending.0.clear();
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.flush();
        std::mem::take(&mut self.pending).recycle();
    }
}

/// What a packed record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A request header: its name's length (varint), its name, its value.
    Header = 0,
    Request = 1,
    Reply = 2,
    /// A response header a stub set, as a request header is packed.
    ResponseHeader = 3,
    /// A trailer a stub set (or the header of a trailers-only response), the same way.
    Trailer = 4,
}

/// What one call sent and received, copied one record after the other into one buffer (a
/// tag byte, the length as a varint, the bytes). A journal entry thus holds one block however
/// many headers and messages its call had, instead of the connection's buffers and one block
/// per header and message: recording is a copy, and dropping an old entry frees one block —
/// memory long out of the cache, where every separate block costs a miss.
#[derive(Debug, Default)]
struct Packed(Vec<u8>);

thread_local! {
    /// Message blocks of evicted entries, reused by this thread's next calls (at most
    /// [`Packed::SPARES`] of at most [`Packed::SPARE_SIZE`] bytes: a few KiB per thread).
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Packed {
    /// Room for the messages of a typical unary call (beyond its headers).
    const FIRST: usize = 128;
    /// The largest block kept for reuse, and how many are kept per thread.
    const SPARE_SIZE: usize = 2048;
    const SPARES: usize = 64;

    fn push(&mut self, part: Part, bytes: &[u8]) {
        self.reserve(bytes.len() + 11);
        self.0.push(part as u8);
        prost::encoding::encode_varint(bytes.len() as u64, &mut self.0);
        self.0.extend_from_slice(bytes);
    }

    fn push_header(&mut self, part: Part, name: &str, value: &[u8]) {
        let total =
            prost::encoding::encoded_len_varint(name.len() as u64) + name.len() + value.len();
        self.reserve(total + 11);
        self.0.push(part as u8);
        prost::encoding::encode_varint(total as u64, &mut self.0);
        prost::encoding::encode_varint(name.len() as u64, &mut self.0);
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(value);
    }

    fn reserve(&mut self, more: usize) {
        if self.0.capacity() == 0 {
            let want = more.max(Self::FIRST);
            self.0 = SPARE
                .with_borrow_mut(|spare| {
                    spare
                        .iter()
                        .rposition(|b| b.capacity() >= want)
                        .map(|i| spare.swap_remove(i))
                })
                .unwrap_or_else(|| Vec::with_capacity(want));
        }
    }

    /// Gives a small block back for a later call on this thread (an evicted entry's).
    fn recycle(mut self) {
        if self.0.capacity() == 0 || self.0.capacity() > Self::SPARE_SIZE {
            return;
        }
        self.0.clear();
        SPARE.with_borrow_mut(|spare| {
            if spare.len() < Self::SPARES {
                spare.push(self.0);
            }
        });
    }

    /// The bytes of every record of one kind, in order.
    fn iter(&self, part: Part) -> impl Iterator<Item = &[u8]> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            loop {
                let (&tag, after) = rest.split_first()?;
                rest = after;
                let len = prost::encoding::decode_varint(&mut rest).ok()?;
                let (record, after) = rest.split_at_checked(usize::try_from(len).ok()?)?;
                rest = after;
                if tag == part as u8 {
                    return Some(record);
                }
            }
        })
    }

    /// The headers of one kind, in order.
    fn headers(&self, part: Part) -> MetadataMap {
        let mut map = http::HeaderMap::new();
        for mut record in self.iter(part) {
            let Ok(len) = prost::encoding::decode_varint(&mut record) else {
                continue;
            };
            let Some((name, value)) = usize::try_from(len)
                .ok()
                .and_then(|len| record.split_at_checked(len))
            else {
                continue;
            };
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name),
                http::HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        MetadataMap::from_headers(map)
    }
}

impl CaptureData {
    /// The request messages, decoded (an entry keeps only their bytes).
    pub(crate) fn decode_requests(&self, input: &MessageDescriptor) -> Vec<DynamicMessage> {
        self.packed
            .iter(Part::Request)
            .filter_map(|bytes| DynamicMessage::decode(input.clone(), bytes).ok())
            .collect()
    }

    /// The request headers.
    pub(crate) fn request_headers(&self) -> MetadataMap {
        self.packed.headers(Part::Header)
    }
}

/// One call, as recorded.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    /// `/package.Service/Method` (see [`Entry::path`]): the route's own string for a method the
    /// server knows (not the request's header buffer, which it would keep alive).
    pub(crate) path: Arc<str>,
    pub(crate) session: Option<String>,
    pub(crate) started: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) listener: Option<SocketAddr>,
    pub(crate) code: i32,
    pub(crate) message: String,
    pub(crate) data: CaptureData,
}

/// The journal: bounded, sharded.
#[derive(Debug)]
pub(crate) struct Journal {
    shards: Vec<Mutex<VecDeque<Arc<Entry>>>>,
    per_shard: usize,
    seq: AtomicU64,
    dropped: AtomicU64,
}

/// Which entries a query wants.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    /// `package.Service/Method`.
    pub(crate) method: Option<String>,
    /// A stub's id or label.
    pub(crate) stub: Option<String>,
    /// A status name (`NOT_FOUND`) or number.
    pub(crate) status: Option<i32>,
    /// `Some(None)`: calls without a session.
    pub(crate) session: Option<Option<String>>,
    pub(crate) since: Option<SystemTime>,
    pub(crate) until: Option<SystemTime>,
    /// Only calls no stub answered.
    pub(crate) unmatched: bool,
    pub(crate) limit: Option<usize>,
}

impl Journal {
    /// A journal keeping at most `size` entries (0 keeps none).
    pub(crate) fn new(size: usize) -> Self {
        let per_shard = size.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(VecDeque::new())).collect(),
            per_shard,
            seq: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether it records anything.
    pub(crate) fn is_on(&self) -> bool {
        self.per_shard > 0
    }

    /// The next entry number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a finished call.
    pub(crate) fn push(&self, entry: Entry) {
        if self.per_shard == 0 {
            return;
        }
        let shard = &self.shards[(entry.seq as usize) % SHARDS];
        // What made room: the contents of the oldest entry, whose block now holds the new one
        // (one allocation and one free of memory long out of the cache fewer per call), or the
        // oldest entry itself when a reader still holds it (freed when they let go).
        let (content, shared) = {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let old = (shard.len() >= self.per_shard)
                .then(|| shard.pop_front())
                .flatten();
            match old {
                Some(mut old) => match Arc::get_mut(&mut old) {
                    Some(slot) => {
                        let content = std::mem::replace(slot, entry);
                        shard.push_back(old);
                        (Some(content), None)
                    }
                    None => {
                        shard.push_back(Arc::new(entry));
                        (None, Some(old))
                    }
                },
                None => {
                    shard.push_back(Arc::new(entry));
                    (None, None)
                }
            }
        };
        if content.is_some() || shared.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        // Freed after the shard is unlocked; a small message block is kept for the next call.
        if let Some(entry) = content {
            entry.data.packed.recycle();
        }
        drop(shared);
    }

    /// Gets how many entries were dropped to keep the journal bounded.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Forgets every entry (of one session, when given).
    pub(crate) fn clear(&self, session: Option<&str>) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            match session {
                None => shard.clear(),
                Some(s) => shard.retain(|e| e.session.as_deref() != Some(s)),
            }
        }
    }

    /// The entries a query wants, oldest first.
    pub(crate) fn entries(&self, query: &Query) -> Vec<Arc<Entry>> {
        let mut out: Vec<Arc<Entry>> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.iter().filter(|e| query.wants(e)).cloned());
        }
        out.sort_by_key(|e| e.seq);
        if let Some(limit) = query.limit {
            let skip = out.len().saturating_sub(limit);
            out.drain(..skip);
        }
        out
    }
}

impl Query {
    fn wants(&self, entry: &Entry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| entry.path().trim_start_matches('/') == m.trim_start_matches('/'))
            && self.stub.as_ref().is_none_or(|s| {
                entry
                    .data
                    .stub
                    .as_ref()
                    .is_some_and(|stub| stub.id.as_deref() == Some(s.as_str()) || &*stub.label == s)
            })
            && self.status.is_none_or(|c| entry.code == c)
            && self
                .session
                .as_ref()
                .is_none_or(|s| entry.session.as_deref() == s.as_deref())
            && self.since.is_none_or(|t| entry.started >= t)
            && self.until.is_none_or(|t| entry.started <= t)
            && (!self.unmatched || entry.data.stub.is_none())
    }
}

/// One call the server received, as plain data (what the journal, the admin API and
/// [`crate::FakeServer::received_calls`] give).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReceivedCall {
    /// The call's number in the journal, from 1.
    pub seq: u64,
    /// `package.Service/Method`.
    pub method: String,
    /// The session (`x-grpc-double-session`), if the call named one.
    pub session: Option<String>,
    /// When the call started, RFC 3339.
    pub started: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// The client's address.
    pub peer: Option<String>,
    /// The listener that took the call.
    pub listener: Option<String>,
    /// Request headers (`-bin` values in base64), in order.
    pub metadata: Vec<(String, String)>,
    /// The request message(s) as proto3 JSON (proto field names), in order.
    pub requests: Vec<serde_json::Value>,
    /// The reply message(s) as proto3 JSON, in order (at most 100; see `replies_dropped`).
    pub replies: Vec<serde_json::Value>,
    /// Replies sent but not kept.
    pub replies_dropped: usize,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response trailers (besides the status).
    pub trailers: Vec<(String, String)>,
    /// The status name, e.g. `OK` or `NOT_FOUND`.
    pub status: String,
    /// The status code, 0 to 16.
    pub code: i32,
    /// The status message.
    pub message: String,
    /// The stub that answered (its id, or its label), or `None`.
    pub stub: Option<String>,
    /// Why no stub answered: the closest stub and its reasons.
    pub near_miss: Option<String>,
}

fn json(message: &DynamicMessage) -> serde_json::Value {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new()
                .use_proto_field_name(true)
                .stringify_64_bit_integers(false),
        )
        .unwrap_or(serde_json::Value::Null)
}

/// Headers as (name, text) pairs; `-bin` values in base64.
pub(crate) fn pairs(map: &MetadataMap) -> Vec<(String, String)> {
    use base64::Engine as _;
    map.iter()
        .map(|entry| match entry {
            KeyAndValueRef::Ascii(k, v) => {
                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
            }
            KeyAndValueRef::Binary(k, v) => (
                k.as_str().to_owned(),
                base64::engine::general_purpose::STANDARD.encode(v.to_bytes().unwrap_or_default()),
            ),
        })
        .collect()
}

impl Entry {
    /// Gets the call's path, e.g. `/package.Service/Method`.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The entry as plain data.
    pub(crate) fn to_call(&self) -> ReceivedCall {
        let requests = match &self.data.method {
            Some(method) => self
                .data
                .decode_requests(&method.input())
                .iter()
                .map(json)
                .collect(),
            None => Vec::new(),
        };
        let replies = match self.data.method.as_ref().map(MethodDescriptor::output) {
            Some(output) => self
                .data
                .packed
                .iter(Part::Reply)
                .map(|bytes| {
                    DynamicMessage::decode(output.clone(), bytes)
                        .map_or(serde_json::Value::Null, |m| json(&m))
                })
                .collect(),
            None => Vec::new(),
        };
        ReceivedCall {
            seq: self.seq,
            method: self.path().trim_start_matches('/').to_owned(),
            session: self.session.clone(),
            started: crate::fake::template::rfc3339(self.started),
            duration_ms: (self.duration.as_secs_f64() * 1e6).round() / 1e3,
            peer: self.peer.map(|a| a.to_string()),
            listener: self.listener.map(|a| a.to_string()),
            metadata: pairs(&self.data.request_headers()),
            requests,
            replies,
            replies_dropped: self.data.replies_dropped,
            headers: pairs(&self.data.packed.headers(Part::ResponseHeader)),
            trailers: pairs(&self.data.packed.headers(Part::Trailer)),
            status: code_name(tonic::Code::from(self.code)).to_owned(),
            code: self.code,
            message: self.message.clone(),
            stub: self
                .data
                .stub
                .as_ref()
                .map(|s| s.id.as_deref().unwrap_or(&s.label).to_owned()),
            near_miss: self.data.near_miss.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished call numbered `n`, whose request header `x-n` says `n`.
    fn call(journal: &Journal, n: usize) -> Entry {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-n", n.to_string().parse().unwrap());
        let capture = Capture::for_request(true, &headers);
        capture.request(format!("request {n}").as_bytes());
        Entry {
            seq: journal.next_seq(),
            path: Arc::from("/pkg.Svc/M"),
            session: None,
            started: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            peer: None,
            listener: None,
            code: 0,
            message: String::new(),
            data: capture.take(),
        }
    }

    fn header(entry: &Entry) -> String {
        let headers = entry.data.packed.headers(Part::Header);
        headers.get("x-n").unwrap().to_str().unwrap().to_owned()
    }

    #[test]
    fn evicting_reuses_blocks_without_mixing_entries_up() {
        // One entry per shard: every push past the first 16 evicts.
        let journal = Journal::new(SHARDS);
        for n in 0..SHARDS {
            journal.push(call(&journal, n));
        }
        // A reader holds the oldest entries while they are evicted.
        let held = journal.entries(&Query::default());
        for n in SHARDS..4 * SHARDS {
            journal.push(call(&journal, n));
        }
        let held: Vec<String> = held.iter().map(|e| header(e)).collect();
        let expected: Vec<String> = (0..SHARDS).map(|n| n.to_string()).collect();
        assert_eq!(held, expected, "a held entry keeps its own contents");
        let now = journal.entries(&Query::default());
        let seen: Vec<String> = now.iter().map(|e| header(e)).collect();
        let expected: Vec<String> = (3 * SHARDS..4 * SHARDS).map(|n| n.to_string()).collect();
        assert_eq!(
            seen, expected,
            "the journal keeps the newest calls, each its own"
        );
        for entry in &now {
            let n = header(entry);
            let request: Vec<&[u8]> = entry.data.packed.iter(Part::Request).collect();
            assert_eq!(request, [format!("request {n}").as_bytes()]);
        }
        assert_eq!(journal.dropped(), 3 * SHARDS as u64);
    }

    /// A stream's messages reach the capture in order and whole, whether they went at once
    /// (the first), in a full batch or when the log was dropped; a call the journal does not
    /// record gets no log.
    #[test]
    fn a_request_log_hands_every_message_over_in_order() {
        assert!(RequestLog::new(&Arc::new(Capture::new(false))).is_none());
        let capture = Arc::new(Capture::new(true));
        let messages: Vec<Vec<u8>> = (0..3000)
            .map(|n| format!("message {n}").into_bytes())
            .collect();
        let mut log = RequestLog::new(&capture).unwrap();
        for (n, message) in messages.iter().enumerate() {
            log.note(message);
            if n == 0 {
                let first: Vec<Vec<u8>> =
                    capture.with(|c| c.packed.iter(Part::Request).map(<[u8]>::to_vec).collect());
                assert_eq!(
                    first,
                    [messages[0].clone()],
                    "the first message goes at once"
                );
            }
        }
        // More than one batch was handed over before the end, and not everything.
        let before = capture.with(|c| c.packed.iter(Part::Request).count());
        assert!(before > 1 && before < messages.len(), "{before}");
        drop(log);
        let data = capture.take();
        let kept: Vec<&[u8]> = data.packed.iter(Part::Request).collect();
        assert_eq!(kept, messages.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }
}
