//! Run-time protobuf schemas: `.proto` files compiled with protox (no protoc), binary descriptor
//! sets, and the bundled example contract.
//!
//! A [`Schema`] is a [`DescriptorPool`] plus the names of the files the user asked for (as opposed
//! to their imports). Well-known types (`google/protobuf/*.proto`) and the Google error model
//! (`google/rpc/{status,code,error_details}.proto`) resolve without the user shipping them.

mod compare;
mod editions;
mod input;
mod names;
mod resolver;
mod span;
mod text;
pub(crate) mod value;

use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::{DescriptorPool, MethodDescriptor, ServiceDescriptor};

pub use self::{
    compare::SchemaPair,
    editions::edition,
    input::{GitRef, Input},
    names::{find_method, method_name},
    span::{Span, locate, span_in},
    text::parse_duration,
};
pub(crate) use self::{
    editions::syntax,
    names::{did_you_mean, find_field, suggest},
    text::{decode_base64, parse_float, parse_int},
};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use self::resolver::{EmbeddedResolver, SchemaResolver};

/// Files compiled into every schema so that fixtures can attach typed error details.
const GOOGLE_RPC_FILES: [&str; 2] = ["google/rpc/status.proto", "google/rpc/error_details.proto"];

/// The bundled example contract, `proto/users.proto`.
pub const BUNDLED_PROTO: &str = include_str!("../../proto/users.proto");
/// The name the bundled contract is compiled under.
pub const BUNDLED_PROTO_NAME: &str = "users.proto";

/// A compiled set of protobuf files.
///
/// # Examples
///
/// ```
/// use grpc_double::Schema;
///
/// let schema = Schema::bundled();
/// let service = schema.pool().get_service_by_name("userservice.UserService").unwrap();
/// assert_eq!(service.methods().len(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct Schema {
    pool: DescriptorPool,
    roots: Vec<String>,
}

impl Schema {
    /// Compiles `.proto` files (or every `.proto` below a directory) with the given include paths.
    ///
    /// With no include path, each file's own directory (or the directory itself) is the include
    /// path, so `Schema::compile(["proto/users.proto"], [] as [&str; 0])` compiles the file as
    /// `users.proto`.
    ///
    /// # Errors
    ///
    /// I/O errors, and protox's parse and type errors with `file:line:col`.
    pub fn compile<P, I>(
        protos: impl IntoIterator<Item = P>,
        includes: impl IntoIterator<Item = I>,
    ) -> Result<Self>
    where
        P: AsRef<Path>,
        I: AsRef<Path>,
    {
        let mut loader = Loader::new();
        for include in includes {
            loader.include(include.as_ref());
        }
        for proto in protos {
            loader.proto(proto.as_ref());
        }
        loader.load()
    }

    /// Compiles in-memory `.proto` sources, given as `(file name, text)` pairs.
    ///
    /// # Errors
    ///
    /// protox's parse and type errors, located in the given text.
    pub fn from_sources<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut loader = Loader::new();
        for (name, text) in files {
            loader.source(name, text);
        }
        loader.load()
    }

    /// Decodes a binary `FileDescriptorSet` (`buf build -o x.binpb`, `protoc --include_imports -o`).
    ///
    /// # Errors
    ///
    /// The bytes are not a descriptor set, or it references types it does not contain.
    pub fn from_descriptor_set(bytes: &[u8], name: &str) -> Result<Self> {
        let mut loader = Loader::new();
        loader.descriptor_set_bytes(name, bytes.to_vec());
        loader.load()
    }

    /// Wraps a descriptor pool built elsewhere; every file of the pool counts as a root file.
    pub fn from_pool(pool: DescriptorPool) -> Self {
        let roots = pool.files().map(|f| f.name().to_owned()).collect();
        Self { pool, roots }
    }

    /// Gets the bundled example contract, `userservice.UserService` from `proto/users.proto`.
    pub fn bundled() -> Self {
        // The bundled proto is compiled by build.rs too, so this cannot fail at run time.
        Self::from_sources([(BUNDLED_PROTO_NAME, BUNDLED_PROTO)])
            .unwrap_or_else(|err| unreachable!("the bundled users.proto compiles: {err}"))
    }

    /// Gets the descriptor pool: every file, including imports and well-known types.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// Gets the names of the files the schema was built from (not their imports),
    /// e.g. `users.proto`.
    pub fn root_files(&self) -> &[String] {
        &self.roots
    }

    /// Gets the services declared in the root files, in file order.
    pub fn services(&self) -> impl Iterator<Item = ServiceDescriptor> + '_ {
        self.roots
            .iter()
            .filter_map(|name| self.pool.get_file_by_name(name))
            .flat_map(|file| file.services().collect::<Vec<_>>())
    }

    /// Looks up a method written `package.Service/Method` (a leading `/` is accepted).
    pub fn method(&self, name: &str) -> Option<MethodDescriptor> {
        find_method(&self.pool, name)
    }

    /// Encodes every file of the pool as a `FileDescriptorSet`, imports first, with `json_name`
    /// set on every field (what server reflection clients such as grpcurl expect).
    pub fn encode_file_descriptor_set(&self) -> Vec<u8> {
        let mut set = prost_types::FileDescriptorSet::default();
        for file in self.pool.files() {
            let mut proto = file.file_descriptor_proto().clone();
            proto.source_code_info = None;
            set_json_names(&self.pool, &mut proto.message_type, file.package_name());
            set.file.push(proto);
        }
        set.encode_to_vec()
    }
}

/// Fills `json_name` on every field of `protos` (messages declared in `scope`), as protoc does.
fn set_json_names(pool: &DescriptorPool, protos: &mut [prost_types::DescriptorProto], scope: &str) {
    for proto in protos {
        let full_name = if scope.is_empty() {
            proto.name().to_owned()
        } else {
            format!("{scope}.{}", proto.name())
        };
        if let Some(message) = pool.get_message_by_name(&full_name) {
            for field_proto in &mut proto.field {
                let number = u32::try_from(field_proto.number()).unwrap_or_default();
                if let (None, Some(field)) = (&field_proto.json_name, message.get_field(number)) {
                    field_proto.json_name = Some(field.json_name().to_owned());
                }
            }
        }
        set_json_names(pool, &mut proto.nested_type, &full_name);
    }
}

/// Builds a [`Schema`] from `.proto` files, directories, in-memory sources and descriptor sets.
///
/// # Examples
///
/// ```
/// use grpc_double::schema::Loader;
///
/// let mut loader = Loader::new();
/// loader.source("greet.proto", "syntax = \"proto3\"; package greet; message Hi { string name = 1; }");
/// let schema = loader.load()?;
/// assert!(schema.pool().get_message_by_name("greet.Hi").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Loader {
    includes: Vec<PathBuf>,
    protos: Vec<PathBuf>,
    sources: Vec<(String, String)>,
    descriptor_sets: Vec<DescriptorSetInput>,
}

#[derive(Debug)]
enum DescriptorSetInput {
    Path(PathBuf),
    Bytes(String, Vec<u8>),
}

impl Loader {
    /// Creates an empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an include path (`-I`).
    pub fn include(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.includes.push(dir.into());
        self
    }

    /// Adds a `.proto` file, or every `.proto` file below a directory.
    pub fn proto(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.protos.push(path.into());
        self
    }

    /// Adds an in-memory `.proto` file under the given name (which imports refer to).
    pub fn source(&mut self, name: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.sources.push((name.into(), text.into()));
        self
    }

    /// Adds a binary `FileDescriptorSet` file.
    pub fn descriptor_set(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.descriptor_sets
            .push(DescriptorSetInput::Path(path.into()));
        self
    }

    /// Adds binary `FileDescriptorSet` bytes; `name` appears in error messages.
    pub fn descriptor_set_bytes(&mut self, name: impl Into<String>, bytes: Vec<u8>) -> &mut Self {
        self.descriptor_sets
            .push(DescriptorSetInput::Bytes(name.into(), bytes));
        self
    }

    /// Compiles everything added into one schema.
    ///
    /// # Errors
    ///
    /// I/O errors, proto compile errors with `file:line:col`, invalid descriptor sets.
    pub fn load(&self) -> Result<Schema> {
        // protoc's include path: the -I directories, then each input's own directory (a
        // directory, or a file's parent); a file is named relative to the first that holds it.
        check_includes(&self.includes)?;
        let mut includes = self.includes.clone();
        let mut names = Vec::new();
        let mut files = Vec::new();
        for path in &self.protos {
            let meta = std::fs::metadata(path).map_err(|err| Error::io(path, err))?;
            if meta.is_dir() {
                let found = find_protos(path)?;
                if found.is_empty() {
                    return Err(ErrorKind::NoProtoFiles { path: path.clone() }.into());
                }
                includes.push(path.clone());
                files.extend(found);
            } else {
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                includes.push(parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf));
                files.push(path.clone());
            }
        }
        let mut seen = std::collections::HashSet::new();
        includes.retain(|include| seen.insert(clean_path(include)));

        let mut embedded = EmbeddedResolver::default();
        for (name, text) in &self.sources {
            embedded.add(name.clone(), text.clone());
            names.push(name.clone());
        }
        let mut compiler =
            protox::Compiler::with_file_resolver(SchemaResolver::new(&includes, embedded));
        compiler.include_imports(true).include_source_info(true);
        // The Google error model is always available, for typed status details in fixtures.
        for name in GOOGLE_RPC_FILES {
            compiler.open_file(name)?;
        }
        for name in &names {
            compiler.open_file(name)?;
        }
        for file in &files {
            match compiler.open_file(file) {
                Ok(_) => {}
                Err(err) if err.file().is_none() && err.is_file_not_found() => {
                    return Err(ErrorKind::OutsideIncludePaths {
                        file: file.clone(),
                        includes: display_paths(&includes),
                    }
                    .into());
                }
                Err(err) => return Err(err.into()),
            }
        }
        let mut pool = compiler.descriptor_pool();
        let mut roots: Vec<String> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name().to_owned())
            .filter(|name| !GOOGLE_RPC_FILES.contains(&name.as_str()) || names.contains(name))
            .collect();

        for input in &self.descriptor_sets {
            let (name, bytes) = match input {
                DescriptorSetInput::Path(path) => (
                    path.display().to_string(),
                    std::fs::read(path).map_err(|err| Error::io(path, err))?,
                ),
                DescriptorSetInput::Bytes(name, bytes) => (name.clone(), bytes.clone()),
            };
            let mut set =
                prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(|source| {
                    ErrorKind::DescriptorDecode {
                        path: name.clone(),
                        source,
                    }
                })?;
            // Files already in the pool (a shared import, or a well-known type) are kept once.
            set.file
                .retain(|f| pool.get_file_by_name(f.name()).is_none());
            roots.extend(set.file.iter().map(|f| f.name().to_owned()));
            pool.add_file_descriptor_set(set)
                .map_err(|source| ErrorKind::DescriptorSet { path: name, source })?;
        }
        Ok(Schema { pool, roots })
    }
}

/// Checks that every `-I` directory exists.
pub(crate) fn check_includes(includes: &[PathBuf]) -> Result<()> {
    for dir in includes {
        let problem = match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => "is not a directory",
            Err(_) => "does not exist",
        };
        return Err(ErrorKind::MissingInclude {
            dir: dir.clone(),
            problem,
        }
        .into());
    }
    Ok(())
}

/// A path without `.` components, so that `./proto/` and `proto` compare equal.
pub(crate) fn clean_path(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// The name of `path` relative to the first of `roots` that holds it (compared lexically, as
/// protox and protoc do), e.g. `google/api/http.proto` under `.`.
pub(crate) fn name_under(path: &Path, roots: &[PathBuf]) -> Option<String> {
    let path = clean_path(path);
    roots.iter().find_map(|root| {
        let rest = path.strip_prefix(clean_path(root)).ok()?;
        let name = rest.to_string_lossy().replace('\\', "/");
        (!name.is_empty()).then_some(name)
    })
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists the `.proto` files below `dir`, sorted, so that compile order is deterministic.
pub(crate) fn find_protos(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|err| Error::io(&dir, err))?;
        for entry in entries {
            let entry = entry.map_err(|err| Error::io(&dir, err))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|err| Error::io(&path, err))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether an enum is closed: unknown numbers are not kept in the field (proto2, or editions with
/// `enum_type = CLOSED` on the enum, an enclosing message or the file).
pub(crate) fn enum_is_closed(e: &prost_reflect::EnumDescriptor) -> bool {
    let file = e.parent_file();
    match syntax(&file) {
        "proto3" => false,
        "editions" => {
            let closed = |options: &prost_reflect::DynamicMessage| {
                options.get_field_by_name("features").and_then(|f| {
                    f.as_message()
                        .filter(|m| m.has_field_by_name("enum_type"))
                        .and_then(|m| m.get_field_by_name("enum_type"))
                        .map(|v| v.as_enum_number() == Some(2))
                })
            };
            let mut parent = e.parent_message();
            let mut found = closed(&e.options());
            while let (None, Some(message)) = (found, parent) {
                found = closed(&message.options());
                parent = message.parent_message();
            }
            found.or_else(|| closed(&file.options())).unwrap_or(false)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_descriptors_carry_json_names_even_for_fields_out_of_number_order() {
        let schema = Schema::from_sources([(
            "m.proto",
            "syntax = \"proto3\"; package p; message M { string second_field = 2; string first_field = 1; message N { int32 inner_value = 1; } }",
        )])
        .unwrap();
        let set =
            prost_types::FileDescriptorSet::decode(schema.encode_file_descriptor_set().as_slice())
                .unwrap();
        let file = set.file.iter().find(|f| f.name() == "m.proto").unwrap();
        let names: Vec<(&str, &str)> = file.message_type[0]
            .field
            .iter()
            .map(|f| (f.name(), f.json_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("second_field", "secondField"),
                ("first_field", "firstField")
            ]
        );
        assert_eq!(
            file.message_type[0].nested_type[0].field[0].json_name(),
            "innerValue"
        );
    }

    #[test]
    fn methods_are_found_with_or_without_a_leading_slash() {
        let schema = Schema::bundled();
        assert!(schema.method("userservice.UserService/GetUser").is_some());
        assert!(schema.method("/userservice.UserService/Chat").is_some());
        assert!(schema.method("userservice.UserService/Nope").is_none());
        assert!(schema.method("GetUser").is_none());
    }
}
