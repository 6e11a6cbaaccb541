//! Issue 10, inputs from an untrusted tree: garbage protos get a bounded report, recursive
//! types a bounded round trip, and no symbolic link (or import) makes a command read a file
//! outside the inputs; the ready file is never written through a planted link.
//!
//! Sizes are asserted, never times: the work is bounded when the output and values are.

use std::path::Path;

use grpc_double::{
    FixtureSource, Fixtures, Schema,
    roundtrip::{StrategyConfig, arb_message, sample},
};
use prost::Message as _;
use prost_reflect::{DynamicMessage, ReflectMessage as _, Value};

use crate::common::{Run, bin, grpc_double as run};

/// Proto-like tokens, deterministic: `lines` of them joined by newlines, about `size` bytes.
fn garbage(size: usize, newlines: bool) -> String {
    const TOKENS: [&str; 24] = [
        "message", "{", "}", "=", ";", "int32", "string", "repeated", "oneof", "enum", "rpc", "(",
        ")", "returns", "1", "foo", "option", "\"x\"", "[", "]", ",", ".", "map", "<",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = String::with_capacity(size + 16);
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(TOKENS[(state % TOKENS.len() as u64) as usize]);
        out.push(if newlines && state.is_multiple_of(9) {
            '\n'
        } else {
            ' '
        });
    }
    out
}

/// Runs the binary with one extra environment variable (the secret a leak would show).
fn run_with_secret(args: &[&str]) -> Run {
    bin()
        .env("GRPC_DOUBLE_TEST_SECRET", SECRET)
        .args(args)
        .output()
        .expect("the binary runs")
        .into()
}

const SECRET: &str = "hunter2-do-not-print";

fn longest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn issue_10_a_megabyte_of_garbage_proto_gets_a_bounded_report() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("garbage.proto");
    std::fs::write(&proto, garbage(1 << 20, true)).unwrap();
    let output = run(&["check", "--proto", proto.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    assert!(
        output.stderr.len() < 64 << 10,
        "{} bytes of errors",
        output.stderr.len()
    );
    assert!(output.stderr.contains("more errors"), "{}", output.stderr);
    assert!(
        output.stderr.contains("garbage.proto:1:"),
        "{}",
        output.stderr
    );
}

#[test]
fn issue_10_a_long_single_line_proto_gets_a_bounded_report_with_short_lines() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("line.proto");
    std::fs::write(&proto, garbage(256 << 10, false)).unwrap();
    let output = run(&["check", "--proto", proto.to_str().unwrap()]);
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    assert!(
        output.stderr.len() < 64 << 10,
        "{} bytes of errors",
        output.stderr.len()
    );
    assert!(
        longest_line(&output.stderr) < 400,
        "a line of {} characters",
        longest_line(&output.stderr)
    );
    assert!(output.stderr.contains("more errors"), "{}", output.stderr);
}

#[test]
fn issue_10_breaking_reports_a_garbage_directory_briefly() {
    let dir = tempfile::tempdir().unwrap();
    for side in ["old", "new"] {
        std::fs::create_dir(dir.path().join(side)).unwrap();
    }
    std::fs::write(
        dir.path().join("old/a.proto"),
        "syntax = \"proto3\"; message A {}",
    )
    .unwrap();
    std::fs::write(dir.path().join("new/a.proto"), garbage(512 << 10, false)).unwrap();
    let output = grpc_double_in(dir.path(), &["breaking", "new", "--against", "old"]);
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    assert!(
        output.stderr.len() < 64 << 10,
        "{} bytes",
        output.stderr.len()
    );
    assert!(longest_line(&output.stderr) < 400);
}

fn grpc_double_in(dir: &Path, args: &[&str]) -> Run {
    crate::common::grpc_double_in(Some(dir), args)
}

#[test]
fn issue_10_a_report_shows_fifty_errors_then_counts_the_rest() {
    let err = Schema::from_sources([("g.proto", garbage(64 << 10, true).as_str())]).unwrap_err();
    let related = miette::Diagnostic::related(&err).unwrap().count();
    assert_eq!(related, 51, "50 errors after the first, then the summary");
    let mut rendered = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut rendered, &err)
        .unwrap();
    assert!(
        rendered.contains("… and ") && rendered.contains(" more errors"),
        "{rendered}"
    );
}

#[test]
fn issue_10_fixture_errors_are_all_kept_but_a_report_shows_fifty() {
    let schema = Schema::bundled();
    let stubs: String = (0..200)
        .map(|i| {
            format!("- method: userservice.UserService/GetUser\n  then: {{ message: {{ nmae{i}: x }} }}\n")
        })
        .collect();
    let errors = Fixtures::load(&schema, &[FixtureSource::new("many.yaml", stubs)]).unwrap_err();
    assert_eq!(errors.errors().len(), 200, "the data keeps every error");
    let mut rendered = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut rendered, &errors)
        .unwrap();
    assert!(rendered.contains("… and 150 more errors"), "{rendered}");
    assert_eq!(rendered.matches("╭─[many.yaml").count(), 50, "{rendered}");
}

/// The largest nesting of messages in a value.
fn depth(message: &DynamicMessage) -> usize {
    fn value(v: &Value) -> usize {
        match v {
            Value::Message(m) => depth(m),
            Value::List(items) => items.iter().map(value).max().unwrap_or(0),
            Value::Map(map) => map.values().map(value).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + message.fields().map(|(_, v)| value(v)).max().unwrap_or(0)
}

fn tree() -> prost_reflect::MessageDescriptor {
    let schema = Schema::compile(["fixtures/roundtrip/kitchen/sink.proto"], [] as [&str; 0])
        .expect("the kitchen sink compiles");
    schema
        .pool()
        .get_message_by_name("kitchen.v1.Tree")
        .expect("kitchen.v1.Tree")
}

#[test]
fn issue_10_a_recursive_message_at_depth_12_stays_within_the_size_budget() {
    let desc = tree();
    for max_size in [64 << 10, StrategyConfig::default().max_size] {
        let config = StrategyConfig {
            depth: 12,
            max_size,
            ..StrategyConfig::default()
        };
        let strategy = arb_message(&desc, &config);
        let mut deepest = 0;
        for seed in 0..48 {
            let message = sample(&strategy, seed);
            assert_eq!(message.descriptor().full_name(), "kitchen.v1.Tree");
            let len = message.encoded_len();
            assert!(len <= max_size, "{len} bytes > {max_size}");
            deepest = deepest.max(depth(&message));
        }
        // The budget, not the depth, stops the tree, and still leaves room for a few levels.
        assert!((3..=12).contains(&deepest), "nested {deepest} deep");
    }
}

#[test]
fn issue_10_roundtrip_at_depth_12_on_a_recursive_message_passes() {
    let output = run(&[
        "roundtrip",
        "fixtures/roundtrip/kitchen/sink.proto",
        "--message",
        "kitchen.v1.Tree",
        "--depth",
        "12",
        "--cases",
        "32",
        "--seed",
        "7",
        "--no-progress",
    ]);
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    assert!(output.stdout.len() < 16 << 10);
}

#[test]
fn issue_10_a_flat_message_is_never_cut_by_the_size_budget() {
    let schema = Schema::bundled();
    let desc = schema
        .pool()
        .get_message_by_name("userservice.CreateSummary")
        .unwrap();
    let tiny = StrategyConfig {
        max_size: 1,
        ..StrategyConfig::default()
    };
    let (small, full) = (
        arb_message(&desc, &tiny),
        arb_message(&desc, &StrategyConfig::default()),
    );
    for seed in 0..16 {
        assert_eq!(sample(&small, seed), sample(&full, seed));
    }
}

#[cfg(unix)]
mod links {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A tree with `ok.proto` and `leak.proto -> /proc/self/environ`.
    fn leaky_protos(root: &Path) -> std::path::PathBuf {
        let protos = root.join("protos");
        std::fs::create_dir(&protos).unwrap();
        std::fs::write(
            protos.join("ok.proto"),
            "syntax = \"proto3\"; package ok; message Ok {}",
        )
        .unwrap();
        symlink("/proc/self/environ", protos.join("leak.proto")).unwrap();
        protos
    }

    #[test]
    fn issue_10_a_proto_link_out_of_the_directory_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let protos = leaky_protos(dir.path());
        let output = run_with_secret(&["check", "--proto", protos.to_str().unwrap()]);
        assert_eq!(output.code, Some(1), "{}", output.stderr);
        assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
        assert!(
            output.stderr.contains("leak.proto is a symbolic link to")
                && output.stderr.contains("outside the input directories"),
            "{}",
            output.stderr
        );
        assert!(
            output.stderr.contains("--follow-symlinks"),
            "{}",
            output.stderr
        );
    }

    #[test]
    fn issue_10_breaking_refuses_a_link_out_of_either_side() {
        let dir = tempfile::tempdir().unwrap();
        let protos = leaky_protos(dir.path());
        std::fs::create_dir(dir.path().join("old")).unwrap();
        std::fs::write(
            dir.path().join("old/ok.proto"),
            "syntax = \"proto3\"; package ok; message Ok {}",
        )
        .unwrap();
        let output = run_with_secret(&[
            "breaking",
            protos.to_str().unwrap(),
            "--against",
            dir.path().join("old").to_str().unwrap(),
        ]);
        assert_eq!(output.code, Some(1), "{}", output.stderr);
        assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
        assert!(
            output.stderr.contains("is a symbolic link"),
            "{}",
            output.stderr
        );
    }

    #[test]
    fn issue_10_imports_do_not_leave_the_include_paths() {
        for import in [
            "/proc/self/environ",
            "../../../../../../../../../../proc/self/environ",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let proto = dir.path().join("a.proto");
            std::fs::write(
                &proto,
                format!("syntax = \"proto3\"; import \"{import}\"; message A {{}}"),
            )
            .unwrap();
            let output = run_with_secret(&["check", "--proto", proto.to_str().unwrap()]);
            assert_eq!(output.code, Some(1), "{}", output.stderr);
            assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
            // protox refuses such names itself; the include paths would too.
            assert!(
                output.stderr.contains("imports may not contain"),
                "{}",
                output.stderr
            );
        }
    }

    #[test]
    fn issue_10_an_import_through_a_link_out_of_the_include_paths_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let protos = dir.path().join("protos");
        std::fs::create_dir(&protos).unwrap();
        symlink("/proc/self/environ", protos.join("env.proto")).unwrap();
        std::fs::write(
            protos.join("a.proto"),
            "syntax = \"proto3\"; import \"env.proto\"; message A {}",
        )
        .unwrap();
        let a = protos.join("a.proto");
        let output = run_with_secret(&["check", "--proto", a.to_str().unwrap()]);
        assert_eq!(output.code, Some(1), "{}", output.stderr);
        assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
        assert!(
            output.stderr.contains("is a symbolic link"),
            "{}",
            output.stderr
        );
    }

    /// `protos/api.proto -> ../shared/common.proto`, `shared/` outside the proto directory.
    fn linked_into(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let protos = root.join("protos");
        let shared = root.join("shared");
        std::fs::create_dir(&protos).unwrap();
        std::fs::create_dir(&shared).unwrap();
        std::fs::write(
            shared.join("common.proto"),
            "syntax = \"proto3\"; package shared; message Common {}",
        )
        .unwrap();
        symlink("../shared/common.proto", protos.join("api.proto")).unwrap();
        (protos, shared)
    }

    #[test]
    fn issue_10_a_link_into_an_include_path_is_followed_and_follow_symlinks_follows_any() {
        let dir = tempfile::tempdir().unwrap();
        let (protos, shared) = linked_into(dir.path());
        let (protos, shared) = (protos.to_str().unwrap(), shared.to_str().unwrap());
        let refused = run(&["check", "--proto", protos]);
        assert_eq!(refused.code, Some(1), "{}", refused.stderr);
        assert!(refused.stderr.contains("api.proto is a symbolic link"));
        let inside = run(&["check", "--proto", protos, "-I", protos, "-I", shared]);
        assert_eq!(inside.code, Some(0), "{}", inside.stderr);
        let followed = run(&["check", "--proto", protos, "--follow-symlinks"]);
        assert_eq!(followed.code, Some(0), "{}", followed.stderr);
    }

    #[test]
    fn issue_10_a_proto_named_on_the_command_line_is_read_even_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let (protos, _) = linked_into(dir.path());
        let api = protos.join("api.proto");
        let output = run(&["check", "--proto", api.to_str().unwrap()]);
        assert_eq!(output.code, Some(0), "{}", output.stderr);
    }

    #[test]
    fn issue_10_a_fifo_in_a_proto_directory_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let protos = dir.path().join("protos");
        std::fs::create_dir(&protos).unwrap();
        std::fs::write(
            protos.join("ok.proto"),
            "syntax = \"proto3\"; package ok; message Ok {}",
        )
        .unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(protos.join("pipe.proto"))
            .status()
            .unwrap();
        assert!(made.success());
        // Opening the FIFO for reading would block until a writer came.
        let output = run(&["check", "--proto", protos.to_str().unwrap()]);
        assert_eq!(output.code, Some(0), "{}", output.stderr);
    }

    #[test]
    fn issue_10_a_fixture_link_out_of_the_directory_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("fixtures");
        std::fs::create_dir(&fixtures).unwrap();
        symlink("/proc/self/environ", fixtures.join("leak.yaml")).unwrap();
        let output = run_with_secret(&["check", "--fixtures", fixtures.to_str().unwrap()]);
        assert_eq!(output.code, Some(1), "{}", output.stderr);
        assert!(!output.stderr.contains(SECRET), "{}", output.stderr);
        assert!(
            output.stderr.contains("leak.yaml is a symbolic link"),
            "{}",
            output.stderr
        );
        let err = FixtureSource::read_all(&fixtures).unwrap_err();
        assert!(err.to_string().contains("outside the input directories"));
    }

    #[test]
    fn issue_10_fixture_directories_with_link_loops_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("fixtures");
        std::fs::create_dir_all(fixtures.join("sub")).unwrap();
        std::fs::write(fixtures.join("sub/a.yaml"), "[]\n").unwrap();
        symlink("..", fixtures.join("sub/up")).unwrap();
        symlink(".", fixtures.join("self")).unwrap();
        symlink("sub/a.yaml", fixtures.join("b.yaml")).unwrap();
        let sources = FixtureSource::read_all(&fixtures).unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                Path::new(s.name())
                    .strip_prefix(&fixtures)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["b.yaml", "sub/a.yaml"], "a link inside is read");
    }

    #[tokio::test]
    async fn issue_10_the_ready_file_is_never_written_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        let ready = dir.path().join("ready.json");
        // The old predictable temporary name, and the ready file itself, both planted.
        let planted = dir
            .path()
            .join(format!(".ready.json.{}.tmp", std::process::id()));
        symlink(&victim, &planted).unwrap();
        symlink(&victim, &ready).unwrap();
        let server = crate::common::bundled().await;
        server.write_ready_file(&ready).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(&ready).unwrap();
        assert!(meta.is_file(), "the link was replaced, not followed");
        let body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
        assert_eq!(body["pid"], std::process::id());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") && *n != planted.file_name().unwrap().to_string_lossy())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}

/// Replays what the fuzz targets of `fuzz/` found (`fixtures/fuzz/<target>/*`, each once a
/// crash), through the same entry points: every input now returns.
mod fuzz_crashes {
    use super::*;
    use grpc_double::breaking::{self, Config, Format, PathDisplay};

    fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/fuzz")
            .join(target);
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.is_file())
                    .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The `breaking` target, verbatim.
    fn breaking_target(data: &[u8]) {
        let [a, b, rest @ ..] = data else {
            return;
        };
        let split = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
        let (previous, current) = rest.split_at(split);
        let (Ok(previous), Ok(current)) = (
            Schema::from_descriptor_set(previous, "previous.binpb"),
            Schema::from_descriptor_set(current, "current.binpb"),
        ) else {
            return;
        };
        let Ok(findings) = breaking::check(&previous, &current, &Config::default()) else {
            return;
        };
        let annotations = breaking::annotate(&findings, current.pool(), &PathDisplay::default());
        for format in [Format::Text, Format::Json, Format::GithubActions] {
            let _ = breaking::render(&annotations, format, false);
        }
    }

    #[test]
    fn issue_10_every_input_the_fuzzers_crashed_on_now_returns() {
        for (name, data) in inputs("breaking") {
            eprintln!("replaying {name}");
            breaking_target(&data);
        }
        for (name, data) in inputs("fixtures") {
            eprintln!("replaying {name}");
            if let Ok(text) = std::str::from_utf8(&data) {
                grpc_double::fuzz::fixtures(text);
            }
        }
        for (name, data) in inputs("template") {
            eprintln!("replaying {name}");
            let (text, request) = match data.iter().position(|b| *b == 0) {
                Some(at) => (&data[..at], &data[at + 1..]),
                None => (&data[..], &[][..]),
            };
            if let Ok(text) = std::str::from_utf8(text) {
                grpc_double::fuzz::template(text, request);
            }
        }
        let stubs =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/stubs.yaml"))
                .unwrap();
        let fixtures = grpc_double::fuzz::request_fixtures(&stubs);
        for (name, data) in inputs("request") {
            eprintln!("replaying {name}");
            let [method, header_len, rest @ ..] = &data[..] else {
                continue;
            };
            let split = usize::from(*header_len).min(rest.len());
            let (header, request) = rest.split_at(split);
            grpc_double::fuzz::request(
                &fixtures,
                *method,
                &String::from_utf8_lossy(header),
                request,
            );
        }
    }

    #[test]
    fn issue_10_a_descriptor_set_with_an_unknown_syntax_is_an_error_not_a_panic() {
        for syntax in ["proto4", "editions", "x"] {
            let set = prost_types::FileDescriptorSet {
                file: vec![prost_types::FileDescriptorProto {
                    name: Some("a.proto".into()),
                    syntax: Some(syntax.into()),
                    message_type: vec![prost_types::DescriptorProto {
                        name: Some("A".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let err = Schema::from_descriptor_set(&set.encode_to_vec(), "a.binpb").unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("a.proto has syntax \"{syntax}\"")),
                "{err}"
            );
        }
        // An empty syntax is proto2, as protoc reads it.
        let set = prost_types::FileDescriptorSet {
            file: vec![prost_types::FileDescriptorProto {
                name: Some("b.proto".into()),
                syntax: Some(String::new()),
                ..Default::default()
            }],
        };
        assert!(Schema::from_descriptor_set(&set.encode_to_vec(), "b.binpb").is_ok());
    }
}
