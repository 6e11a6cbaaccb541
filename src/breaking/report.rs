//! Rendering findings: spans are resolved here (not in the rules), paths get the input's display
//! prefix, the list is sorted and de-duplicated, then printed in one of buf's formats (plus
//! SARIF, which buf lacks).

use std::{collections::HashMap, fmt::Write as _};

use prost_reflect::DescriptorPool;
use prost_types::SourceCodeInfo;
use serde::Serialize;
use serde_json::json;

use super::{
    Finding, Severity,
    finding::{Explanation, Location},
};
use crate::schema::Span;

/// An output format of breaking findings, as `--error-format` names it (buf's names); the
/// round-trip report's formats are `roundtrip::Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Format {
    /// `path:line:col:message` (buf's default; alias `gcc`).
    #[default]
    #[cfg_attr(feature = "cli", value(alias = "gcc"))]
    Text,
    /// JSON Lines with buf's keys.
    Json,
    /// GitHub Actions workflow commands (`::error file=..::message`).
    GithubActions,
    /// JUnit XML, one test suite per file.
    Junit,
    /// Visual Studio: `path(line,col) : error RULE : message`.
    Msvs,
    /// GitLab Code Quality JSON.
    GitlabCodeQuality,
    /// SARIF 2.1.0 (not in buf).
    Sarif,
}

/// A finding with its display path and resolved span, ready to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// The path as printed (with the input's prefix, e.g. `new/acme/v1/user.proto`).
    pub path: String,
    /// The resolved span; zeros when unknown.
    pub span: Span,
    /// The rule ID.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// buf-style message.
    pub message: String,
    /// Fix-it hint.
    pub hint: Option<String>,
    /// Payload counterexample, with `--explain`.
    pub explanation: Option<Explanation>,
}

/// How paths of each side are printed: `prefix/` + file name.
#[derive(Debug, Clone, Default)]
pub struct PathDisplay {
    /// Prefix for files of the current input (e.g. `new`), or empty.
    pub current: String,
    /// Prefix for files of the previous input, or empty.
    pub previous: String,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() || prefix == "." {
        name.to_owned()
    } else {
        format!("{}/{name}", prefix.trim_end_matches('/'))
    }
}

/// Source info of one file: from the pool when it was compiled with it, else parsed on demand
/// from the file's text (big trees are compiled without source info; only files with findings
/// are parsed again).
fn source_info(
    pool: &DescriptorPool,
    file: &str,
    sources: &dyn Fn(&str) -> Option<SourceCodeInfo>,
) -> Option<SourceCodeInfo> {
    let descriptor = pool.get_file_by_name(file)?;
    // A file compiled without source info may still carry a location or two (an editions
    // file's marker); the whole-file location (empty path) says the spans are there.
    if let Some(info) = &descriptor.file_descriptor_proto().source_code_info
        && info.location.iter().any(|l| l.path.is_empty())
    {
        return Some(info.clone());
    }
    sources(file)
}

/// `FileDescriptorProto.options`.
const FILE_OPTIONS: [i32; 1] = [8];

/// Resolves a location to a span; a missing option location falls back to its element. A
/// file option's element is the file, which has no position (buf prints 1:1): the location of
/// `[8]` is just one of the file's `option` statements, so a missing file option never falls
/// back to it.
fn span_of(info: Option<&SourceCodeInfo>, location: &Location) -> Span {
    let Some(info) = info else {
        return Span::default();
    };
    let mut path = &location.path[..];
    while !path.is_empty() {
        if path == FILE_OPTIONS && location.path.len() > 1 {
            break;
        }
        if let Some(span) = crate::schema::span_in(info, path) {
            return span;
        }
        path = &path[..path.len() - 1];
    }
    Span::default()
}

/// Resolves spans and display paths, sorts and de-duplicates.
pub fn annotate(
    findings: &[Finding],
    current: &DescriptorPool,
    display: &PathDisplay,
) -> Vec<Annotation> {
    annotate_with(findings, current, display, &|_| None, &|_| None)
}

/// Like [`annotate`], with two hooks: `sources` gives the source info of a current file by name
/// (for a schema compiled without it; asked only for files with findings), and `explain` gives
/// a finding's payload explanation (`grpc_double::explain::annotate` passes the round-trip one).
pub fn annotate_with(
    findings: &[Finding],
    current: &DescriptorPool,
    display: &PathDisplay,
    sources: &dyn Fn(&str) -> Option<SourceCodeInfo>,
    explain: &dyn Fn(&Finding) -> Option<Explanation>,
) -> Vec<Annotation> {
    let mut infos: HashMap<String, Option<SourceCodeInfo>> = HashMap::new();
    let mut out: Vec<Annotation> = findings
        .iter()
        .map(|f| {
            let (path, span) = match (&f.current, &f.previous) {
                (Some(loc), _) => {
                    let info = infos
                        .entry(loc.file.clone())
                        .or_insert_with(|| source_info(current, &loc.file, sources));
                    // A finding in a file at no known position is at 1:1-1:1, as in buf.
                    let span = match span_of(info.as_ref(), loc) {
                        span if span == Span::default() => Span {
                            line: 1,
                            col: 1,
                            end_line: 1,
                            end_col: 1,
                        },
                        span => span,
                    };
                    (join(&display.current, &loc.file), span)
                }
                // A deleted file or package: no current path, as buf prints it (`<input>:1:1`,
                // no `path` in JSON); ignores still match the previous location.
                (None, Some(_)) => (String::new(), Span::default()),
                (None, None) => (String::new(), Span::default()),
            };
            Annotation {
                path,
                span,
                rule: f.rule,
                severity: f.severity,
                message: f.message.clone(),
                hint: f.hint.clone(),
                explanation: explain(f),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.path, a.span, a.rule, &a.message).cmp(&(&b.path, b.span, b.rule, &b.message))
    });
    out.dedup_by(|a, b| {
        a.path == b.path && a.span == b.span && a.rule == b.rule && a.message == b.message
    });
    out
}

/// One line of `--error-format json`: buf's keys in buf's order, then ours.
#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Explanation>,
}

fn at_least_1(n: u32) -> u32 {
    n.max(1)
}

/// The path as buf prints it: `<input>` for a finding with none (a deleted file or package).
fn shown(path: &str) -> &str {
    if path.is_empty() { "<input>" } else { path }
}

/// JSON as Go's `encoding/json` writes it (buf's): `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_json(value: &impl Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Renders annotations; with `explain`, text output adds hint and payload lines, and JSON the
/// hint and the explanation (without it, JSON lines are buf's, byte for byte).
pub fn render(annotations: &[Annotation], format: Format, explain: bool) -> String {
    let mut out = String::new();
    match format {
        Format::Text => {
            for a in annotations {
                let _ = writeln!(
                    out,
                    "{}:{}:{}:{}{}",
                    shown(&a.path),
                    at_least_1(a.span.line),
                    at_least_1(a.span.col),
                    if a.severity == Severity::Warning {
                        "warning: "
                    } else {
                        ""
                    },
                    a.message
                );
                if explain {
                    explain_lines(&mut out, a);
                }
            }
        }
        Format::Json => {
            for a in annotations {
                let line = JsonLine {
                    path: &a.path,
                    start_line: at_least_1(a.span.line),
                    start_column: at_least_1(a.span.col),
                    end_line: at_least_1(a.span.end_line),
                    end_column: at_least_1(a.span.end_col),
                    kind: a.rule,
                    message: &a.message,
                    severity: (a.severity == Severity::Warning).then_some("warning"),
                    hint: a.hint.as_deref().filter(|_| explain),
                    explanation: a.explanation.as_ref(),
                };
                let _ = writeln!(out, "{}", go_json(&line));
            }
        }
        Format::GithubActions => {
            for a in annotations {
                let level = if a.severity == Severity::Warning {
                    "warning"
                } else {
                    "error"
                };
                let _ = write!(out, "::{level} file={}", shown(&a.path));
                if a.span.line > 0 {
                    let _ = write!(out, ",line={}", a.span.line);
                    if a.span.col > 0 {
                        let _ = write!(out, ",col={}", a.span.col);
                    }
                    if a.span.end_line > 0 {
                        let _ = write!(out, ",endLine={}", a.span.end_line);
                        if a.span.end_col > 0 {
                            let _ = write!(out, ",endColumn={}", a.span.end_col);
                        }
                    }
                }
                let mut message = a.message.clone();
                if let (true, Some(hint)) = (explain, &a.hint) {
                    message.push_str("%0AHint: ");
                    message.push_str(hint);
                }
                let _ = writeln!(out, "::{message}");
            }
        }
        Format::Msvs => {
            for a in annotations {
                let _ = writeln!(
                    out,
                    "{}({},{}) : {} {} : {}",
                    shown(&a.path),
                    at_least_1(a.span.line),
                    at_least_1(a.span.col),
                    a.severity,
                    a.rule,
                    a.message
                );
            }
        }
        Format::Junit => junit(&mut out, annotations),
        Format::GitlabCodeQuality => {
            let issues: Vec<GitlabIssue> = annotations.iter().map(GitlabIssue::new).collect();
            let _ = writeln!(out, "{}", go_json(&issues));
        }
        Format::Sarif => sarif(&mut out, annotations),
    }
    out
}

fn explain_lines(out: &mut String, a: &Annotation) {
    if let Some(hint) = &a.hint {
        let _ = writeln!(out, "  hint: {hint}");
    }
    if let Some(e) = &a.explanation {
        let _ = writeln!(
            out,
            "  payload written by the previous schema: {}",
            e.bytes_hex
        );
        let _ = writeln!(out, "    previous schema reads: {}", e.previous);
        let _ = writeln!(out, "    current schema reads:  {}", e.current);
        if let Some((json, read)) = &e.json {
            let _ = writeln!(out, "  JSON written by the current schema: {json}");
            let _ = writeln!(out, "    previous schema reads: {read}");
        }
        if let Some(p) = &e.proven {
            let _ = writeln!(
                out,
                "  property test (old writer, new reader; seed {}): minimal counterexample {}",
                p.seed, p.json
            );
            let _ = writeln!(out, "    bytes: {}", p.hex);
            let _ = writeln!(out, "    current schema reads: {}", p.reading);
            let _ = writeln!(out, "    {}", p.difference);
        }
        if let Some(u) = &e.unproven {
            let _ = writeln!(
                out,
                "  property test (old writer, new reader; seed {}): no counterexample for `{}` in {} cases (only that field set): every value the previous schema writes there reads back unchanged",
                u.seed, u.field, u.cases
            );
        }
    }
}

/// One issue of `--error-format gitlab-code-quality`, with buf's keys in buf's order (empty
/// values left out, as Go's `omitempty` does).
#[derive(Serialize)]
struct GitlabIssue<'a> {
    description: &'a str,
    check_name: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    fingerprint: String,
    location: GitlabLocation<'a>,
    severity: &'static str,
}

#[derive(Serialize)]
struct GitlabLocation<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
    positions: GitlabPositions,
}

#[derive(Serialize)]
struct GitlabPositions {
    begin: GitlabPosition,
    end: GitlabPosition,
}

#[derive(Serialize)]
struct GitlabPosition {
    #[serde(skip_serializing_if = "is_zero")]
    line: u32,
    #[serde(skip_serializing_if = "is_zero")]
    column: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl<'a> GitlabIssue<'a> {
    /// The issue, fingerprinted as buf does: the hex SHAKE-256 (64 bytes) of the issue's JSON
    /// without the fingerprint.
    fn new(a: &'a Annotation) -> Self {
        let mut issue = GitlabIssue {
            description: &a.message,
            check_name: a.rule,
            fingerprint: String::new(),
            location: GitlabLocation {
                path: &a.path,
                positions: GitlabPositions {
                    begin: GitlabPosition {
                        line: a.span.line,
                        column: a.span.col,
                    },
                    end: GitlabPosition {
                        line: a.span.end_line,
                        column: a.span.end_col,
                    },
                },
            },
            severity: if a.severity == Severity::Warning {
                "info"
            } else {
                "minor"
            },
        };
        issue.fingerprint = shake256_hex(go_json(&issue).as_bytes());
        issue
    }
}

fn shake256_hex(bytes: &[u8]) -> String {
    use sha3::digest::{ExtendableOutput as _, Update as _, XofReader as _};
    let mut hasher = sha3::Shake256::default();
    hasher.update(bytes);
    let mut digest = [0u8; 64];
    hasher.finalize_xof().read(&mut digest);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// XML text as Go's `encoding/xml` escapes it (buf's junit output).
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
        .replace('\r', "&#xD;")
}

fn junit(out: &mut String, annotations: &[Annotation]) {
    let mut groups: Vec<(&str, Vec<&Annotation>)> = Vec::new();
    for a in annotations {
        match groups.iter_mut().find(|(p, _)| *p == a.path) {
            Some((_, list)) => list.push(a),
            None => groups.push((&a.path, vec![a])),
        }
    }
    out.push_str("<testsuites>\n");
    for (path, list) in groups {
        let path = shown(path);
        let name = path.strip_suffix(".proto").unwrap_or(path);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{n}\" errors=\"0\">",
            xml_escape(name),
            n = list.len()
        );
        for a in list {
            let mut case = a.rule.to_owned();
            if a.span.col != 0 {
                let _ = write!(case, "_{}_{}", a.span.line, a.span.col);
            } else if a.span.line != 0 {
                let _ = write!(case, "_{}", a.span.line);
            }
            let text = format!(
                "{}:{}:{}:{}",
                shown(&a.path),
                at_least_1(a.span.line),
                at_least_1(a.span.col),
                a.message
            );
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\">\n      <failure message=\"{}\" type=\"{}\"></failure>\n    </testcase>",
                xml_escape(&case),
                xml_escape(&text),
                a.rule
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
}

fn sarif(out: &mut String, annotations: &[Annotation]) {
    let mut rule_ids: Vec<&str> = annotations.iter().map(|a| a.rule).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules: Vec<_> = rule_ids
        .iter()
        .map(|id| {
            let purpose = super::registry::rule_by_id(id).map_or("", |r| r.purpose);
            json!({"id": id, "shortDescription": {"text": purpose}})
        })
        .collect();
    let results: Vec<_> = annotations
        .iter()
        .map(|a| {
            let mut region = json!({});
            if a.span.line > 0 {
                region = json!({
                    "startLine": a.span.line,
                    "startColumn": at_least_1(a.span.col),
                    "endLine": at_least_1(a.span.end_line),
                    "endColumn": at_least_1(a.span.end_col),
                });
            }
            let mut result = json!({
                "ruleId": a.rule,
                "level": if a.severity == Severity::Warning { "warning" } else { "error" },
                "message": {"text": a.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": a.path},
                    "region": region,
                }}],
            });
            if let Some(hint) = &a.hint {
                result["properties"] = json!({"hint": hint});
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "grpc-double",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&log).unwrap_or_default()
    );
}
