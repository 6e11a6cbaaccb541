//! The `grpc-double` binary as users run it: exit codes, the ready file, calls, shutdown.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    UserServiceClient, bin, grpc_double as run, insta_settings, userservice::UserRequest,
};

/// Polls until the ready file exists (the server writes it atomically once it serves).
async fn wait_for_ready_file(path: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).expect("the ready file is complete JSON");
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serve_writes_the_ready_file_answers_calls_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ready: PathBuf = dir.path().join("ready.json");
    let child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let info = wait_for_ready_file(&ready).await;
    assert_eq!(info["pid"], child.id());
    let addr = info["grpc"][0].as_str().unwrap().to_owned();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let user = client
        .get_user(UserRequest {
            user_id: "cli".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (user.user_id.as_str(), user.name.as_str()),
        ("cli", "Alice")
    );
    drop(client);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Wait off the runtime so that it can close the dropped client's connection meanwhile.
    let output: crate::common::Run = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .into();
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert!(!ready.exists(), "the ready file is removed on shutdown");
    let stdout = output.stdout.clone();
    assert_eq!(stdout, format!("grpc-double listening on {addr}\n"));
    let stderr = output.stderr.clone();
    assert!(
        stderr.contains("method=/userservice.UserService/GetUser")
            && stderr.contains("status=\"OK\""),
        "one log line per call: {stderr}"
    );
}

#[test]
fn check_accepts_the_bundled_fixtures() {
    let output = run(&["check"]);
    assert_eq!(output.code, Some(0));
    assert_eq!(
        output.stdout.clone(),
        "ok: 6 stubs for 4 methods in fixtures/users.yaml\n"
    );
}

#[test]
fn check_rejects_a_bad_fixture_with_its_location_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("stubs.yaml");
    std::fs::write(
        &fixture,
        "- method: userservice.UserService/GetUser\n  then:\n    message: { nmae: Ada }\n",
    )
    .unwrap();
    let output = run(&[
        "check",
        "--proto",
        "proto/users.proto",
        "--fixtures",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(output.code, Some(1));
    let stderr = output.stderr.clone();
    assert!(
        stderr.contains("stubs.yaml:3:16: unknown field `nmae` on `userservice.UserResponse`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `name`?"), "{stderr}");
}

#[test]
fn serve_rejects_a_broken_proto_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("broken.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\nmessage M {\n  strin name = 1;\n}\n",
    )
    .unwrap();
    let output = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto.to_str().unwrap(),
    ]);
    assert_eq!(output.code, Some(1));
    let stderr = output.stderr.clone();
    assert!(stderr.contains("name 'strin' is not defined"), "{stderr}");
    assert!(stderr.contains("broken.proto:3:3"), "{stderr}");
}

#[test]
fn check_notes_methods_without_stubs() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("one.yaml");
    std::fs::write(
        &fixture,
        "- method: userservice.UserService/GetUser\n  then: { message: {} }\n",
    )
    .unwrap();
    let output = run(&["check", "--fixtures", fixture.to_str().unwrap()]);
    assert_eq!(output.code, Some(0));
    let stdout = output.stdout.clone();
    assert!(
        stdout.contains("note: userservice.UserService/Chat has no stub"),
        "{stdout}"
    );
}

#[test]
fn help_is_documented() {
    for command in [&["--help"][..], &["serve", "--help"], &["check", "--help"]] {
        let output = run(command);
        assert_eq!(output.code, Some(0));
        let name = ["help"]
            .iter()
            .chain(&command[..command.len() - 1])
            .copied()
            .collect::<Vec<_>>()
            .join("_");
        insta_settings("cli").bind(|| {
            insta::assert_snapshot!(name, output.stdout.clone());
        });
    }
}

#[test]
fn check_against_an_old_contract_reports_drift_and_exits_1() {
    let output = run(&[
        "check",
        "--proto",
        "fixtures/drift/new/shop.proto",
        "--fixtures",
        "fixtures/drift/stubs.yaml",
        "--against",
        "fixtures/drift/old/shop.proto",
    ]);
    assert_eq!(output.code, Some(1));
    let stdout = output.stdout.clone();
    assert!(
        stdout.contains("fixtures/drift/stubs.yaml:5:16: error: no longer loads"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(
            "drift: 6 problems (1 would fail to load, 5 would silently change meaning)\n"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn json_logs_have_one_object_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--ready-file",
        ])
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let info = wait_for_ready_file(&ready).await;
    let addr = info["grpc"][0].as_str().unwrap().to_owned();
    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let status = client
        .get_user(UserRequest {
            user_id: "missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    drop(client);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output: crate::common::Run = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .into();
    let stderr = output.stderr.clone();
    let calls: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
        .filter(|event: &serde_json::Value| event["message"] == "call")
        .collect();
    assert_eq!(calls.len(), 1, "{stderr}");
    assert_eq!(calls[0]["method"], "/userservice.UserService/GetUser");
    assert_eq!(calls[0]["status"], "NOT_FOUND");
    assert_eq!(
        calls[0]["stub"],
        "stub `get-user-missing` (fixtures/users.yaml:23:3)"
    );
    assert!(calls[0]["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(calls[0]["duration_ms"].is_string() || calls[0]["duration_ms"].is_number());
}

#[test]
fn check_warns_about_stubs_shadowed_by_a_catch_all() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("shadow.yaml");
    std::fs::write(
        &fixture,
        "- { id: all, method: userservice.UserService/GetUser, then: { message: {} } }\n\
         - { id: ada, method: userservice.UserService/GetUser, when: { message: { user_id: ada } }, then: { message: {} } }\n",
    )
    .unwrap();
    let output = run(&["check", "--fixtures", fixture.to_str().unwrap()]);
    assert_eq!(output.code, Some(0));
    let stdout = output.stdout.clone();
    assert!(
        stdout.contains("warning: stub `ada` (")
            && stdout.contains("can never match: stub `all` ("),
        "{stdout}"
    );
}

/// Runs the binary with its stdout already closed, as `… | head -1` does to a long output.
fn run_into_a_closed_pipe(args: &[&str]) -> crate::common::Run {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap().into()
}

#[test]
fn commands_end_quietly_when_their_reader_goes_away() {
    for args in [&["rules"][..], &["check"], &["rules", "--format", "json"]] {
        let output = run_into_a_closed_pipe(args);
        assert_eq!(output.code, Some(0), "{args:?}: {}", output.stderr);
        assert_eq!(output.stderr, "", "{args:?}");
    }
}

#[test]
fn breaking_keeps_its_verdict_when_its_reader_goes_away() {
    let output = run_into_a_closed_pipe(&[
        "breaking",
        "fixtures/breaking/field_no_delete/current",
        "--against",
        "fixtures/breaking/field_no_delete/previous",
    ]);
    assert_eq!(output.code, Some(100), "{}", output.stderr);
    assert_eq!(output.stderr, "");
}

#[test]
fn check_lints_for_ci_in_every_format_and_fails_on_warnings_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("lint.yaml");
    std::fs::write(
        &fixture,
        "- method: userservice.UserService/GetUser\n  then: { message: {} }\n\
         - method: userservice.UserService/GetUser\n  scenario: s\n  when: { state: ghost }\n  then: { message: { name: x } }\n",
    )
    .unwrap();
    let path = fixture.to_str().unwrap();
    let text = run(&["check", "--fixtures", path]);
    assert_eq!(text.code, Some(0), "warnings alone pass: {}", text.stderr);
    assert!(
        text.stdout.contains("lint.yaml:3:3: warning: stub at"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("needs scenario `s` in state `ghost`, but no stub moves it there"),
        "{}",
        text.stdout
    );
    let denied = run(&["check", "--fixtures", path, "--deny-warnings"]);
    assert_eq!(denied.code, Some(1));
    let json = run(&["check", "--fixtures", path, "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["ok"], true);
    let codes: Vec<&str> = value["lints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"grpc_double::lint::shadowed")
            && codes.contains(&"grpc_double::lint::unreachable_state"),
        "{codes:?}"
    );
    assert_eq!(
        value["coverage"][0]["method"],
        "userservice.UserService/GetUser"
    );
    assert_eq!(value["coverage"][0]["stubs"], 2);
    let github = run(&["check", "--fixtures", path, "--format", "github-actions"]);
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::warning file=") && l.contains(",line=3,col=3::")),
        "{}",
        github.stdout
    );
    assert!(
        github
            .stdout
            .contains("::notice::userservice.UserService/Chat has no stub"),
        "{}",
        github.stdout
    );
}

#[test]
fn check_reports_fixture_errors_as_json_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("bad.yaml");
    std::fs::write(
        &fixture,
        "- method: userservice.UserService/GetUser\n  then: { message: { nmae: x } }\n",
    )
    .unwrap();
    let path = fixture.to_str().unwrap();
    let json = run(&["check", "--fixtures", path, "--format", "json"]);
    assert_eq!(json.code, Some(1));
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(
        value["errors"][0]["code"],
        "grpc_double::fixture::unknown_field"
    );
    assert_eq!(
        (
            value["errors"][0]["line"].as_u64(),
            value["errors"][0]["col"].as_u64()
        ),
        (Some(2), Some(22))
    );
    let github = run(&["check", "--fixtures", path, "--format", "github-actions"]);
    assert_eq!(github.code, Some(1));
    assert!(
        github.stdout.starts_with("::error file="),
        "{}",
        github.stdout
    );
    assert!(
        github
            .stdout
            .contains(",line=2,col=22::unknown field `nmae`"),
        "{}",
        github.stdout
    );
}
