//! Editions files (`edition = "2023";`, `"2024"`): compiled by the protoc that the
//! `protoc-bin-vendored` crate ships, then lowered to descriptors prost-reflect can hold.
//!
//! protox 0.10 cannot parse editions and prost-reflect 0.16 rejects `syntax = "editions"`, so an
//! editions file is compiled by protoc (only when protox's parser fails on a file whose first
//! statement is `edition`: proto2 and proto3 never reach protoc) and each descriptor is lowered:
//!
//! - `syntax` becomes `proto3` when a field has implicit presence (and nothing proto3 cannot
//!   hold: a required field, a closed enum whose first value is not zero), else `proto2`;
//! - explicit presence in a proto3-lowered file becomes `proto3_optional` with a synthetic oneof
//!   (appended after the real ones, so source paths stay exact);
//! - `LEGACY_REQUIRED` becomes `LABEL_REQUIRED`, `message_encoding = DELIMITED` becomes
//!   `TYPE_GROUP` (what protobuf runtimes report as the field's kind), and every repeated scalar
//!   gets an explicit `packed` from `repeated_field_encoding`;
//! - the `features` options stay as written (prost-reflect keeps options as raw bytes), and the
//!   edition is recorded in the file's source info ([`edition`] reads it back), so rules that read
//!   features or the syntax see the file as protoc described it.
//!
//! Source info comes from protoc, with protoc's spans.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FileDescriptor, MessageDescriptor, ReflectMessage as _, Value,
};
use protox::file::File;

/// `FileDescriptorProto` numbers: `syntax` (where protoc locates the `edition` statement) and
/// `edition` (where the lowered descriptor records it, see `mark`).
const SYNTAX_PATH: i32 = 12;
const EDITION_PATH: i32 = 14;

/// `FieldDescriptorProto` values.
const LABEL_REQUIRED: i32 = 2;
const LABEL_REPEATED: i32 = 3;
const TYPE_GROUP: i32 = 10;
const TYPE_MESSAGE: i32 = 11;
const TYPE_STRING: i32 = 9;
const TYPE_BYTES: i32 = 12;
/// `FeatureSet` values.
const EXPLICIT: i32 = 1;
const IMPLICIT: i32 = 2;
const LEGACY_REQUIRED: i32 = 3;
const PACKED: i32 = 1;
const DELIMITED: i32 = 2;
const CLOSED: i32 = 2;
/// `Edition` values.
const EDITION_2023: i32 = 1000;
const EDITION_2024: i32 = 1001;

/// Whether the file's first statement is `edition = ...` (comments and whitespace skipped).
pub(crate) fn is_editions(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    rest.strip_prefix("edition")
        .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// Gets the edition of a file compiled from an editions source, e.g. `2023`; `None` for proto2
/// and proto3 files.
pub fn edition(file: &FileDescriptor) -> Option<&'static str> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let marker = info.location.first().filter(|l| l.path == [EDITION_PATH])?;
    match marker.trailing_comments() {
        "EDITION_2024" => Some("2024"),
        _ => Some("2023"),
    }
}

/// Gets the file's syntax as written: `proto2`, `proto3` or `editions`.
pub(crate) fn syntax(file: &FileDescriptor) -> &str {
    if edition(file).is_some() {
        return "editions";
    }
    match file.file_descriptor_proto().syntax() {
        "" => "proto2",
        other => other,
    }
}

/// protoc's failure, as protoc printed it (`file:line:col: message`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct ProtocError {
    message: String,
}

fn protoc_error(message: impl Into<String>) -> protox::Error {
    protox::Error::new(ProtocError {
        message: message.into(),
    })
}

/// A temporary directory for protoc's inputs and output, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, protox::Error> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "grpc-double-editions-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|err| protoc_error(format!("{}: {err}", dir.display())))?;
        Ok(Self(dir))
    }

    fn write(&self, name: &str, text: &str) -> Result<(), protox::Error> {
        let path = self.0.join(name);
        let io = |err: std::io::Error| protoc_error(format!("{}: {err}", path.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles editions files with protoc and returns them lowered, in the order asked.
///
/// `names` are looked up in `includes`, then in `memory` (in-memory sources, written to a
/// scratch directory together with the embedded `google/rpc` protos, so imports resolve as
/// they do for protox).
pub(crate) fn compile(
    names: &[String],
    includes: &[PathBuf],
    memory: &BTreeMap<String, String>,
    embedded: &[(&str, &str)],
    source_info: bool,
) -> Result<Vec<File>, protox::Error> {
    let encoded = compile_encoded(names, includes, memory, embedded, source_info)?;
    names
        .iter()
        .zip(encoded)
        .map(|(name, bytes)| {
            File::decode_file_descriptor_proto(bytes.as_slice())
                .map_err(|err| protoc_error(format!("{name}: {err}")))
        })
        .collect()
}

/// Like [`compile`], returning each lowered `FileDescriptorProto` encoded (extension options,
/// such as the language features, are kept in the bytes).
pub(crate) fn compile_encoded(
    names: &[String],
    includes: &[PathBuf],
    memory: &BTreeMap<String, String>,
    embedded: &[(&str, &str)],
    source_info: bool,
) -> Result<Vec<Vec<u8>>, protox::Error> {
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|err| protoc_error(format!("cannot compile editions files: {err}")))?;
    let wkt = protoc_bin_vendored::include_path()
        .map_err(|err| protoc_error(format!("cannot compile editions files: {err}")))?;
    let scratch = Scratch::new()?;
    let sources = scratch.0.join("src");
    for (name, text) in memory
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .chain(embedded.iter().copied())
    {
        scratch.write(&format!("src/{name}"), text)?;
    }
    let out = scratch.0.join("out.binpb");
    let mut command = Command::new(protoc);
    command.arg("-I").arg(&wkt);
    for include in includes {
        command.arg("-I").arg(include);
    }
    command
        .arg("-I")
        .arg(&sources)
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", out.display()))
        .args(names);
    let output = command
        .output()
        .map_err(|err| protoc_error(format!("cannot run protoc: {err}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let prefix = format!("{}/", sources.display());
        return Err(protoc_error(stderr.trim().replace(&prefix, "")));
    }
    let bytes =
        std::fs::read(&out).map_err(|err| protoc_error(format!("{}: {err}", out.display())))?;
    let set = DynamicMessage::decode(descriptor("FileDescriptorSet"), bytes.as_slice())
        .map_err(|err| protoc_error(format!("protoc wrote an unreadable descriptor set: {err}")))?;
    let mut by_name = BTreeMap::new();
    if let Some(Value::List(files)) = set.get_field_by_name("file").as_deref() {
        for file in files {
            if let Value::Message(file) = file {
                let name = string(file, "name");
                by_name.insert(name, file.clone());
            }
        }
    }
    names
        .iter()
        .map(|name| {
            let file = by_name
                .remove(name)
                .ok_or_else(|| protoc_error(format!("protoc did not describe {name}")))?;
            Ok(if string(&file, "syntax") == "editions" {
                lower(file, source_info)
            } else {
                let mut file = file;
                if !source_info {
                    file.clear_field_by_name("source_code_info");
                }
                file.encode_to_vec()
            })
        })
        .collect()
}

/// Reads an editions file below one of `includes` (as protox's include resolver would) and
/// compiles it: the fallback for a parse failure.
pub(crate) fn compile_included(
    name: &str,
    includes: &[PathBuf],
    embedded: &[(&str, &str)],
) -> Option<Result<File, protox::Error>> {
    let text = includes
        .iter()
        .find_map(|include| std::fs::read_to_string(include.join(name)).ok())?;
    if !is_editions(&text) {
        return None;
    }
    Some(
        compile(
            &[name.to_owned()],
            includes,
            &BTreeMap::new(),
            embedded,
            true,
        )
        .map(|mut files| files.remove(0)),
    )
}

/// Opens a file that protoc ships and protox does not, e.g. the language feature sets that
/// editions files import (`google/protobuf/cpp_features.proto`).
pub(crate) fn open_bundled(name: &str) -> Option<Result<File, protox::Error>> {
    let wkt = protoc_bin_vendored::include_path().ok()?;
    if !wkt.join(name).is_file() {
        return None;
    }
    // Even the proto2 ones: they set options (`feature_support`) newer than protox knows.
    Some(
        compile(&[name.to_owned()], &[wkt], &BTreeMap::new(), &[], true)
            .map(|mut files| files.remove(0)),
    )
}

fn descriptor(name: &str) -> MessageDescriptor {
    DescriptorPool::global()
        .get_message_by_name(&format!("google.protobuf.{name}"))
        .unwrap_or_else(|| unreachable!("prost-reflect's pool has google.protobuf.{name}"))
}

fn string(message: &DynamicMessage, field: &str) -> String {
    message
        .get_field_by_name(field)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn int(message: &DynamicMessage, field: &str) -> Option<i32> {
    if !message.has_field_by_name(field) {
        return None;
    }
    let value = message.get_field_by_name(field)?;
    value.as_enum_number().or_else(|| value.as_i32())
}

/// The features that decide how a file lowers, resolved for one element.
#[derive(Debug, Clone, Copy)]
struct Features {
    presence: i32,
    repeated: i32,
    encoding: i32,
    enum_type: i32,
}

impl Features {
    /// The defaults of editions 2023 and 2024 (they agree on these four).
    const DEFAULT: Features = Features {
        presence: EXPLICIT,
        repeated: PACKED,
        encoding: 1,
        enum_type: 1,
    };

    /// The element's own `options.features` over `self`.
    fn of(self, element: &DynamicMessage) -> Features {
        let Some(options) = element
            .get_field_by_name("options")
            .filter(|_| element.has_field_by_name("options"))
        else {
            return self;
        };
        let Some(features) = options
            .as_message()
            .filter(|o| o.has_field_by_name("features"))
            .and_then(|o| o.get_field_by_name("features"))
        else {
            return self;
        };
        let Some(features) = features.as_message() else {
            return self;
        };
        Features {
            presence: int(features, "field_presence").unwrap_or(self.presence),
            repeated: int(features, "repeated_field_encoding").unwrap_or(self.repeated),
            encoding: int(features, "message_encoding").unwrap_or(self.encoding),
            enum_type: int(features, "enum_type").unwrap_or(self.enum_type),
        }
    }
}

/// What a pass over the file does: look for what decides the syntax, or rewrite.
enum Pass {
    Scan { implicit: bool, blocks_proto3: bool },
    Lower { proto3: bool },
}

fn messages_mut<'a>(
    message: &'a mut DynamicMessage,
    field: &str,
) -> impl Iterator<Item = &'a mut DynamicMessage> {
    let list = match message.get_field_by_name_mut(field) {
        Some(Value::List(list)) => list.as_mut_slice(),
        _ => &mut [],
    };
    list.iter_mut().filter_map(|v| match v {
        Value::Message(m) => Some(m),
        _ => None,
    })
}

/// Lowers one file descriptor (see the module docs) and encodes it.
fn lower(mut file: DynamicMessage, source_info: bool) -> Vec<u8> {
    let edition = int(&file, "edition").unwrap_or(EDITION_2023);
    let features = Features::DEFAULT.of(&file);
    let mut scan = Pass::Scan {
        implicit: false,
        blocks_proto3: false,
    };
    walk_scope(&mut file, features, &mut scan);
    let proto3 = matches!(
        scan,
        Pass::Scan {
            implicit: true,
            blocks_proto3: false
        }
    );
    walk_scope(&mut file, features, &mut Pass::Lower { proto3 });
    file.set_field_by_name(
        "syntax",
        Value::String(if proto3 { "proto3" } else { "proto2" }.to_owned()),
    );
    file.clear_field_by_name("edition");
    if !source_info {
        file.clear_field_by_name("source_code_info");
    }
    mark(&mut file, edition);
    file.encode_to_vec()
}

/// Records the edition as the first location of the file's source info: path 14
/// (`FileDescriptorProto.edition`, which prost-reflect's descriptors do not keep), spanning the
/// `edition` statement, with the edition as its trailing comment. It survives stripping.
fn mark(file: &mut DynamicMessage, edition: i32) {
    let span = locations(file)
        .find(|l| path_of(l) == [SYNTAX_PATH])
        .and_then(|l| l.get_field_by_name("span").map(|v| v.into_owned()))
        .unwrap_or_else(|| Value::List(vec![Value::I32(0), Value::I32(0), Value::I32(0)]));
    let mut marker = DynamicMessage::new(descriptor("SourceCodeInfo.Location"));
    marker.set_field_by_name("path", Value::List(vec![Value::I32(EDITION_PATH)]));
    marker.set_field_by_name("span", span);
    let name = if edition == EDITION_2024 {
        "EDITION_2024"
    } else {
        "EDITION_2023"
    };
    marker.set_field_by_name("trailing_comments", Value::String(name.to_owned()));
    if !file.has_field_by_name("source_code_info") {
        file.set_field_by_name(
            "source_code_info",
            Value::Message(DynamicMessage::new(descriptor("SourceCodeInfo"))),
        );
    }
    if let Some(Value::Message(info)) = file.get_field_by_name_mut("source_code_info")
        && let Some(Value::List(list)) = info.get_field_by_name_mut("location")
    {
        list.insert(0, Value::Message(marker));
    }
}

fn locations(file: &DynamicMessage) -> impl Iterator<Item = DynamicMessage> {
    let list = file
        .get_field_by_name("source_code_info")
        .and_then(|info| {
            let location = info.as_message()?.get_field_by_name("location")?;
            location.as_list().map(<[Value]>::to_vec)
        })
        .unwrap_or_default();
    list.into_iter().filter_map(|v| v.as_message().cloned())
}

fn path_of(location: &DynamicMessage) -> Vec<i32> {
    location
        .get_field_by_name("path")
        .and_then(|p| {
            p.as_list()
                .map(|l| l.iter().filter_map(Value::as_i32).collect())
        })
        .unwrap_or_default()
}

/// Walks a file or a message: its enums, extensions, messages and (for a message) fields.
fn walk_scope(scope: &mut DynamicMessage, features: Features, pass: &mut Pass) {
    if let Pass::Scan { blocks_proto3, .. } = pass {
        for e in messages_mut(scope, "enum_type") {
            let closed = Features::of(features, e).enum_type == CLOSED;
            let first = messages_mut(e, "value")
                .next()
                .and_then(|v| int(v, "number"));
            if closed && first.is_some_and(|n| n != 0) {
                *blocks_proto3 = true;
            }
        }
    }
    for extension in messages_mut(scope, "extension") {
        let resolved = features.of(extension);
        lower_field(extension, resolved, false, pass);
    }
    let nested_field = if scope.descriptor().name() == "FileDescriptorProto" {
        "message_type"
    } else {
        "nested_type"
    };
    for nested in messages_mut(scope, nested_field) {
        let inner = features.of(nested);
        walk_message(nested, inner, pass);
    }
}

fn walk_message(message: &mut DynamicMessage, features: Features, pass: &mut Pass) {
    let map_entry = message
        .get_field_by_name("options")
        .and_then(|o| {
            o.as_message()
                .and_then(|o| o.get_field_by_name("map_entry")?.as_bool())
        })
        .unwrap_or(false);
    if map_entry {
        return;
    }
    let oneofs: Vec<(String, Features)> = messages_mut(message, "oneof_decl")
        .map(|o| (string(o, "name"), features.of(o)))
        .collect();
    let mut synthetic: Vec<String> = Vec::new();
    for field in messages_mut(message, "field") {
        let oneof = int(field, "oneof_index").and_then(|i| usize::try_from(i).ok());
        let base = oneof
            .and_then(|i| oneofs.get(i))
            .map_or(features, |(_, f)| *f);
        let resolved = base.of(field);
        if lower_field(field, resolved, oneof.is_none(), pass) {
            let name = synthetic_name(&string(field, "name"), &oneofs, &synthetic);
            let index = i32::try_from(oneofs.len() + synthetic.len()).unwrap_or(i32::MAX);
            field.set_field_by_name("proto3_optional", Value::Bool(true));
            field.set_field_by_name("oneof_index", Value::I32(index));
            synthetic.push(name);
        }
    }
    if let Some(Value::List(list)) = message.get_field_by_name_mut("oneof_decl") {
        for name in synthetic {
            let mut oneof = DynamicMessage::new(descriptor("OneofDescriptorProto"));
            oneof.set_field_by_name("name", Value::String(name));
            list.push(Value::Message(oneof));
        }
    }
    walk_scope(message, features, pass);
}

/// protoc's name for a synthetic oneof: `_field`, prefixed with `X` until it is unique.
fn synthetic_name(field: &str, oneofs: &[(String, Features)], synthetic: &[String]) -> String {
    let mut name = format!("_{field}");
    while oneofs.iter().any(|(n, _)| *n == name) || synthetic.contains(&name) {
        name.insert(0, 'X');
    }
    name
}

/// Scans or lowers one field; returns whether it needs a synthetic oneof (proto3 lowering of
/// explicit presence).
fn lower_field(
    field: &mut DynamicMessage,
    features: Features,
    singular_scope: bool,
    pass: &mut Pass,
) -> bool {
    let label = int(field, "label").unwrap_or(1);
    let kind = int(field, "type").unwrap_or(0);
    let message = kind == TYPE_MESSAGE || kind == TYPE_GROUP;
    let extension = field.has_field_by_name("extendee");
    match pass {
        Pass::Scan {
            implicit,
            blocks_proto3,
        } => {
            if label != LABEL_REPEATED && !message && features.presence == IMPLICIT {
                *implicit = true;
            }
            if label != LABEL_REPEATED && features.presence == LEGACY_REQUIRED {
                *blocks_proto3 = true;
            }
            false
        }
        Pass::Lower { proto3 } => {
            if kind == TYPE_MESSAGE && features.encoding == DELIMITED {
                field.set_field_by_name("type", Value::EnumNumber(TYPE_GROUP));
            }
            if label == LABEL_REPEATED {
                if !message && kind != TYPE_STRING && kind != TYPE_BYTES {
                    set_packed(field, features.repeated == PACKED);
                }
                return false;
            }
            if features.presence == LEGACY_REQUIRED {
                field.set_field_by_name("label", Value::EnumNumber(LABEL_REQUIRED));
                return false;
            }
            *proto3 && singular_scope && !message && !extension && features.presence == EXPLICIT
        }
    }
}

fn set_packed(field: &mut DynamicMessage, packed: bool) {
    if !field.has_field_by_name("options") {
        field.set_field_by_name(
            "options",
            Value::Message(DynamicMessage::new(descriptor("FieldOptions"))),
        );
    }
    if let Some(Value::Message(options)) = field.get_field_by_name_mut("options")
        && !options.has_field_by_name("packed")
    {
        options.set_field_by_name("packed", Value::Bool(packed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_statement_decides_whether_a_file_uses_editions() {
        assert!(is_editions("edition = \"2023\";"));
        assert!(is_editions("// c\n/* d */\n  edition=\"2024\";"));
        assert!(!is_editions("syntax = \"proto3\";"));
        assert!(!is_editions("editions = 1;"));
        assert!(!is_editions("// edition = \"2023\";\nsyntax = \"proto2\";"));
    }
}
