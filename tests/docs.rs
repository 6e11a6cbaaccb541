//! Documentation that cannot rot: every YAML example in docs/fixtures.md and README.md is a
//! fixture of the test suite (`<!-- case: NAME -->`: the block stands in
//! `fixtures/serve/NAME/stubs.yaml`, which `serve_cases` calls), or loads against the bundled
//! contract; the error-code table lists every code (checked in the library).

use std::path::Path;

use grpc_double::{FixtureSource, Fixtures, Schema};

/// Each ```yaml block of a Markdown file, with the `<!-- … -->` comment right before it.
fn yaml_blocks(text: &str) -> Vec<(usize, Option<String>, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```yaml" {
            let marker = (0..i)
                .rev()
                .map(|j| lines[j].trim())
                .find(|l| !l.is_empty())
                .filter(|l| l.starts_with("<!--"))
                .map(|l| {
                    l.trim_start_matches("<!--")
                        .trim_end_matches("-->")
                        .trim()
                        .to_owned()
                });
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim() != "```" {
                end += 1;
            }
            out.push((start + 1, marker, lines[start..end].join("\n") + "\n"));
            i = end;
        }
        i += 1;
    }
    out
}

fn check_file(doc: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let schema = Schema::bundled();
    let mut checked = 0;
    for (line, marker, block) in yaml_blocks(&text) {
        match marker
            .as_deref()
            .and_then(|m| m.strip_prefix("case:"))
            .map(str::trim)
        {
            Some(case) => {
                let dir = root.join("fixtures/serve").join(case);
                let stubs = std::fs::read_to_string(dir.join("stubs.yaml")).unwrap_or_else(|_| {
                    panic!("{doc}:{line}: no case folder fixtures/serve/{case}")
                });
                assert!(
                    stubs.contains(block.trim()),
                    "{doc}:{line}: the example is not fixtures/serve/{case}/stubs.yaml (update one from the other)"
                );
                assert!(
                    dir.join("calls.yaml").is_file(),
                    "{doc}:{line}: the case has no calls.yaml"
                );
            }
            None => {
                Fixtures::load(
                    &schema,
                    &[FixtureSource::new(format!("{doc}:{line}"), block)],
                )
                .unwrap_or_else(|e| {
                    panic!(
                        "{doc}:{line}: the example does not load: {:?}",
                        miette::Report::new(e)
                    )
                });
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn every_fixture_example_in_the_docs_is_exercised_or_loads() {
    assert!(
        check_file("docs/fixtures.md") >= 20,
        "the examples are found"
    );
    assert!(
        check_file("README.md") >= 1,
        "the README's examples are found"
    );
}

/// Each fenced block of a Markdown file: (line, language, the `<!-- … -->` before it, text).
fn fenced_blocks(text: &str) -> Vec<(usize, String, Option<String>, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(lang) = lines[i].trim().strip_prefix("```") {
            let marker = (0..i)
                .rev()
                .map(|j| lines[j].trim())
                .find(|l| !l.is_empty())
                .filter(|l| l.starts_with("<!--"))
                .map(|l| {
                    l.trim_start_matches("<!--")
                        .trim_end_matches("-->")
                        .trim()
                        .to_owned()
                });
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && lines[end].trim() != "```" {
                end += 1;
            }
            out.push((start, lang.to_owned(), marker, lines[start..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    out
}

/// Splits shell text into commands of words: single quotes (across lines), `\` line
/// continuations and `#` comments, which is all the docs use.
fn shell_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '#' if !in_word => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if c == '\n' && !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// Replays every `curl` of docs/admin-api.md, in order, against a live server: each answers
/// 2xx (or the `<!-- status: N -->` before its block), and a JSON example after a block has
/// every top-level key the real answer has.
#[tokio::test]
async fn every_admin_api_example_runs_against_a_live_server() {
    let mut options = grpc_double::ServerOptions::default();
    options.log_calls = false;
    options.admin = Some("127.0.0.1:0".into());
    let server = grpc_double::FakeServer::builder()
        .options(options)
        .start()
        .await
        .unwrap();
    let admin = server.admin_addr().unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/admin-api.md"))
            .unwrap();
    let blocks = fenced_blocks(&text);
    let mut replayed = 0;
    for (n, (line, lang, marker, block)) in blocks.iter().enumerate() {
        if lang != "sh" {
            continue;
        }
        let expected: u16 = marker
            .as_deref()
            .and_then(|m| m.strip_prefix("status:"))
            .map_or(0, |s| s.trim().parse().unwrap());
        let mut last = None;
        for words in shell_commands(block) {
            if words[0] != "curl" {
                continue;
            }
            let (mut method, mut url, mut headers, mut body) = (None, None, Vec::new(), None);
            let mut it = words[1..].iter();
            while let Some(word) = it.next() {
                match word.as_str() {
                    "-s" => {}
                    "-X" => method = it.next().cloned(),
                    "-H" => headers.push(it.next().unwrap().clone()),
                    "-d" | "--data-binary" => body = it.next().cloned(),
                    w if w.starts_with("http://") => url = Some(w.to_owned()),
                    w => panic!("docs/admin-api.md:{line}: the replay does not know `{w}`"),
                }
            }
            let url = url.expect("a URL");
            let path = url
                .strip_prefix("http://127.0.0.1:4771")
                .unwrap_or_else(|| {
                    panic!("docs/admin-api.md:{line}: examples use http://127.0.0.1:4771")
                });
            let method =
                method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.into());
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|h| h.split_once(": ").expect("`name: value`"))
                .collect();
            let answer = crate::admin::http(
                admin,
                &method,
                path,
                &headers,
                body.unwrap_or_default().as_bytes(),
            )
            .await;
            if expected == 0 {
                assert!(
                    (200..300).contains(&answer.status),
                    "docs/admin-api.md:{line}: {method} {path} answered {}: {}",
                    answer.status,
                    answer.body
                );
            } else {
                assert_eq!(
                    answer.status, expected,
                    "docs/admin-api.md:{line}: {method} {path}: {}",
                    answer.body
                );
            }
            last = Some(answer);
            replayed += 1;
        }
        if let (Some(answer), Some((json_line, lang, _, example))) = (&last, blocks.get(n + 1))
            && lang == "json"
        {
            let example: serde_json::Value = serde_json::from_str(example)
                .unwrap_or_else(|e| panic!("docs/admin-api.md:{json_line}: not JSON: {e}"));
            let real = answer.json();
            let keys = |v: &serde_json::Value| {
                v.as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            assert_eq!(
                keys(&example)
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>(),
                keys(&real).into_iter().collect(),
                "docs/admin-api.md:{json_line}: the example's keys are the answer's: {real}"
            );
        }
    }
    assert!(replayed >= 20, "the examples are found ({replayed})");
}

/// Each Rust example of docs/harness.md stands, verbatim, in tests/harness.rs (`doc_examples`),
/// where it runs.
#[test]
fn every_rust_example_of_the_harness_docs_runs_as_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/harness.md")).unwrap();
    let tests = std::fs::read_to_string(root.join("tests/harness.rs")).unwrap();
    let normal = |text: &str| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let tests = normal(&tests);
    let mut checked = 0;
    for (line, lang, _, block) in fenced_blocks(&doc) {
        if lang == "rust" {
            assert!(
                tests.contains(&normal(&block)),
                "docs/harness.md:{line}: the example is not in tests/harness.rs `doc_examples` (update one from the other)"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "the examples are found");
}
