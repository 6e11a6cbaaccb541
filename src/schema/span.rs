//! Source locations of descriptor elements.
//!
//! Descriptors address elements by a path of field numbers and indexes into the
//! `FileDescriptorProto` (e.g. `[4, 0, 2, 1]`: message 0, field 1). The span is looked up only
//! when a report is rendered, so checks stay cheap.

use prost_reflect::FileDescriptor;

/// A 1-based source range. Zero means unknown, as in buf's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Span {
    /// First line, 1-based.
    pub line: u32,
    /// First column, 1-based.
    pub col: u32,
    /// Last line, 1-based.
    pub end_line: u32,
    /// Column just past the end, 1-based.
    pub end_col: u32,
}

/// Looks up the source span of the element at `path` in `file`, when the file has source info.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, schema::locate};
///
/// let schema = Schema::bundled();
/// let message = schema.pool().get_message_by_name("userservice.UserRequest").unwrap();
/// let span = locate(&message.parent_file(), message.path()).unwrap();
/// assert!(span.line > 1);
/// ```
pub fn locate(file: &FileDescriptor, path: &[i32]) -> Option<Span> {
    span_in(
        file.file_descriptor_proto().source_code_info.as_ref()?,
        path,
    )
}

/// Looks up the span of the element at `path` in a file's source info.
pub fn span_in(info: &prost_types::SourceCodeInfo, path: &[i32]) -> Option<Span> {
    let location = info.location.iter().find(|l| l.path == path)?;
    let to_u32 = |v: i32| u32::try_from(v).unwrap_or(0).saturating_add(1);
    match location.span[..] {
        [line, col, end_col] => Some(Span {
            line: to_u32(line),
            col: to_u32(col),
            end_line: to_u32(line),
            end_col: to_u32(end_col),
        }),
        [line, col, end_line, end_col] => Some(Span {
            line: to_u32(line),
            col: to_u32(col),
            end_line: to_u32(end_line),
            end_col: to_u32(end_col),
        }),
        _ => None,
    }
}
