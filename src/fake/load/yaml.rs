//! A YAML document as a tree of spanned nodes.
//!
//! Fixtures are not deserialized through serde: a field's meaning depends on the proto type it
//! lands in (`012` is the string "012" in a `string` field and the number 12 in an `int32`), and
//! every error must point at the exact key or value. So the parser (serde-saphyr's
//! `granit-parser`) builds this small tree, keeping each scalar's raw text, whether it was quoted,
//! and its byte range; the fixture loader then walks it alongside the descriptors.
//!
//! Anchors, aliases and `<<` merge keys are resolved here; duplicate keys are errors.

use std::{collections::HashMap, ops::Range};

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError};

/// A YAML node with its byte range in the source.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) span: Range<usize>,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A scalar's text after YAML unescaping, and whether it was written without quotes.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) plain: bool,
}

/// A YAML syntax error at a byte offset.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl Node {
    /// Gets the scalar when the node is one.
    pub(crate) fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Gets the entries when the node is a mapping.
    pub(crate) fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// A YAML `null` (`~`, `null`, or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        self.as_scalar().is_some_and(Scalar::is_null)
    }

    /// What the node is, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(s) if s.is_null() => "null",
            NodeKind::Scalar(s) if !s.plain => "a quoted string",
            NodeKind::Scalar(s) if s.as_bool().is_some() => "a boolean",
            NodeKind::Scalar(s) if s.text.parse::<f64>().is_ok() => "a number",
            NodeKind::Scalar(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

impl Scalar {
    pub(crate) fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// A YAML 1.2 boolean, only when unquoted (`yes`/`on` are strings, as in YAML 1.2).
    pub(crate) fn as_bool(&self) -> Option<bool> {
        if !self.plain {
            return None;
        }
        match self.text.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }
}

/// Parses every document of `text`. An empty document yields a null scalar.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder {
        text,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| syntax_error(text, &err))?;
        let start = offset(text, span.start.byte_offset(), span.start.index());
        let end = offset(text, span.end.byte_offset(), span.end.index()).max(start);
        builder.event(event, start..end)?;
    }
    Ok(builder.docs)
}

fn syntax_error(text: &str, err: &ScanError) -> SyntaxError {
    let marker = err.marker();
    SyntaxError {
        offset: offset(text, marker.byte_offset(), marker.index()),
        message: err.info(),
    }
}

/// Byte offset of a marker: the parser gives it for string input; fall back to the char index.
fn offset(text: &str, bytes: Option<usize>, chars: usize) -> usize {
    bytes
        .unwrap_or_else(|| {
            text.char_indices()
                .nth(chars)
                .map_or(text.len(), |(i, _)| i)
        })
        .min(text.len())
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        merges: Vec<Node>,
    },
}

struct Builder<'a> {
    text: &'a str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Range<usize>) -> Result<(), SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                let node = Node {
                    span,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain && !forced_string,
                    }),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)
            }
            Event::Alias(id) => {
                let Some(mut node) = self.anchors.get(&id).cloned() else {
                    return Err(SyntaxError {
                        offset: span.start,
                        message: "unknown alias".into(),
                    });
                };
                node.span = span;
                self.push(node)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.stack.push(Frame::Seq {
                    start: span.start,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.stack.push(Frame::Map {
                    start: span.start,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => self.finish(
                    Node {
                        span: start..span.end.max(start),
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                ),
                _ => Err(SyntaxError {
                    offset: span.start,
                    message: "unbalanced sequence".into(),
                }),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    mut entries,
                    merges,
                    ..
                }) => {
                    apply_merges(&mut entries, merges);
                    self.finish(
                        Node {
                            span: start..span.end.max(start),
                            kind: NodeKind::Map(entries),
                        },
                        anchor,
                    )
                }
                _ => Err(SyntaxError {
                    offset: span.start,
                    message: "unbalanced mapping".into(),
                }),
            },
            Event::DocumentStart(..) => {
                self.anchors.clear();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node)
    }

    fn push(&mut self, node: Node) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => {
                self.docs.push(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    let k_scalar = k.as_scalar();
                    if k_scalar.is_some_and(|s| s.plain && s.text == "<<") {
                        merges.push(node);
                        return Ok(());
                    }
                    if let Some(text) = k_scalar.map(|s| &s.text)
                        && let Some((first, _)) = entries
                            .iter()
                            .find(|(e, _)| e.as_scalar().is_some_and(|s| &s.text == text))
                    {
                        let line = line_of(self.text, first.span.start);
                        return Err(SyntaxError {
                            offset: k.span.start,
                            message: format!(
                                "duplicate key `{text}` (first written on line {line})"
                            ),
                        });
                    }
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }
}

/// `<<: *base` and `<<: [*a, *b]`: keys written in the mapping win, then earlier merges win.
fn apply_merges(entries: &mut Vec<(Node, Node)>, merges: Vec<Node>) {
    let sources = merges.into_iter().flat_map(|m| match m.kind {
        NodeKind::Seq(items) => items,
        _ => vec![m],
    });
    for source in sources {
        if let NodeKind::Map(extra) = source.kind {
            for (k, v) in extra {
                let exists = entries
                    .iter()
                    .any(|(e, _)| match (e.as_scalar(), k.as_scalar()) {
                        (Some(a), Some(b)) => a.text == b.text,
                        _ => false,
                    });
                if !exists {
                    entries.push((k, v));
                }
            }
        }
    }
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The 1-based (line, column) of a byte offset; columns count characters (by scanning, for
/// tests of the indexed [`line_col_in`]).
#[cfg(test)]
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        line_of(text, offset),
        before[line_start..].chars().count() + 1,
    )
}

/// The byte offset where each line starts (the first is 0).
pub(crate) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// The 1-based (line, column) of a byte offset, given the line starts of `text`.
pub(crate) fn line_col_in(text: &str, starts: &[usize], offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line = starts.partition_point(|&start| start <= offset).max(1);
    let start = starts[line - 1];
    (line, text[start..offset].chars().count() + 1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse(text).unwrap().remove(0)
    }

    #[test]
    fn scalars_keep_raw_text_and_quoting() {
        let node = one("a: 012\nb: \"012\"\nc: NO\n");
        let entries = node.as_map().unwrap();
        let a = entries[0].1.as_scalar().unwrap();
        assert_eq!((a.text.as_str(), a.plain), ("012", true));
        let b = entries[1].1.as_scalar().unwrap();
        assert_eq!((b.text.as_str(), b.plain), ("012", false));
        assert_eq!(entries[2].1.as_scalar().unwrap().as_bool(), None);
    }

    #[test]
    fn spans_point_at_values() {
        let text = "name: Ada\nage: 30\n";
        let node = one(text);
        let (_, age) = &node.as_map().unwrap()[1];
        assert_eq!(&text[age.span.clone()], "30");
        assert_eq!(line_col(text, age.span.start), (2, 6));
    }

    #[test]
    fn merge_keys_and_aliases_resolve() {
        let node = one("base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  y: 3\n");
        let (_, this) = &node.as_map().unwrap()[1];
        let keys: Vec<_> = this
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_scalar().unwrap().text.clone(),
                    v.as_scalar().unwrap().text.clone(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("y".to_owned(), "3".to_owned()),
                ("x".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(
            err.message
                .contains("duplicate key `a` (first written on line 1)"),
            "{}",
            err.message
        );
        assert_eq!(err.offset, 10);
    }

    #[test]
    fn indexed_locations_agree_with_scanning() {
        let text = "a: 1\nbé: [x,\n  y]\n\nz: ü\n";
        let starts = line_starts(text);
        for offset in 0..=text.len() {
            assert_eq!(
                line_col_in(text, &starts, offset),
                line_col(text, offset),
                "{offset}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.offset > 0);
    }
}
