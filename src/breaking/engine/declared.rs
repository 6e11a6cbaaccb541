//! What each file declares, by kind and nested name: the index behind the `*_NO_DELETE` rules of
//! files and packages, computed once per file on first use (see `Side::declared`).

use std::collections::BTreeMap;

use prost_reflect::FileDescriptor;

use super::locate::{loc, message_loc, nested_name};
use crate::breaking::finding::Location;

/// What a file declares, by kind and nested name.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    pub(crate) messages: BTreeMap<String, Location>,
    pub(crate) enums: BTreeMap<String, Location>,
    pub(crate) extensions: BTreeMap<String, Location>,
    pub(crate) services: BTreeMap<String, Location>,
}

/// Indexes what `file` declares, nested elements included.
pub(crate) fn declared(file: &FileDescriptor) -> Declared {
    let package = file.package_name();
    let name = |full_name: &str| nested_name(full_name, package).to_owned();
    let at = |path: &[i32]| loc(file, path);
    let mut out = Declared::default();
    for e in file.enums() {
        out.enums.insert(name(e.full_name()), at(e.path()));
    }
    for x in file.extensions() {
        out.extensions.insert(name(x.full_name()), at(x.path()));
    }
    for s in file.services() {
        out.services.insert(name(s.full_name()), at(s.path()));
    }
    let mut stack: Vec<_> = file.messages().collect();
    while let Some(m) = stack.pop() {
        out.messages.insert(name(m.full_name()), message_loc(&m));
        for e in m.child_enums() {
            out.enums.insert(name(e.full_name()), at(e.path()));
        }
        for x in m.child_extensions() {
            out.extensions.insert(name(x.full_name()), at(x.path()));
        }
        stack.extend(m.child_messages());
    }
    out
}
