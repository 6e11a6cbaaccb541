//! The crate's layers, checked from its source (in the spirit of rust-analyzer's tidy tests).
//!
//! `schema` is at the bottom; `fake`, `breaking` and `roundtrip` stand side by side on it and
//! never import one another; `explain.rs` is the one place that combines two; `error.rs` names no
//! capability; inside `fake`, data flows load → model → serve, so `serve/` never imports `load/`,
//! `model/` imports neither, `harness/` (the builder, `FakeServer`, the admin API) is the one room
//! that combines loader and server and nothing below imports it, and no files import each other
//! in a circle.
//!
//! Every `crate::…`, `super::…` and `self::…` path in `src/` (in `use` trees and in code) is
//! resolved to the file that defines it. Re-exports (`pub use`) are a module's facade, not a
//! dependency: a path through a re-export resolves to the file the item comes from.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// A module path, e.g. `["fake", "load", "then"]`.
type ModPath = Vec<String>;

/// A file, its module path, and the paths it names (with whether as a re-export).
type FileImports = (PathBuf, ModPath, Vec<(bool, ModPath)>);

struct Crate {
    /// Module path → source file (relative to `src/`).
    modules: BTreeMap<ModPath, PathBuf>,
    /// For each module, the names it re-exports and where they come from.
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    /// For each file, the module paths it imports (not counting re-exports).
    imports: BTreeMap<PathBuf, BTreeSet<ModPath>>,
}

fn module_path(file: &Path) -> ModPath {
    let mut parts: Vec<String> = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, string literals and `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"r#\"") {
            let end = text[i + 3..]
                .find("\"#")
                .map_or(bytes.len(), |e| i + 3 + e + 2);
            i = end;
            out.push_str("\"\"");
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && rest.get(2) == Some(&b'\'') {
            i += 3;
        } else if bytes[i] == b'\'' && rest.get(1) == Some(&b'\\') {
            i += rest[2..]
                .iter()
                .position(|b| *b == b'\'')
                .map_or(2, |p| p + 3);
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into paths.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<ModPath>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut base = prefix.to_vec();
        base.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, out);
        return;
    }
    let tree = tree.split(" as ").next().unwrap_or(tree);
    let mut path = prefix.to_vec();
    path.extend(
        tree.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
    out.push(path);
}

/// Makes a path absolute: `super::x` and `self::x` relative to `module`.
fn absolute(path: &[String], module: &[String]) -> Option<ModPath> {
    let mut base: ModPath = module.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

impl Crate {
    fn read() -> Self {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut krate = Crate {
            modules: BTreeMap::new(),
            reexports: BTreeMap::new(),
            imports: BTreeMap::new(),
        };
        let mut raw: Vec<FileImports> = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap().to_path_buf();
            // The binary (main.rs, cli/) is its own crate: `crate::` there is not the library.
            if rel.starts_with("cli") || rel == Path::new("main.rs") {
                continue;
            }
            let module = module_path(&rel);
            krate.modules.insert(module.clone(), rel.clone());
            let code = code_of(&fs::read_to_string(&file).unwrap());
            let mut paths = Vec::new();
            // `use` statements, with whether they re-export.
            for statement in code.split(';') {
                let s = statement.trim();
                let Some(at) = s.find("use ") else { continue };
                let (before, tree) = (s[..at].trim(), &s[at + 4..]);
                let before = before.rsplit(['\n', '}', '{']).next().unwrap_or("").trim();
                if !(before.is_empty() || before.starts_with("pub")) {
                    continue;
                }
                let tree = tree.trim();
                if !(tree.starts_with("crate::")
                    || tree.starts_with("super::")
                    || tree.starts_with("self::"))
                {
                    continue;
                }
                let mut expanded = Vec::new();
                expand(tree, &[], &mut expanded);
                for p in expanded {
                    if let Some(abs) = absolute(&p, &module) {
                        paths.push((before.starts_with("pub"), abs));
                    }
                }
            }
            // Paths written in code: `crate::roundtrip::find(…)`.
            for (i, _) in code.match_indices("crate::") {
                if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let tail: String = code[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let p: ModPath = tail
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(abs) = absolute(&p, &module) {
                    paths.push((false, abs));
                }
            }
            raw.push((rel, module, paths));
        }
        for (_, module, paths) in &raw {
            for (reexport, path) in paths {
                if *reexport && let Some(name) = path.last() {
                    krate
                        .reexports
                        .entry(module.clone())
                        .or_default()
                        .insert(name.clone(), path.clone());
                }
            }
        }
        for (rel, _, paths) in raw {
            let entry = krate.imports.entry(rel).or_default();
            for (reexport, path) in paths {
                if !reexport {
                    entry.insert(path);
                }
            }
        }
        krate
    }

    /// The file that defines the item at `path`, following re-exports.
    fn resolve(&self, path: &[String]) -> Option<PathBuf> {
        self.resolve_within(path, 8)
    }

    fn resolve_within(&self, path: &[String], hops: u32) -> Option<PathBuf> {
        let mut n = path.len();
        while n > 0 && !self.modules.contains_key(&path[..n]) {
            n -= 1;
        }
        let module = &path[..n];
        // `module::Item` where `module` re-exports `Item` from elsewhere: follow it.
        if hops > 0
            && let Some(next) = path.get(n)
            && let Some(target) = self.reexports.get(module).and_then(|r| r.get(next))
            && target.as_slice() != path
        {
            let mut followed = target.clone();
            followed.extend(path[n + 1..].iter().cloned());
            return self.resolve_within(&followed, hops - 1);
        }
        self.modules.get(module).cloned()
    }

    /// Every (file, imported file) edge.
    fn edges(&self) -> Vec<(PathBuf, PathBuf, ModPath)> {
        let mut out = Vec::new();
        for (file, paths) in &self.imports {
            for path in paths {
                if let Some(target) = self.resolve(path)
                    && &target != file
                {
                    out.push((file.clone(), target, path.clone()));
                }
            }
        }
        out
    }
}

fn top(file: &Path) -> String {
    let first = file
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

const CAPABILITIES: [&str; 3] = ["fake", "breaking", "roundtrip"];

fn violations(krate: &Crate) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to, path) in krate.edges() {
        let (a, b) = (top(&from), top(&to));
        let path = path.join("::");
        let what = format!("{} imports {} (`{path}`)", from.display(), to.display());
        if a == "schema" && b != "schema" && b != "error" {
            out.push(format!("schema is the bottom layer: {what}"));
        }
        if CAPABILITIES.contains(&a.as_str())
            && a != b
            && (CAPABILITIES.contains(&b.as_str()) || b == "explain")
        {
            out.push(format!("capabilities do not import each other: {what}"));
        }
        if a == "error" && (CAPABILITIES.contains(&b.as_str()) || b == "explain") {
            out.push(format!("error.rs names no capability: {what}"));
        }
        if from.starts_with("fake/serve") && to.starts_with("fake/load") {
            out.push(format!("serve reads the model, never the loader: {what}"));
        }
        if from.starts_with("fake/model")
            && (to.starts_with("fake/load") || to.starts_with("fake/serve"))
        {
            out.push(format!("the model is plain data: {what}"));
        }
        if from.starts_with("fake/")
            && !from.starts_with("fake/harness")
            && from != Path::new("fake/mod.rs")
            && to.starts_with("fake/harness")
        {
            out.push(format!(
                "only the harness combines loader and server: {what}"
            ));
        }
    }
    out.extend(cycles(krate, "fake"));
    out
}

/// Circles of imports between files under `src/<dir>`.
fn cycles(krate: &Crate, dir: &str) -> Vec<String> {
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (from, to, _) in krate.edges() {
        if from.starts_with(dir) && to.starts_with(dir) {
            graph.entry(from).or_default().insert(to);
        }
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![start.clone()];
        find_cycle(&graph, &mut stack, &mut done, &mut out);
    }
    out
}

fn find_cycle(
    graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    stack: &mut Vec<PathBuf>,
    done: &mut BTreeSet<PathBuf>,
    out: &mut Vec<String>,
) {
    let node = stack.last().unwrap().clone();
    if done.contains(&node) {
        return;
    }
    for next in graph.get(&node).into_iter().flatten() {
        if let Some(i) = stack.iter().position(|n| n == next) {
            let circle: Vec<String> = stack[i..]
                .iter()
                .chain(std::iter::once(next))
                .map(|p| p.display().to_string())
                .collect();
            out.push(format!(
                "files import each other in a circle: {}",
                circle.join(" -> ")
            ));
            continue;
        }
        stack.push(next.clone());
        find_cycle(graph, stack, done, out);
        stack.pop();
    }
    done.insert(node);
}

#[test]
fn layers_only_point_down() {
    let krate = Crate::read();
    assert!(krate.edges().len() > 50, "the checker sees the imports");
    let found = violations(&krate);
    assert!(
        found.is_empty(),
        "layering violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layering_check_catches_each_kind_of_violation() {
    // A crate made of the real one plus planted bad imports: each must be reported.
    let mut krate = Crate::read();
    let plant = |krate: &mut Crate, file: &str, path: &str| {
        krate
            .imports
            .entry(PathBuf::from(file))
            .or_default()
            .insert(path.split("::").map(str::to_owned).collect());
    };
    plant(&mut krate, "schema/mod.rs", "fake::model");
    plant(&mut krate, "breaking/mod.rs", "roundtrip");
    plant(&mut krate, "error.rs", "fake::load");
    plant(
        &mut krate,
        "fake/serve/service.rs",
        "fake::load::FixtureSource",
    );
    plant(&mut krate, "fake/model/stub.rs", "fake::serve::service");
    plant(
        &mut krate,
        "fake/serve/route.rs",
        "fake::harness::FakeServer",
    );
    let found = violations(&krate).join("\n");
    for expected in [
        "schema is the bottom layer: schema/mod.rs imports fake/model/mod.rs",
        "capabilities do not import each other: breaking/mod.rs imports roundtrip/mod.rs",
        "error.rs names no capability: error.rs imports fake/load/mod.rs",
        "serve reads the model, never the loader: fake/serve/service.rs imports fake/load/source.rs",
        "the model is plain data: fake/model/stub.rs imports fake/serve/service.rs",
        "only the harness combines loader and server: fake/serve/route.rs imports fake/harness/server.rs",
        "files import each other in a circle",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
}
