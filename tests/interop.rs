//! grpc-double as the standard gRPC interop server: `fixtures/interop/` (the `grpc.testing`
//! contract and a fixture pack written in the general form — sizes, statuses and echoed
//! metadata all from the request) driven by a typed client that follows the public interop
//! test descriptions (grpc/grpc `doc/interop-test-descriptions.md`).

use std::time::Duration;

use grpc_double::{FakeServer, FixtureSource, Fixtures, Schema, ServerOptions};
use tokio_stream::StreamExt as _;
use tonic::{Code, Request, Status, metadata::MetadataValue};

/// The interop messages, typed (field numbers as in `fixtures/interop/grpc/testing/`).
mod pb {
    #![allow(missing_docs)]

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Payload {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(bytes = "vec", tag = "2")]
        pub body: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EchoStatus {
        #[prost(int32, tag = "1")]
        pub code: i32,
        #[prost(string, tag = "2")]
        pub message: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SimpleRequest {
        #[prost(int32, tag = "2")]
        pub response_size: i32,
        #[prost(message, optional, tag = "3")]
        pub payload: Option<Payload>,
        #[prost(message, optional, tag = "7")]
        pub response_status: Option<EchoStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SimpleResponse {
        #[prost(message, optional, tag = "1")]
        pub payload: Option<Payload>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamingInputCallRequest {
        #[prost(message, optional, tag = "1")]
        pub payload: Option<Payload>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamingInputCallResponse {
        #[prost(int32, tag = "1")]
        pub aggregated_payload_size: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResponseParameters {
        #[prost(int32, tag = "1")]
        pub size: i32,
        #[prost(int32, tag = "2")]
        pub interval_us: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamingOutputCallRequest {
        #[prost(message, repeated, tag = "2")]
        pub response_parameters: Vec<ResponseParameters>,
        #[prost(message, optional, tag = "3")]
        pub payload: Option<Payload>,
        #[prost(message, optional, tag = "7")]
        pub response_status: Option<EchoStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamingOutputCallResponse {
        #[prost(message, optional, tag = "1")]
        pub payload: Option<Payload>,
    }
}

use pb::*;

type Grpc = tonic::client::Grpc<tonic::transport::Channel>;

async fn server() -> FakeServer {
    let schema = Schema::compile(
        ["fixtures/interop/grpc/testing/test.proto"],
        ["fixtures/interop"],
    )
    .expect("the interop contract compiles");
    let stubs = FixtureSource::read("fixtures/interop/stubs.yaml".as_ref()).unwrap();
    let fixtures = Fixtures::load(&schema, &[stubs])
        .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    let mut options = ServerOptions::default();
    options.log_calls = false;
    FakeServer::start(&schema, fixtures, options).await.unwrap()
}

async fn client(server: &FakeServer) -> Grpc {
    let channel = tonic::transport::Channel::from_shared(server.uri())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Grpc::new(channel)
}

fn codec<A, B>() -> tonic_prost::ProstCodec<A, B> {
    tonic_prost::ProstCodec::default()
}

fn path(method: &str) -> http::uri::PathAndQuery {
    format!("/grpc.testing.TestService/{method}")
        .parse()
        .unwrap()
}

fn zeros(n: usize) -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![0; n],
    })
}

async fn unary<A, B>(
    grpc: &mut Grpc,
    method: &str,
    request: Request<A>,
) -> Result<tonic::Response<B>, Status>
where
    A: prost::Message + Send + Sync + 'static,
    B: prost::Message + Default + Send + Sync + 'static,
{
    grpc.ready().await.unwrap();
    grpc.unary(request, path(method), codec()).await
}

async fn duplex(
    grpc: &mut Grpc,
    requests: Vec<StreamingOutputCallRequest>,
) -> Result<tonic::Response<tonic::Streaming<StreamingOutputCallResponse>>, Status> {
    grpc.ready().await.unwrap();
    grpc.streaming(
        Request::new(tokio_stream::iter(requests)),
        path("FullDuplexCall"),
        codec(),
    )
    .await
}

fn sized(sizes: &[i32]) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                interval_us: 0,
            })
            .collect(),
        payload: zeros(27_182),
        response_status: None,
    }
}

#[tokio::test]
async fn empty_unary() {
    let server = server().await;
    let reply: tonic::Response<Empty> = unary(
        &mut client(&server).await,
        "EmptyCall",
        Request::new(Empty {}),
    )
    .await
    .unwrap();
    assert_eq!(reply.into_inner(), Empty {});
}

#[tokio::test]
async fn large_unary() {
    let server = server().await;
    let request = SimpleRequest {
        response_size: 314_159,
        payload: zeros(271_828),
        response_status: None,
    };
    let reply: tonic::Response<SimpleResponse> = unary(
        &mut client(&server).await,
        "UnaryCall",
        Request::new(request),
    )
    .await
    .unwrap();
    assert_eq!(reply.into_inner().payload.unwrap().body, vec![0; 314_159]);
}

#[tokio::test]
async fn client_streaming() {
    let server = server().await;
    let mut grpc = client(&server).await;
    grpc.ready().await.unwrap();
    let requests: Vec<StreamingInputCallRequest> = [27_182, 8, 1_828, 45_904]
        .into_iter()
        .map(|n| StreamingInputCallRequest { payload: zeros(n) })
        .collect();
    let reply: tonic::Response<StreamingInputCallResponse> = grpc
        .client_streaming(
            Request::new(tokio_stream::iter(requests)),
            path("StreamingInputCall"),
            codec(),
        )
        .await
        .unwrap();
    assert_eq!(reply.into_inner().aggregated_payload_size, 74_922);
}

#[tokio::test]
async fn server_streaming() {
    let server = server().await;
    let mut grpc = client(&server).await;
    grpc.ready().await.unwrap();
    let request = sized(&[31_415, 9, 2_653, 58_979]);
    let replies: Vec<usize> = grpc
        .server_streaming::<_, StreamingOutputCallResponse, _>(
            Request::new(request),
            path("StreamingOutputCall"),
            codec(),
        )
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap().payload.unwrap().body.len())
        .collect()
        .await;
    assert_eq!(replies, [31_415, 9, 2_653, 58_979]);
}

#[tokio::test]
async fn ping_pong() {
    let server = server().await;
    let mut grpc = client(&server).await;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    grpc.ready().await.unwrap();
    let mut replies = grpc
        .streaming::<_, _, StreamingOutputCallResponse, _>(
            Request::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
            path("FullDuplexCall"),
            codec(),
        )
        .await
        .unwrap()
        .into_inner();
    for (size, payload) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        tx.send(StreamingOutputCallRequest {
            payload: zeros(payload),
            ..sized(&[size])
        })
        .await
        .unwrap();
        let reply = replies.message().await.unwrap().unwrap();
        assert_eq!(reply.payload.unwrap().body.len(), size as usize);
    }
    drop(tx);
    assert!(
        replies.message().await.unwrap().is_none(),
        "the stream ends OK"
    );
}

#[tokio::test]
async fn empty_stream() {
    let server = server().await;
    let replies: Vec<_> = duplex(&mut client(&server).await, Vec::new())
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert!(replies.is_empty());
}

#[tokio::test]
async fn timeout_on_sleeping_server() {
    let server = server().await;
    // tonic's Channel would cancel the call itself at the deadline; over a plain HTTP/2 client
    // the status comes from the server.
    let mut grpc = tonic::client::Grpc::new(crate::common::dynamic::raw_client(&server.uri()));
    grpc.ready().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(StreamingOutputCallRequest {
        payload: zeros(27_182),
        ..sized(&[])
    })
    .await
    .unwrap();
    let mut request = Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request.set_timeout(Duration::from_millis(1));
    let status = match grpc
        .streaming::<_, _, StreamingOutputCallResponse, _>(request, path("FullDuplexCall"), codec())
        .await
    {
        Err(status) => status,
        Ok(response) => {
            let mut stream = response.into_inner();
            loop {
                match stream.message().await {
                    Err(status) => break status,
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("the stream ended OK before its deadline"),
                }
            }
        }
    };
    drop(tx);
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn cancel_after_first_response() {
    let server = server().await;
    let mut grpc = client(&server).await;
    grpc.ready().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let call = tokio::spawn(async move {
        let mut replies = grpc
            .streaming::<_, _, StreamingOutputCallResponse, _>(
                Request::new(tokio_stream::wrappers::ReceiverStream::new(rx)),
                path("FullDuplexCall"),
                codec(),
            )
            .await
            .unwrap()
            .into_inner();
        let first = replies.message().await.unwrap().unwrap();
        first.payload.unwrap().body.len()
    });
    tx.send(sized(&[31_415])).await.unwrap();
    // The call is cancelled by dropping it after the first response.
    assert_eq!(call.await.unwrap(), 31_415);
    drop(tx);
    // The server keeps serving after the cancellation.
    let again: tonic::Response<Empty> = unary(
        &mut client(&server).await,
        "EmptyCall",
        Request::new(Empty {}),
    )
    .await
    .unwrap();
    assert_eq!(again.into_inner(), Empty {});
}

#[tokio::test]
async fn status_code_and_message() {
    let server = server().await;
    let mut grpc = client(&server).await;
    let echo = EchoStatus {
        code: 2,
        message: "test status message".into(),
    };
    let status = unary::<_, SimpleResponse>(
        &mut grpc,
        "UnaryCall",
        Request::new(SimpleRequest {
            response_size: 1,
            payload: zeros(1),
            response_status: Some(echo.clone()),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, "test status message")
    );
    let request = StreamingOutputCallRequest {
        response_status: Some(echo),
        ..sized(&[])
    };
    let mut stream = duplex(&mut grpc, vec![request]).await.unwrap().into_inner();
    let status = stream.message().await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, "test status message")
    );
}

#[tokio::test]
async fn custom_metadata() {
    let server = server().await;
    let mut grpc = client(&server).await;
    let initial = MetadataValue::from_static("test_initial_metadata_value");
    let trailing = MetadataValue::from_bytes(b"\xab\xab\xab");
    let mut request = Request::new(SimpleRequest {
        response_size: 314_159,
        payload: zeros(271_828),
        response_status: None,
    });
    request
        .metadata_mut()
        .insert("x-grpc-test-echo-initial", initial.clone());
    request
        .metadata_mut()
        .insert_bin("x-grpc-test-echo-trailing-bin", trailing.clone());
    let reply: tonic::Response<SimpleResponse> =
        unary(&mut grpc, "UnaryCall", request).await.unwrap();
    // tonic merges a unary call's trailers into its metadata.
    assert_eq!(
        reply.metadata().get("x-grpc-test-echo-initial"),
        Some(&initial)
    );
    assert_eq!(
        reply.metadata().get_bin("x-grpc-test-echo-trailing-bin"),
        Some(&trailing)
    );

    let mut request = Request::new(tokio_stream::iter(vec![sized(&[314_159])]));
    request
        .metadata_mut()
        .insert("x-grpc-test-echo-initial", initial.clone());
    request
        .metadata_mut()
        .insert_bin("x-grpc-test-echo-trailing-bin", trailing.clone());
    grpc.ready().await.unwrap();
    let response = grpc
        .streaming::<_, _, StreamingOutputCallResponse, _>(request, path("FullDuplexCall"), codec())
        .await
        .unwrap();
    assert_eq!(
        response.metadata().get("x-grpc-test-echo-initial"),
        Some(&initial)
    );
    let mut stream = response.into_inner();
    assert_eq!(
        stream
            .message()
            .await
            .unwrap()
            .unwrap()
            .payload
            .unwrap()
            .body
            .len(),
        314_159
    );
    assert!(stream.message().await.unwrap().is_none());
    let trailers = stream.trailers().await.unwrap().unwrap();
    assert_eq!(
        trailers.get_bin("x-grpc-test-echo-trailing-bin"),
        Some(&trailing)
    );
}

#[tokio::test]
async fn unimplemented_method_and_service() {
    let server = server().await;
    let mut grpc = client(&server).await;
    let status = unary::<_, Empty>(&mut grpc, "UnimplementedCall", Request::new(Empty {}))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    grpc.ready().await.unwrap();
    let status = grpc
        .unary::<_, Empty, _>(
            Request::new(Empty {}),
            "/grpc.testing.UnimplementedService/UnimplementedCall"
                .parse()
                .unwrap(),
            codec(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}
