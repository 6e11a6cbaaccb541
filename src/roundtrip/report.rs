//! Reports of a round-trip or compatibility run: a summary table, the minimal counterexamples,
//! and the seed that reproduces them, as text, JSON or JUnit XML.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Counterexample, Encoding, MessageResult, Options, Outcome};

/// Which check produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// `roundtrip INPUT`.
    RoundTrip,
    /// `roundtrip NEW --against OLD`.
    Compat,
}

/// A result's name in reports: `old.Name → new.Name` for a renamed type.
fn label(r: &MessageResult) -> String {
    match &r.renamed {
        Some(renamed) => format!("{} → {}", r.message, renamed.to),
        None => r.message.clone(),
    }
}

/// The output format of a round-trip [`Report`] (`grpc-double roundtrip --format`); the breaking
/// checker's formats are `breaking::Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// A table and counterexamples, for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// JUnit XML, one test case per message type, for CI dashboards.
    Junit,
}

/// The outcome of a run over many message types.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    mode: Mode,
    /// The run's seed; pass it as `--seed` to reproduce the run.
    pub seed: u64,
    /// The encodings checked.
    pub encoding: Encoding,
    /// Cases generated per message type.
    pub cases: u32,
    /// One entry per message type, sorted by name.
    pub results: Vec<MessageResult>,
}

impl Report {
    pub(crate) fn new(mode: Mode, options: &Options, results: Vec<MessageResult>) -> Self {
        Self {
            mode,
            seed: options.seed,
            encoding: options.encoding,
            cases: options.cases,
            results,
        }
    }

    /// Whether every checked message type held (skipped ones do not count as failures).
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Gets the failed message types with their counterexamples.
    pub fn failures(&self) -> impl Iterator<Item = (&MessageResult, &[Counterexample])> {
        self.results.iter().filter_map(|r| match &r.outcome {
            Outcome::Failed { counterexamples } => Some((r, counterexamples.as_slice())),
            _ => None,
        })
    }

    /// Gets the total number of generated cases that ran.
    pub fn total_cases(&self) -> u64 {
        self.results.iter().map(|r| u64::from(r.cases)).sum()
    }

    /// Renders the report; `command` (e.g. `grpc-double roundtrip proto/`) prefixes the
    /// reproduction hint of each failure.
    pub fn render(&self, format: Format, command: &str) -> String {
        match format {
            Format::Text => self.text(command),
            Format::Json => {
                serde_json::to_string_pretty(self)
                    .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
                    + "\n"
            }
            Format::Junit => self.junit(command),
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Passed => counts.0 += 1,
                Outcome::Failed { .. } => counts.1 += 1,
                Outcome::Skipped { .. } => counts.2 += 1,
            }
        }
        counts
    }

    fn text(&self, command: &str) -> String {
        let mut out = String::new();
        let what = match self.mode {
            Mode::RoundTrip => "round trips",
            Mode::Compat => "old writer → new reader",
        };
        let _ = writeln!(
            out,
            "{what}: {} message type{}, {} cases each, encoding {}, seed {}",
            self.results.len(),
            if self.results.len() == 1 { "" } else { "s" },
            self.cases,
            self.encoding.name(),
            self.seed
        );
        out.push('\n');
        let width = self
            .results
            .iter()
            .map(|r| label(r).chars().count())
            .max()
            .unwrap_or(0)
            .max("MESSAGE".len());
        let _ = writeln!(out, "{:<width$}  {:>5}  RESULT", "MESSAGE", "CASES");
        for r in &self.results {
            let result = match &r.outcome {
                Outcome::Passed => match self.mode {
                    Mode::RoundTrip => "ok".to_owned(),
                    Mode::Compat => "safe".to_owned(),
                },
                Outcome::Failed { counterexamples } => format!(
                    "FAILED ({})",
                    counterexamples.first().map_or("", |c| c.property.as_str())
                ),
                Outcome::Skipped { reason } => format!("skipped: {reason}"),
            };
            let _ = writeln!(out, "{:<width$}  {:>5}  {result}", label(r), r.cases);
        }
        for (r, counterexamples) in self.failures() {
            for (i, c) in counterexamples.iter().enumerate() {
                out.push('\n');
                let of = if counterexamples.len() > 1 {
                    format!(" — counterexample {} of {}", i + 1, counterexamples.len())
                } else {
                    String::new()
                };
                let _ = writeln!(out, "FAILED {} ({}){of}", label(r), c.property);
                if let (0, Some(renamed)) = (i, &r.renamed) {
                    let _ = writeln!(
                        out,
                        "  renamed:       read as {}, paired through {}",
                        renamed.to, renamed.via
                    );
                }
                let _ = writeln!(out, "  reason:        {}", c.reason);
                let _ = writeln!(out, "  counterexample (proto3 JSON): {}", c.json);
                let _ = writeln!(
                    out,
                    "  counterexample (binary, hex): {}",
                    if c.hex.is_empty() { "(empty)" } else { &c.hex }
                );
                let reader = match self.mode {
                    Mode::RoundTrip => "decoded as",
                    Mode::Compat => "new reader sees (binary)",
                };
                let _ = writeln!(out, "  {reader}: {}", c.reading);
                if let Some(json) = &c.json_reading {
                    let _ = writeln!(out, "  new reader sees (JSON):   {json}");
                }
                if !c.differences.is_empty() {
                    let _ = writeln!(out, "  differences:");
                    for d in &c.differences {
                        let _ = writeln!(out, "    {d}");
                    }
                }
            }
            let _ = writeln!(
                out,
                "  reproduce:     {command} --seed {} --message {}",
                self.seed, r.message
            );
        }
        let (passed, failed, skipped) = self.counts();
        out.push('\n');
        let _ = writeln!(
            out,
            "{passed} {}, {failed} failed, {skipped} skipped ({} cases)",
            match self.mode {
                Mode::RoundTrip => "passed",
                Mode::Compat => "safe",
            },
            self.total_cases()
        );
        out
    }

    fn junit(&self, command: &str) -> String {
        let (_, failed, skipped) = self.counts();
        let suite = match self.mode {
            Mode::RoundTrip => "grpc-double roundtrip",
            Mode::Compat => "grpc-double roundtrip --against",
        };
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">",
            self.results.len()
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">",
            self.results.len()
        );
        let _ = writeln!(
            out,
            "    <properties><property name=\"seed\" value=\"{}\"/><property name=\"encoding\" value=\"{}\"/><property name=\"cases\" value=\"{}\"/></properties>",
            self.seed,
            self.encoding.name(),
            self.cases
        );
        for r in &self.results {
            let class = r.message.rsplit_once('.').map_or("", |(p, _)| p);
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(class),
                xml(&r.message)
            );
            match &r.outcome {
                Outcome::Passed => out.push_str("/>\n"),
                Outcome::Skipped { reason } => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(reason)
                    );
                }
                Outcome::Failed { counterexamples } => {
                    let mut body = String::new();
                    for c in counterexamples {
                        let _ = writeln!(
                            body,
                            "{}\ncounterexample (proto3 JSON): {}\ncounterexample (binary, hex): {}\nread as: {}",
                            c.reason, c.json, c.hex, c.reading
                        );
                        if let Some(json) = &c.json_reading {
                            let _ = writeln!(body, "read as (JSON): {json}");
                        }
                        for d in &c.differences {
                            let _ = writeln!(body, "  {d}");
                        }
                    }
                    let _ = writeln!(
                        body,
                        "reproduce: {command} --seed {} --message {}",
                        self.seed, r.message
                    );
                    let first = counterexamples.first();
                    let _ = writeln!(
                        out,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        xml(first.map_or("", |c| c.property.as_str())),
                        xml(first.map_or("", |c| c.reason.as_str())),
                        xml(&body)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// Escapes text for XML attributes and content (and drops characters XML 1.0 forbids).
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Format, Mode, Report};
    use crate::roundtrip::{Counterexample, MessageResult, Options, Outcome};

    fn failed_report() -> Report {
        let options = Options {
            seed: 9,
            cases: 16,
            ..Options::default()
        };
        let failure = Counterexample {
            property: "json".to_owned(),
            reason: "JSON round trip via {\"x\":\"<\"} changed the message at `x`".to_owned(),
            json: "{\"x\":\"<\"}".to_owned(),
            hex: "0a 01 3c".to_owned(),
            reading: "{\"x\":\"<\"}".to_owned(),
            json_reading: None,
            differences: Vec::new(),
        };
        Report::new(
            Mode::RoundTrip,
            &options,
            vec![
                MessageResult {
                    message: "a.Ok".to_owned(),
                    renamed: None,
                    cases: 16,
                    outcome: Outcome::Passed,
                },
                MessageResult {
                    message: "a.Bad".to_owned(),
                    renamed: None,
                    cases: 3,
                    outcome: Outcome::Failed {
                        counterexamples: vec![failure],
                    },
                },
            ],
        )
    }

    #[test]
    fn roundtrip_text_report_prints_the_seed_counterexample_and_reproduction() {
        let report = failed_report();
        assert!(!report.passed());
        let text = report.render(Format::Text, "grpc-double roundtrip x.proto");
        assert!(text.contains("a.Bad        3  FAILED (json)"), "{text}");
        assert!(
            text.contains("counterexample (binary, hex): 0a 01 3c"),
            "{text}"
        );
        assert!(
            text.contains("reproduce:     grpc-double roundtrip x.proto --seed 9 --message a.Bad"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 1 failed, 0 skipped (19 cases)\n"),
            "{text}"
        );
    }

    #[test]
    fn roundtrip_junit_report_escapes_xml() {
        let xml = failed_report().render(Format::Junit, "cmd");
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" skipped=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains("<testcase classname=\"a\" name=\"a.Ok\"/>"),
            "{xml}"
        );
        assert!(xml.contains("{&quot;x&quot;:&quot;&lt;&quot;}"), "{xml}");
        assert!(!xml.contains("\"<\""), "{xml}");
    }
}
