//! Serve behaviour as case folders: `fixtures/serve/<case>/` holds `calls.yaml`, `stubs.yaml`
//! (else the bundled fixtures) and optionally its own `.proto` files (else the bundled
//! `proto/users.proto`). Each case starts a
//! server from the stubs, replays the calls with a client for any method, checks each call's
//! `expect` and snapshots the whole transcript.
//!
//! `calls.yaml` is a list of calls, or a mapping `{ proto: ../protos/x.proto, seed: 7, clock:
//! 2024-01-01T00:00:00Z, calls: [ … ] }` naming the case's protos (else the bundled ones) and the
//! server's seed and frozen clock. A call:
//!
//! ```yaml
//! - call: userservice.UserService/GetUser      # or a raw path: /nope.Missing/Call
//!   request: { user_id: "42" }                 # or `requests: [ … ]` for client and bidi streams
//!   metadata: { x-tenant: acme }               # request headers (`-bin` keys in base64)
//!   timeout: 50ms                              # sent as `grpc-timeout`
//!   expect:                                    # each key given must equal the transcript's
//!     status: OK
//!     message: ""                              # the status message; or `message_contains`
//!     replies: [ { user_id: "42" } ]
//!     headers: { x-request-id: abc }
//!     trailers: { x-retry-after: "3" }
//!     details: [ { "@type": google.rpc.ErrorInfo, reason: LOCKED } ]
//! ```

use std::path::Path;

use grpc_double::{BUNDLED_FIXTURES, BUNDLED_FIXTURES_NAME, FixtureSource, Fixtures, Schema};
use prost_reflect::DynamicMessage;
use serde_json::{Value, json};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

use crate::common::{
    dynamic::{self, Answer},
    insta_settings,
};

/// The case's protos: `calls.yaml`'s `proto:` (relative to the case), else the bundled ones.
fn schema_of(dir: &Path, calls: &Value) -> Schema {
    match calls.get("proto").and_then(Value::as_str) {
        Some(proto) => Schema::compile([dir.join(proto)], [] as [&Path; 0])
            .unwrap_or_else(|e| panic!("{}: {:?}", dir.display(), miette::Report::new(e))),
        None => Schema::bundled(),
    }
}

/// A method of `grpc.health.v1.Health`, which every fake serves.
fn health_method(name: &str) -> Option<prost_reflect::MethodDescriptor> {
    let pool = prost_reflect::DescriptorPool::decode(tonic_health::pb::FILE_DESCRIPTOR_SET).ok()?;
    grpc_double::schema::find_method(&pool, name)
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn metadata(value: &Value) -> MetadataMap {
    let mut map = MetadataMap::new();
    for (key, value) in value.as_object().into_iter().flatten() {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        if key.ends_with("-bin") {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .expect("base64");
            map.append_bin(
                MetadataKey::from_bytes(key.as_bytes()).unwrap(),
                MetadataValue::from_bytes(&bytes),
            );
        } else {
            map.append(
                MetadataKey::from_bytes(key.as_bytes()).unwrap(),
                text.parse().unwrap(),
            );
        }
    }
    map
}

/// `google.rpc.Status` details as their JSON forms.
fn details(schema: &Schema, bytes: &[u8]) -> Value {
    let desc = schema
        .pool()
        .get_message_by_name("google.rpc.Status")
        .unwrap();
    let status = DynamicMessage::decode(desc, bytes).unwrap();
    dynamic::json(&status)
        .get("details")
        .cloned()
        .unwrap_or(json!([]))
}

fn transcript(schema: &Schema, call: &Value, answer: &Answer) -> Value {
    let mut entry = serde_json::Map::new();
    for key in ["call", "request", "requests", "metadata"] {
        if let Some(value) = call.get(key) {
            entry.insert(key.into(), value.clone());
        }
    }
    entry.insert("status".into(), json!(code_name(answer.code)));
    if !answer.message.is_empty() {
        entry.insert("message".into(), json!(answer.message));
    }
    entry.insert(
        "replies".into(),
        answer.replies.iter().map(dynamic::json).collect(),
    );
    let headers = dynamic::custom_metadata(&answer.headers);
    if !headers.is_empty() {
        entry.insert("headers".into(), json!(headers));
    }
    let trailers = dynamic::custom_metadata(&answer.trailers);
    if !trailers.is_empty() {
        entry.insert("trailers".into(), json!(trailers));
    }
    if !answer.details.is_empty() {
        entry.insert("details".into(), details(schema, &answer.details));
    }
    Value::Object(entry)
}

/// A status code as fixtures write it, e.g. `NOT_FOUND` (tonic prints `NotFound`).
fn code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn check(case: &str, i: usize, expect: &Value, got: &Value) {
    let Some(expect) = expect.as_object() else {
        return;
    };
    for (key, want) in expect {
        let have = got.get(key.as_str());
        let ok = match key.as_str() {
            "message_contains" => got
                .get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains(want.as_str().unwrap_or_default())),
            "message" => have.unwrap_or(&json!("")) == want,
            _ => have == Some(want),
        };
        assert!(
            ok,
            "{case}, call {i}: `{key}` expected {want}, got {}\nwhole call: {got:#}",
            have.map_or_else(|| "nothing".to_owned(), ToString::to_string)
        );
    }
}

async fn run_case(dir: &Path) -> Value {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let calls = yaml(&dir.join("calls.yaml"));
    let schema = schema_of(dir, &calls);
    let stubs = match dir.join("stubs.yaml") {
        // Named as the case sees it, so messages that quote locations are stable.
        path if path.is_file() => {
            FixtureSource::new("stubs.yaml", std::fs::read_to_string(path).unwrap())
        }
        _ => FixtureSource::new(BUNDLED_FIXTURES_NAME, BUNDLED_FIXTURES),
    };
    let fixtures = Fixtures::load(&schema, &[stubs])
        .unwrap_or_else(|err| panic!("{case}: {:?}", miette::Report::new(err)));
    let mut options = grpc_double::ServerOptions::default();
    options.log_calls = false;
    options.seed = calls.get("seed").and_then(Value::as_u64).unwrap_or(0);
    options.clock = calls
        .get("clock")
        .and_then(Value::as_str)
        .map(|t| grpc_double::parse_rfc3339(t).expect("an RFC 3339 clock"));
    let server = grpc_double::FakeServer::start(&schema, fixtures, options)
        .await
        .expect("the server starts");
    let client = dynamic::raw_client(&server.uri());
    let list = calls.get("calls").unwrap_or(&calls);
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("{case}: calls.yaml is not a list of calls: {calls:#}"));
    let mut out = Vec::new();
    for (i, call) in list.iter().enumerate() {
        let name = call["call"].as_str().expect("`call` names the method");
        let path = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        // The health service is served beside the protos; an unknown method is called with the
        // shape of the first method (its bytes do not matter).
        let method = schema
            .method(name)
            .or_else(|| health_method(name))
            .or_else(|| schema.services().next()?.methods().next())
            .expect("a method");
        let requests: Vec<DynamicMessage> = match (call.get("request"), call.get("requests")) {
            (Some(one), _) => vec![dynamic::message(&method.input(), one)],
            (None, Some(many)) => many
                .as_array()
                .expect("`requests` is a list")
                .iter()
                .map(|r| dynamic::message(&method.input(), r))
                .collect(),
            (None, None) => Vec::new(),
        };
        let mut metadata = metadata(call.get("metadata").unwrap_or(&Value::Null));
        if let Some(timeout) = call.get("timeout").and_then(Value::as_str) {
            // grpc-timeout in milliseconds, as clients send it.
            let ms = grpc_double::parse_duration(timeout)
                .expect("a duration")
                .as_millis();
            metadata.insert("grpc-timeout", format!("{ms}m").parse().unwrap());
        }
        let answer = dynamic::call(client.clone(), &path, &method, requests, metadata).await;
        let got = transcript(&schema, call, &answer);
        check(&case, i, call.get("expect").unwrap_or(&Value::Null), &got);
        out.push(got);
    }
    server.shutdown().await.unwrap();
    Value::Array(out)
}

#[test]
fn serve_cases_answer_as_their_calls_expect() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/serve");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("calls.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "the case folders are found");
    for dir in cases {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let transcript = runtime.block_on(run_case(&dir));
        let mut settings = insta_settings("serve_cases");
        settings.set_snapshot_suffix(case.clone());
        settings.set_input_file(dir.join("calls.yaml"));
        settings.bind(|| insta::assert_yaml_snapshot!("transcript", transcript));
    }
}
