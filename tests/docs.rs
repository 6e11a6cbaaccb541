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
