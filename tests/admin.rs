//! The admin HTTP API, driven over real HTTP/1.1 against a running server: every endpoint,
//! the token, the body limit, the loopback rule, and gRPC calls seen through the journal.

use std::net::SocketAddr;

use grpc_double::{FakeServer, Schema, ServerOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{self, userservice::UserRequest};

/// An HTTP/1.1 answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading everything; a failed write is then fine.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, "GET", path, &[], b"").await
}

async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Answer {
    http(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .await
}

/// The bundled default with the admin API on an ephemeral loopback port.
async fn bundled_with_admin(token: Option<&str>) -> (FakeServer, SocketAddr) {
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options.admin = Some("127.0.0.1:0".into());
    options.admin_token = token.map(str::to_owned);
    let server = FakeServer::builder()
        .schema(Schema::bundled())
        .options(options)
        .start()
        .await
        .expect("starts");
    let admin = server.admin_addr().expect("the admin API listens");
    (server, admin)
}

async fn get_user(
    server: &FakeServer,
    id: &str,
    session: Option<&str>,
) -> Result<String, tonic::Status> {
    let mut client = common::client(server).await;
    let mut request = tonic::Request::new(UserRequest { user_id: id.into() });
    if let Some(session) = session {
        request
            .metadata_mut()
            .insert("x-grpc-double-session", session.parse().unwrap());
    }
    client.get_user(request).await.map(|r| r.into_inner().name)
}

#[tokio::test]
async fn stubs_added_over_http_answer_calls_that_the_journal_and_verify_then_show() {
    let (server, admin) = bundled_with_admin(None).await;

    let status = get(admin, "/api/status").await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(
        status.json()["services"],
        json!(["userservice.UserService"])
    );

    let added = send(
        admin,
        "POST",
        "/api/stubs",
        r#"{"id": "zed", "method": "userservice.UserService/GetUser", "priority": 100,
            "when": {"message": {"user_id": "zed"}},
            "then": {"message": {"user_id": "zed", "name": "Zed from the admin API"}}}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.json()["stubs"][0]["id"], "zed");
    assert_eq!(added.json()["stubs"][0]["source"], "added");

    assert_eq!(
        get_user(&server, "zed", None).await.unwrap(),
        "Zed from the admin API"
    );

    let journal = get(admin, "/api/journal?method=userservice.UserService/GetUser").await;
    assert_eq!(journal.status, 200, "{}", journal.body);
    let calls = journal.json()["calls"].clone();
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    assert_eq!(calls[0]["stub"], "zed");
    assert_eq!(calls[0]["requests"], json!([{"user_id": "zed"}]));
    assert_eq!(calls[0]["replies"][0]["name"], "Zed from the admin API");
    assert_eq!(calls[0]["status"], "OK");

    let verified = send(
        admin,
        "POST",
        "/api/verify",
        r#"{"method": "userservice.UserService/GetUser", "when": {"message": {"user_id": "zed"}}, "expect": 1}"#,
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.json()["ok"], true);

    let unmet = send(
        admin,
        "POST",
        "/api/verify",
        r#"{"method": "userservice.UserService/GetUser", "when": {"message": {"user_id": "zee"}}}"#,
    )
    .await;
    assert_eq!(unmet.status, 422, "{}", unmet.body);
    let unmet = unmet.json();
    assert_eq!(unmet["ok"], false);
    assert_eq!(unmet["matched"], 0);
    assert!(
        unmet["near_misses"][0].to_string().contains("zed"),
        "the near miss names the call that came closest: {unmet}"
    );

    let used = get(admin, "/api/stubs/used").await.json();
    assert!(
        used["stubs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "zed"),
        "{used}"
    );
    let unused = get(admin, "/api/stubs/unused").await.json();
    assert!(
        !unused["stubs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "zed"),
        "{unused}"
    );

    let one = get(admin, "/api/stubs/zed").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["stub"]["calls"], 1);

    let replaced = send(
        admin,
        "PUT",
        "/api/stubs/zed",
        "id: zed\nmethod: userservice.UserService/GetUser\npriority: 100\nwhen: { message: { user_id: zed } }\nthen: { message: { name: Zed again } }\n",
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(get_user(&server, "zed", None).await.unwrap(), "Zed again");

    let removed = http(admin, "DELETE", "/api/stubs/zed", &[], b"").await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(get(admin, "/api/stubs/zed").await.status, 404);

    let file_stub = http(admin, "DELETE", "/api/stubs/get-user-missing", &[], b"").await;
    assert_eq!(
        file_stub.status, 409,
        "file stubs are not removed over HTTP: {}",
        file_stub.body
    );

    let cleared = http(admin, "DELETE", "/api/journal", &[], b"").await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(get(admin, "/api/journal").await.json()["calls"], json!([]));
}

#[tokio::test]
async fn a_stub_that_does_not_load_is_a_located_400_with_the_loader_message() {
    let (_server, admin) = bundled_with_admin(None).await;
    let answer = send(
        admin,
        "POST",
        "/api/stubs",
        "method: userservice.UserService/GetUser\nthen:\n  message: { nmae: Ada }\n",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let text = answer.json().to_string();
    assert!(text.contains("nmae"), "{text}");
    assert!(
        text.contains("3:"),
        "the problem is located in the body: {text}"
    );
    assert!(text.contains("name"), "with a did-you-mean: {text}");
}

#[tokio::test]
async fn unmatched_calls_scenarios_health_sessions_reset_and_the_openapi_document() {
    let (server, admin) = bundled_with_admin(None).await;

    // A call no stub answers is listed with the stub that came closest.
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options.admin = Some("127.0.0.1:0".into());
    let picky = FakeServer::builder()
        .schema(Schema::bundled())
        .fixture_text(
            "picky.yaml",
            "- id: only-ada\n  method: userservice.UserService/GetUser\n  when: { message: { user_id: ada } }\n  then: { message: { name: Ada } }\n",
        )
        .options(options)
        .start()
        .await
        .unwrap();
    let status = get_user(&picky, "bob", None).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    let unmatched = get(picky.admin_addr().unwrap(), "/api/unmatched").await;
    assert_eq!(unmatched.status, 200, "{}", unmatched.body);
    let unmatched = unmatched.json();
    assert_eq!(
        unmatched["calls"][0]["method"], "userservice.UserService/GetUser",
        "{unmatched}"
    );
    assert_eq!(
        unmatched["calls"][0]["status"], "UNIMPLEMENTED",
        "{unmatched}"
    );
    assert!(
        unmatched["calls"][0]["near_miss"]
            .as_str()
            .unwrap_or_default()
            .contains("only-ada"),
        "{unmatched}"
    );

    let scenarios = get(admin, "/api/scenarios").await;
    assert_eq!(scenarios.status, 200, "{}", scenarios.body);
    assert!(
        scenarios.json()["scenarios"].is_array(),
        "{}",
        scenarios.body
    );
    let missing = send(admin, "PUT", "/api/scenarios/nope", r#"{"state": "x"}"#).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    let health = send(
        admin,
        "PUT",
        "/api/health/userservice.UserService",
        r#"{"status": "NOT_SERVING"}"#,
    )
    .await;
    assert_eq!(health.status, 200, "{}", health.body);
    let mut checker =
        tonic_health::pb::health_client::HealthClient::new(common::channel(&server).await);
    let answer = checker
        .check(tonic_health::pb::HealthCheckRequest {
            service: "userservice.UserService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::NotServing
    );
    let listed = get(admin, "/api/health").await.json();
    assert!(listed.to_string().contains("NOT_SERVING"), "{listed}");
    let bad = send(admin, "PUT", "/api/health", r#"{"status": "ASLEEP"}"#).await;
    assert_eq!(bad.status, 400);

    // A session's stubs and calls are its own.
    let added = http(
        admin,
        "POST",
        "/api/stubs",
        &[("x-grpc-double-session", "alpha")],
        br#"{"method": "userservice.UserService/GetUser", "priority": 100, "then": {"message": {"name": "alpha's"}}}"#,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(
        get_user(&server, "1", Some("alpha")).await.unwrap(),
        "alpha's"
    );
    assert_ne!(get_user(&server, "1", None).await.unwrap(), "alpha's");
    let sessions = get(admin, "/api/sessions").await.json();
    assert!(sessions.to_string().contains("alpha"), "{sessions}");
    let alpha_calls = get(admin, "/api/journal?session=alpha").await.json();
    assert_eq!(
        alpha_calls["calls"].as_array().unwrap().len(),
        1,
        "{alpha_calls}"
    );
    let ended = http(admin, "DELETE", "/api/sessions/alpha", &[], b"").await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_ne!(
        get_user(&server, "1", Some("alpha")).await.unwrap(),
        "alpha's"
    );

    let reset = http(admin, "POST", "/api/reset", &[], b"").await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(get(admin, "/api/journal").await.json()["calls"], json!([]));

    // No fixture files were given, so there is nothing to reload.
    assert_eq!(get(admin, "/api/reload").await.status, 404);

    let openapi = get(admin, "/openapi.json").await;
    assert_eq!(openapi.status, 200);
    assert_eq!(openapi.json()["openapi"], "3.0.3");
    let index = get(admin, "/").await;
    assert_eq!(index.status, 200, "{}", index.body);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let (_server, admin) = bundled_with_admin(None).await;
    assert_eq!(get(admin, "/api/nothing").await.status, 404);
    let wrong = http(admin, "PATCH", "/api/stubs", &[], b"").await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_eq!(wrong.header("allow"), Some("GET, POST, DELETE"));
    let bad_query = get(admin, "/api/journal?since=yesterday").await;
    assert_eq!(bad_query.status, 400, "{}", bad_query.body);
}

#[tokio::test]
async fn with_a_token_every_request_needs_it() {
    let (_server, admin) = bundled_with_admin(Some("s3cret")).await;
    let without = get(admin, "/api/status").await;
    assert_eq!(without.status, 401, "{}", without.body);
    assert_eq!(without.header("www-authenticate"), Some("Bearer"));
    let wrong = http(
        admin,
        "GET",
        "/api/status",
        &[("authorization", "Bearer s3cre")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let right = http(
        admin,
        "GET",
        "/api/status",
        &[("authorization", "Bearer s3cret")],
        b"",
    )
    .await;
    assert_eq!(right.status, 200, "{}", right.body);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_and_the_api_keeps_answering() {
    let (_server, admin) = bundled_with_admin(None).await;
    let huge = vec![b' '; (8 << 20) + 1];
    let answer = http(admin, "POST", "/api/stubs", &[], &huge).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(get(admin, "/api/status").await.status, 200);
}

#[tokio::test]
async fn an_admin_api_off_loopback_needs_a_token() {
    let mut options = ServerOptions::default();
    options.log_calls = false;
    options.admin = Some("0.0.0.0:0".into());
    let err = FakeServer::builder()
        .schema(Schema::bundled())
        .options(options)
        .start()
        .await
        .expect_err("refused without a token");
    let text = format!("{:?}", miette::Report::new(err));
    assert!(
        text.contains("--admin-token"),
        "the error says how to fix it: {text}"
    );
}
