//! The `grpc-double` binary as users run it: exit codes, the ready file, calls, shutdown.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    UserServiceClient, bin, grpc_double as run, grpc_double_in, insta_settings,
    userservice::UserRequest, wait_for_ready_file,
};

/// Stops a served binary with SIGTERM and waits for it, off the runtime (so that it can close
/// the connections of dropped clients meanwhile).
pub(crate) async fn stop(child: std::process::Child) -> crate::common::Run {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .into()
}

/// Serves `args` (after `serve --listen 127.0.0.1:0`) from `dir`; returns the child and the
/// address once it is ready.
pub(crate) async fn serve_in(dir: &Path, args: &[&str]) -> (std::process::Child, String) {
    let ready = dir.join(format!("ready-{}.json", std::process::id()));
    let child = bin()
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let info = wait_for_ready_file(&ready).await;
    (child, info["grpc"][0].as_str().unwrap().to_owned())
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

    let output = stop(child).await;
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
fn issue_11_a_parse_error_at_the_end_of_a_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("cut.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage a;\nmessage M { int32 x = 1",
    )
    .unwrap();
    let path = proto.to_str().unwrap();
    // The same error through every loading path: a file, a directory input, and check.
    for args in [
        vec!["roundtrip", path],
        vec![
            "breaking",
            dir.path().to_str().unwrap(),
            "--against",
            dir.path().to_str().unwrap(),
        ],
        vec!["check", "--proto", path],
    ] {
        let output = run(&args);
        assert_eq!(output.code, Some(1), "{args:?}: {}", output.stderr);
        assert!(
            output
                .stderr
                .contains("cut.proto:3:24: expected ';' or '[', but reached end of file"),
            "{args:?}: {}",
            output.stderr
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn issue_11_an_input_folder_inside_an_include_root_is_named_from_that_root() {
    // googleapis-common-protos' layout: google/api/*.proto import each other as google/api/...
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "google/api/http.proto",
        "syntax = \"proto3\";\npackage google.api;\nmessage Http { string rule = 1; }\n",
    );
    write(
        dir.path(),
        "google/api/service.proto",
        "syntax = \"proto3\";\npackage google.api;\nimport \"google/api/http.proto\";\nmessage Rules { Http http = 1; }\nservice Config { rpc Get(Rules) returns (Rules); }\n",
    );
    let here = Some(dir.path());
    let roundtrip = grpc_double_in(here, &["roundtrip", "google", "-I", ".", "--cases", "4"]);
    assert_eq!(roundtrip.code, Some(0), "{}", roundtrip.stderr);
    assert_eq!(
        roundtrip.stdout.matches("google.api.Http ").count(),
        1,
        "{}",
        roundtrip.stdout
    );
    let breaking = grpc_double_in(
        here,
        &["breaking", "google", "--against", "google", "-I", "."],
    );
    assert_eq!(
        (breaking.code, breaking.stdout.as_str()),
        (Some(0), ""),
        "{}",
        breaking.stderr
    );
    let check = grpc_double_in(here, &["check", "--proto", "google", "-I", "."]);
    assert_eq!(check.code, Some(0), "{}", check.stderr);
    let (child, _) = serve_in(dir.path(), &["--proto", "google", "-I", "."]).await;
    let served = stop(child).await;
    assert_eq!(served.code, Some(0), "{}", served.stderr);
    // Findings name the file from the include root, as protoc does; each side from its own.
    std::fs::create_dir_all(dir.path().join("new")).unwrap();
    std::fs::rename(dir.path().join("google"), dir.path().join("new/google")).unwrap();
    write(
        dir.path(),
        "old/google/api/http.proto",
        "syntax = \"proto3\";\npackage google.api;\nmessage Http { string rule = 1; int32 gone = 2; }\n",
    );
    write(
        dir.path(),
        "old/google/api/service.proto",
        &std::fs::read_to_string(dir.path().join("new/google/api/service.proto")).unwrap(),
    );
    let diff = grpc_double_in(
        here,
        &[
            "breaking",
            "new/google",
            "--against",
            "old/google",
            "-I",
            "new",
            "-I",
            "old",
        ],
    );
    assert_eq!(diff.code, Some(100), "{}", diff.stderr);
    assert_eq!(
        diff.stdout,
        "new/google/api/http.proto:3:1:Previously present field \"2\" with name \"gone\" on message \"Http\" was deleted.\n"
    );
}

#[tokio::test]
async fn issue_11_include_paths_add_to_the_inputs_own_directories() {
    // The README's `serve --proto proto/ -I vendor/`: proto/ stays a root, vendor/ is added.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "vendor/ext/money.proto",
        "syntax = \"proto3\";\npackage ext;\nmessage Money { int64 units = 1; }\n",
    );
    write(
        dir.path(),
        "proto/shop/shop.proto",
        "syntax = \"proto3\";\npackage shop;\nimport \"ext/money.proto\";\nimport \"shop/item.proto\";\nservice Shop { rpc Get(Item) returns (ext.Money); }\n",
    );
    write(
        dir.path(),
        "proto/shop/item.proto",
        "syntax = \"proto3\";\npackage shop;\nmessage Item { string sku = 1; }\n",
    );
    let here = Some(dir.path());
    for args in [
        &["check", "--proto", "proto/", "-I", "vendor/"][..],
        &[
            "check",
            "--proto",
            "proto/shop/shop.proto",
            "--proto",
            "proto/shop/item.proto",
            "-I",
            "vendor/",
            "-I",
            "proto",
        ],
        &["roundtrip", "proto/", "-I", "vendor/", "--cases", "4"],
        &["breaking", "proto/", "--against", "proto/", "-I", "vendor/"],
    ] {
        let output = grpc_double_in(here, args);
        assert_eq!(output.code, Some(0), "{args:?}: {}", output.stderr);
    }
    let (child, _) = serve_in(dir.path(), &["--proto", "proto/", "-I", "vendor/"]).await;
    let served = stop(child).await;
    assert_eq!(served.code, Some(0), "{}", served.stderr);
}

#[test]
fn issue_11_a_missing_include_directory_is_an_error() {
    for args in [
        &["check", "--proto", "proto/users.proto", "-I", "no/such/dir"][..],
        &["serve", "--proto", "proto/users.proto", "-I", "no/such/dir"],
        &["roundtrip", "proto/users.proto", "-I", "no/such/dir"],
        &[
            "breaking",
            "proto",
            "--against",
            "proto",
            "-I",
            "no/such/dir",
        ],
        &[
            "check",
            "--proto",
            "proto/users.proto",
            "-I",
            "proto/users.proto",
        ],
    ] {
        let output = run(args);
        assert_eq!(output.code, Some(1), "{args:?}: {}", output.stderr);
        let problem = if args[args.len() - 1].ends_with(".proto") {
            "is not a directory"
        } else {
            "does not exist"
        };
        let stderr = &output.stderr;
        assert!(
            stderr.contains(&format!("include path {} {problem}", args[args.len() - 1])),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("pass a directory that exists with -I"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("-->") && !stderr.contains("╭"),
            "no location: {stderr}"
        );
    }
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

#[tokio::test]
async fn serve_reloads_on_sighup_and_strict_exits_3_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let reports = dir.path().join("report");
    let stubs = dir.path().join("stubs.yaml");
    std::fs::write(
        &stubs,
        "- id: ada\n  method: userservice.UserService/GetUser\n  when: { message: { user_id: ada } }\n  then: { message: { name: Ada } }\n",
    )
    .unwrap();
    let child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--no-watch",
            "--strict",
        ])
        .arg("--fixtures")
        .arg(&stubs)
        .arg("--report-dir")
        .arg(&reports)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let info = wait_for_ready_file(&ready).await;
    let admin: std::net::SocketAddr = info["admin"]
        .as_str()
        .expect("the ready file names the admin API")
        .parse()
        .unwrap();
    let addr = info["grpc"][0].as_str().unwrap().to_owned();
    let mut client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let bob = || UserRequest {
        user_id: "bob".into(),
    };
    assert_eq!(
        client.get_user(bob()).await.unwrap_err().code(),
        tonic::Code::Unimplemented
    );

    // The file changes; with --no-watch only SIGHUP (or POST /api/reload) picks it up.
    std::fs::write(
        &stubs,
        "- id: anyone\n  method: userservice.UserService/GetUser\n  then: { message: { name: Anyone } }\n",
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = crate::admin::http(admin, "GET", "/api/reload", &[], b"")
            .await
            .json();
        if status["generation"] == 2 {
            assert_eq!(status["reason"], "requested", "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload: {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        client.get_user(bob()).await.unwrap().into_inner().name,
        "Anyone"
    );
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
    assert_eq!(
        output.code,
        Some(3),
        "--strict fails the run on an unmatched call: {}",
        output.stderr
    );
    let summary = std::fs::read_to_string(reports.join("summary.txt")).unwrap();
    assert!(summary.contains("unmatched"), "{summary}");
    let unmatched: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("unmatched.json")).unwrap())
            .unwrap();
    assert_eq!(unmatched[0]["requests"][0]["user_id"], "bob", "{unmatched}");
    for file in ["journal.json", "unused.json", "stubs.json", "junit.xml"] {
        assert!(reports.join(file).exists(), "{file} is written");
    }
}

#[tokio::test]
async fn serve_with_one_thread_answers_concurrent_calls_and_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr) = serve_in(dir.path(), &["--threads", "1"]).await;
    let client = UserServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let calls = (0..32).map(|n| {
        let mut client = client.clone();
        async move {
            client
                .get_user(UserRequest {
                    user_id: format!("u-{n}"),
                })
                .await
                .map(|r| r.into_inner().user_id)
        }
    });
    let ids = futures_util::future::join_all(calls).await;
    for (n, id) in ids.into_iter().enumerate() {
        assert_eq!(id.unwrap(), format!("u-{n}"), "call {n} was answered");
    }
    let mut list = client
        .clone()
        .list_users(crate::common::userservice::ListRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut listed = 0;
    while let Some(user) = list.message().await.unwrap() {
        assert!(!user.user_id.is_empty());
        listed += 1;
    }
    assert!(listed > 0, "the stream sent its users");
    drop((client, list));
    let output = stop(child).await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);

    let zero = run(&["serve", "--threads", "0"]);
    assert_eq!(zero.code, Some(2), "{}", zero.stderr);
    assert!(zero.stderr.contains("--threads"), "{}", zero.stderr);
}
