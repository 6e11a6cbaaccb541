//! The contract checker: one fixture pair per rule, the registry, config, inputs, report formats
//! and the `breaking` / `rules` commands.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use grpc_double::{
    Schema,
    breaking::{self, Config, Format, PathDisplay, RULES, Severity},
    schema::Input,
};

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots/breaking");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/breaking")
}

fn load(dir: &Path) -> Schema {
    Input::Dir(dir.to_path_buf())
        .load(&[])
        .unwrap_or_else(|err| panic!("{}: {err:?}", dir.display()))
}

fn only(rule: &str) -> Config {
    Config {
        use_: vec![rule.to_owned()],
        version: "v2".into(),
        ..Config::default()
    }
}

fn every_rule() -> Config {
    Config {
        use_: RULES.iter().map(|r| r.id.to_owned()).collect(),
        version: "v2".into(),
        ..Config::default()
    }
}

fn report(
    previous: &Schema,
    current: &Schema,
    config: &Config,
    format: Format,
    explain: bool,
) -> String {
    let findings = breaking::check(previous, current, config).expect("check");
    let annotations = grpc_double::explain::annotate(
        &findings,
        previous.pool(),
        current.pool(),
        &PathDisplay::default(),
        explain,
    );
    breaking::render(&annotations, format, explain)
}

fn sources(files: &[(&str, &str)]) -> Schema {
    Schema::from_sources(files.iter().copied()).expect("compiles")
}

#[test]
fn every_rule_fixture_triggers_its_rule() {
    insta::glob!("../fixtures", "breaking/*/current", |current| {
        let case = current.parent().expect("case dir");
        let rule = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_ascii_uppercase();
        let (previous, current) = (load(&case.join("previous")), load(current));
        // With every rule on, the fixture's change triggers its rule (among others that the
        // same change may break).
        let all = breaking::check(&previous, &current, &every_rule()).expect("check");
        assert!(
            all.iter().any(|f| f.rule == rule),
            "{rule}: the fixture does not trigger its rule; it triggers {:?}",
            all.iter().map(|f| f.rule).collect::<Vec<_>>()
        );
        // With the rule excepted, none of its findings remain.
        let mut except = every_rule();
        except.except.push(rule.clone());
        let without = breaking::check(&previous, &current, &except).expect("check");
        assert!(
            without.iter().all(|f| f.rule != rule),
            "{rule}: still reported when excepted"
        );
        // Selected alone, it reports the same findings it reports among all rules.
        let findings = breaking::check(&previous, &current, &only(&rule)).expect("check");
        assert_eq!(
            findings
                .iter()
                .map(|f| (f.rule, &f.message))
                .collect::<Vec<_>>(),
            all.iter()
                .filter(|f| f.rule == rule)
                .map(|f| (f.rule, &f.message))
                .collect::<Vec<_>>(),
            "{rule}: alone and among all rules"
        );
        assert!(
            findings.iter().all(|f| f.hint.is_some()),
            "{rule}: a finding has no hint"
        );
        let text = report(&previous, &current, &only(&rule), Format::Text, true);
        settings().bind(|| insta::assert_snapshot!(text));
    });
}

/// Editions forms where the rule has nothing left to report: `ctype` does not exist in edition
/// 2024 (the pair sets `(pb.cpp).string_type`, which FIELD_SAME_CPP_STRING_TYPE reports).
const SILENT_EDITIONS_FORMS: &[&str] = &["field_same_ctype/edition-2024"];

#[test]
fn every_editions_fixture_triggers_its_rule_and_is_clean_against_itself() {
    for edition in ["edition-2023", "edition-2024"] {
        let mut text = String::new();
        let mut forms = 0;
        for rule in RULES {
            let case = fixtures().join(rule.id.to_ascii_lowercase()).join(edition);
            if !case.is_dir() {
                continue;
            }
            forms += 1;
            let (previous, current) = (load(&case.join("previous")), load(&case.join("current")));
            for (side, schema) in [("previous", &previous), ("current", &current)] {
                let findings = breaking::check(schema, schema, &every_rule()).expect("check");
                assert!(
                    findings.is_empty(),
                    "{}/{side}: {findings:#?}",
                    case.display()
                );
            }
            let findings = breaking::check(&previous, &current, &only(rule.id)).expect("check");
            let form = format!("{}/{edition}", rule.id.to_ascii_lowercase());
            assert_eq!(
                findings.is_empty(),
                SILENT_EDITIONS_FORMS.contains(&form.as_str()),
                "{form}: {findings:#?}"
            );
            text.push_str(&format!("== {}\n", rule.id));
            text.push_str(&report(
                &previous,
                &current,
                &only(rule.id),
                Format::Text,
                false,
            ));
        }
        // Every rule has an editions form, but for options that editions removed.
        assert!(forms >= RULES.len() - 3, "{edition}: {forms} forms");
        settings().bind(|| insta::assert_snapshot!(format!("editions_{edition}"), text));
    }
}

#[test]
fn every_fixture_side_is_clean_against_itself() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).expect("fixtures") {
        let case = entry.expect("entry").path();
        if !case.is_dir() {
            continue;
        }
        for side in ["previous", "current"] {
            let schema = load(&case.join(side));
            let findings = breaking::check(&schema, &schema, &every_rule()).expect("check");
            assert!(
                findings.is_empty(),
                "{}/{side}: {findings:#?}",
                case.display()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * RULES.len());
}

#[test]
fn registry_ids_are_unique_sorted_and_screaming_snake() {
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "rule IDs must be unique and sorted");
    for rule in RULES {
        assert!(
            rule.id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{}",
            rule.id
        );
        assert!(
            rule.purpose.ends_with('.'),
            "{}: purpose is a sentence",
            rule.id
        );
        assert_eq!(rule.deprecated, rule.categories.is_empty(), "{}", rule.id);
    }
    // buf's v2 set: 64 active rules (plus deprecated ones and our LOSSY rule).
    let buf_active = RULES
        .iter()
        .filter(|r| !r.deprecated && !r.categories.contains(&breaking::Category::Lossy))
        .count();
    assert_eq!(buf_active, 64);
    let default = RULES.iter().filter(|r| r.default).count();
    assert_eq!(default, 51, "FILE has 51 rules in buf v2");
}

#[test]
fn every_rule_has_a_fixture_and_every_fixture_a_rule() {
    let mut folders: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_ascii_uppercase())
        .collect();
    folders.sort();
    let ids: Vec<String> = RULES.iter().map(|r| r.id.to_owned()).collect();
    assert_eq!(folders, ids);
}

#[test]
fn rules_listing_is_stable_and_docs_are_generated_from_it() {
    let out = crate::common::grpc_double(&["rules"]);
    assert_eq!(out.code, Some(0));
    settings().bind(|| insta::assert_snapshot!("rules_text", out.stdout));
    let markdown = crate::common::grpc_double(&["rules", "--format", "markdown"]);
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"))
        .expect("docs/rules.md");
    assert!(
        docs.contains(markdown.stdout.as_str()),
        "docs/rules.md is stale: regenerate its table with `grpc-double rules --format markdown`"
    );
    let json = crate::common::grpc_double(&["rules", "--format", "json"]);
    let first: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(first["id"], "ENUM_NO_DELETE");
    assert_eq!(first["categories"], serde_json::json!(["CSR", "FILE"]));
}

const USER_V1: &str = r#"syntax = "proto3";
package acme.v1;

message User {
  string name = 1;
  int64 age = 2;
  repeated string tags = 5;
  int32 score = 6;
}

service UserService {
  rpc Get(User) returns (User);
  rpc Delete(User) returns (User);
}
"#;

const USER_V2: &str = r#"syntax = "proto3";
package acme.v1;

message User {
  string name = 1 [json_name = "fullName"];
  int32 age = 2;
  string tags = 5;
}

service UserService {
  rpc Get(User) returns (stream User);
}
"#;

#[test]
fn every_output_format_renders_the_same_findings() {
    let previous = sources(&[("acme/v1/user.proto", USER_V1)]);
    let current = sources(&[("acme/v1/user.proto", USER_V2)]);
    let config =
        Config::parse(r#"{"version":"v2","breaking":{"use":["FILE","WIRE"]}}"#).expect("config");
    let mut out = String::new();
    for (name, format) in [
        ("text", Format::Text),
        ("json", Format::Json),
        ("github-actions", Format::GithubActions),
        ("msvs", Format::Msvs),
        ("junit", Format::Junit),
        ("gitlab-code-quality", Format::GitlabCodeQuality),
        ("sarif", Format::Sarif),
    ] {
        out.push_str(&format!("===== {name}\n"));
        out.push_str(&report(&previous, &current, &config, format, false));
    }
    settings().bind(|| insta::assert_snapshot!("formats", out));
    // JSON lines keep buf's keys, in buf's order.
    let json = report(&previous, &current, &config, Format::Json, false);
    let first = json.lines().next().expect("a finding");
    assert!(
        first.starts_with(r#"{"path":"acme/v1/user.proto","start_line":"#),
        "{first}"
    );
}

#[test]
fn explain_shows_a_payload_and_both_decodings() {
    let previous = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; message M { int64 n = 1; }",
    )]);
    let current = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; message M { int32 n = 1; }",
    )]);
    let config = Config::parse("version: v2\nbreaking:\n  use: [WIRE_JSON]\n").expect("config");
    let findings = breaking::check(&previous, &current, &config).expect("check");
    let lossy = findings
        .iter()
        .find(|f| f.rule == "FIELD_WIRE_LOSSY_TYPE")
        .expect("a LOSSY warning joins WIRE_JSON");
    assert_eq!(lossy.severity, Severity::Warning);
    let typed = findings
        .iter()
        .find(|f| f.rule == "FIELD_WIRE_JSON_COMPATIBLE_TYPE")
        .expect("int64 -> int32 breaks JSON");
    let explanation =
        grpc_double::explain::explain(typed, previous.pool(), current.pool()).expect("explained");
    assert_eq!(explanation.bytes_hex, "08 85 80 80 80 10");
    assert_eq!(explanation.previous, "n (field 1, int64) = 4294967301");
    assert_eq!(explanation.current, "n (field 1, int32) = 5");
}

#[test]
fn lossy_changes_are_warnings_that_do_not_fail_the_check() {
    let previous = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; message M { uint32 n = 1; }",
    )]);
    let current = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; message M { int32 n = 1; }",
    )]);
    let config = Config::parse(r#"{"version":"v1","breaking":{"use":["WIRE"]}}"#).expect("config");
    let findings = breaking::check(&previous, &current, &config).expect("check");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, "FIELD_WIRE_LOSSY_TYPE");
    assert!(
        findings[0]
            .message
            .ends_with("the old value 4294967295 reads as -1."),
        "{}",
        findings[0].message
    );
    assert!(!breaking::is_breaking(&findings));
    let excepted =
        Config::parse(r#"{"version":"v1","breaking":{"use":["WIRE"],"except":["LOSSY"]}}"#)
            .expect("config");
    assert!(
        breaking::check(&previous, &current, &excepted)
            .expect("check")
            .is_empty()
    );
}

/// buf 1.75 stays silent when a package loses its last enum, message or extension (§2.9 of the
/// reference); we report each of them.
#[test]
fn issue_3_package_rules_report_the_last_element_of_a_kind() {
    let config =
        Config::parse(r#"{"version":"v2","breaking":{"use":["PACKAGE"]}}"#).expect("config");
    let before = sources(&[
        (
            "a.proto",
            "syntax = \"proto2\"; package p; enum E { E_A = 0; } message M { extensions 10 to 20; } extend M { optional int32 x = 10; }",
        ),
        (
            "b.proto",
            "syntax = \"proto2\"; package p; enum K { K_A = 0; }",
        ),
    ]);
    let after = sources(&[
        (
            "a.proto",
            "syntax = \"proto2\"; package p; message M { extensions 10 to 20; }",
        ),
        (
            "b.proto",
            "syntax = \"proto2\"; package p; enum K { K_A = 0; }",
        ),
    ]);
    let rules: Vec<&str> = breaking::check(&before, &after, &config)
        .expect("check")
        .iter()
        .map(|f| f.rule)
        .collect();
    assert_eq!(
        rules,
        ["PACKAGE_ENUM_NO_DELETE", "PACKAGE_EXTENSION_NO_DELETE"]
    );
    // Moving an enum to another file of the package is fine for PACKAGE.
    let moved = sources(&[
        (
            "a.proto",
            "syntax = \"proto2\"; package p; message M { extensions 10 to 20; } extend M { optional int32 x = 10; }",
        ),
        (
            "b.proto",
            "syntax = \"proto2\"; package p; enum K { K_A = 0; } enum E { E_A = 0; }",
        ),
    ]);
    assert!(
        breaking::check(&before, &moved, &config)
            .expect("check")
            .is_empty()
    );
    // The last message too, while an enum remains.
    let messages = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; message M {} enum E { E_A = 0; }",
    )]);
    let no_messages = sources(&[(
        "a.proto",
        "syntax = \"proto3\"; package p; enum E { E_A = 0; }",
    )]);
    let findings = breaking::check(&messages, &no_messages, &config).expect("check");
    assert_eq!(findings[0].rule, "PACKAGE_MESSAGE_NO_DELETE");
}

#[test]
fn config_except_ignore_ignore_only_and_unstable_packages_suppress_findings() {
    let before = sources(&[
        (
            "acme/v1/a.proto",
            "syntax = \"proto3\"; package acme.v1; message A { int32 x = 1; }",
        ),
        (
            "acme/v1beta1/b.proto",
            "syntax = \"proto3\"; package acme.v1beta1; message B { int32 x = 1; }",
        ),
    ]);
    let after = sources(&[
        (
            "acme/v1/a.proto",
            "syntax = \"proto3\"; package acme.v1; message A {}",
        ),
        (
            "acme/v1beta1/b.proto",
            "syntax = \"proto3\"; package acme.v1beta1; message B {}",
        ),
    ]);
    let count = |yaml: &str| {
        breaking::check(&before, &after, &Config::parse(yaml).expect("config"))
            .expect("check")
            .len()
    };
    assert_eq!(count("version: v1\n"), 2);
    assert_eq!(
        count("version: v1\nbreaking:\n  except: [FIELD_NO_DELETE]\n"),
        0
    );
    assert_eq!(count("version: v1\nbreaking:\n  ignore: [acme/v1]\n"), 1);
    assert_eq!(
        count("version: v2\nbreaking:\n  ignore_only:\n    FIELD_NO_DELETE: [acme/v1/a.proto]\n"),
        1
    );
    assert_eq!(
        count("version: v1\nbreaking:\n  ignore_unstable_packages: true\n"),
        1
    );
    // v2 module paths are stripped from ignore paths.
    assert_eq!(
        count("version: v2\nmodules:\n  - path: proto\nbreaking:\n  ignore: [proto/acme]\n"),
        0
    );
}

#[test]
fn issue_11_unknown_buf_yaml_keys_are_located_errors_with_a_did_you_mean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("buf.yaml");
    for (text, location, key, hint) in [
        (
            "version: v2\nbreaking:\n  usee: [WIRE]\n",
            ":3:3:",
            "usee",
            "did you mean `use`?",
        ),
        (
            "version: v2\nbrekaing:\n  use: [WIRE]\n",
            ":2:1:",
            "brekaing",
            "did you mean `breaking`?",
        ),
        (
            "version: v2\nmodules:\n  - path: proto\n    pth: x\n",
            ":4:5:",
            "pth",
            "did you mean `path`?",
        ),
    ] {
        std::fs::write(&file, text).expect("write");
        let err = Config::read(&file).expect_err(text);
        let diagnostic: &dyn miette::Diagnostic = &err;
        assert_eq!(
            err.to_string(),
            format!("{}{location} unknown key \"{key}\"", file.display())
        );
        assert_eq!(
            diagnostic.help().map(|h| h.to_string()).as_deref(),
            Some(hint)
        );
    }
    // Inline JSON is located too; the sections buf has and we do not read are accepted.
    let err = Config::parse(r#"{"version":"v1","breaking":{"usee":["WIRE"]}}"#).expect_err("usee");
    assert_eq!(err.to_string(), "<config>:1:34: unknown key \"usee\"");
    let config = Config::parse("version: v2\nlint:\n  use: [STANDARD]\nbreaking:\n  use: [WIRE]\n");
    assert_eq!(config.expect("lint is accepted").use_, ["WIRE"]);
}

#[test]
fn unknown_rule_ids_are_errors_with_a_did_you_mean() {
    let err = Config::parse(r#"{"version":"v1","breaking":{"use":["FIELD_NO_DELET"]}}"#)
        .expect_err("unknown rule");
    let report = format!("{:?}", miette::Report::new(err));
    assert!(
        report.contains("unknown rule or category \"FIELD_NO_DELET\""),
        "{report}"
    );
    assert!(
        report.contains("did you mean `FIELD_NO_DELETE`?"),
        "{report}"
    );
}

#[test]
fn path_filters_limit_the_check() {
    let before = sources(&[
        (
            "a/x.proto",
            "syntax = \"proto3\"; package a; message X { int32 n = 1; }",
        ),
        (
            "b/y.proto",
            "syntax = \"proto3\"; package b; message Y { int32 n = 1; }",
        ),
    ]);
    let after = sources(&[
        ("a/x.proto", "syntax = \"proto3\"; package a; message X {}"),
        ("b/y.proto", "syntax = \"proto3\"; package b; message Y {}"),
    ]);
    let filter = |paths: &[&str], exclude: &[&str]| breaking::PathFilter {
        paths: paths.iter().map(|s| (*s).to_owned()).collect(),
        exclude_paths: exclude.iter().map(|s| (*s).to_owned()).collect(),
    };
    let files = |f: breaking::PathFilter| -> Vec<String> {
        breaking::check_filtered(&before, &after, &Config::default(), &f)
            .expect("check")
            .iter()
            .map(|f| f.file().to_owned())
            .collect()
    };
    assert_eq!(files(filter(&["a"], &[])), ["a/x.proto"]);
    assert_eq!(files(filter(&[], &["a/x.proto"])), ["b/y.proto"]);
}

fn grpc_double(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let run = crate::common::grpc_double_in(Some(dir), args);
    (run.code, run.stdout, run.stderr)
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn cli_exit_codes_follow_buf() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "old/acme/v1/user.proto", USER_V1);
    write(tmp.path(), "new/acme/v1/user.proto", USER_V2);
    write(
        tmp.path(),
        "bad/acme/v1/user.proto",
        "syntax = \"proto3\";\nmessage User {\n  strin name = 1;\n}\n",
    );

    let (code, stdout, _) = grpc_double(tmp.path(), &["breaking", "old", "--against", "old"]);
    assert_eq!((code, stdout.as_str()), (Some(0), ""));

    let (code, stdout, _) = grpc_double(tmp.path(), &["breaking", "new", "--against", "old"]);
    assert_eq!(code, Some(100));
    settings().bind(|| insta::assert_snapshot!("cli_text", stdout));

    let (code, stdout, _) = grpc_double(
        tmp.path(),
        &[
            "breaking",
            "new",
            "--against",
            "old",
            "--config",
            r#"{"version":"v1","breaking":{"use":["WIRE"]}}"#,
            "--explain",
        ],
    );
    assert_eq!(code, Some(100));
    settings().bind(|| insta::assert_snapshot!("cli_wire_explain", stdout));

    // Unparsable protos are errors (exit 1) with file:line:col.
    let (code, _, stderr) = grpc_double(tmp.path(), &["breaking", "bad", "--against", "old"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("user.proto:3:3"), "{stderr}");

    // Link errors too, although big trees are linked without source info.
    write(
        tmp.path(),
        "unlinked/acme/v1/user.proto",
        "syntax = \"proto3\";\npackage acme.v1;\nmessage User {\n  Missing m = 1;\n}\n",
    );
    let (code, _, stderr) = grpc_double(tmp.path(), &["breaking", "unlinked", "--against", "old"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("name 'Missing' is not defined"), "{stderr}");
    assert!(stderr.contains("user.proto:4:3"), "{stderr}");

    // Unknown rules too.
    let (code, _, stderr) = grpc_double(
        tmp.path(),
        &["breaking", "new", "--against", "old", "--use", "WIRE_JSNO"],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("did you mean `WIRE_JSON`?"), "{stderr}");
}

#[test]
fn cli_reads_buf_yaml_from_the_input_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "old/acme/v1/user.proto", USER_V1);
    write(tmp.path(), "new/acme/v1/user.proto", USER_V2);
    write(
        tmp.path(),
        "new/buf.yaml",
        "version: v1\nbreaking:\n  use: [WIRE_JSON]\n  except: [LOSSY]\n  ignore_only:\n    FIELD_SAME_JSON_NAME: [acme]\n",
    );
    let (code, stdout, _) = grpc_double(tmp.path(), &["breaking", "new", "--against", "old"]);
    assert_eq!(code, Some(100));
    // WIRE_JSON: both unless-reserved deletions, the type, the cardinality and the streaming change.
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    assert!(!stdout.contains("json_name"), "{stdout}");
}

#[test]
fn descriptor_sets_and_single_files_are_inputs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), "old/user.proto", USER_V1);
    write(tmp.path(), "new/user.proto", USER_V2);
    let old = Input::parse(&tmp.path().join("old/user.proto").to_string_lossy())
        .expect("input")
        .load(&[])
        .expect("compiles");
    std::fs::write(
        tmp.path().join("old.binpb"),
        old.encode_file_descriptor_set(),
    )
    .expect("write");
    let (code, stdout, stderr) = grpc_double(
        tmp.path(),
        &["breaking", "new/user.proto", "--against", "old.binpb"],
    );
    assert_eq!(code, Some(100), "{stderr}");
    assert!(
        stdout.starts_with("new/user.proto:4:1:Previously present field \"6\" with name \"score\""),
        "{stdout}"
    );
}

#[test]
fn git_references_are_inputs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q", "-b", "main"]);
    write(repo, "proto/acme/v1/user.proto", USER_V1);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "v1"]);
    git(&["tag", "v1.0"]);
    write(repo, "proto/acme/v1/user.proto", USER_V2);

    for against in [
        ".git#branch=main,subdir=proto",
        ".git#tag=v1.0,subdir=proto",
        ".git#ref=HEAD,subdir=proto",
    ] {
        let (code, stdout, stderr) =
            grpc_double(repo, &["breaking", "proto", "--against", against]);
        assert_eq!(code, Some(100), "{against}: {stderr}");
        assert!(
            stdout.starts_with("proto/acme/v1/user.proto:4:1:"),
            "{against}: {stdout}"
        );
    }
    git(&["commit", "-q", "-am", "v2"]);
    let (code, stdout, _) = grpc_double(
        repo,
        &[
            "breaking",
            ".git#ref=HEAD,subdir=proto",
            "--against",
            ".git#ref=HEAD~1,subdir=proto",
        ],
    );
    assert_eq!(code, Some(100), "{stdout}");
    let (code, _, stderr) = grpc_double(
        repo,
        &["breaking", "proto", "--against", ".git#branch=nope"],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot resolve branch nope"), "{stderr}");
}

#[test]
fn issue_11_explain_proves_each_finding_with_its_own_field() {
    // Two unrelated findings on one message (a widening that is safe on the wire, a rename),
    // and a narrowing inside a field of the same number one level down (`unit_price.units`).
    let previous = sources(&[(
        "shop.proto",
        "syntax = \"proto3\"; package shop;\n\
         message Money { int64 units = 1; }\n\
         message Item { int32 quantity = 1; Money unit_price = 2; string sku = 3; }\n",
    )]);
    let current = sources(&[(
        "shop.proto",
        "syntax = \"proto3\"; package shop;\n\
         message Money { int32 units = 1; }\n\
         message Item { int64 quantity = 1; Money unit_price = 2; string code = 3; }\n",
    )]);
    let findings = breaking::check(&previous, &current, &Config::default()).expect("check");
    let explained = |rule: &str, field: &str| {
        let finding = findings
            .iter()
            .find(|f| {
                f.rule == rule && f.field.as_ref().is_some_and(|r| r.message.ends_with(field))
            })
            .unwrap_or_else(|| panic!("{rule} on {field}: {findings:#?}"));
        grpc_double::explain::explain(finding, previous.pool(), current.pool())
            .unwrap_or_else(|| panic!("{rule} is explained"))
    };
    // Every proof sets its own field and nothing else.
    let sets_only = |json: &str, key: &str| {
        let value: serde_json::Value = serde_json::from_str(json).expect("proto3 JSON");
        let keys: Vec<&String> = value.as_object().expect("an object").keys().collect();
        assert_eq!(keys, [key], "{json}");
    };

    let quantity = explained("FIELD_SAME_TYPE", "Item");
    assert_eq!(
        quantity.proven, None,
        "int32 -> int64 reads back every value"
    );
    let none = quantity.unproven.expect("says that none was found");
    assert_eq!((none.field.as_str(), none.cases), ("quantity", 256));

    let units = explained("FIELD_SAME_TYPE", "Money")
        .proven
        .expect("a narrowing is proved");
    sets_only(&units.json, "units");
    assert!(
        units
            .difference
            .contains("`units` (1 int64 → 1 int32): truncated"),
        "{}",
        units.difference
    );

    let renamed = explained("FIELD_SAME_NAME", "Item")
        .proven
        .expect("JSON readers reject the old key");
    sets_only(&renamed.json, "sku");
    assert!(
        renamed.difference.starts_with("[json] JSON rejected"),
        "{}",
        renamed.difference
    );

    // The text report says so under the finding.
    let text = report(&previous, &current, &Config::default(), Format::Text, true);
    assert!(
        text.contains("no counterexample for `quantity` in 256 cases (only that field set)"),
        "{text}"
    );
    assert!(
        !text.contains("unit_price"),
        "no proof strays into another field: {text}"
    );
}

/// Every fixture pair's findings under every rule, loaded whole and loaded as a pair (files
/// the same on both sides left out).
fn whole_and_paired(
    previous: &Path,
    current: &Path,
    config: &Config,
) -> (Vec<breaking::Finding>, Vec<breaking::Finding>) {
    let whole = breaking::check(&load(previous), &load(current), config).expect("check");
    let pair = Input::load_pair(
        &Input::Dir(previous.to_path_buf()),
        &Input::Dir(current.to_path_buf()),
        &[],
    )
    .unwrap_or_else(|err| panic!("{}: {err:?}", current.display()));
    let paired =
        breaking::check_pair(&pair, config, &breaking::PathFilter::default()).expect("check");
    (whole, paired)
}

#[test]
fn issue_11_leaving_out_the_files_the_same_on_both_sides_changes_no_finding() {
    for entry in std::fs::read_dir(fixtures()).expect("fixtures") {
        let dir = entry.expect("entry").path();
        for form in ["", "edition-2023", "edition-2024"] {
            let dir = dir.join(form);
            if !dir.join("current").is_dir() {
                continue;
            }
            let (whole, paired) =
                whole_and_paired(&dir.join("previous"), &dir.join("current"), &every_rule());
            assert_eq!(paired, whole, "{}", dir.display());
        }
    }
    // A package keeps a file that did not change while its other files are deleted or edited;
    // an unchanged file imports one that changed; comments alone do not count as a change.
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |side: &str, name: &str, text: &str| {
        let path = tmp.path().join(side).join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    for side in ["previous", "current"] {
        write(
            side,
            "p/keep.proto",
            "syntax = \"proto3\";\npackage p;\nmessage Keep { int32 n = 1; }\n",
        );
        write(
            side,
            "q/uses.proto",
            "syntax = \"proto3\";\npackage q;\nimport \"p/edit.proto\";\nmessage Uses { p.Edited e = 1; }\n",
        );
    }
    write(
        "previous",
        "p/gone.proto",
        "syntax = \"proto3\";\npackage p;\nmessage Gone {}\nenum Lost { LOST_UNSPECIFIED = 0; }\nservice S {}\n",
    );
    write(
        "previous",
        "p/edit.proto",
        "syntax = \"proto3\";\npackage p;\nmessage Edited { int32 a = 1; string b = 2; }\n",
    );
    write(
        "current",
        "p/edit.proto",
        "syntax = \"proto3\";\npackage p;\n// A comment.\nmessage Edited { int64 a = 1; }\n",
    );
    write(
        "previous",
        "r/only.proto",
        "syntax = \"proto3\";\npackage r;\nmessage Only {}\n",
    );
    write(
        "previous",
        "c/comments.proto",
        "syntax = \"proto3\";\npackage c;\nmessage C { int32 n = 1; }\n",
    );
    write(
        "current",
        "c/comments.proto",
        "// Reworded.\nsyntax = \"proto3\";\n\npackage c;\nmessage C {\n  int32 n = 1; // the count\n}\n",
    );
    let (previous, current) = (tmp.path().join("previous"), tmp.path().join("current"));
    for category in ["FILE", "PACKAGE", "WIRE_JSON", "WIRE"] {
        let config = Config {
            use_: vec![category.to_owned()],
            version: "v2".into(),
            ..Config::default()
        };
        let (whole, paired) = whole_and_paired(&previous, &current, &config);
        assert_eq!(paired, whole, "{category}");
        assert!(!paired.is_empty(), "{category} finds the edits");
    }
    let pair = Input::load_pair(
        &Input::Dir(previous.clone()),
        &Input::Dir(current.clone()),
        &[],
    )
    .expect("loads");
    assert_eq!(
        pair.unchanged
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["c/comments.proto", "p/keep.proto"],
        "q/uses.proto imports a file that changed"
    );
    assert_eq!(pair.current.root_files(), ["p/edit.proto", "q/uses.proto"]);

    // Files left out are still compiled: an unknown type in one is an error, located.
    for side in ["previous", "current"] {
        write(
            side,
            "p/keep.proto",
            "syntax = \"proto3\";\npackage p;\nmessage Keep { Missing n = 1; }\n",
        );
    }
    let (code, _, stderr) = grpc_double(
        tmp.path(),
        &["breaking", "current", "--against", "previous"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("p/keep.proto:3:16"), "{stderr}");
    assert!(stderr.contains("Missing"), "{stderr}");
}

#[test]
fn a_removed_file_option_is_at_1_1_as_in_buf() {
    let previous = sources(&[(
        "a.proto",
        "syntax = \"proto3\";\npackage a;\noption go_package = \"x/a\";\noption java_package = \"com.a\";\n",
    )]);
    let current = sources(&[(
        "a.proto",
        "syntax = \"proto3\";\npackage a;\noption java_package = \"com.a\";\n",
    )]);
    let text = report(&previous, &current, &Config::default(), Format::Text, false);
    assert_eq!(
        text,
        "a.proto:1:1:File option \"go_package\" changed from \"x/a\" to \"\".\n"
    );
}
