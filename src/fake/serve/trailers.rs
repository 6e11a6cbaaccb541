//! Trailers on successful replies: tonic sends `grpc-status` in the trailers it builds itself, so
//! a handler leaves the stub's trailers in the response extensions and the body wrapper adds
//! them to that last frame.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::Frame;
use tonic::{Response, Status, metadata::MetadataMap};

/// Trailers to add to a successful response (errors carry theirs in the status).
#[derive(Debug, Clone)]
struct ExtraTrailers(MetadataMap);

/// Asks for `trailers` to be added to the response's last frame.
pub(crate) fn add_trailers_later<T>(response: &mut Response<T>, trailers: MetadataMap) {
    if !trailers.is_empty() {
        response.extensions_mut().insert(ExtraTrailers(trailers));
    }
}

/// Moves [`ExtraTrailers`] from the response extensions into the trailers frame.
pub(crate) fn add_trailers(
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
