//! Two directory trees loaded for a comparison (`grpc-double breaking NEW --against OLD`), at the
//! memory of what differs between them.
//!
//! Why: a check pairs each element with its counterpart by name, and an element of a file that is
//! the same on both sides pairs with itself, where no rule finds anything. Linking both trees
//! whole keeps two full descriptor pools alive — about 85 KB per file each, most of a run's
//! memory. Here a file is *unchanged* when both sides parse it to the same descriptor (comments
//! and layout do not count) and everything it imports is unchanged too; only the other files,
//! with what they import, are linked into the two schemas.
//!
//! Unchanged files are still linked once, from the current side, in bounded chunks whose pools
//! are dropped as soon as they link, so a tree that does not compile is an error, as it is for
//! buf. Every file is parsed once: the parse is kept encoded (a tenth of its decoded size), and
//! linking decodes it when a compiler opens it.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use protox::file::{File, FileResolver};

use super::{
    EmbeddedResolver, GOOGLE_RPC_FILES, Schema, SchemaResolver, check_includes, editions,
    find_protos, name_under,
    resolver::{GOOGLE_RPC, locate_eof},
};
use crate::error::{Error, ErrorKind, Result};

/// Unchanged files linked per validation chunk: small enough that a chunk's pool stays a few
/// MB, large enough that the imports each chunk links again stay a small share.
const CHUNK: usize = 128;

/// The two sides of a comparison, without the files that are the same on both.
///
/// Built by [`Input::load_pair`](super::Input::load_pair); `breaking::check_pair` compares it.
#[derive(Debug, Clone)]
pub struct SchemaPair {
    /// The previous side (`--against`): the files that differ from the current side, and what
    /// they import.
    pub previous: Schema,
    /// The current side: the files that differ from the previous side, and what they import.
    pub current: Schema,
    /// The files that are the same on both sides and in neither schema's root files, by name,
    /// with their package, e.g. `acme/v1/user.proto` → `acme.v1`.
    pub unchanged: BTreeMap<String, String>,
}

/// One file of a side, parsed.
struct Parsed {
    /// The parse without source info, encoded: what sides compare and what linking decodes.
    encoded: Bytes,
    imports: Vec<String>,
    package: String,
}

type Tree = BTreeMap<String, Parsed>;

/// Loads two directory inputs for a comparison: see the module docs.
pub(crate) fn load_pair(
    previous: &Path,
    current: &Path,
    includes: &[PathBuf],
) -> Result<SchemaPair> {
    check_includes(includes)?;
    let (prev, cur) = scan_pair(previous, current, includes)?;
    let unchanged = unchanged_files(&prev, &cur);

    // An unchanged file's parse is the same on both sides: keep one copy.
    let files = |tree: &Tree| -> Arc<HashMap<String, Bytes>> {
        Arc::new(
            tree.iter()
                .map(|(name, parsed)| {
                    let bytes = match cur.get(name) {
                        Some(c) if unchanged.contains(name) => c.encoded.clone(),
                        _ => parsed.encoded.clone(),
                    };
                    (name.clone(), bytes)
                })
                .collect(),
        )
    };
    let (prev_files, cur_files) = (files(&prev), files(&cur));
    let changed = |tree: &Tree| -> Vec<String> {
        tree.keys()
            .filter(|name| !unchanged.contains(*name))
            .cloned()
            .collect()
    };
    let (prev_open, cur_open) = (changed(&prev), changed(&cur));
    // Unchanged files the current schema links anyway (imports of changed files) need no chunk.
    let linked = reachable(&cur, &cur_open);
    let to_validate: Vec<String> = unchanged
        .iter()
        .filter(|name| !linked.contains(*name))
        .cloned()
        .collect();
    let packages: BTreeMap<String, String> = unchanged
        .iter()
        .filter_map(|name| Some((name.clone(), cur.get(name)?.package.clone())))
        .collect();
    drop((prev, cur));

    let mut jobs = vec![
        Job::Side(current, &cur_files, &cur_open),
        Job::Side(previous, &prev_files, &prev_open),
    ];
    jobs.extend(
        to_validate
            .chunks(CHUNK)
            .map(|chunk| Job::Validate(current, &cur_files, chunk)),
    );
    let mut pools = run_jobs(&jobs, includes)?.into_iter();
    let (Some(current_pool), Some(previous_pool)) = (pools.next(), pools.next()) else {
        unreachable!("the two side jobs come first and return their pools")
    };
    Ok(SchemaPair {
        previous: Schema {
            pool: previous_pool,
            roots: prev_open,
        },
        current: Schema {
            pool: current_pool,
            roots: cur_open,
        },
        unchanged: packages,
    })
}

/// The `.proto` files below an input directory, named as the loaders name them: relative to
/// the first `-I` root that holds them, else to the directory.
fn list(dir: &Path, includes: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let paths = find_protos(dir)?;
    if paths.is_empty() {
        return Err(ErrorKind::NoProtoFiles {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let mut roots = includes.to_vec();
    roots.push(dir.to_path_buf());
    Ok(paths
        .into_iter()
        .map(|p| {
            let name = name_under(&p, &roots).unwrap_or_else(|| {
                let relative = p.strip_prefix(dir).unwrap_or(&p);
                relative.to_string_lossy().replace('\\', "/")
            });
            (name, p)
        })
        .collect())
}

/// Where a parse's bytes are in a worker's buffer: its own range, or the current side's parse of
/// the same file when the two are the same.
enum Slot {
    Own(std::ops::Range<usize>),
    SameAsCurrent,
}

type Scanned = Result<Option<(Slot, Vec<String>, String)>>;

/// Parses both trees on worker threads (editions files through protoc, one run per side). A
/// worker parses a name on both sides one after the other and keeps one copy when the parses
/// are the same. Working by name also keeps each file's large, short-lived parse on one thread,
/// whose allocator arena then serves both sides.
fn scan_pair(previous: &Path, current: &Path, includes: &[PathBuf]) -> Result<(Tree, Tree)> {
    let cur_files = list(current, includes)?;
    let prev_files = list(previous, includes)?;
    let mut by_name: BTreeMap<&str, (Option<&Path>, Option<&Path>)> = BTreeMap::new();
    for (name, path) in &cur_files {
        by_name.entry(name).or_default().0 = Some(path);
    }
    for (name, path) in &prev_files {
        by_name.entry(name).or_default().1 = Some(path);
    }
    let work: Vec<(&str, Option<&Path>, Option<&Path>)> =
        by_name.into_iter().map(|(n, (c, p))| (n, c, p)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = work.len().div_ceil(threads).max(1);
    type Done<'a> = Vec<(&'a str, Option<(Scanned, Bytes)>, Option<(Scanned, Bytes)>)>;
    let done: Vec<Done<'_>> = std::thread::scope(|scope| {
        let workers: Vec<_> = work
            .chunks(chunk)
            .map(|work| {
                scope.spawn(move || {
                    // One buffer per worker: long-lived bytes do not end up scattered between
                    // the parser's short-lived allocations.
                    let mut buffer = Vec::new();
                    let mut keep = |parsed: Result<Option<FileParse>>, same: Option<&[u8]>| {
                        parsed.map(|parsed| {
                            parsed.map(|(encoded, imports, package)| {
                                let slot = if same == Some(encoded.as_slice()) {
                                    Slot::SameAsCurrent
                                } else {
                                    let start = buffer.len();
                                    buffer.extend_from_slice(&encoded);
                                    Slot::Own(start..buffer.len())
                                };
                                (slot, imports, package)
                            })
                        })
                    };
                    let mut out = Vec::with_capacity(work.len());
                    for &(name, cur, prev) in work {
                        let cur = cur.map(|path| parse(path, name));
                        let cur_bytes = match &cur {
                            Some(Ok(Some((encoded, _, _)))) => Some(encoded.clone()),
                            _ => None,
                        };
                        let cur = cur.map(|parsed| keep(parsed, None));
                        let prev = prev.map(|path| keep(parse(path, name), cur_bytes.as_deref()));
                        out.push((name, cur, prev));
                    }
                    let buffer = Bytes::from(buffer);
                    out.into_iter()
                        .map(|(name, cur, prev)| {
                            (
                                name,
                                cur.map(|c| (c, buffer.clone())),
                                prev.map(|p| (p, buffer.clone())),
                            )
                        })
                        .collect::<Done<'_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    vec![(
                        "",
                        Some((Err(panicked("parsing a tree")), Bytes::new())),
                        None,
                    )]
                })
            })
            .collect()
    });
    // The current side's errors first, each side's in file order.
    let mut cur = Tree::new();
    let mut prev = Tree::new();
    let (mut cur_editions, mut prev_editions) = (Vec::new(), Vec::new());
    let mut prev_pending = Vec::new();
    for (name, c, p) in done.into_iter().flatten() {
        if let Some((scanned, buffer)) = c {
            match scanned? {
                Some((Slot::Own(range), imports, package)) => {
                    let encoded = buffer.slice(range);
                    cur.insert(
                        name.to_owned(),
                        Parsed {
                            encoded,
                            imports,
                            package,
                        },
                    );
                }
                Some((Slot::SameAsCurrent, ..)) => unreachable!("only previous parses are shared"),
                None => cur_editions.push(name.to_owned()),
            }
        }
        if let Some(p) = p {
            prev_pending.push((name, p));
        }
    }
    for (name, (scanned, buffer)) in prev_pending {
        match scanned? {
            Some((slot, imports, package)) => {
                let encoded = match slot {
                    Slot::Own(range) => buffer.slice(range),
                    Slot::SameAsCurrent => cur
                        .get(name)
                        .map(|c| c.encoded.clone())
                        .ok_or_else(|| panicked("sharing a parse"))?,
                };
                prev.insert(
                    name.to_owned(),
                    Parsed {
                        encoded,
                        imports,
                        package,
                    },
                );
            }
            None => prev_editions.push(name.to_owned()),
        }
    }
    compile_editions(&mut cur, cur_editions, current, includes)?;
    compile_editions(&mut prev, prev_editions, previous, includes)?;
    Ok((prev, cur))
}

/// protox cannot parse editions files: protoc compiles a side's, in one run.
fn compile_editions(
    tree: &mut Tree,
    names: Vec<String>,
    dir: &Path,
    includes: &[PathBuf],
) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut roots = includes.to_vec();
    roots.push(dir.to_path_buf());
    let compiled =
        editions::compile_encoded(&names, &roots, &Default::default(), &GOOGLE_RPC, false)?;
    for (name, bytes) in names.into_iter().zip(compiled) {
        let proto = prost_types::FileDescriptorProto::decode(bytes.as_slice())
            .map_err(|err| panicked(&format!("decoding what protoc wrote for {name}: {err}")))?;
        tree.insert(
            name,
            Parsed {
                imports: proto.dependency,
                package: proto.package.unwrap_or_default(),
                encoded: Bytes::from(bytes),
            },
        );
    }
    Ok(())
}

/// One file's parse without source info (encoded), its imports and its package.
type FileParse = (Vec<u8>, Vec<String>, String);

/// Parses one file: its parse without source info, encoded, its imports and its package;
/// `None` for an editions file (protoc compiles those).
fn parse(path: &Path, name: &str) -> Result<Option<FileParse>> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
    let file = match File::from_source(name, &text) {
        Ok(file) => file,
        Err(err) if err.is_parse() && editions::is_editions(&text) => return Ok(None),
        Err(err) => return Err(locate_eof(err, name, &text).into()),
    };
    let mut proto = file.file_descriptor_proto().clone();
    proto.source_code_info = None;
    let encoded = proto.encode_to_vec();
    Ok(Some((
        encoded,
        std::mem::take(&mut proto.dependency),
        proto.package.take().unwrap_or_default(),
    )))
}

fn panicked(what: &str) -> Error {
    ErrorKind::Input {
        message: format!("grpc-double failed {what}"),
        help: Some("please report this as a bug".to_owned()),
    }
    .into()
}

/// The files that are the same on both sides: the same parse, and every import unchanged (an
/// import both sides resolve outside their trees, from `-I` or the bundled files, counts as
/// unchanged; one that only one side holds does not).
fn unchanged_files(previous: &Tree, current: &Tree) -> BTreeSet<String> {
    fn same<'a>(
        name: &'a str,
        previous: &'a Tree,
        current: &'a Tree,
        memo: &mut HashMap<&'a str, bool>,
    ) -> bool {
        if let Some(&known) = memo.get(name) {
            return known;
        }
        // An import cycle (an error protox reports) must not recurse forever.
        memo.insert(name, false);
        let result = match (previous.get(name), current.get(name)) {
            (Some(p), Some(c)) if p.encoded == c.encoded => c.imports.iter().all(|import| {
                match (previous.contains_key(import), current.contains_key(import)) {
                    (true, true) => same(import, previous, current, memo),
                    (false, false) => true,
                    _ => false,
                }
            }),
            _ => false,
        };
        memo.insert(name, result);
        result
    }
    let mut memo = HashMap::new();
    current
        .keys()
        .filter(|name| same(name, previous, current, &mut memo))
        .cloned()
        .collect()
}

/// The files of `tree` that opening `roots` links: the roots and everything they import.
fn reachable(tree: &Tree, roots: &[String]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = roots.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        let Some(parsed) = tree.get(name) else {
            continue;
        };
        if seen.insert(name.to_owned()) {
            stack.extend(parsed.imports.iter().map(String::as_str));
        }
    }
    seen
}

/// Serves a side's parsed files by name, each decoded when a compiler opens it.
struct Encoded(Arc<HashMap<String, Bytes>>);

impl FileResolver for Encoded {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        let bytes = self
            .0
            .get(name)
            .ok_or_else(|| protox::Error::file_not_found(name))?;
        File::decode_file_descriptor_proto(bytes.clone()).map_err(protox::Error::new)
    }
}

/// Work for the loader's threads: link a side's changed files (keeping the pool), or link a
/// chunk of unchanged files to check that they compile (dropping it).
enum Job<'a> {
    Side(&'a Path, &'a Arc<HashMap<String, Bytes>>, &'a [String]),
    Validate(&'a Path, &'a Arc<HashMap<String, Bytes>>, &'a [String]),
}

/// Runs the jobs on up to two threads (each link is single-threaded; two overlap on two cores
/// and keep at most two pools in the making); returns the side pools in job order, or the
/// first job's error in job order.
fn run_jobs(jobs: &[Job<'_>], includes: &[PathBuf]) -> Result<Vec<DescriptorPool>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Option<DescriptorPool>>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let result = match job {
                        Job::Side(dir, files, open) => link(dir, files, open, includes).map(Some),
                        Job::Validate(dir, files, open) => {
                            link(dir, files, open, includes).map(|pool| {
                                drop(pool);
                                None
                            })
                        }
                    };
                    let failed = result.is_err();
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(result);
                    }
                    if failed {
                        // Later jobs cannot change the outcome: the first error wins.
                        next.fetch_add(jobs.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| panicked("linking a tree"))?;
    let mut pools = Vec::new();
    for result in results {
        match result {
            Some(Ok(Some(pool))) => pools.push(pool),
            Some(Ok(None)) => {}
            Some(Err(err)) => return Err(err),
            // Skipped after an earlier job's error, or its thread panicked.
            None => return Err(panicked("linking a tree")),
        }
    }
    Ok(pools)
}

/// Links `open` (and what they import) from a side's parsed files.
fn link(
    dir: &Path,
    files: &Arc<HashMap<String, Bytes>>,
    open: &[String],
    includes: &[PathBuf],
) -> Result<DescriptorPool> {
    let resolver = SchemaResolver::with_first(
        Some(Encoded(Arc::clone(files))),
        includes,
        EmbeddedResolver::default(),
    );
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(false);
    let linked = GOOGLE_RPC_FILES
        .iter()
        .copied()
        .chain(open.iter().map(String::as_str))
        .try_for_each(|name| compiler.open_file(name).map(|_| ()));
    match linked {
        Ok(()) => Ok(compiler.descriptor_pool()),
        Err(err) => Err(locate(dir, open, includes).unwrap_or(err).into()),
    }
}

/// A link error found from parses (which carry no source) again from the sources, for its
/// `file:line:col`; `None` if the sources link (they should not).
fn locate(dir: &Path, open: &[String], includes: &[PathBuf]) -> Option<protox::Error> {
    let mut roots = includes.to_vec();
    roots.push(dir.to_path_buf());
    let resolver = SchemaResolver::new(&roots, EmbeddedResolver::default());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(false);
    GOOGLE_RPC_FILES
        .iter()
        .copied()
        .chain(open.iter().map(String::as_str))
        .try_for_each(|name| compiler.open_file(name).map(|_| ()))
        .err()
}
