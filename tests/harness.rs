//! The Rust test harness: builder stubs, verify, sessions, verify-on-drop, hot reload under
//! traffic, `expect:` in fixtures, and the report.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    time::{Duration, Instant},
};

use grpc_double::{
    Expect, FakeServer, ServerOptions, Stub, message, metadata, method, reply, status,
};
use serde_json::json;
use tonic::Code;

use crate::common::{self, userservice::UserRequest};

const GET_USER: &str = "userservice.UserService/GetUser";

fn quiet() -> ServerOptions {
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options
}

async fn get_user(
    server: &FakeServer,
    id: &str,
    session: Option<&str>,
) -> Result<common::userservice::UserResponse, tonic::Status> {
    let mut client = common::client(server).await;
    let mut request = tonic::Request::new(UserRequest { user_id: id.into() });
    if let Some(session) = session {
        request
            .metadata_mut()
            .insert("x-grpc-double-session", session.parse().unwrap());
    }
    client
        .get_user(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn builder_stubs_answer_calls_that_verify_counts_and_removal_ends() {
    let server = FakeServer::builder()
        .no_fixtures()
        .options(quiet())
        .start()
        .await
        .unwrap();
    let ada = Stub::given(method(GET_USER))
        .and(message(json!({ "user_id": "ada" })))
        .respond_with(reply(json!({ "user_id": "ada", "name": "Ada Lovelace" })))
        .id("ada")
        .mount(&server);
    Stub::given(method(GET_USER))
        .and(metadata("x-tenant", "blue"))
        .respond_with(status(Code::PermissionDenied, "blue tenant is read-only"))
        .mount(&server);

    assert_eq!(
        get_user(&server, "ada", None).await.unwrap().name,
        "Ada Lovelace"
    );
    assert_eq!(ada.calls(), 1);
    let unmatched = get_user(&server, "bob", None).await.unwrap_err();
    assert_eq!(unmatched.code(), Code::Unimplemented);
    assert!(
        unmatched.message().contains("ada"),
        "names the closest stub: {}",
        unmatched.message()
    );

    let check = server.verify(
        &Stub::given(method(GET_USER)).and(message(json!({ "user_id": "ada" }))),
        1,
    );
    assert!(check.ok, "{check:?}");
    check.assert();
    let twice = server.verify(
        &Stub::given(method(GET_USER)).and(message(json!({ "user_id": "ada" }))),
        Expect::at_least(2),
    );
    assert!(!twice.ok);
    assert_eq!(twice.matched, 1);
    let never = server.verify(
        &Stub::given(method(GET_USER)).and(message(json!({ "user_id": "bob" }))),
        0,
    );
    assert!(!never.ok, "bob did call");
    let panic = catch_unwind(AssertUnwindSafe(|| never.assert())).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("expected no calls, got 1"), "{text}");
    assert!(
        text.contains(r#"matched: {"user_id":"bob"}"#),
        "lists the call that matched: {text}"
    );

    assert_eq!(server.received_calls().len(), 2);
    assert_eq!(server.unmatched_calls().len(), 1);

    ada.remove();
    assert_eq!(
        get_user(&server, "ada", None).await.unwrap_err().code(),
        Code::Unimplemented
    );
    server.verify_on_drop(false);
}

#[tokio::test]
async fn a_builder_stub_that_does_not_fit_the_protos_fails_where_it_was_written() {
    let server = FakeServer::builder()
        .no_fixtures()
        .options(quiet())
        .start()
        .await
        .unwrap();
    let err = Stub::given(method(GET_USER))
        .respond_with(reply(json!({ "nmae": "Ada" })))
        .try_mount(&server)
        .expect_err("an unknown field is an error");
    let text = format!("{:?}", miette::Report::new(err));
    assert!(text.contains("nmae"), "{text}");
    assert!(
        text.contains("tests/harness.rs"),
        "located at the builder: {text}"
    );
}

#[tokio::test]
async fn sessions_running_at_once_see_only_their_own_stubs_and_calls() {
    let server = FakeServer::builder()
        .options(quiet())
        .start()
        .await
        .unwrap();
    let red = server.session("red");
    let blue = server.session("blue");
    Stub::given(method(GET_USER))
        .respond_with(reply(json!({ "name": "red's user" })))
        .priority(100)
        .mount(&red);
    Stub::given(method(GET_USER))
        .respond_with(reply(json!({ "name": "blue's user" })))
        .priority(100)
        .mount(&blue);

    let calls = (0..20).map(|i| {
        let server = &server;
        async move {
            let session = if i % 2 == 0 { "red" } else { "blue" };
            (
                session,
                get_user(server, &i.to_string(), Some(session))
                    .await
                    .unwrap()
                    .name,
            )
        }
    });
    for (session, name) in futures_util::future::join_all(calls).await {
        assert_eq!(name, format!("{session}'s user"));
    }
    // Without a session, the shared (bundled) stubs answer.
    assert_eq!(get_user(&server, "1", None).await.unwrap().name, "Alice");

    assert_eq!(red.received_calls().len(), 10);
    assert_eq!(blue.received_calls().len(), 10);
    assert!(
        red.received_calls()
            .iter()
            .all(|c| c.session.as_deref() == Some("red"))
    );
    assert!(red.verify(&Stub::given(method(GET_USER)), 10).ok);
    red.reset();
    assert!(red.received_calls().is_empty());
    assert_eq!(
        blue.received_calls().len(),
        10,
        "resetting red leaves blue alone"
    );
    assert_ne!(
        get_user(&server, "1", Some("red")).await.unwrap().name,
        "red's user"
    );
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_dropped_server_with_an_unmet_expectation_panics_with_its_report() {
    let server = FakeServer::builder()
        .no_fixtures()
        .options(quiet())
        .start_blocking()
        .unwrap();
    Stub::given(method(GET_USER))
        .and(message(json!({ "user_id": "ada" })))
        .respond_with(reply(json!({ "name": "Ada" })))
        .id("ada-once")
        .expect(1)
        .mount(&server);
    Stub::given(method(GET_USER))
        .respond_with(reply(json!({ "name": "anyone" })))
        .id("never-again")
        .expect(Expect::never())
        .mount(&server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(get_user(&server, "bob", None).await.unwrap().name, "anyone");
    });
    let message = panic_text(catch_unwind(AssertUnwindSafe(|| drop(server))).unwrap_err());
    let mut settings = common::insta_settings("harness");
    settings.add_filter(r"tests/harness\.rs:\d+:\d+", "tests/harness.rs:[line:col]");
    settings.bind(|| insta::assert_snapshot!("verify_on_drop", message));
}

#[test]
fn a_server_whose_expectations_hold_drops_quietly() {
    let server = FakeServer::builder()
        .no_fixtures()
        .options(quiet())
        .start_blocking()
        .unwrap();
    Stub::given(method(GET_USER))
        .respond_with(reply(json!({ "name": "Ada" })))
        .expect(Expect::never())
        .mount(&server);
    drop(server);
}

#[tokio::test]
async fn expect_in_a_fixture_file_is_in_the_report() {
    let server = FakeServer::builder()
        .fixture_text(
            "expect.yaml",
            "- id: twice\n  method: userservice.UserService/GetUser\n  expect: 2\n  then: { message: { name: Ada } }\n",
        )
        .options(quiet())
        .start()
        .await
        .unwrap();
    get_user(&server, "1", None).await.unwrap();
    let report = server.report();
    assert_eq!(report.unmet.len(), 1, "{}", report.summary());
    assert!(report.summary().contains("twice"), "{}", report.summary());
    assert!(report.failed(false));
    let dir = tempfile::tempdir().unwrap();
    report.write_to(dir.path(), false).unwrap();
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("journal.json")).unwrap())
            .unwrap();
    assert_eq!(journal.as_array().map(Vec::len), Some(1), "{journal}");
    get_user(&server, "2", None).await.unwrap();
    assert!(server.report().unmet.is_empty());
}

/// Polls until the reloader has taken `generation` (or reported it invalid).
async fn wait_for_generation(server: &FakeServer, generation: u64) -> grpc_double::ReloadStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.reload_status()
            && (status.generation >= generation || !status.ok)
        {
            return status;
        }
        assert!(Instant::now() < deadline, "the reload did not happen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn generation_fixture(n: u64) -> String {
    // Two fields that must always agree: a call answered by a half-swapped set of stubs would
    // show it. Each generation also has a different number of stubs.
    let mut text = String::new();
    for extra in 0..n % 3 {
        text.push_str(&format!(
            "- method: userservice.UserService/GetUser\n  when: {{ message: {{ user_id: other-{extra} }} }}\n  then: {{ message: {{ name: other }} }}\n"
        ));
    }
    text.push_str(&format!(
        "- method: userservice.UserService/GetUser\n  then: {{ message: {{ name: gen-{n}, email: gen-{n}@example.com }} }}\n"
    ));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_traffic_fails_no_call_and_mixes_no_generations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stubs.yaml");
    std::fs::write(&file, generation_fixture(0)).unwrap();
    let server = std::sync::Arc::new(
        FakeServer::builder()
            .fixtures(&file)
            .watch(Some(Duration::from_millis(10)))
            .options(quiet())
            .start()
            .await
            .unwrap(),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (server, stop) = (server.clone(), stop.clone());
        tokio::spawn(async move {
            let mut client = common::client(&server).await;
            let mut seen = std::collections::BTreeSet::new();
            let mut calls = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let user = client
                    .get_user(UserRequest {
                        user_id: "x".into(),
                    })
                    .await
                    .expect("no call fails during a reload")
                    .into_inner();
                let generation = user.name.trim_start_matches("gen-").to_owned();
                assert_eq!(
                    user.email,
                    format!("gen-{generation}@example.com"),
                    "one generation per answer"
                );
                seen.insert(generation.parse::<u64>().unwrap());
                calls += 1;
            }
            (calls, seen)
        })
    };

    for n in 1..=8u64 {
        // Written beside and renamed over, as editors and `kubectl cp` do.
        let tmp = dir.path().join(".stubs.yaml.tmp");
        std::fs::write(&tmp, generation_fixture(n)).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let status = wait_for_generation(&server, n + 1).await;
        assert!(status.ok, "{status:?}");
    }
    // A broken file is refused and the last good generation keeps answering.
    std::fs::write(
        &file,
        "- method: userservice.UserService/GetUser\n  then: { message: { nmae: x } }\n",
    )
    .unwrap();
    let status = wait_for_generation(&server, u64::MAX).await;
    assert!(!status.ok);
    assert!(
        status.error.as_deref().unwrap_or_default().contains("nmae"),
        "{status:?}"
    );
    assert_eq!(get_user(&server, "x", None).await.unwrap().name, "gen-8");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (calls, seen) = traffic.await.unwrap();
    assert!(calls > 0);
    assert!(seen.contains(&8), "the last generation answered: {seen:?}");
    server.verify_on_drop(false);
}

// The examples of docs/harness.md, verbatim (tests/docs.rs checks that they are here).
mod doc_examples {
    use grpc_double::{Expect, FakeServer, Stub, message, method, reply, status};
    use serde_json::json;

    use crate::common::{UserServiceClient, userservice::UserRequest};

    #[tokio::test]
    async fn reads_a_user() {
        let server = FakeServer::builder().no_fixtures().start().await.unwrap();
        Stub::given(method("userservice.UserService/GetUser"))
            .and(message(json!({ "user_id": "ada" })))
            .respond_with(reply(json!({ "user_id": "ada", "name": "Ada Lovelace" })))
            .expect(1)
            .mount(&server);

        let mut client = UserServiceClient::connect(server.uri()).await.unwrap();
        let request = UserRequest {
            user_id: "ada".into(),
        };
        let user = client.get_user(request).await.unwrap().into_inner();

        assert_eq!(user.name, "Ada Lovelace");
        // When `server` is dropped, every `expect` is checked: an unmet one fails the test
        // with a report of what was received.
    }

    #[tokio::test]
    async fn retries_after_unavailable() {
        let server = FakeServer::builder().no_fixtures().start().await.unwrap();
        Stub::given(method("userservice.UserService/GetUser"))
            .respond_with_sequence([
                status(tonic::Code::Unavailable, "warming up"),
                reply(json!({ "name": "Ada" })),
            ])
            .mount(&server);

        let mut client = UserServiceClient::connect(server.uri()).await.unwrap();
        let first = client.get_user(UserRequest::default()).await.unwrap_err();
        assert_eq!(first.code(), tonic::Code::Unavailable);
        let second = client.get_user(UserRequest::default()).await.unwrap();
        assert_eq!(second.into_inner().name, "Ada");

        let calls = Stub::given(method("userservice.UserService/GetUser"));
        server.verify(&calls, Expect::exactly(2)).assert();
        assert_eq!(server.received_calls()[0].status, "UNAVAILABLE");
    }
}
