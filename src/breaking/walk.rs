//! Pair walkers: index both inputs once, pair old and new elements the way buf does, and feed
//! the pairs to the rules.
//!
//! - files by path; messages, enums, services by full name (so a type that moved between files
//!   still pairs, and the `*_NO_DELETE` rules decide whether the move matters);
//! - fields by number inside paired messages; extensions by (extendee, number);
//! - enum values by number (with every alias of that number); RPCs by name; oneofs by name.
//!
//! Only the inputs' own files are indexed: imports, well-known types and the always-compiled
//! `google/rpc` protos are not the user's contract.

use std::collections::BTreeMap;

use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, EnumDescriptor, EnumValueDescriptor,
    ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, OneofDescriptor, ServiceDescriptor,
};
use prost_types::FieldDescriptorProto;

use super::{
    finding::{FieldRef, Findings, Location},
    rule::{Rule, Scope},
};

/// One side of a comparison (previous or current): its own files and their elements, by name.
#[derive(Debug, Default)]
pub struct Side {
    pub(crate) files: BTreeMap<String, FileDescriptor>,
    pub(crate) messages: BTreeMap<String, MessageDescriptor>,
    pub(crate) enums: BTreeMap<String, EnumDescriptor>,
    pub(crate) services: BTreeMap<String, ServiceDescriptor>,
    pub(crate) extensions: BTreeMap<(String, u32), ExtensionDescriptor>,
    /// What each file declares, by nested name (computed on first use).
    declared: BTreeMap<String, std::sync::OnceLock<super::rules::file::Declared>>,
}

impl Side {
    /// Indexes the named files of a pool.
    pub(crate) fn new<'a>(pool: &DescriptorPool, files: impl IntoIterator<Item = &'a str>) -> Self {
        let mut side = Side::default();
        for name in files {
            let Some(file) = pool.get_file_by_name(name) else {
                continue;
            };
            for message in file.messages() {
                side.add_message(message);
            }
            for e in file.enums() {
                side.enums.insert(e.full_name().to_owned(), e);
            }
            for ext in file.extensions() {
                side.add_extension(ext);
            }
            for service in file.services() {
                side.services
                    .insert(service.full_name().to_owned(), service);
            }
            side.declared
                .insert(name.to_owned(), std::sync::OnceLock::new());
            side.files.insert(name.to_owned(), file);
        }
        side
    }

    /// Gets what a file declares (messages, enums, extensions, services by nested name).
    pub(crate) fn declared(&self, file: &str) -> Option<&super::rules::file::Declared> {
        let cell = self.declared.get(file)?;
        let descriptor = self.files.get(file)?;
        Some(cell.get_or_init(|| super::rules::file::declared(descriptor)))
    }

    fn add_message(&mut self, message: MessageDescriptor) {
        for child in message.child_messages() {
            self.add_message(child);
        }
        for e in message.child_enums() {
            self.enums.insert(e.full_name().to_owned(), e);
        }
        for ext in message.child_extensions() {
            self.add_extension(ext);
        }
        self.messages
            .insert(message.full_name().to_owned(), message);
    }

    fn add_extension(&mut self, ext: ExtensionDescriptor) {
        let key = (
            ext.containing_message().full_name().to_owned(),
            ext.number(),
        );
        self.extensions.insert(key, ext);
    }

    /// Gets the files of the side, by name.
    pub fn files(&self) -> impl Iterator<Item = &FileDescriptor> {
        self.files.values()
    }
}

/// The name of an element relative to its package, e.g. `User.Address` for `acme.v1.User.Address`.
pub(crate) fn nested_name<'a>(full_name: &'a str, package: &str) -> &'a str {
    if package.is_empty() {
        full_name
    } else {
        full_name
            .strip_prefix(package)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(full_name)
    }
}

/// A message field or an extension: buf runs the same field rules on both.
#[derive(Debug, Clone)]
pub enum Field {
    /// A field declared in a message.
    Normal(FieldDescriptor),
    /// An extension field (`extend Foo { ... }`).
    Extension(ExtensionDescriptor),
}

macro_rules! delegate {
    ($self:ident, $f:ident) => {
        match $self {
            Field::Normal(f) => f.$f(),
            Field::Extension(f) => f.$f(),
        }
    };
}

impl Field {
    /// Gets the field number.
    pub fn number(&self) -> u32 {
        delegate!(self, number)
    }
    /// Gets the short name, e.g. `age`.
    pub fn name(&self) -> &str {
        delegate!(self, name)
    }
    /// Gets the full name, e.g. `acme.v1.User.age`.
    pub fn full_name(&self) -> &str {
        delegate!(self, full_name)
    }
    /// Gets the kind (scalar type, message or enum).
    pub fn kind(&self) -> Kind {
        delegate!(self, kind)
    }
    /// Whether the field is `repeated` (and not a map).
    pub fn is_list(&self) -> bool {
        delegate!(self, is_list)
    }
    /// Whether the field is a map.
    pub fn is_map(&self) -> bool {
        delegate!(self, is_map)
    }
    /// Whether the field is a group / delimited-encoded message.
    pub fn is_group(&self) -> bool {
        delegate!(self, is_group)
    }
    /// Gets the label-level cardinality.
    pub fn cardinality(&self) -> Cardinality {
        delegate!(self, cardinality)
    }
    /// Whether the field tracks presence.
    pub fn supports_presence(&self) -> bool {
        delegate!(self, supports_presence)
    }
    /// Gets the effective JSON name.
    pub fn json_name(&self) -> &str {
        delegate!(self, json_name)
    }
    /// Gets the field's options as a dynamic message (standard options and features).
    pub fn options(&self) -> DynamicMessage {
        delegate!(self, options)
    }
    /// Gets the raw descriptor.
    pub fn proto(&self) -> &FieldDescriptorProto {
        delegate!(self, field_descriptor_proto)
    }
    /// Gets the file that declares the field.
    pub fn file(&self) -> FileDescriptor {
        delegate!(self, parent_file)
    }
    /// Gets the descriptor path.
    pub fn path(&self) -> &[i32] {
        delegate!(self, path)
    }
    /// Gets the extendee's full name, for an extension.
    pub fn extendee(&self) -> Option<String> {
        match self {
            Field::Normal(_) => None,
            Field::Extension(e) => Some(e.containing_message().full_name().to_owned()),
        }
    }
    /// Gets the containing message (the extendee, for an extension).
    pub fn message(&self) -> MessageDescriptor {
        match self {
            Field::Normal(f) => f.parent_message().clone(),
            Field::Extension(e) => e.containing_message(),
        }
    }
    /// Gets the real (non-synthetic) oneof the field belongs to.
    pub fn oneof(&self) -> Option<OneofDescriptor> {
        match self {
            Field::Normal(f) => f.containing_oneof().filter(|o| !o.is_synthetic()),
            Field::Extension(_) => None,
        }
    }
    /// Whether this is a field of a synthetic map-entry message.
    pub fn in_map_entry(&self) -> bool {
        matches!(self, Field::Normal(f) if f.parent_message().clone().is_map_entry())
    }

    /// Describes the field as buf does: `Field "2" with name "age" on message "User"`, or
    /// `Extension "7" with name "acme.v1.tag" on message "acme.v1.User"`.
    pub fn description(&self) -> String {
        let name = match self {
            Field::Normal(f) => f.name(),
            Field::Extension(e) => e.full_name(),
        };
        self.description_with_name(Some(name))
    }

    /// Like [`Field::description`], optionally without the name.
    pub fn description_with_name(&self, name: Option<&str>) -> String {
        let name = name.map_or(String::new(), |n| format!(" with name \"{n}\""));
        match self {
            Field::Normal(f) => format!(
                "Field \"{}\"{name} on message \"{}\"",
                f.number(),
                f.parent_message().clone().name()
            ),
            Field::Extension(e) => format!(
                "Extension \"{}\"{name} on message \"{}\"",
                e.number(),
                e.containing_message().full_name()
            ),
        }
    }

    /// Gets the location of the field, or of a part of it (`extra` is appended to the path,
    /// e.g. `[5]` for its type). Fields of map entries point at the map field's type, as buf does.
    pub fn loc(&self, extra: &[i32]) -> Location {
        if let Field::Normal(f) = self
            && let Some(map_loc) = map_entry_loc(&f.parent_message().clone())
        {
            return map_loc;
        }
        Location::new(self.file().name(), self.path()).child(extra)
    }

    /// Gets the location of the field's type: `[5]` for scalars, `[6]` for named types.
    pub fn type_loc(&self) -> Location {
        match self.kind() {
            Kind::Message(_) | Kind::Enum(_) => self.loc(&[TYPE_NAME]),
            _ => self.loc(&[TYPE]),
        }
    }

    /// Gets the reference `--explain` uses to find the field again.
    pub fn field_ref(&self) -> FieldRef {
        FieldRef {
            message: self.message().full_name().to_owned(),
            number: self.number(),
            extension: matches!(self, Field::Extension(_)),
        }
    }
}

/// `FieldDescriptorProto.type`.
pub(crate) const TYPE: i32 = 5;
/// `FieldDescriptorProto.type_name`.
pub(crate) const TYPE_NAME: i32 = 6;

/// Gets the location of any descriptor element.
pub(crate) fn loc(file: &FileDescriptor, path: &[i32]) -> Location {
    Location::new(file.name(), path)
}

/// Gets the location of a map entry: the type of its map field.
fn map_entry_loc(entry: &MessageDescriptor) -> Option<Location> {
    if !entry.is_map_entry() {
        return None;
    }
    let parent = entry.parent_message()?;
    let field = parent
        .fields()
        .find(|f| matches!(f.kind(), Kind::Message(m) if &m == entry))?;
    Some(loc(&entry.parent_file(), field.path()).child(&[TYPE_NAME]))
}

/// Gets the location of a message; a map entry points at its map field's type.
pub(crate) fn message_loc(message: &MessageDescriptor) -> Location {
    map_entry_loc(message).unwrap_or_else(|| loc(&message.parent_file(), message.path()))
}

/// Every pair of elements present on both sides, computed once per check.
#[derive(Debug, Default)]
struct Pairs {
    files: Vec<(FileDescriptor, FileDescriptor)>,
    messages: Vec<(MessageDescriptor, MessageDescriptor)>,
    fields: Vec<(Field, Field)>,
    enums: Vec<(EnumDescriptor, EnumDescriptor)>,
    enum_values: Vec<(Vec<EnumValueDescriptor>, Vec<EnumValueDescriptor>)>,
    services: Vec<(ServiceDescriptor, ServiceDescriptor)>,
    methods: Vec<(MethodDescriptor, MethodDescriptor)>,
}

/// Groups an enum's values by number (aliases share a number), names sorted.
pub(crate) fn values_by_number(e: &EnumDescriptor) -> BTreeMap<i32, Vec<EnumValueDescriptor>> {
    let mut out: BTreeMap<i32, Vec<EnumValueDescriptor>> = BTreeMap::new();
    for value in e.values() {
        out.entry(value.number()).or_default().push(value);
    }
    for values in out.values_mut() {
        values.sort_by(|a, b| a.name().cmp(b.name()));
    }
    out
}

impl Pairs {
    fn new(previous: &Side, current: &Side) -> Self {
        let mut pairs = Pairs::default();
        for (name, prev) in &previous.files {
            if let Some(cur) = current.files.get(name) {
                pairs.files.push((prev.clone(), cur.clone()));
            }
        }
        for (name, prev) in &previous.messages {
            let Some(cur) = current.messages.get(name) else {
                continue;
            };
            pairs.messages.push((prev.clone(), cur.clone()));
            for prev_field in prev.fields() {
                if let Some(cur_field) = cur.get_field(prev_field.number()) {
                    pairs
                        .fields
                        .push((Field::Normal(prev_field), Field::Normal(cur_field)));
                }
            }
        }
        for (key, prev) in &previous.extensions {
            if let Some(cur) = current.extensions.get(key) {
                pairs.fields.push((
                    Field::Extension(prev.clone()),
                    Field::Extension(cur.clone()),
                ));
            }
        }
        for (name, prev) in &previous.enums {
            let Some(cur) = current.enums.get(name) else {
                continue;
            };
            pairs.enums.push((prev.clone(), cur.clone()));
            let mut cur_values = values_by_number(cur);
            for (number, prev_values) in values_by_number(prev) {
                if let Some(cur_values) = cur_values.remove(&number) {
                    pairs.enum_values.push((prev_values, cur_values));
                }
            }
        }
        for (name, prev) in &previous.services {
            let Some(cur) = current.services.get(name) else {
                continue;
            };
            pairs.services.push((prev.clone(), cur.clone()));
            for prev_method in prev.methods() {
                if let Some(cur_method) = cur.methods().find(|m| m.name() == prev_method.name()) {
                    pairs.methods.push((prev_method, cur_method));
                }
            }
        }
        pairs
    }
}

/// Runs the given rules over every pair of the two sides.
pub(crate) fn run(rules: &[&'static Rule], previous: &Side, current: &Side, out: &mut Findings) {
    let pairs = Pairs::new(previous, current);
    for rule in rules {
        let severity = if rule.categories.contains(&super::Category::Lossy) {
            super::Severity::Warning
        } else {
            super::Severity::Error
        };
        out.start(rule.id, severity);
        match rule.scope {
            Scope::Schema(f) => f(previous, current, out),
            Scope::File(f) => pairs.files.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Message(f) => pairs.messages.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Field(f) => pairs.fields.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Enum(f) => pairs.enums.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::EnumValue(f) => pairs.enum_values.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Service(f) => pairs.services.iter().for_each(|(p, c)| f(p, c, out)),
            Scope::Method(f) => pairs.methods.iter().for_each(|(p, c)| f(p, c, out)),
        }
    }
}
