//! What a reply adds after its last message: trailers on a successful reply, and resets.
//!
//! tonic builds the trailers frame itself (`grpc-status`), so a handler leaves the stub's
//! trailers in a per-call slot and the body wrapper adds them to that last frame. A stream that
//! aborts sets the slot's reset code instead: the wrapper then fails the body with an HTTP/2
//! error, and hyper resets the stream (RST_STREAM) with that code.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::Frame;
use tonic::{Response, Status, metadata::MetadataMap};

/// A call's trailers and reset code, written by its handler, read by the body wrapper.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    trailers: Mutex<Option<MetadataMap>>,
    /// The HTTP/2 error code to reset with, plus one (0: no reset).
    abort: AtomicU32,
}

impl Slots {
    /// Adds trailers to the OK trailers frame.
    pub(crate) fn set_trailers(&self, trailers: MetadataMap) {
        if trailers.is_empty() {
            return;
        }
        let mut slot = self.trailers.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            Some(existing) => {
                for (key, value) in trailers.into_headers() {
                    if let Some(key) = key {
                        existing.as_mut().append(key, value);
                    }
                }
            }
            None => *slot = Some(trailers),
        }
    }

    /// Resets the stream with this HTTP/2 error code instead of ending it.
    pub(crate) fn abort(&self, code: u32) {
        self.abort.store(code.saturating_add(1), Ordering::Release);
    }

    fn take_trailers(&self) -> Option<MetadataMap> {
        self.trailers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn reset(&self) -> Option<h2::Reason> {
        match self.abort.load(Ordering::Acquire) {
            0 => None,
            n => Some(h2::Reason::from(n - 1)),
        }
    }
}

#[derive(Debug, Clone)]
struct CallSlots(Arc<Slots>);

/// Attaches the call's slots to its response, for [`add_trailers`].
pub(crate) fn attach<T>(response: &mut Response<T>, slots: Arc<Slots>) {
    response.extensions_mut().insert(CallSlots(slots));
}

/// Moves the call's slots from the response extensions into the body.
pub(crate) fn add_trailers(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let Some(CallSlots(slots)) = response.extensions_mut().remove::<CallSlots>() else {
        return response;
    };
    response.map(|body| {
        tonic::body::Body::new(WithTrailers {
            inner: body,
            slots,
            done: false,
        })
    })
}

struct WithTrailers {
    inner: tonic::body::Body,
    slots: Arc<Slots>,
    done: bool,
}

fn reset_error(reason: h2::Reason) -> Status {
    Status::from_error(Box::new(h2::Error::from(reason)))
}

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    self.done = true;
                    if let Some(reason) = self.slots.reset() {
                        return Poll::Ready(Some(Err(reset_error(reason))));
                    }
                    if let Some(extra) = self.slots.take_trailers() {
                        for (key, value) in extra.into_headers() {
                            if let Some(key) = key {
                                trailers.append(key, value);
                            }
                        }
                    }
                    Some(Ok(Frame::trailers(trailers)))
                }
                Err(frame) => Some(Ok(frame)),
            },
            None => match self.slots.reset() {
                Some(reason) => {
                    self.done = true;
                    Some(Err(reset_error(reason)))
                }
                None => None,
            },
            other => other,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream() && self.slots.reset().is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
