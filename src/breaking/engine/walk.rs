//! Pair walkers: index both inputs once and pair old and new elements the way buf does; the
//! rules' scopes (`rule.rs`) feed each pair to the rule functions.
//!
//! - files by path; messages, enums, services by full name (so a type that moved between files
//!   still pairs, and the `*_NO_DELETE` rules decide whether the move matters);
//! - fields by number inside paired messages; extensions by (extendee, number);
//! - enum values by number (with every alias of that number); RPCs by name; oneofs by name.
//!
//! Only the inputs' own files are indexed: imports, well-known types and the always-compiled
//! `google/rpc` protos are not the user's contract.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, EnumValueDescriptor, ExtensionDescriptor, FileDescriptor,
    MessageDescriptor, MethodDescriptor, ServiceDescriptor,
};

use super::{
    declared::{Declared, declared},
    field::Field,
};

/// One side of a comparison (previous or current): its own files and their elements, by name.
#[derive(Debug, Default)]
pub(crate) struct Side {
    pub(crate) files: BTreeMap<String, FileDescriptor>,
    pub(crate) messages: BTreeMap<String, MessageDescriptor>,
    pub(crate) enums: BTreeMap<String, EnumDescriptor>,
    pub(crate) services: BTreeMap<String, ServiceDescriptor>,
    pub(crate) extensions: BTreeMap<(String, u32), ExtensionDescriptor>,
    /// What each file declares, by nested name (computed on first use).
    declared: BTreeMap<String, std::sync::OnceLock<Declared>>,
    /// Packages of files left out because they are the same on both sides
    /// (`schema::SchemaPair`): present, with nothing in them to compare.
    pub(crate) unchanged_packages: BTreeSet<String>,
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
    pub(crate) fn declared(&self, file: &str) -> Option<&Declared> {
        let cell = self.declared.get(file)?;
        let descriptor = self.files.get(file)?;
        Some(cell.get_or_init(|| declared(descriptor)))
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
}

/// Every pair of elements present on both sides, computed once per check.
#[derive(Debug, Default)]
pub(crate) struct Pairs {
    pub(crate) files: Vec<(FileDescriptor, FileDescriptor)>,
    pub(crate) messages: Vec<(MessageDescriptor, MessageDescriptor)>,
    pub(crate) fields: Vec<(Field, Field)>,
    pub(crate) enums: Vec<(EnumDescriptor, EnumDescriptor)>,
    pub(crate) enum_values: Vec<(Vec<EnumValueDescriptor>, Vec<EnumValueDescriptor>)>,
    pub(crate) services: Vec<(ServiceDescriptor, ServiceDescriptor)>,
    pub(crate) methods: Vec<(MethodDescriptor, MethodDescriptor)>,
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
    /// Pairs the elements of two sides.
    pub(crate) fn new(previous: &Side, current: &Side) -> Self {
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
