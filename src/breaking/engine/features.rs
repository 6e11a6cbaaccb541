//! Editions features, resolved the protobuf way: the element's own `features`, then its
//! parents', then the file's, then the defaults of the file's syntax or edition.
//!
//! Options are read dynamically (prost-reflect's `options()` is a `DynamicMessage` typed by the
//! pool's own `descriptor.proto`), because prost-types' generated `descriptor.proto` predates
//! editions and has no `features` field.

use prost_reflect::{DynamicMessage, FileDescriptor};

/// A `google.protobuf.FeatureSet` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    Utf8Validation,
    JsonFormat,
    FieldPresence,
}

impl Feature {
    fn name(self) -> &'static str {
        match self {
            Feature::Utf8Validation => "utf8_validation",
            Feature::JsonFormat => "json_format",
            Feature::FieldPresence => "field_presence",
        }
    }

    /// The value when nothing sets it: proto2, proto3 and edition 2023 defaults.
    fn default(self, syntax: &str) -> i32 {
        match (self, syntax) {
            (Feature::Utf8Validation, "proto3" | "editions") => 2, // VERIFY
            (Feature::Utf8Validation, _) => 3,                     // NONE
            (Feature::JsonFormat, "proto3" | "editions") => 1,     // ALLOW
            (Feature::JsonFormat, _) => 2,                         // LEGACY_BEST_EFFORT
            (Feature::FieldPresence, "proto3") => 2,               // IMPLICIT
            (Feature::FieldPresence, _) => 1,                      // EXPLICIT
        }
    }

    /// Gets the name of a value, e.g. `VERIFY`.
    pub(crate) fn value_name(self, value: i32) -> &'static str {
        match (self, value) {
            (Feature::Utf8Validation, 2) => "VERIFY",
            (Feature::Utf8Validation, 3) => "NONE",
            (Feature::JsonFormat, 1) => "ALLOW",
            (Feature::JsonFormat, 2) => "LEGACY_BEST_EFFORT",
            _ => "UNKNOWN",
        }
    }
}

/// Resolves a feature: `chain` is the element's options, then its parents' (innermost first);
/// the file's options are looked at last.
pub(crate) fn resolve(
    feature: Feature,
    file: &FileDescriptor,
    chain: impl FnOnce() -> Vec<DynamicMessage>,
) -> i32 {
    let syntax = crate::schema::syntax(file);
    if syntax != "editions" {
        // Only editions files can set features: skip decoding options (costly on big trees).
        return feature.default(syntax);
    }
    let chain = chain();
    let file_options = file.options();
    for options in chain.iter().chain(std::iter::once(&file_options)) {
        if let Some(value) = explicit(options, feature) {
            return value;
        }
    }
    feature.default(syntax)
}

fn explicit(options: &DynamicMessage, feature: Feature) -> Option<i32> {
    if !options.has_field_by_name("features") {
        return None;
    }
    let features = options.get_field_by_name("features")?;
    let features = features.as_message()?;
    if !features.has_field_by_name(feature.name()) {
        return None;
    }
    features.get_field_by_name(feature.name())?.as_enum_number()
}

/// Resolves a language feature of an editions file, e.g. `(pb.cpp).string_type`: `extension`
/// names the `FeatureSet` extension (`pb.cpp`), `field` its field. `None` when nothing sets it
/// (or the file is not editions, or the extension is not in the pool): the caller knows the
/// language's default.
pub(crate) fn resolve_extension(
    file: &FileDescriptor,
    extension: &str,
    field: &str,
    chain: impl FnOnce() -> Vec<DynamicMessage>,
) -> Option<i32> {
    if crate::schema::syntax(file) != "editions" {
        return None;
    }
    let extension = file.parent_pool().get_extension_by_name(extension)?;
    let file_options = file.options();
    let chain = chain();
    chain
        .iter()
        .chain(std::iter::once(&file_options))
        .find_map(|options| {
            if !options.has_field_by_name("features") {
                return None;
            }
            let features = options.get_field_by_name("features")?;
            let features = features.as_message()?;
            if !features.has_extension(&extension) {
                return None;
            }
            let language = features.get_extension(&extension);
            let language = language.as_message()?;
            if !language.has_field_by_name(field) {
                return None;
            }
            language.get_field_by_name(field)?.as_enum_number()
        })
}

/// Gets the options of a message and of every message around it, innermost first.
pub(crate) fn message_chain(message: &prost_reflect::MessageDescriptor) -> Vec<DynamicMessage> {
    let mut chain = vec![message.options()];
    let mut parent = message.parent_message();
    while let Some(m) = parent {
        chain.push(m.options());
        parent = m.parent_message();
    }
    chain
}
