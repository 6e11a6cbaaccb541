//! [`Field`]: a message field or an extension, the element the field rules compare, with its
//! locations (buf's: a map entry's fields point at the map field's type) and description.

use prost_reflect::{
    Cardinality, DynamicMessage, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor, OneofDescriptor,
};
use prost_types::FieldDescriptorProto;

use super::locate::{TYPE, TYPE_NAME, map_entry_loc};
use crate::breaking::finding::{FieldRef, Location};

/// A message field or an extension: buf runs the same field rules on both.
#[derive(Debug, Clone)]
pub(crate) enum Field {
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
    pub(crate) fn number(&self) -> u32 {
        delegate!(self, number)
    }
    /// Gets the short name, e.g. `age`.
    pub(crate) fn name(&self) -> &str {
        delegate!(self, name)
    }
    /// Gets the full name, e.g. `acme.v1.User.age`.
    pub(crate) fn full_name(&self) -> &str {
        delegate!(self, full_name)
    }
    /// Gets the kind (scalar type, message or enum).
    pub(crate) fn kind(&self) -> Kind {
        delegate!(self, kind)
    }
    /// Whether the field is `repeated` (and not a map).
    pub(crate) fn is_list(&self) -> bool {
        delegate!(self, is_list)
    }
    /// Whether the field is a map.
    pub(crate) fn is_map(&self) -> bool {
        delegate!(self, is_map)
    }
    /// Whether the field is a group / delimited-encoded message.
    pub(crate) fn is_group(&self) -> bool {
        delegate!(self, is_group)
    }
    /// Gets the label-level cardinality.
    pub(crate) fn cardinality(&self) -> Cardinality {
        delegate!(self, cardinality)
    }
    /// Whether the field tracks presence. For editions, from `features.field_presence`: a
    /// lowered descriptor (`schema::editions`) says proto2's answer when the file could not
    /// be lowered to proto3.
    pub(crate) fn supports_presence(&self) -> bool {
        let lowered = delegate!(self, supports_presence);
        let file = self.file();
        if self.is_list() || crate::schema::syntax(&file) != "editions" {
            return lowered;
        }
        let scoped = match self {
            Field::Normal(f) => f.containing_oneof().is_some(),
            Field::Extension(_) => true,
        };
        if scoped || self.kind().as_message().is_some() {
            return true;
        }
        super::resolve(super::Feature::FieldPresence, &file, || {
            let mut chain = vec![self.options()];
            if let Field::Normal(f) = self {
                chain.extend(super::message_chain(&f.parent_message().clone()));
            }
            chain
        }) != 2
    }
    /// Gets the effective JSON name.
    pub(crate) fn json_name(&self) -> &str {
        delegate!(self, json_name)
    }
    /// Gets the field's options as a dynamic message (standard options and features).
    pub(crate) fn options(&self) -> DynamicMessage {
        delegate!(self, options)
    }
    /// Gets the raw descriptor.
    pub(crate) fn proto(&self) -> &FieldDescriptorProto {
        delegate!(self, field_descriptor_proto)
    }
    /// Gets the file that declares the field.
    pub(crate) fn file(&self) -> FileDescriptor {
        delegate!(self, parent_file)
    }
    /// Gets the descriptor path.
    pub(crate) fn path(&self) -> &[i32] {
        delegate!(self, path)
    }
    /// Gets the extendee's full name, for an extension.
    pub(crate) fn extendee(&self) -> Option<String> {
        match self {
            Field::Normal(_) => None,
            Field::Extension(e) => Some(e.containing_message().full_name().to_owned()),
        }
    }
    /// Gets the containing message (the extendee, for an extension).
    pub(crate) fn message(&self) -> MessageDescriptor {
        match self {
            Field::Normal(f) => f.parent_message().clone(),
            Field::Extension(e) => e.containing_message(),
        }
    }
    /// Gets the real (non-synthetic) oneof the field belongs to.
    pub(crate) fn oneof(&self) -> Option<OneofDescriptor> {
        match self {
            Field::Normal(f) => f.containing_oneof().filter(|o| !o.is_synthetic()),
            Field::Extension(_) => None,
        }
    }
    /// Whether this is a field of a synthetic map-entry message.
    pub(crate) fn in_map_entry(&self) -> bool {
        matches!(self, Field::Normal(f) if f.parent_message().clone().is_map_entry())
    }

    /// Describes the field as buf does: `Field "2" with name "age" on message "User"`, or
    /// `Extension "7" with name "acme.v1.tag" on message "acme.v1.User"`.
    pub(crate) fn description(&self) -> String {
        let name = match self {
            Field::Normal(f) => f.name(),
            Field::Extension(e) => e.full_name(),
        };
        self.description_with_name(Some(name))
    }

    /// Like [`Field::description`], optionally without the name.
    pub(crate) fn description_with_name(&self, name: Option<&str>) -> String {
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
    pub(crate) fn loc(&self, extra: &[i32]) -> Location {
        if let Field::Normal(f) = self
            && let Some(map_loc) = map_entry_loc(&f.parent_message().clone())
        {
            return map_loc;
        }
        Location::new(self.file().name(), self.path()).child(extra)
    }

    /// Gets the location of the field's type: `[5]` for scalars, `[6]` for named types.
    pub(crate) fn type_loc(&self) -> Location {
        match self.kind() {
            Kind::Message(_) | Kind::Enum(_) => self.loc(&[TYPE_NAME]),
            _ => self.loc(&[TYPE]),
        }
    }

    /// Gets the reference `--explain` uses to find the field again.
    pub(crate) fn field_ref(&self) -> FieldRef {
        FieldRef {
            message: self.message().full_name().to_owned(),
            number: self.number(),
            extension: matches!(self, Field::Extension(_)),
        }
    }
}
