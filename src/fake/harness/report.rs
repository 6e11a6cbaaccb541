//! What a test run leaves behind: `--report-dir` files (the journal, unmatched calls, unused
//! stubs, a summary, a JUnit file with one case per `expect`), and the report a dropped
//! [`FakeServer`](crate::FakeServer) panics with when an expectation is not met.

use std::{fmt::Write as _, path::Path};

use crate::{
    error::{Error, Result},
    fake::serve::{Control, Query, ReceivedCall, StubInfo},
};

/// A server's account of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Every call the journal holds, oldest first.
    pub calls: Vec<ReceivedCall>,
    /// Calls no stub answered, with the closest stub and why.
    pub unmatched: Vec<ReceivedCall>,
    /// Every stub, with its calls.
    pub stubs: Vec<StubInfo>,
    /// Stubs that answered no call.
    pub unused: Vec<StubInfo>,
    /// Stubs whose `expect` the calls do not meet.
    pub unmet: Vec<StubInfo>,
    /// Calls the journal dropped to stay within `--journal-size`.
    pub dropped: u64,
}

impl Report {
    pub(crate) fn new(control: &Control) -> Self {
        let calls = control.calls(&Query::default());
        let unmatched = calls.iter().filter(|c| c.stub.is_none()).cloned().collect();
        let stubs = control.stubs(None);
        let unused = stubs.iter().filter(|s| s.calls == 0).cloned().collect();
        let unmet = stubs
            .iter()
            .filter(|s| s.expect_met == Some(false))
            .cloned()
            .collect();
        Self {
            calls,
            unmatched,
            stubs,
            unused,
            unmet,
            dropped: control.journal.dropped(),
        }
    }

    /// A few lines for people: calls, unmatched calls, unused stubs, unmet expectations.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "grpc-double: {} calls ({} unmatched), {} stubs ({} unused), {} expectations not met",
            self.calls.len(),
            self.unmatched.len(),
            self.stubs.len(),
            self.unused.len(),
            self.unmet.len()
        );
        if self.dropped > 0 {
            let _ = writeln!(
                out,
                "  the journal dropped {} older calls (--journal-size)",
                self.dropped
            );
        }
        for stub in &self.unmet {
            let _ = writeln!(out, "  expectation not met: {}", unmet_line(stub));
        }
        for call in &self.unmatched {
            let _ = writeln!(out, "  unmatched: {}", call_line(call));
        }
        for stub in &self.unused {
            let _ = writeln!(out, "  unused: {} ({})", stub.label, stub.method);
        }
        out
    }

    /// The message a dropped server panics with.
    pub(crate) fn drop_message(&self) -> String {
        let mut out = String::new();
        let n = self.unmet.len();
        let _ = writeln!(
            out,
            "grpc-double: {n} stub expectation{} not met",
            if n == 1 { "" } else { "s" }
        );
        for stub in &self.unmet {
            let _ = writeln!(out, "\n  {}", unmet_line(stub));
        }
        if !self.unmatched.is_empty() {
            let _ = writeln!(out, "\ncalls no stub answered ({}):", self.unmatched.len());
            for call in &self.unmatched {
                let _ = writeln!(out, "  {}", call_line(call));
            }
        }
        let _ = write!(
            out,
            "\n{} call{} received in all; `server.received_calls()` lists them, `server.verify_on_drop(false)` turns this check off",
            self.calls.len(),
            if self.calls.len() == 1 { "" } else { "s" }
        );
        out
    }

    /// Whether a `--strict` run fails: a call went unmatched or an expectation is not met.
    pub fn failed(&self, strict: bool) -> bool {
        !self.unmet.is_empty() || (strict && !self.unmatched.is_empty())
    }

    /// Writes `journal.json`, `unmatched.json`, `unused.json`, `stubs.json`, `summary.txt` and
    /// `junit.xml` into `dir` (created if missing). With `strict`, the JUnit file has a case
    /// that fails when a call went unmatched.
    ///
    /// # Errors
    ///
    /// A file cannot be written.
    pub fn write_to(&self, dir: &Path, strict: bool) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        write("journal.json", pretty(&self.calls))?;
        write("unmatched.json", pretty(&self.unmatched))?;
        write("unused.json", pretty(&self.unused))?;
        write("stubs.json", pretty(&self.stubs))?;
        write("summary.txt", self.summary())?;
        write("junit.xml", self.junit(strict))
    }

    /// A JUnit file: one case per `expect`, and with `strict` one for unmatched calls.
    pub fn junit(&self, strict: bool) -> String {
        let mut cases = String::new();
        let mut count = 0;
        let mut failures = 0;
        for stub in self.stubs.iter().filter(|s| s.expect.is_some()) {
            count += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml(&stub.method),
                xml(&format!(
                    "{} expects {}",
                    stub.label,
                    stub.expect.as_deref().unwrap_or("")
                ))
            );
            if stub.expect_met == Some(false) {
                failures += 1;
                let _ = write!(cases, "<failure message=\"{}\"/>", xml(&unmet_line(stub)));
            }
            cases.push_str("</testcase>\n");
        }
        if strict {
            count += 1;
            cases.push_str("    <testcase classname=\"grpc-double\" name=\"every call matched a stub (--strict)\">");
            if !self.unmatched.is_empty() {
                failures += 1;
                let detail: Vec<String> = self.unmatched.iter().map(call_line).collect();
                let _ = write!(
                    cases,
                    "<failure message=\"{} calls no stub answered\">{}</failure>",
                    self.unmatched.len(),
                    xml(&detail.join("\n"))
                );
            }
            cases.push_str("</testcase>\n");
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"grpc-double\" tests=\"{count}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n"
        )
    }
}

fn unmet_line(stub: &StubInfo) -> String {
    format!(
        "{} for {}: expected {}, got {}",
        stub.label,
        stub.method,
        stub.expect.as_deref().unwrap_or("?"),
        match stub.calls {
            1 => "1 call".to_owned(),
            n => format!("{n} calls"),
        }
    )
}

fn call_line(call: &ReceivedCall) -> String {
    let request = match call.requests.as_slice() {
        [] => String::new(),
        [one] => format!(" {one}"),
        many => format!(" ({} messages)", many.len()),
    };
    let why = call.near_miss.as_deref().map_or_else(
        || format!(": {} {}", call.status, call.message),
        |m| format!("\n      {m}"),
    );
    format!("#{} {}{request}{why}", call.seq, call.method)
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn pretty(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// An error as a test shows it: with the source snippet and the hint.
pub(crate) fn render_error(err: &Error) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    if handler.render_report(&mut out, err).is_err() {
        return err.to_string();
    }
    out
}
