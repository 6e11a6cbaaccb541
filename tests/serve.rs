//! The fake server end to end, through the typed tonic client generated from users.proto.

use grpc_double::Schema;
use tokio_stream::StreamExt as _;
use tonic::{Code, Request};

use crate::common::{
    self, bundled, client,
    userservice::{ChatMessage, CreateRequest, ListRequest, UserRequest, UserResponse},
};

fn user_request(id: &str) -> UserRequest {
    UserRequest { user_id: id.into() }
}

#[tokio::test]
async fn bundled_get_user_echoes_the_requested_id() {
    let server = bundled().await;
    let reply = client(&server)
        .await
        .get_user(user_request("42"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply,
        UserResponse {
            user_id: "42".into(),
            name: "Alice".into(),
            email: "alice@example.com".into(),
            age: 30
        }
    );
}

async fn assert_get_user_fails(user_id: &str, code: Code, message: &str) {
    let server = bundled().await;
    let status = client(&server)
        .await
        .get_user(user_request(user_id))
        .await
        .unwrap_err();
    assert_eq!((status.code(), status.message()), (code, message));
}

#[tokio::test]
async fn bundled_get_user_without_id_is_invalid_argument() {
    assert_get_user_fails("", Code::InvalidArgument, "user_id must be provided").await;
}

#[tokio::test]
async fn bundled_get_user_missing_is_not_found() {
    assert_get_user_fails("missing", Code::NotFound, "User not found").await;
}

#[tokio::test]
async fn bundled_list_users_streams_bob_then_carol() {
    let server = bundled().await;
    let stream = client(&server)
        .await
        .list_users(ListRequest {
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let users: Vec<UserResponse> = stream.map(|r| r.unwrap()).collect().await;
    assert_eq!(
        users,
        [
            UserResponse {
                user_id: "1".into(),
                name: "Bob".into(),
                email: "bob@example.com".into(),
                age: 25
            },
            UserResponse {
                user_id: "2".into(),
                name: "Carol".into(),
                email: "carol@example.com".into(),
                age: 28
            },
        ]
    );
}

#[tokio::test]
async fn bundled_create_users_counts_emails_and_lists_names_without_one() {
    let server = bundled().await;
    let requests = vec![
        CreateRequest {
            name: "Ann".into(),
            email: "ann@example.com".into(),
            age: 31,
        },
        CreateRequest {
            name: "Ben".into(),
            email: String::new(),
            age: 22,
        },
        CreateRequest {
            name: "Cat".into(),
            email: "cat@example.com".into(),
            age: 40,
        },
        CreateRequest {
            name: "Dan".into(),
            email: String::new(),
            age: 19,
        },
    ];
    let summary = client(&server)
        .await
        .create_users(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.success_count, 2);
    assert_eq!(summary.failed_ids, ["Ben", "Dan"]);
}

#[tokio::test]
async fn bundled_create_users_with_no_requests_reports_zero() {
    let server = bundled().await;
    let summary = client(&server)
        .await
        .create_users(tokio_stream::iter(Vec::<CreateRequest>::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.success_count, 0);
    assert!(summary.failed_ids.is_empty());
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
async fn bundled_chat_with_no_messages_gives_no_replies() {
    let server = bundled().await;
    let replies: Vec<_> = client(&server)
        .await
        .chat(tokio_stream::iter(Vec::<ChatMessage>::new()))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert!(replies.is_empty());
}

#[tokio::test]
async fn unmatched_call_names_the_closest_stub_and_why() {
    let schema = Schema::bundled();
    let server = common::serve(
        &schema,
        r#"
- id: only-ada
  method: userservice.UserService/GetUser
  when:
    message: { user_id: ada }
  then:
    message: { name: Ada }
"#,
    )
    .await;
    let status = client(&server)
        .await
        .get_user(user_request("bob"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        status.message(),
        r#"no stub matched userservice.UserService/GetUser (request: {"user_id":"bob"}); closest is stub `only-ada` (test.yaml:2:3): field `user_id`: expected "ada", got "bob""#
    );
}

#[tokio::test]
async fn method_without_stubs_answers_unimplemented_with_a_hint() {
    let server = common::serve(&Schema::bundled(), "[]").await;
    let status = client(&server)
        .await
        .get_user(user_request("1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status
            .message()
            .starts_with("no stub for userservice.UserService/GetUser; add one"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn unknown_service_answers_unimplemented() {
    let server = bundled().await;
    let channel = common::channel(&server).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/nope.Missing/Call");
    let status = grpc
        .unary::<UserRequest, UserResponse, _>(
            Request::new(user_request("1")),
            path,
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status
            .message()
            .contains("this server serves: userservice.UserService"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn default_value_matches_only_unset_fields() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/ListUsers
  priority: 1
  when:
    message: { page_size: 0 }
  then:
    stream: [ { message: { name: default-page } } ]
- method: userservice.UserService/ListUsers
  then:
    stream: [ { message: { name: sized-page } } ]
"#,
    )
    .await;
    let mut client = client(&server).await;
    for (page_size, expected) in [(0, "default-page"), (5, "sized-page")] {
        let mut stream = client
            .list_users(ListRequest {
                page_size,
                page_token: "t".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            stream.next().await.unwrap().unwrap().name,
            expected,
            "page_size {page_size}"
        );
    }
}

#[tokio::test]
async fn priority_wins_over_file_order_and_ties_keep_file_order() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- { method: userservice.UserService/GetUser, then: { message: { name: first } } }
- { method: userservice.UserService/GetUser, then: { message: { name: second } } }
- { method: userservice.UserService/GetUser, when: { message: { user_id: vip } }, priority: 5, then: { message: { name: vip } } }
"#,
    )
    .await;
    let mut client = client(&server).await;
    assert_eq!(
        client
            .get_user(user_request("vip"))
            .await
            .unwrap()
            .into_inner()
            .name,
        "vip"
    );
    assert_eq!(
        client
            .get_user(user_request("x"))
            .await
            .unwrap()
            .into_inner()
            .name,
        "first"
    );
}

#[tokio::test]
async fn exact_match_requires_the_whole_message() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/ListUsers
  when:
    message_eq: { page_size: 3 }
  then:
    stream: [ { message: { name: exact } } ]
"#,
    )
    .await;
    let mut client = client(&server).await;
    let ok = client
        .list_users(ListRequest {
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().next().await.unwrap().unwrap().name, "exact");
    let status = client
        .list_users(ListRequest {
            page_size: 3,
            page_token: "more".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status.message().contains("expected exactly"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn metadata_and_expr_matchers_select_stubs() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/GetUser
  when:
    metadata: { x-tenant: acme }
    expr: "request.user_id is startingwith('u-')"
  then:
    message: { name: "{{ metadata['x-tenant'] }}/{{ request.user_id }}" }
"#,
    )
    .await;
    let mut client = client(&server).await;
    let mut request = Request::new(user_request("u-7"));
    request
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    assert_eq!(
        client.get_user(request).await.unwrap().into_inner().name,
        "acme/u-7"
    );

    let mut wrong_prefix = Request::new(user_request("7"));
    wrong_prefix
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    let status = client.get_user(wrong_prefix).await.unwrap_err();
    assert!(
        status
            .message()
            .contains("expr `request.user_id is startingwith('u-')` is false"),
        "{}",
        status.message()
    );

    let status = client.get_user(user_request("u-7")).await.unwrap_err();
    assert!(
        status
            .message()
            .contains("metadata `x-tenant`: expected \"acme\", but the header is missing"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn status_carries_details_headers_and_trailers() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/GetUser
  then:
    headers: { x-request-id: abc }
    trailers: { x-retry-after: "3" }
    status:
      code: FAILED_PRECONDITION
      message: account locked
      details:
        - "@type": google.rpc.ErrorInfo
          reason: LOCKED
          domain: users.example.com
"#,
    )
    .await;
    let status = client(&server)
        .await
        .get_user(user_request("1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "account locked");
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "abc");
    assert_eq!(status.metadata().get("x-retry-after").unwrap(), "3");
    let details =
        <prost_types::Any as prost::Message>::decode(&status_details(status.details())[..])
            .unwrap();
    assert_eq!(details.type_url, "type.googleapis.com/google.rpc.ErrorInfo");
}

/// The first `details` entry of an encoded google.rpc.Status.
fn status_details(bytes: &[u8]) -> Vec<u8> {
    let schema = Schema::bundled();
    let desc = schema
        .pool()
        .get_message_by_name("google.rpc.Status")
        .unwrap();
    let status = prost_reflect::DynamicMessage::decode(desc, bytes).unwrap();
    let details = status.get_field_by_name("details").unwrap();
    let first = details.as_list().unwrap()[0].as_message().unwrap().clone();
    prost::Message::encode_to_vec(&first)
}

#[tokio::test]
async fn successful_replies_carry_headers_and_trailers() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/GetUser
  then:
    headers: { x-served-by: grpc-double }
    trailers: { x-cost: "7" }
    message: { name: ok }
"#,
    )
    .await;
    let channel = common::channel(&server).await;
    // Trailers of a successful unary call are visible at the HTTP level.
    let mut http = tower::ServiceExt::<http::Request<tonic::body::Body>>::boxed_clone(channel);
    let body = {
        let mut buf = vec![0u8];
        let message = prost::Message::encode_to_vec(&user_request("1"));
        buf.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        buf.extend_from_slice(&message);
        buf
    };
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{}/userservice.UserService/GetUser", server.uri()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util_full(body)))
        .unwrap();
    let response = tower::ServiceExt::oneshot(&mut http, request)
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-served-by").unwrap(),
        "grpc-double"
    );
    let collected = http_body_collect(response.into_body()).await;
    assert_eq!(collected.trailers.get("grpc-status").unwrap(), "0");
    assert_eq!(collected.trailers.get("x-cost").unwrap(), "7");
}

struct Collected {
    trailers: http::HeaderMap,
}

fn http_body_util_full(bytes: Vec<u8>) -> tonic::body::Body {
    tonic::body::Body::new(FullBody(Some(bytes::Bytes::from(bytes))))
}

struct FullBody(Option<bytes::Bytes>);

impl http_body::Body for FullBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
    }
}

async fn http_body_collect(mut body: tonic::body::Body) -> Collected {
    let mut trailers = http::HeaderMap::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx))
            .await
    {
        if let Ok(t) = frame.unwrap().into_trailers() {
            trailers.extend(t);
        }
    }
    Collected { trailers }
}

#[tokio::test]
async fn server_stream_ends_with_the_stubs_status_after_its_messages() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/ListUsers
  then:
    stream:
      - message: { name: one }
      - message: { name: two }
        delay: 1ms
    status: { code: UNAVAILABLE, message: drained }
"#,
    )
    .await;
    let mut stream = client(&server)
        .await
        .list_users(ListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.next().await.unwrap().unwrap().name, "one");
    assert_eq!(stream.next().await.unwrap().unwrap().name, "two");
    let status = stream.next().await.unwrap().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unavailable, "drained")
    );
}

#[tokio::test]
async fn client_stream_matches_messages_in_order() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/CreateUsers
  when:
    messages: [ { name: a }, { name: b } ]
  then:
    message: { success_count: 2 }
- method: userservice.UserService/CreateUsers
  then:
    message: { success_count: "{{ requests | length }}", failed_ids: "{{ requests | map(attribute='name') | list }}" }
"#,
    )
    .await;
    let mut client = client(&server).await;
    let named = |names: &[&str]| {
        tokio_stream::iter(
            names
                .iter()
                .map(|n| CreateRequest {
                    name: (*n).into(),
                    ..Default::default()
                })
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        client
            .create_users(named(&["a", "b"]))
            .await
            .unwrap()
            .into_inner()
            .failed_ids,
        Vec::<String>::new()
    );
    let other = client
        .create_users(named(&["b", "a", "c"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (other.success_count, other.failed_ids),
        (3, vec!["b".into(), "a".into(), "c".into()])
    );
}

#[tokio::test]
async fn bidi_answers_from_the_stub_matching_each_message() {
    let server = common::serve(
        &Schema::bundled(),
        r#"
- method: userservice.UserService/Chat
  when: { message: { message: bye } }
  then:
    status: { code: CANCELLED, message: "bye {{ request.user_id }}" }
- method: userservice.UserService/Chat
  then:
    stream:
      - message: { message: "1:{{ request.message }}" }
      - message: { message: "2:{{ request.message }}" }
"#,
    )
    .await;
    let chat = |user: &str, text: &str| ChatMessage {
        user_id: user.into(),
        message: text.into(),
        timestamp: 0,
    };
    let replies: Vec<_> = client(&server)
        .await
        .chat(tokio_stream::iter(vec![
            chat("u", "x"),
            chat("u", "bye"),
            chat("u", "never"),
        ]))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0].as_ref().unwrap().message, "1:x");
    assert_eq!(replies[1].as_ref().unwrap().message, "2:x");
    let status = replies[2].as_ref().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Cancelled, "bye u")
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
    grpc.ready().await.unwrap();
    // A ChatMessage whose field 1 claims to be a string of 100 bytes but holds 2.
    let garbage = prost_types::Any {
        type_url: String::new(),
        value: vec![0x0a, 100, b'h', b'i'],
    };
    let path = http::uri::PathAndQuery::from_static("/userservice.UserService/GetUser");
    let status = grpc
        .unary::<RawBytes, UserResponse, _>(Request::new(RawBytes(garbage.value)), path, RawCodec)
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
    let options = grpc_double::ServerOptions {
        log_calls: false,
        compression: Some(grpc_double::Compression::Zstd),
        ..Default::default()
    };
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
    let options = grpc_double::ServerOptions {
        log_calls: false,
        max_message_size: Some(64),
        ..Default::default()
    };
    let server = grpc_double::FakeServer::start(&schema, fixtures, options)
        .await
        .unwrap();
    let mut client = client(&server).await;
    let status = client
        .get_user(user_request(&"x".repeat(100)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
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
    let options = grpc_double::ServerOptions {
        log_calls: false,
        listen: vec!["127.0.0.1:0".into(), "127.0.0.1:0".into()],
        ..Default::default()
    };
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
