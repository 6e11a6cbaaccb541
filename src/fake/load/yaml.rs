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
    /// A flow collection (`[`, `{`) or quote opened before the error and never closed: where
    /// it was opened, and what opened it. Parsers notice such mistakes later, elsewhere.
    pub(crate) unclosed: Option<(usize, char)>,
}

/// The most nodes that aliases may produce in one file (a "billion laughs" file asks for
/// billions).
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

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
        aliased: 0,
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
    let at = offset(text, marker.byte_offset(), marker.index());
    SyntaxError {
        offset: at,
        message: err.info(),
        unclosed: unclosed_before(text, at + 1),
    }
}

/// The innermost flow collection or quoted scalar still open at `upto` (comments and quoted
/// text skipped), with where it opened.
pub(crate) fn unclosed_before(text: &str, upto: usize) -> Option<(usize, char)> {
    let mut open: Vec<(usize, char)> = Vec::new();
    let bytes = text.as_bytes();
    let end = upto.min(bytes.len());
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                while i < end && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            quote @ (b'"' | b'\'') => {
                let start = i;
                i += 1;
                let mut closed = false;
                while i < bytes.len() {
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == quote {
                        // '' is an escaped quote inside a single-quoted scalar.
                        if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    i += 1;
                }
                if !closed || i >= end {
                    return Some((start, quote as char));
                }
            }
            b'[' | b'{' => open.push((i, bytes[i] as char)),
            b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    open.pop()
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
        /// Keys written so far, with where: duplicates are found in constant time.
        seen: HashMap<String, usize>,
    },
}

struct Builder<'a> {
    text: &'a str,
    stack: Vec<Frame>,
    /// Anchored nodes, with how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    docs: Vec<Node>,
    /// Nodes produced by aliases so far.
    aliased: usize,
}

/// How many nodes a tree holds.
fn size(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar(_) => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
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
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node)
            }
            Event::Alias(id) => {
                let Some((node, nodes)) = self.anchors.get(&id) else {
                    return Err(SyntaxError {
                        offset: span.start,
                        message: "unknown alias".into(),
                        unclosed: None,
                    });
                };
                self.aliased = self.aliased.saturating_add(*nodes);
                if self.aliased > MAX_ALIAS_NODES {
                    return Err(SyntaxError {
                        offset: span.start,
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_NODES} nodes (is this a \"billion laughs\" file?); write the repeated parts out, or use fewer nested aliases"
                        ),
                        unclosed: None,
                    });
                }
                let mut node = node.clone();
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
                    seen: HashMap::new(),
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
                    unclosed: None,
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
                    unclosed: None,
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
            let nodes = size(&node);
            self.anchors.insert(anchor, (node.clone(), nodes));
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
                seen,
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
                        && let Some(first) = seen.get(text.as_str())
                    {
                        let line = line_of(self.text, *first);
                        return Err(SyntaxError {
                            offset: k.span.start,
                            message: format!(
                                "duplicate key `{text}` (first written on line {line})"
                            ),
                            unclosed: None,
                        });
                    }
                    if let Some(text) = k_scalar.map(|s| s.text.clone()) {
                        seen.insert(text, k.span.start);
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
    fn an_alias_bomb_stops_at_the_limit() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(
            err.message.contains("aliases expand to more than"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unclosed_collections_are_found_where_they_opened() {
        let text = "- a: [1, 2\n- b: 3\n";
        assert_eq!(unclosed_before(text, text.len()), Some((5, '[')));
        assert_eq!(unclosed_before("x: \"a[b\"\n", 9), None);
        assert_eq!(unclosed_before("x: 'it''s\n", 10), Some((3, '\'')));
        assert_eq!(unclosed_before("x: [a] # [\n", 11), None);
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.offset > 0);
    }
}
