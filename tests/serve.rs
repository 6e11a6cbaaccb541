//! The fake server end to end, through the typed tonic client generated from users.proto.

use grpc_double::Schema;
use tokio_stream::StreamExt as _;
use tonic::{Code, Request};

use crate::common::{
    self, bundled, client,
    userservice::{ChatMessage, UserRequest, UserResponse},
};

fn user_request(id: &str) -> UserRequest {
    UserRequest { user_id: id.into() }
}

#[tokio::test]
async fn bundled_chat_answers_each_message_as_it_arrives() {
    let server = bundled().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut replies = client(&server)
        .await
        .chat(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    // Each reply arrives before the next message is sent: the server is reactive, not batched.
    for (i, text) in ["hi", "how are you?"].into_iter().enumerate() {
        let user_id = format!("u{i}");
        tx.send(ChatMessage {
            user_id: user_id.clone(),
            message: text.into(),
            timestamp: 7,
        })
        .await
        .unwrap();
        let reply = replies.next().await.unwrap().unwrap();
        assert_eq!(
            reply,
            ChatMessage {
                user_id,
                message: format!("Echo: {text}"),
                timestamp: 1_234_567_890
            }
        );
    }
    drop(tx);
    assert!(
        replies.next().await.is_none(),
        "the stream ends with OK after the client half-closes"
    );
}

#[tokio::test]
async fn gzip_compressed_calls_are_answered() {
    let server = bundled().await;
    let mut client = client(&server)
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    assert_eq!(
        client
            .get_user(user_request("gz"))
            .await
            .unwrap()
            .into_inner()
            .user_id,
        "gz"
    );
}

#[tokio::test]
async fn malformed_request_is_invalid_argument_and_the_server_keeps_serving() {
    let server = bundled().await;
    let channel = common::channel(&server).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    // Field 1 (`user_id`) claiming to be a string of 100 bytes but holding 2, and the same
    // field holding bytes that are not UTF-8: both refused, whether the request type is read
    // from its bytes (it is flat) or decoded.
    for garbage in [vec![0x0a, 100, b'h', b'i'], vec![0x0a, 2, 0xff, 0xfe]] {
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/userservice.UserService/GetUser");
        let status = grpc
            .unary::<RawBytes, UserResponse, _>(Request::new(RawBytes(garbage)), path, RawCodec)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .contains("cannot decode the request as `userservice.UserRequest`"),
            "{}",
            status.message()
        );
    }
    assert_eq!(
        client(&server)
            .await
            .get_user(user_request("still"))
            .await
            .unwrap()
            .into_inner()
            .user_id,
        "still"
    );
}

/// Bytes sent as-is, to send malformed messages.
#[derive(Debug, Clone)]
struct RawBytes(Vec<u8>);

#[derive(Debug, Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = RawBytes;
    type Decode = UserResponse;
    type Encoder = RawCodec;
    type Decoder = tonic_prost_decoder::Decoder;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost_decoder::Decoder
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = RawBytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: RawBytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item.0);
        Ok(())
    }
}

mod tonic_prost_decoder {
    use super::UserResponse;

    #[derive(Debug)]
    pub struct Decoder;

    impl tonic::codec::Decoder for Decoder {
        type Item = UserResponse;
        type Error = tonic::Status;
        fn decode(
            &mut self,
            src: &mut tonic::codec::DecodeBuf<'_>,
        ) -> Result<Option<UserResponse>, tonic::Status> {
            prost::Message::decode(src)
                .map(Some)
                .map_err(|e| tonic::Status::internal(e.to_string()))
        }
    }
}

#[tokio::test]
async fn health_reports_served_services_and_not_found_for_others() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = bundled().await;
    let mut health = HealthClient::new(common::channel(&server).await);
    for service in ["", "userservice.UserService"] {
        let reply = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }
    let status = health
        .check(HealthCheckRequest {
            service: "nope.Missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_lists_services_and_describes_them_with_json_names() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = bundled().await;
    let mut reflection = ServerReflectionClient::new(common::channel(&server).await);
    let ask = |request: MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut replies = reflection
        .server_reflection_info(tokio_stream::iter(vec![
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol(
                "userservice.UserService".into(),
            )),
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        replies.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "userservice.UserService"
        ]
    );
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        replies.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected file descriptors");
    };
    let file: prost_types::FileDescriptorProto =
        prost::Message::decode(&files.file_descriptor_proto[0][..]).unwrap();
    let request = file
        .message_type
        .iter()
        .find(|m| m.name() == "UserRequest")
        .unwrap();
    assert_eq!(request.field[0].json_name(), "userId");
}

#[tokio::test]
async fn zstd_compressed_calls_and_replies_work() {
    let schema = Schema::bundled();
    let fixtures = grpc_double::Fixtures::bundled(&schema).unwrap();
    let mut options = grpc_double::ServerOptions::default();
    options.log_calls = false;
    options.compression = Some(grpc_double::Compression::Zstd);
    let server = grpc_double::FakeServer::start(&schema, fixtures, options)
        .await
        .unwrap();
    let mut client = client(&server)
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Zstd)
        .accept_compressed(tonic::codec::CompressionEncoding::Zstd);
    let response = client.get_user(user_request("z")).await.unwrap();
    assert_eq!(response.metadata().get("grpc-encoding").unwrap(), "zstd");
    assert_eq!(response.into_inner().user_id, "z");
}

#[tokio::test]
async fn requests_over_the_size_limit_are_rejected() {
    let schema = Schema::bundled();
    let fixtures = grpc_double::Fixtures::bundled(&schema).unwrap();
    let mut options = grpc_double::ServerOptions::default();
    options.log_calls = false;
    options.max_message_size = Some(64);
    let server = grpc_double::FakeServer::start(&schema, fixtures, options)
        .await
        .unwrap();
    let mut client = client(&server).await;
    let status = client
        .get_user(user_request(&"x".repeat(100)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        client
            .get_user(user_request("small"))
            .await
            .unwrap()
            .into_inner()
            .user_id,
        "small"
    );
}

#[tokio::test]
async fn every_listener_serves() {
    let schema = Schema::bundled();
    let fixtures = grpc_double::Fixtures::bundled(&schema).unwrap();
    let mut options = grpc_double::ServerOptions::default();
    options.log_calls = false;
    options.listen = vec!["127.0.0.1:0".into(), "127.0.0.1:0".into()];
    let server = grpc_double::FakeServer::start(&schema, fixtures, options)
        .await
        .unwrap();
    assert_eq!(server.addrs().len(), 2);
    for addr in server.addrs() {
        let mut client = common::UserServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        assert_eq!(
            client
                .get_user(user_request("l"))
                .await
                .unwrap()
                .into_inner()
                .user_id,
            "l"
        );
    }
}

#[tokio::test]
async fn descriptor_sets_serve_like_protos() {
    let bytes = include_bytes!(concat!(env!("OUT_DIR"), "/users.binpb"));
    let schema = Schema::from_descriptor_set(bytes, "users.binpb").unwrap();
    assert_eq!(schema.root_files(), ["users.proto"]);
    let fixtures = grpc_double::Fixtures::bundled(&schema).unwrap();
    let server = common::start(&schema, fixtures).await;
    assert_eq!(
        client(&server)
            .await
            .get_user(user_request("d"))
            .await
            .unwrap()
            .into_inner()
            .user_id,
        "d"
    );
}

#[test]
fn protos_import_well_known_types_google_rpc_and_include_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("acme/common")).unwrap();
    std::fs::write(
        dir.path().join("acme/common/money.proto"),
        "syntax = \"proto3\"; package acme.common; message Money { int64 units = 1; }",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("acme/shop.proto"),
        r#"syntax = "proto3";
package acme;
import "acme/common/money.proto";
import "google/protobuf/timestamp.proto";
import "google/rpc/status.proto";
service Shop { rpc Buy(Order) returns (google.rpc.Status); }
message Order { acme.common.Money price = 1; google.protobuf.Timestamp at = 2; }
"#,
    )
    .unwrap();
    let schema = Schema::compile([dir.path().join("acme/shop.proto")], [dir.path()]).unwrap();
    assert_eq!(schema.root_files(), ["acme/shop.proto"]);
    assert!(schema.method("acme.Shop/Buy").is_some());
    // A directory compiles every file below it, named relative to it.
    let whole = Schema::compile([dir.path()], [] as [&str; 0]).unwrap();
    assert_eq!(whole.root_files().len(), 2);
}

#[tokio::test]
async fn a_runaway_template_fails_the_call_instead_of_hanging_it() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/GetUser
  then:
    message: { name: "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}" }
"#,
    )
    .await;
    let status = client(&server)
        .await
        .get_user(user_request("1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().contains("fuel"), "{}", status.message());
}

/// Long streams are journaled whole and in order: the decoder hands a stream's request bytes to
/// the journal in batches (the first at once, the rest as they fill and when the stream ends),
/// so every batch must be in the entry the client can read once its call returned.
#[tokio::test]
async fn long_client_and_bidi_streams_are_journaled_whole_and_in_order() {
    use crate::common::userservice::CreateRequest;
    let server = bundled().await;
    let mut client = client(&server).await;
    // About 30 KiB of requests each way: more than one batch.
    const N: usize = 600;
    let summary = client
        .create_users(tokio_stream::iter((0..N).map(|i| CreateRequest {
            name: format!("user number {i:04}"),
            email: format!("user{i:04}@example.com"),
            age: i as i32,
        })))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.success_count as usize, N);
    let replies: Vec<ChatMessage> = client
        .chat(tokio_stream::iter((0..N).map(|i| ChatMessage {
            user_id: format!("u{i:04}"),
            message: format!("message number {i:04}"),
            timestamp: 7,
        })))
        .await
        .unwrap()
        .into_inner()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    assert_eq!(replies.len(), N);

    let calls = server.received_calls();
    // One field of every request the journal kept for `method`, in order.
    let journaled = |method: &str, field: &str| -> Vec<String> {
        let call = calls.iter().find(|c| c.method.ends_with(method)).unwrap();
        call.requests
            .iter()
            .map(|r| r[field].as_str().unwrap().to_owned())
            .collect()
    };
    let expected: Vec<String> = (0..N).map(|i| format!("user number {i:04}")).collect();
    assert_eq!(journaled("/CreateUsers", "name"), expected);
    let expected: Vec<String> = (0..N).map(|i| format!("u{i:04}")).collect();
    assert_eq!(journaled("/Chat", "user_id"), expected);
}
