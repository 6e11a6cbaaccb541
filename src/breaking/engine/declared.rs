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

pub(crate) fn declared(file: &FileDescriptor) -> Declared {
    let package = file.package_name();
    let mut out = Declared::default();
    let mut stack: Vec<_> = file.messages().collect();
    for e in file.enums() {
        out.enums.insert(
            nested_name(e.full_name(), package).to_owned(),
            loc(file, e.path()),
        );
    }
    for x in file.extensions() {
        out.extensions.insert(
            nested_name(x.full_name(), package).to_owned(),
            loc(file, x.path()),
        );
    }
    for s in file.services() {
        out.services.insert(
            nested_name(s.full_name(), package).to_owned(),
            loc(file, s.path()),
        );
    }
    while let Some(m) = stack.pop() {
        out.messages.insert(
            nested_name(m.full_name(), package).to_owned(),
            message_loc(&m),
        );
        for e in m.child_enums() {
            out.enums.insert(
                nested_name(e.full_name(), package).to_owned(),
                loc(file, e.path()),
            );
        }
        for x in m.child_extensions() {
            out.extensions.insert(
                nested_name(x.full_name(), package).to_owned(),
                loc(file, x.path()),
            );
        }
        stack.extend(m.child_messages());
    }
    out
}
