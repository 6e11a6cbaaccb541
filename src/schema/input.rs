//! Inputs of `grpc-double breaking`, spelled the way `buf breaking` spells them: a directory of
//! protos, a single `.proto` file, a binary descriptor set (`.binpb`/`.pb`), or a git reference
//! to a local repository (`.git#branch=main`, `.git#ref=HEAD~1`, `.git#tag=v1.2`, each with an
//! optional `,subdir=proto`).
//!
//! Git inputs shell out to the `git` CLI (`rev-parse`, `ls-tree`, `cat-file --batch`) and feed
//! the blobs to [`Loader::source`], so nothing is checked out and the work tree is untouched.

use std::{
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use std::collections::HashMap;

use protox::file::{File, FileResolver};

use super::{
    EmbeddedResolver, GOOGLE_RPC_FILES, Loader, Schema, SchemaPair, SchemaResolver, editions,
    find_protos,
    resolver::{GOOGLE_RPC, locate_eof},
};
use crate::error::{Error, ErrorKind, Result};

/// Which commit a git input names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitRef {
    /// `branch=main`
    Branch(String),
    /// `tag=v1.2`
    Tag(String),
    /// `ref=HEAD~1` (any revision git understands)
    Ref(String),
}

/// One side of a breaking check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A directory: every `.proto` below it, named relative to it.
    Dir(PathBuf),
    /// A single `.proto` file, named relative to its directory.
    File(PathBuf),
    /// A binary `FileDescriptorSet`.
    DescriptorSet(PathBuf),
    /// A commit of a local git repository.
    Git {
        /// The repository's `.git` directory (or the repository itself).
        git_dir: PathBuf,
        /// The commit.
        reference: GitRef,
        /// Only files below this directory of the tree, named relative to it.
        subdir: Option<String>,
    },
}

fn input_error(message: impl Into<String>, help: &str) -> Error {
    ErrorKind::Input {
        message: message.into(),
        help: Some(help.to_owned()),
    }
    .into()
}

const GIT_HELP: &str = "write git inputs as .git#branch=main, .git#ref=HEAD~1 or .git#tag=v1.2, optionally followed by ,subdir=proto";

impl Input {
    /// Parses an input argument.
    ///
    /// # Errors
    ///
    /// A malformed git reference (unknown option, no branch/ref/tag).
    ///
    /// # Examples
    ///
    /// ```
    /// use grpc_double::schema::{GitRef, Input};
    ///
    /// let input = Input::parse(".git#branch=main,subdir=proto")?;
    /// assert_eq!(input, Input::Git { git_dir: ".git".into(), reference: GitRef::Branch("main".into()), subdir: Some("proto".into()) });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        if let Some((path, options)) = text.split_once('#') {
            let mut reference = None;
            let mut subdir = None;
            for option in options.split(',').filter(|o| !o.is_empty()) {
                let (key, value) = option.split_once('=').ok_or_else(|| {
                    input_error(
                        format!("invalid input option \"{option}\" in {text}"),
                        GIT_HELP,
                    )
                })?;
                match key {
                    "branch" => reference = Some(GitRef::Branch(value.to_owned())),
                    "tag" => reference = Some(GitRef::Tag(value.to_owned())),
                    "ref" => reference = Some(GitRef::Ref(value.to_owned())),
                    "subdir" => subdir = Some(value.trim_matches('/').to_owned()),
                    "depth" | "recurse_submodules" => {}
                    "format" if value == "git" => {}
                    "format" if matches!(value, "binpb" | "dir" | "protofile") => {
                        return Self::parse(path).map(|input| match (value, input) {
                            ("binpb", Input::Dir(p) | Input::File(p)) => Input::DescriptorSet(p),
                            (_, other) => other,
                        });
                    }
                    _ => {
                        return Err(input_error(
                            format!("unknown input option \"{key}\" in {text}"),
                            GIT_HELP,
                        ));
                    }
                }
            }
            let reference = reference.ok_or_else(|| {
                input_error(format!("{text} names no branch, ref or tag"), GIT_HELP)
            })?;
            return Ok(Input::Git {
                git_dir: PathBuf::from(if path.is_empty() { ".git" } else { path }),
                reference,
                subdir: subdir.filter(|s| !s.is_empty() && s != "."),
            });
        }
        let path = PathBuf::from(text);
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        Ok(match ext {
            "binpb" | "pb" | "bin" => Input::DescriptorSet(path),
            "proto" => Input::File(path),
            _ => Input::Dir(path),
        })
    }

    /// Gets the prefix printed before file names of this input, e.g. `new` for the directory
    /// `new/` (buf prints `new/acme/v1/user.proto` for a directory without `buf.yaml`).
    pub fn display_prefix(&self) -> String {
        self.display_prefix_in(&[])
    }

    /// Like [`Input::display_prefix`], for an input loaded with the include paths `includes`:
    /// a directory inside one of them has its files named relative to it, so that include
    /// path is the prefix (`-I .` prints `google/api/http.proto` for the input `google`).
    pub fn display_prefix_in(&self, includes: &[PathBuf]) -> String {
        if let Input::Dir(dir) = self {
            let dir = super::clean_path(dir);
            if let Some(root) = includes
                .iter()
                .find(|include| dir.starts_with(super::clean_path(include)))
            {
                return Input::Dir(root.clone()).display_prefix_in(&[]);
            }
        }
        let clean = |p: &Path| {
            let text = p.to_string_lossy().replace('\\', "/");
            let text = text.trim_start_matches("./").trim_end_matches('/');
            if text == "." {
                String::new()
            } else {
                text.to_owned()
            }
        };
        match self {
            Input::Dir(p) => clean(p),
            Input::File(p) => p.parent().map(clean).unwrap_or_default(),
            Input::DescriptorSet(_) => String::new(),
            Input::Git { subdir, .. } => subdir.clone().unwrap_or_default(),
        }
    }

    /// Compiles one of the input's files again, with source info, and returns it: spans for a
    /// schema loaded without them (only directory inputs are loaded that way).
    pub fn source_info(
        &self,
        name: &str,
        includes: &[PathBuf],
    ) -> Option<prost_types::SourceCodeInfo> {
        let Input::Dir(dir) = self else {
            return None;
        };
        let mut roots = includes.to_vec();
        roots.push(dir.clone());
        let resolver = SchemaResolver::new(&roots, EmbeddedResolver::default());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_source_info(true);
        compiler.open_file(name).ok()?;
        compiler
            .file_descriptor_set()
            .file
            .into_iter()
            .find(|f| f.name() == name)?
            .source_code_info
    }

    /// Loads the two sides of a comparison (`grpc-double breaking`), neither with source info.
    ///
    /// When both are directories, the files that are the same on both sides (the same parse,
    /// and everything they import the same) are checked to compile and then left out of both
    /// schemas ([`SchemaPair::unchanged`]): a comparison costs the memory of what changed.
    /// Other inputs are loaded whole, at the same time.
    ///
    /// # Errors
    ///
    /// As [`Input::load`], the current side's first.
    pub fn load_pair(
        previous: &Input,
        current: &Input,
        includes: &[PathBuf],
    ) -> Result<SchemaPair> {
        if let (Input::Dir(p), Input::Dir(c)) = (previous, current)
            && p.is_dir()
            && c.is_dir()
        {
            return super::compare::load_pair(p, c, includes);
        }
        // Each side links on one thread: load them at the same time.
        let (current, previous) = std::thread::scope(|scope| {
            let previous = scope.spawn(|| previous.load_with(includes, false));
            let current = current.load_with(includes, false);
            (current, previous.join())
        });
        let current = current?;
        let previous = previous.map_err(|_| {
            input_error(
                "loading the previous input failed unexpectedly",
                "this is a bug in grpc-double; please report it",
            )
        })??;
        Ok(SchemaPair {
            previous,
            current,
            unchanged: Default::default(),
        })
    }

    /// Compiles the input; `includes` are extra import paths (`-I`).
    ///
    /// # Errors
    ///
    /// I/O and git failures, protox errors with `file:line:col`, invalid descriptor sets.
    pub fn load(&self, includes: &[PathBuf]) -> Result<Schema> {
        self.load_with(includes, true)
    }

    /// Like [`Input::load`]; without `source_info` the schema has no spans (cheaper: the
    /// previous side of a check never prints a location).
    ///
    /// # Errors
    ///
    /// As [`Input::load`].
    pub fn load_with(&self, includes: &[PathBuf], source_info: bool) -> Result<Schema> {
        let mut loader = Loader::new();
        match self {
            Input::Dir(dir) if dir.is_dir() => {
                return load_dir_parallel(dir, includes, source_info);
            }
            Input::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(input_error(
                        format!(
                            "{} is not a directory, .proto file, descriptor set or git reference",
                            dir.display()
                        ),
                        "pass a directory of protos, a .proto file, a .binpb descriptor set or .git#branch=main",
                    ));
                }
                loader.include(dir);
                includes.iter().for_each(|i| {
                    loader.include(i);
                });
                loader.proto(dir);
            }
            Input::File(file) => {
                // The loader adds the file's directory after the -I paths.
                includes.iter().for_each(|i| {
                    loader.include(i);
                });
                loader.proto(file);
            }
            Input::DescriptorSet(path) => {
                loader.descriptor_set(path);
            }
            Input::Git {
                git_dir,
                reference,
                subdir,
            } => {
                for (name, text) in git_files(git_dir, reference, subdir.as_deref(), includes)? {
                    loader.source(name, text);
                }
            }
        }
        loader.load()
    }
}

/// Serves files parsed ahead of time, on worker threads; each is handed over once (protox
/// opens a file once), so no second copy is kept.
struct Parsed(std::sync::Mutex<HashMap<String, File>>);

impl FileResolver for Parsed {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        self.0
            .lock()
            .ok()
            .and_then(|mut files| files.remove(name))
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// Compiles a directory: files are read and parsed in parallel (parsing is most of protox's
/// time on large trees), then linked once by one compiler.
fn load_dir_parallel(dir: &Path, includes: &[PathBuf], source_info: bool) -> Result<Schema> {
    match load_dir_parsed(dir, includes, source_info, !source_info) {
        // Files linked without their source cannot locate a link error (an unknown type):
        // compile again with it, for an error with file:line:col.
        Err(_) if !source_info => load_dir_parsed(dir, includes, false, false),
        result => result,
    }
}

fn load_dir_parsed(
    dir: &Path,
    includes: &[PathBuf],
    source_info: bool,
    strip: bool,
) -> Result<Schema> {
    super::check_includes(includes)?;
    let paths = find_protos(dir)?;
    if paths.is_empty() {
        return Err(ErrorKind::NoProtoFiles {
            path: dir.to_path_buf(),
        }
        .into());
    }
    // protoc's include path: the -I directories, then the input directory; each file is named
    // relative to the first that holds it (`google/api/http.proto` for the input `google`
    // under `-I .`, so its imports find the same file under the same name).
    let mut roots = includes.to_vec();
    roots.push(dir.to_path_buf());
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            super::name_under(p, &roots).unwrap_or_else(|| {
                let relative = p.strip_prefix(dir).unwrap_or(p);
                relative.to_string_lossy().replace('\\', "/")
            })
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = paths.len().div_ceil(threads);
    let parsed: Vec<Result<(String, Option<File>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .zip(names.chunks(chunk))
            .map(|(paths, names)| {
                scope.spawn(move || {
                    paths
                        .iter()
                        .zip(names)
                        .map(|(path, name)| {
                            let text = std::fs::read_to_string(path)
                                .map_err(|err| Error::io(path, err))?;
                            let file = match File::from_source(name, &text) {
                                Ok(file) => file,
                                // Compiled by protoc below, with the others.
                                Err(err) if err.is_parse() && editions::is_editions(&text) => {
                                    return Ok((name.clone(), None));
                                }
                                Err(err) => return Err(locate_eof(err, name, &text).into()),
                            };
                            if strip {
                                // Keep only the descriptor: no text, no source info.
                                let mut proto = file.file_descriptor_proto().clone();
                                proto.source_code_info = None;
                                return Ok((
                                    name.clone(),
                                    Some(File::from_file_descriptor_proto(proto)),
                                ));
                            }
                            Ok((name.clone(), Some(file)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    vec![Err(input_error(
                        format!("a parser thread panicked while reading {}", dir.display()),
                        "please report this as a bug",
                    ))]
                })
            })
            .collect()
    });
    let mut files = HashMap::with_capacity(parsed.len());
    let mut editions = Vec::new();
    for result in parsed {
        match result? {
            (name, Some(file)) => {
                files.insert(name, file);
            }
            (name, None) => editions.push(name),
        }
    }
    if !editions.is_empty() {
        // protox cannot parse these: protoc compiles them, in one run.
        let compiled =
            editions::compile(&editions, &roots, &Default::default(), &GOOGLE_RPC, !strip)?;
        for (name, file) in editions.into_iter().zip(compiled) {
            files.insert(name, file);
        }
    }
    let resolver = SchemaResolver::with_first(
        Some(Parsed(std::sync::Mutex::new(files))),
        includes,
        EmbeddedResolver::default(),
    );
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler
        .include_imports(true)
        .include_source_info(source_info);
    for name in GOOGLE_RPC_FILES {
        compiler.open_file(name)?;
    }
    for name in &names {
        compiler.open_file(name)?;
    }
    Ok(Schema {
        pool: compiler.descriptor_pool(),
        roots: names,
    })
}

fn git(git_dir: &Path) -> Command {
    let mut command = Command::new("git");
    if git_dir.file_name().is_some_and(|n| n == ".git") || git_dir.join("HEAD").is_file() {
        command.arg("--git-dir").arg(git_dir);
    } else {
        command.arg("-C").arg(git_dir);
    }
    command
}

fn run_git(git_dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let output = git(git_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| Error::io("git", err))?;
    if !output.status.success() {
        return Err(input_error(
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            GIT_HELP,
        ));
    }
    Ok(output.stdout)
}

fn resolve_commit(git_dir: &Path, reference: &GitRef) -> Result<String> {
    let candidates: Vec<String> = match reference {
        GitRef::Branch(b) => vec![
            format!("refs/heads/{b}^{{commit}}"),
            format!("refs/remotes/origin/{b}^{{commit}}"),
            format!("{b}^{{commit}}"),
        ],
        GitRef::Tag(t) => vec![format!("refs/tags/{t}^{{commit}}")],
        GitRef::Ref(r) => vec![format!("{r}^{{commit}}")],
    };
    let mut last = None;
    for candidate in &candidates {
        match run_git(git_dir, &["rev-parse", "--verify", "--quiet", candidate]) {
            Ok(out) => return Ok(String::from_utf8_lossy(&out).trim().to_owned()),
            Err(err) => last = Some(err),
        }
    }
    let name = match reference {
        GitRef::Branch(b) => format!("branch {b}"),
        GitRef::Tag(t) => format!("tag {t}"),
        GitRef::Ref(r) => format!("ref {r}"),
    };
    Err(last.map_or_else(
        || input_error(format!("cannot resolve {name}"), GIT_HELP),
        |_| {
            input_error(
                format!("cannot resolve {name} in {}", git_dir.display()),
                GIT_HELP,
            )
        },
    ))
}

/// Reads every `.proto` file of a commit (below `subdir`), named relative to `subdir` or to the
/// first include directory that contains it.
fn git_files(
    git_dir: &Path,
    reference: &GitRef,
    subdir: Option<&str>,
    includes: &[PathBuf],
) -> Result<Vec<(String, String)>> {
    let commit = resolve_commit(git_dir, reference)?;
    let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", commit.as_str()];
    if let Some(subdir) = subdir {
        args.push("--");
        args.push(subdir);
    }
    let listing = run_git(git_dir, &args)?;
    let mut entries = Vec::new();
    for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((meta, path)) = record.split_once('\t') else {
            continue;
        };
        let mut parts = meta.split_whitespace();
        let (Some(_mode), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if kind == "blob" && path.ends_with(".proto") {
            entries.push((path.to_owned(), id.to_owned()));
        }
    }
    if entries.is_empty() {
        return Err(input_error(
            format!(
                "no .proto files in {}{}",
                commit.get(..12).unwrap_or(&commit),
                subdir.map(|s| format!(" under {s}")).unwrap_or_default()
            ),
            "check the subdir= option and that the protos are committed",
        ));
    }
    let blobs = cat_blobs(git_dir, entries.iter().map(|(_, id)| id.as_str()))?;
    let roots: Vec<String> = includes
        .iter()
        .map(|i| {
            i.to_string_lossy()
                .trim_matches('/')
                .trim_start_matches("./")
                .to_owned()
        })
        .chain(subdir.map(str::to_owned))
        .collect();
    let mut out = Vec::new();
    for ((path, _), text) in entries.into_iter().zip(blobs) {
        let name = roots
            .iter()
            .filter(|r| !r.is_empty() && r.as_str() != ".")
            .find_map(|r| {
                path.strip_prefix(r.as_str())
                    .and_then(|p| p.strip_prefix('/'))
            })
            .unwrap_or(&path)
            .to_owned();
        out.push((name, text));
    }
    Ok(out)
}

/// Reads blobs with one `git cat-file --batch` process.
fn cat_blobs<'a>(git_dir: &Path, ids: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut child = git(git_dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| Error::io("git", err))?;
    let request: String = ids.map(|id| format!("{id}\n")).collect();
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| input_error("git cat-file has no stdin", GIT_HELP))?;
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut raw = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| input_error("git cat-file has no stdout", GIT_HELP))?
        .read_to_end(&mut raw)
        .map_err(|err| Error::io("git", err))?;
    let _ = writer.join();
    let _ = child.wait();
    let mut out = Vec::new();
    let mut rest = &raw[..];
    while !rest.is_empty() {
        let header_end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| input_error("truncated git cat-file output", GIT_HELP))?;
        let header = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                input_error(
                    format!("unexpected git cat-file header: {header}"),
                    GIT_HELP,
                )
            })?;
        let body = rest
            .get(header_end + 1..header_end + 1 + size)
            .ok_or_else(|| input_error("truncated git cat-file output", GIT_HELP))?;
        out.push(String::from_utf8_lossy(body).into_owned());
        rest = rest.get(header_end + 2 + size..).unwrap_or(&[]);
    }
    Ok(out)
}
