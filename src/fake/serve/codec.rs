//! A tonic codec for messages known only at run time.
//!
//! Requests decode into [`DynamicMessage`]s of the method's input type (the descriptor is held by
//! the codec, so there is no lookup per call); when the journal records the call, the decoder
//! also hands it each message's bytes, so the journal never keeps decoded messages. A call's
//! request bytes together are bounded. Replies are already encoded — at load time for static
//! stubs — so the encoder only copies bytes into the frame.

use std::sync::Arc;

use bytes::{Buf as _, BufMut as _, Bytes};
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use super::journal::Capture;
use crate::schema::value::flat::FlatDecoder;

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
    type Decode = DynamicMessage;
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
            capture: self.capture.clone(),
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

/// Decodes a frame as the method's input type; garbage becomes INVALID_ARGUMENT, and a call
/// whose messages together pass the limit RESOURCE_EXHAUSTED (a client stream is kept for
/// templates, so its size is bounded).
#[derive(Debug)]
pub(crate) struct DynamicDecoder {
    input: MessageDescriptor,
    flat: Option<Arc<FlatDecoder>>,
    capture: Option<Arc<Capture>>,
    left: usize,
    limit: usize,
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        let len = src.remaining();
        if len > self.left {
            return Err(Status::resource_exhausted(format!(
                "this call sent more than {} bytes of request messages (--max-received-bytes)",
                self.limit
            )));
        }
        self.left -= len;
        let invalid = |err: prost::DecodeError| {
            Status::invalid_argument(format!(
                "cannot decode the request as `{}`: {err}",
                self.input.full_name()
            ))
        };
        // A flat input type is decoded directly; anything else, or bytes the direct decoder
        // leaves (unknown fields, errors), by prost-reflect.
        let decode = |bytes: &[u8]| match self.flat.as_ref().and_then(|f| f.decode(bytes)) {
            Some(message) => Ok(message),
            None => DynamicMessage::decode(self.input.clone(), bytes).map_err(invalid),
        };
        // tonic holds a whole message in one buffer, so it is one slice.
        let chunk = src.chunk();
        let message = if chunk.len() == len {
            let message = decode(chunk)?;
            if let Some(capture) = &self.capture {
                capture.request(chunk);
            }
            src.advance(len);
            message
        } else {
            let bytes = src.copy_to_bytes(len);
            let message = decode(&bytes)?;
            if let Some(capture) = &self.capture {
                capture.request(&bytes);
            }
            message
        };
        Ok(Some(message))
    }
}
