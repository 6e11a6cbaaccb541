//! A gRPC client for any method of a schema, with messages as proto3 JSON: what the serve case
//! folders (`fixtures/serve/<case>/calls.yaml`) are replayed with.

use std::collections::BTreeMap;

use bytes::{Buf as _, BufMut as _};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use tokio_stream::StreamExt as _;
use tonic::{
    Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::{KeyAndValueRef, MetadataMap},
};

/// Encodes dynamic requests, decodes replies of the method's output type.
#[derive(Clone)]
pub struct JsonCodec(pub MessageDescriptor);

impl Codec for JsonCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = MessageEncoder;
    type Decoder = MessageDecoder;

    fn encoder(&mut self) -> MessageEncoder {
        MessageEncoder
    }

    fn decoder(&mut self) -> MessageDecoder {
        MessageDecoder(self.0.clone())
    }
}

pub struct MessageEncoder;

impl Encoder for MessageEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item.encode_to_vec());
        Ok(())
    }
}

pub struct MessageDecoder(MessageDescriptor);

impl Decoder for MessageDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        DynamicMessage::decode(self.0.clone(), bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("reply does not decode: {e}")))
    }
}

/// A message from its proto3 JSON form.
pub fn message(desc: &MessageDescriptor, json: &serde_json::Value) -> DynamicMessage {
    DynamicMessage::deserialize(desc.clone(), json.clone())
        .unwrap_or_else(|e| panic!("{json} is not a valid {}: {e}", desc.full_name()))
}

/// A message as proto3 JSON with proto field names (what fixtures write).
pub fn json(message: &DynamicMessage) -> serde_json::Value {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new()
                .use_proto_field_name(true)
                .stringify_64_bit_integers(false),
        )
        .expect("a JSON form")
}

/// What one call got back.
#[derive(Debug)]
pub struct Answer {
    pub code: tonic::Code,
    pub message: String,
    pub replies: Vec<DynamicMessage>,
    pub headers: MetadataMap,
    pub trailers: MetadataMap,
    /// `grpc-status-details-bin`, when the status carried details.
    pub details: Vec<u8>,
}

impl Answer {
    fn ok(headers: MetadataMap, replies: Vec<DynamicMessage>, trailers: MetadataMap) -> Self {
        Answer {
            code: tonic::Code::Ok,
            message: String::new(),
            replies,
            headers,
            trailers,
            details: Vec::new(),
        }
    }

    fn failed(status: Status, replies: Vec<DynamicMessage>, headers: MetadataMap) -> Self {
        Answer {
            code: status.code(),
            message: status.message().to_owned(),
            details: status.details().to_vec(),
            trailers: status.metadata().clone(),
            replies,
            headers,
        }
    }
}

/// Calls `method` with `requests` (one for unary and server-streaming methods) and collects
/// everything the server answers.
pub async fn call<T>(
    channel: T,
    path: &str,
    method: &MethodDescriptor,
    requests: Vec<DynamicMessage>,
    metadata: MetadataMap,
) -> Answer
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        panic!("the channel is not ready");
    }
    let path: http::uri::PathAndQuery = path.parse().expect("a method path");
    let codec = JsonCodec(method.output());
    // Every kind is called as a bidi stream: the server sees the same frames, and the client
    // sees headers and trailers apart.
    let mut request = Request::new(tokio_stream::iter(requests));
    *request.metadata_mut() = metadata;
    let _ = method.is_client_streaming();
    let response = grpc.streaming(request, path, codec).await;
    let response = match response {
        Ok(response) => response,
        Err(status) => return Answer::failed(status, Vec::new(), MetadataMap::new()),
    };
    let headers = response.metadata().clone();
    let mut stream = response.into_inner();
    let mut replies = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(reply) => replies.push(reply),
            Err(status) => return Answer::failed(status, replies, headers),
        }
    }
    let trailers = stream.trailers().await.ok().flatten().unwrap_or_default();
    Answer::ok(headers, replies, trailers)
}

/// A plain HTTP/2 client for one server: unlike tonic's `Channel` it does not enforce
/// `grpc-timeout` itself, so a test sees what the *server* does at the deadline.
pub type RawClient = AddOrigin<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic::body::Body,
    >,
>;

/// Connects a [`RawClient`] to `uri` (e.g. `http://127.0.0.1:50051`).
pub fn raw_client(uri: &str) -> RawClient {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    AddOrigin {
        inner: client,
        origin: uri.parse().expect("a uri"),
    }
}

/// Sets the scheme and authority tonic leaves out of request URIs.
#[derive(Clone)]
pub struct AddOrigin<S> {
    inner: S,
    origin: http::Uri,
}

impl<S, B> tower::Service<http::Request<B>> for AddOrigin<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        let mut parts = self.origin.clone().into_parts();
        parts.path_and_query = req.uri().path_and_query().cloned();
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        self.inner.call(req)
    }
}

/// The application metadata of a header or trailer map: transport keys (`content-type`,
/// `grpc-*`, `date`) left out, `-bin` values as base64.
pub fn custom_metadata(map: &MetadataMap) -> BTreeMap<String, String> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    for entry in map.iter() {
        match entry {
            KeyAndValueRef::Ascii(key, value) => {
                let key = key.as_str();
                if matches!(
                    key,
                    "content-type"
                        | "date"
                        | "grpc-status"
                        | "grpc-message"
                        | "grpc-encoding"
                        | "grpc-accept-encoding"
                ) {
                    continue;
                }
                out.insert(key.to_owned(), value.to_str().unwrap_or("?").to_owned());
            }
            KeyAndValueRef::Binary(key, value) => {
                if key.as_str() == "grpc-status-details-bin" {
                    continue;
                }
                let bytes = value.to_bytes().unwrap_or_default();
                out.insert(
                    key.as_str().to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                );
            }
        }
    }
    out
}
