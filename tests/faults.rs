//! Transport faults a stub can inject, seen with a raw HTTP/2 client: GOAWAY after a call, an
//! outage window on a listener, a trailers-only reply, a reset mid-stream.

use std::time::Duration;

use grpc_double::Schema;
use prost::Message as _;

use crate::common::{
    self,
    h2raw::{self, frame},
    userservice::{ListRequest, UserRequest},
};

fn get_user() -> bytes::Bytes {
    frame(
        &UserRequest {
            user_id: "1".into(),
        }
        .encode_to_vec(),
    )
}

#[tokio::test]
async fn goaway_closes_the_connection_after_the_call_and_the_server_keeps_serving() {
    let server = common::serve(
        &Schema::bundled(),
        "- method: userservice.UserService/GetUser\n  then: { message: { name: bye }, goaway: true }\n",
    )
    .await;
    let addr = server.addrs()[0];
    let mut conn = h2raw::connect(addr).await.unwrap();
    let reply = h2raw::call(&mut conn, "/userservice.UserService/GetUser", get_user())
        .await
        .unwrap();
    assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
    // The server sent GOAWAY: the connection ends (the guard only keeps a bug from hanging).
    let ended = tokio::time::timeout(Duration::from_secs(30), conn.task).await;
    assert!(ended.is_ok(), "the connection stays open after GOAWAY");
    // A new connection is served.
    let mut again = h2raw::connect(addr).await.unwrap();
    let reply = h2raw::call(&mut again, "/userservice.UserService/GetUser", get_user())
        .await
        .unwrap();
    assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn an_outage_refuses_connections_then_the_listener_recovers() {
    let server = common::serve(
        &Schema::bundled(),
        "- method: userservice.UserService/GetUser\n  when: { message: { user_id: down } }\n  then: { message: {}, outage: 2s }\n\
         - method: userservice.UserService/GetUser\n  then: { message: { name: up } }\n",
    )
    .await;
    let addr = server.addrs()[0];
    let mut conn = h2raw::connect(addr).await.unwrap();
    let down = frame(
        &UserRequest {
            user_id: "down".into(),
        }
        .encode_to_vec(),
    );
    h2raw::call(&mut conn, "/userservice.UserService/GetUser", down)
        .await
        .unwrap();
    // During the outage a new connection is accepted and dropped: no call goes through.
    let refused = match h2raw::connect(addr).await {
        Err(_) => true,
        Ok(mut conn) => h2raw::call(&mut conn, "/userservice.UserService/GetUser", get_user())
            .await
            .is_err(),
    };
    assert!(refused, "connections are refused during the outage");
    // Poll until the listener serves again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut conn) = h2raw::connect(addr).await
            && let Ok(reply) =
                h2raw::call(&mut conn, "/userservice.UserService/GetUser", get_user()).await
        {
            assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listener did not recover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_trailers_only_reply_carries_its_status_in_the_headers() {
    let server = common::serve(
        &Schema::bundled(),
        "- method: userservice.UserService/ListUsers\n  then: { status: { code: UNAVAILABLE, message: later }, trailers_only: true, trailers: { x-why: maintenance } }\n",
    )
    .await;
    let mut conn = h2raw::connect(server.addrs()[0]).await.unwrap();
    let request = frame(&ListRequest::default().encode_to_vec());
    let reply = h2raw::call(&mut conn, "/userservice.UserService/ListUsers", request)
        .await
        .unwrap();
    assert_eq!(reply.headers["grpc-status"], "14");
    assert_eq!(reply.headers["grpc-message"], "later");
    assert_eq!(reply.headers["x-why"], "maintenance");
    assert!(
        reply.body.is_empty() && reply.trailers.is_none(),
        "{reply:?}"
    );
}

#[tokio::test]
async fn abort_resets_the_stream_with_its_http2_code() {
    let server = common::serve(
        &Schema::bundled(),
        "- method: userservice.UserService/ListUsers\n  then: { stream: [ { message: { name: one } }, { abort: ENHANCE_YOUR_CALM } ] }\n",
    )
    .await;
    let mut conn = h2raw::connect(server.addrs()[0]).await.unwrap();
    let request = frame(&ListRequest::default().encode_to_vec());
    let reply = h2raw::call(&mut conn, "/userservice.UserService/ListUsers", request)
        .await
        .unwrap();
    assert_eq!(
        reply.reset,
        Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{reply:?}"
    );
    assert!(reply.trailers.is_none());
}
