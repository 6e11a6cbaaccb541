//! Locations of descriptor elements as findings report them: file plus `SourceCodeInfo` path,
//! resolved to line and column only when a report is printed.

use prost_reflect::{FileDescriptor, Kind, MessageDescriptor};

use crate::breaking::finding::Location;

/// `FieldDescriptorProto.type`.
pub(crate) const TYPE: i32 = 5;
/// `FieldDescriptorProto.type_name`.
pub(crate) const TYPE_NAME: i32 = 6;

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

/// Gets the location of any descriptor element.
pub(crate) fn loc(file: &FileDescriptor, path: &[i32]) -> Location {
    Location::new(file.name(), path)
}

/// Gets the location of a map entry: the type of its map field.
pub(crate) fn map_entry_loc(entry: &MessageDescriptor) -> Option<Location> {
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

/// Where to report an element deleted from `file`: its closest surviving parent message, else
/// the file itself with no precise location (as buf does).
pub(crate) fn deleted_element_loc(file: &FileDescriptor, nested: &str) -> Location {
    let parts: Vec<&str> = nested.split('.').collect();
    for i in (1..parts.len()).rev() {
        let parent = parts[..i].join(".");
        let full = if file.package_name().is_empty() {
            parent
        } else {
            format!("{}.{parent}", file.package_name())
        };
        if let Some(m) = file.parent_pool().get_message_by_name(&full)
            && m.parent_file() == *file
        {
            return message_loc(&m);
        }
    }
    Location::new(file.name(), [])
}
