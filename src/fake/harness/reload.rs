//! Hot reload: the fixture files are read again when they change (or on request: SIGHUP, the
//! admin API), validated as a whole, and swapped in at once. An invalid change keeps the
//! previous stubs serving; the located error goes to the log and to `GET /api/reload`.
//!
//! Files are watched by polling their sizes and modification times (no platform watcher to
//! miss events on network or container filesystems). A change is read only once two looks in
//! a row agree, and the files are checked again after reading, so a file caught half-written
//! is read again later rather than served.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use tokio::sync::watch;

use crate::{
    Schema,
    fake::{load::FixtureSource, model::Fixtures, serve::Control},
};

/// The outcome of the last reload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReloadStatus {
    /// How many times the files were loaded and swapped in (the start counts as 1).
    pub generation: u64,
    /// Whether the last attempt succeeded (when not, the previous stubs still serve).
    pub ok: bool,
    /// When the last attempt ran, RFC 3339.
    pub at: String,
    /// What triggered it: `start`, `change`, `requested`.
    pub reason: String,
    /// The files read.
    pub files: Vec<String>,
    /// The stubs serving from files.
    pub stubs: usize,
    /// The last attempt's errors, located (`file:line:col: …`), when it failed.
    pub error: Option<String>,
}

/// What the files looked like: (path, length, modified).
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

#[derive(Debug)]
pub(crate) struct Reloader {
    schema: Schema,
    paths: Vec<PathBuf>,
    control: Arc<Control>,
    status: Mutex<ReloadStatus>,
    seen: Mutex<Fingerprint>,
}

impl Reloader {
    pub(crate) fn new(schema: Schema, paths: Vec<PathBuf>, control: Arc<Control>) -> Self {
        let seen = fingerprint(&paths);
        let files: Vec<String> = seen
            .iter()
            .map(|(p, _, _)| p.display().to_string())
            .collect();
        let stubs = control
            .stubs(None)
            .iter()
            .filter(|s| s.source == "file")
            .count();
        Self {
            schema,
            paths,
            control,
            status: Mutex::new(ReloadStatus {
                generation: 1,
                ok: true,
                at: crate::fake::template::rfc3339(SystemTime::now()),
                reason: "start".into(),
                files,
                stubs,
                error: None,
            }),
            seen: Mutex::new(seen),
        }
    }

    pub(crate) fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads, validates and swaps in the files now.
    pub(crate) fn reload(&self, reason: &str) -> ReloadStatus {
        let before = fingerprint(&self.paths);
        let loaded = self.load();
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.at = crate::fake::template::rfc3339(SystemTime::now());
        status.reason = reason.to_owned();
        match loaded {
            Ok((fixtures, files)) => {
                status.stubs = fixtures.len();
                status.files = files;
                self.control.set_files(fixtures);
                status.generation += 1;
                status.ok = true;
                status.error = None;
                tracing::info!(
                    generation = status.generation,
                    stubs = status.stubs,
                    reason,
                    "fixtures reloaded"
                );
            }
            Err(error) => {
                status.ok = false;
                tracing::error!(
                    reason,
                    "fixtures not reloaded; the previous stubs keep serving:\n{error}"
                );
                status.error = Some(error);
            }
        }
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = before;
        status.clone()
    }

    fn load(&self) -> Result<(Fixtures, Vec<String>), String> {
        let mut sources = Vec::new();
        for path in &self.paths {
            sources.extend(FixtureSource::read_all(path).map_err(|e| e.to_string())?);
        }
        let files = sources.iter().map(|s| s.name().to_owned()).collect();
        let fixtures = Fixtures::load(&self.schema, &sources).map_err(|errors| {
            errors
                .errors()
                .iter()
                .map(|e| match e.hint() {
                    Some(hint) => format!("{e}\n  hint: {hint}"),
                    None => e.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        Ok((fixtures, files))
    }

    /// Polls the files every `every` until the server stops; reloads on a change.
    pub(crate) async fn watch(
        self: Arc<Self>,
        every: Duration,
        mut stopped: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            let this = self.clone();
            // Reading files blocks: off the runtime's workers.
            let _ = tokio::task::spawn_blocking(move || this.check()).await;
        }
    }

    /// Reloads when the files changed and have stopped changing.
    fn check(&self) {
        let now = fingerprint(&self.paths);
        if now == *self.seen.lock().unwrap_or_else(|e| e.into_inner()) {
            return;
        }
        // Let a writer finish: the files must look the same twice, a moment apart.
        std::thread::sleep(Duration::from_millis(50));
        if fingerprint(&self.paths) != now {
            return;
        }
        let status = self.reload("change");
        // Changed while being read: leave `seen` behind so the next look reloads again.
        if fingerprint(&self.paths) != now && status.ok {
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

/// The fixture files under `paths` (directories searched recursively), with their sizes and
/// modification times.
fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    let mut out = Vec::new();
    for path in paths {
        walk(path, &mut out);
    }
    out.sort();
    out
}

/// The files `read_all` reads under `path`, each with its length and modification time; the
/// path itself, with no length, when it cannot be listed (a change there is noticed).
fn walk(path: &std::path::Path, out: &mut Fingerprint) {
    let Ok(files) = FixtureSource::paths(path) else {
        out.push((path.to_owned(), u64::MAX, None));
        return;
    };
    for file in files {
        match std::fs::metadata(&file) {
            Ok(meta) => out.push((file, meta.len(), meta.modified().ok())),
            Err(_) => out.push((file, u64::MAX, None)),
        }
    }
}
