//! A tonic codec for messages known only at run time.
//!
//! Requests become [`LazyMessage`]s of the method's input type (the descriptor is held by the
//! codec, so there is no lookup per call): a flat type's bytes are checked and kept, to be read
//! field by field; any other type is decoded. When the journal records the call, the decoder
//! also hands it each message's bytes, so the journal never keeps decoded messages. A call's
//! request bytes together are bounded. Replies are already encoded — at load time for static
//! stubs — so the encoder only copies bytes into the frame.

use std::sync::Arc;

use bytes::{Buf, BufMut as _, Bytes};
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use super::journal::{Capture, RequestLog};
use crate::schema::value::{flat::FlatDecoder, lazy::LazyMessage};

/// Decodes the method's input type; encodes pre-encoded replies.
#[derive(Debug, Clone)]
pub(crate) struct DynamicCodec {
    input: MessageDescriptor,
    /// The input type's direct decoder, when it is flat.
    flat: Option<Arc<FlatDecoder>>,
    capture: Option<Arc<Capture>>,
    /// The most request bytes one call may send, all its messages together.
    max_received: usize,
    /// The largest reply message.
    max_sent: usize,
}

impl DynamicCodec {
    /// A codec for `input`, noting each request's bytes in `capture` (the journal's).
    pub(crate) fn new(
        input: MessageDescriptor,
        flat: Option<Arc<FlatDecoder>>,
        capture: Option<Arc<Capture>>,
        max_received: usize,
        max_sent: usize,
    ) -> Self {
        Self {
            input,
            flat,
            capture,
            max_received,
            max_sent,
        }
    }
}

impl Codec for DynamicCodec {
    type Encode = Bytes;
    type Decode = Arc<LazyMessage>;
    type Encoder = BytesEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder {
            limit: self.max_sent,
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder {
            input: self.input.clone(),
            flat: self.flat.clone(),
            log: self.capture.as_ref().and_then(RequestLog::new),
            left: self.max_received,
            limit: self.max_received,
        }
    }
}

/// Writes an encoded message into the frame; one over the limit is RESOURCE_EXHAUSTED (a
/// backstop: replies are checked before they are queued).
#[derive(Debug)]
pub(crate) struct BytesEncoder {
    limit: usize,
}

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        if item.len() > self.limit {
            return Err(Status::resource_exhausted(format!(
                "the reply is {} bytes, over the {}-byte limit (--max-message-size)",
                item.len(),
                self.limit
            )));
        }
        dst.put_slice(&item);
        Ok(())
    }
}

/// The largest request message copied out of tonic's buffer (larger ones share it).
const COPY_UP_TO: usize = 1024;

/// Decodes a frame as the method's input type; garbage becomes INVALID_ARGUMENT, and a call
/// whose messages together pass the limit RESOURCE_EXHAUSTED (a client stream is kept for
/// templates, so its size is bounded).
#[derive(Debug)]
pub(crate) struct DynamicDecoder {
    input: MessageDescriptor,
    flat: Option<Arc<FlatDecoder>>,
    log: Option<RequestLog>,
    left: usize,
    limit: usize,
}

impl Decoder for DynamicDecoder {
    type Item = Arc<LazyMessage>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Arc<LazyMessage>>, Status> {
        let len = src.remaining();
        if len > self.left {
            return Err(Status::resource_exhausted(format!(
                "this call sent more than {} bytes of request messages (--max-received-bytes)",
                self.limit
            )));
        }
        self.left -= len;
        let log = &mut self.log;
        let message = decode_frame(&self.input, self.flat.as_ref(), src, |bytes| {
            if let Some(log) = log {
                log.note(bytes);
            }
        })
        .map_err(|err| {
            Status::invalid_argument(format!(
                "cannot decode the request as `{}`: {err}",
                self.input.full_name()
            ))
        })?;
        Ok(Some(message))
    }
}

/// The request message that fills `src`: a small one is copied out of the frame (inline in
/// the message when it is a few dozen bytes), which costs less than sharing tonic's buffer (an
/// atomic count per message, and a buffer tonic cannot reuse while any message of the call
/// holds a share); a large one takes a share of it, no copy. See [`decode_request`].
pub(crate) fn decode_frame(
    input: &MessageDescriptor,
    flat: Option<&Arc<FlatDecoder>>,
    src: &mut impl Buf,
    accepted: impl FnOnce(&[u8]),
) -> Result<Arc<LazyMessage>, prost::DecodeError> {
    let len = src.remaining();
    let Some(small) = src.chunk().get(..len).filter(|_| len <= COPY_UP_TO) else {
        return decode_request(input, flat, src.copy_to_bytes(len), accepted);
    };
    let message = match flat.and_then(|flat| LazyMessage::flat_copied(small, flat)) {
        Some(message) => message,
        None => Arc::new(LazyMessage::decoded(DynamicMessage::decode(
            input.clone(),
            small,
        )?)),
    };
    accepted(small);
    src.advance(len);
    Ok(message)
}

/// A request message of type `input`: a flat type's bytes are checked and kept; anything
/// else, or bytes the flat decoder leaves (unknown fields, errors), is decoded by
/// prost-reflect. `accepted` sees the bytes of a message that decodes.
pub(crate) fn decode_request(
    input: &MessageDescriptor,
    flat: Option<&Arc<FlatDecoder>>,
    bytes: Bytes,
    accepted: impl FnOnce(&[u8]),
) -> Result<Arc<LazyMessage>, prost::DecodeError> {
    let bytes = match flat {
        Some(flat) => match LazyMessage::flat(bytes, flat) {
            Ok(message) => {
                accepted(message.bytes().unwrap_or_default());
                return Ok(message);
            }
            Err(bytes) => bytes,
        },
        None => bytes,
    };
    let message = DynamicMessage::decode(input.clone(), &bytes[..])?;
    accepted(&bytes);
    Ok(Arc::new(LazyMessage::decoded(message)))
}
