//! Old writer, new reader: what a reader built from the new schema sees in data the old schema
//! wrote.
//!
//! [`compare_old_new`] is a pure function: it encodes one old message, decodes it with the new
//! type and compares, field by field, what the new reader *sees* against what the old writer
//! *wrote*. Binary fields are matched by number (that is all the wire carries); JSON fields by
//! their JSON name, the way a JSON reader matches them. A value that survives a round trip back
//! to the old schema still counts as lost when the new reader cannot see it: a field that fell
//! into unknown fields, a truncated or sign-flipped integer, an enum number the new enum lacks, a
//! JSON key the new reader rejects.
//!
//! [`find_counterexample`] drives it with proptest: it generates old messages until one shows a
//! difference, then shrinks it to a minimal one. This is the engine behind
//! `grpc-double breaking --explain` and `grpc-double roundtrip NEW --against OLD`.

use prost::Message as _;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};

use super::{Difference, DifferenceKind, Encoding, property};
use crate::schema::value::{
    eq::{EqOptions, unpack_any, value_eq},
    int::{self, IntChange, as_int},
    kinds::{key_text, short_name},
    show::{Style, show, show_message},
};

/// Compares what a reader of `new_desc` sees in `old` (binary and JSON) with what `old` holds.
///
/// Fields are matched by number on the wire and by JSON name in JSON; see the module docs. An
/// empty result means the new reader sees exactly what the old writer wrote.
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{DifferenceKind, compare_old_new}};
/// use prost_reflect::{DynamicMessage, Value};
///
/// // Arrange: `int32 n = 1` became `uint32 n = 1`.
/// let old = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { int32 n = 1; }")])?;
/// let new = Schema::from_sources([("a.proto", "syntax = \"proto3\"; package a; message M { uint32 n = 1; }")])?;
/// let mut message = DynamicMessage::new(old.pool().get_message_by_name("a.M").unwrap());
/// message.set_field_by_number(1, Value::I32(-1));
/// // Act
/// let differences = compare_old_new(&message, &new.pool().get_message_by_name("a.M").unwrap());
/// // Assert
/// assert_eq!(differences[0].kind, DifferenceKind::SignFlipped);
/// assert_eq!(differences[0].read, "4294967295");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compare_old_new(old: &DynamicMessage, new_desc: &MessageDescriptor) -> Vec<Difference> {
    compare_old_new_with(old, new_desc, Encoding::Both)
}

/// [`compare_old_new`] restricted to one encoding (`Both` checks both).
pub fn compare_old_new_with(
    old: &DynamicMessage,
    new_desc: &MessageDescriptor,
    encoding: Encoding,
) -> Vec<Difference> {
    let mut out = Vec::new();
    if encoding.binary() {
        match DynamicMessage::decode(new_desc.clone(), old.encode_to_vec().as_slice()) {
            Ok(new) => Walker {
                encoding: Encoding::Binary,
                out: &mut out,
            }
            .message(old, &new, &mut String::new()),
            Err(err) => out.push(whole(
                Encoding::Binary,
                DifferenceKind::Rejected,
                old,
                err.to_string(),
            )),
        }
    }
    // When the old schema itself cannot write a value as JSON, that is not the new reader's fault.
    if encoding.json()
        && let Ok(text) = property::to_json(old)
    {
        match property::from_json(new_desc.clone(), &text) {
            Ok(new) => Walker {
                encoding: Encoding::Json,
                out: &mut out,
            }
            .message(old, &new, &mut String::new()),
            Err(err) => out.push(whole(
                Encoding::Json,
                DifferenceKind::JsonRejected,
                old,
                err,
            )),
        }
    }
    out
}

fn whole(
    encoding: Encoding,
    kind: DifferenceKind,
    old: &DynamicMessage,
    read: String,
) -> Difference {
    Difference {
        encoding,
        kind,
        path: String::new(),
        old_field: String::new(),
        new_field: String::new(),
        wrote: message_json(old),
        read,
    }
}

struct Walker<'a> {
    encoding: Encoding,
    out: &'a mut Vec<Difference>,
}

impl Walker<'_> {
    fn message(&mut self, old: &DynamicMessage, new: &DynamicMessage, path: &mut String) {
        if old.descriptor().full_name() == "google.protobuf.Any"
            && new.descriptor().full_name() == "google.protobuf.Any"
            && let (Some(op), Some(np)) = (unpack_any(old), unpack_any(new))
            && old.get_field_by_number(1) == new.get_field_by_number(1)
        {
            // Same packed type on both sides: compare what the payload holds.
            self.message(&op, &np, path);
            return;
        }
        let new_desc = new.descriptor();
        for field in old.descriptor().fields() {
            if !old.has_field(&field) {
                continue;
            }
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field.name());
            let new_field = match self.encoding {
                Encoding::Json => new_desc
                    .get_field_by_json_name(field.json_name())
                    .or_else(|| new_desc.get_field_by_name(field.name())),
                _ => new_desc.get_field(field.number()),
            };
            match new_field {
                None => {
                    let read = if self.encoding == Encoding::Binary {
                        let kept = new.unknown_fields().any(|u| u.number() == field.number());
                        if kept {
                            format!("nothing (kept only as unknown field {})", field.number())
                        } else {
                            "nothing".to_owned()
                        }
                    } else {
                        "nothing".to_owned()
                    };
                    self.push(
                        DifferenceKind::Dropped,
                        path,
                        &field,
                        None,
                        shown(&old.get_field(&field)),
                        read,
                    );
                }
                Some(nf) => self.field(old, &field, new, &nf, path),
            }
            path.truncate(len);
        }
        for nf in new_desc.fields().filter(|f| f.is_required()) {
            if !new.has_field(&nf) {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(nf.name());
                self.out.push(Difference {
                    encoding: self.encoding,
                    kind: DifferenceKind::RequiredMissing,
                    path: path.clone(),
                    old_field: String::new(),
                    new_field: field_label(&nf),
                    wrote: "nothing".to_owned(),
                    read: "unset".to_owned(),
                });
                path.truncate(len);
            }
        }
    }

    fn push(
        &mut self,
        kind: DifferenceKind,
        path: &str,
        old: &FieldDescriptor,
        new: Option<&FieldDescriptor>,
        wrote: String,
        read: String,
    ) {
        self.out.push(Difference {
            encoding: self.encoding,
            kind,
            path: path.to_owned(),
            old_field: field_label(old),
            new_field: new.map(field_label).unwrap_or_default(),
            wrote,
            read,
        });
    }

    fn field(
        &mut self,
        old: &DynamicMessage,
        of: &FieldDescriptor,
        new: &DynamicMessage,
        nf: &FieldDescriptor,
        path: &mut String,
    ) {
        let ov = old.get_field(of);
        let nv = new.get_field(nf);
        let old_many = of.is_list() || of.is_map();
        let new_many = nf.is_list() || nf.is_map();
        match (old_many, new_many) {
            (false, false) => {
                let before = self.out.len();
                self.value(&ov, &of.kind(), of, &nv, &nf.kind(), nf, path);
                let singular_presence = nf.supports_presence() && !new.has_field(nf);
                if self.out.len() == before
                    && singular_presence
                    && !matches!(of.kind(), Kind::Message(_))
                {
                    self.push(
                        DifferenceKind::PresenceLost,
                        path,
                        of,
                        Some(nf),
                        shown(&ov),
                        "unset (default)".to_owned(),
                    );
                } else if self.out.len() == before
                    && of.supports_presence()
                    && !nf.supports_presence()
                    && ov.is_default(&of.kind())
                {
                    self.push(
                        DifferenceKind::PresenceLost,
                        path,
                        of,
                        Some(nf),
                        shown(&ov),
                        format!("{} (not marked as set)", shown(&nv)),
                    );
                }
            }
            (false, true) | (true, false) => {
                self.push(
                    DifferenceKind::Cardinality,
                    path,
                    of,
                    Some(nf),
                    shown(&ov),
                    shown(&nv),
                );
            }
            (true, true) => {
                let oe = entries(&ov, of);
                let ne = entries(&nv, nf);
                if of.is_map() != nf.is_map() && self.encoding == Encoding::Json {
                    self.push(
                        DifferenceKind::Cardinality,
                        path,
                        of,
                        Some(nf),
                        shown(&ov),
                        shown(&nv),
                    );
                    return;
                }
                match (&oe, &ne) {
                    (Entries::Map(om), Entries::Map(nm)) => {
                        let (ok, nk) = (map_parts(of), map_parts(nf));
                        for (key, v) in om {
                            let len = path.len();
                            path.push_str(&format!("[{}]", key_text(key)));
                            match nm.iter().find(|(k, _)| key_eq(key, k)) {
                                Some((_, w)) => {
                                    self.value(v, &ok.1.kind(), &ok.1, w, &nk.1.kind(), &nk.1, path)
                                }
                                None => {
                                    let near: Vec<String> =
                                        nm.iter().map(|(k, _)| key_text(k)).collect();
                                    self.push(
                                        DifferenceKind::Changed,
                                        path,
                                        of,
                                        Some(nf),
                                        format!("entry {}", key_text(key)),
                                        format!("keys [{}]", near.join(", ")),
                                    );
                                }
                            }
                            path.truncate(len);
                        }
                    }
                    _ => {
                        let ol = oe.into_list(of);
                        let nl = ne.into_list(nf);
                        if ol.len() != nl.len() {
                            self.push(
                                DifferenceKind::Changed,
                                path,
                                of,
                                Some(nf),
                                shown(&ov),
                                shown(&nv),
                            );
                            return;
                        }
                        let ok = element_kind(of);
                        let nk = element_kind(nf);
                        for (i, (a, b)) in ol.iter().zip(&nl).enumerate() {
                            let len = path.len();
                            path.push_str(&format!("[{i}]"));
                            self.value(a, &ok, of, b, &nk, nf, path);
                            path.truncate(len);
                        }
                    }
                }
            }
        }
    }

    /// Compares one old value with one new value (singular or an element).
    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        ov: &Value,
        ok: &Kind,
        of: &FieldDescriptor,
        nv: &Value,
        nk: &Kind,
        nf: &FieldDescriptor,
        path: &mut String,
    ) {
        match (ov, nv) {
            (Value::Message(om), Value::Message(nm)) => {
                self.message(om, nm, path);
                return;
            }
            (Value::Message(om), Value::Bytes(b))
                if om.encode_to_vec() == b.as_ref() && self.encoding == Encoding::Binary =>
            {
                return;
            }
            _ => {}
        }
        if let (Some(o), Some(n)) = (as_int(ov), as_int(nv)) {
            if o == n {
                if let Kind::Enum(ne) = nk
                    && ne.get_value(n as i32).is_none()
                    && !matches!(ok, Kind::Enum(oe) if oe.get_value(o as i32).is_none())
                {
                    self.push(
                        DifferenceKind::EnumValueUnknown,
                        path,
                        of,
                        Some(nf),
                        shown(ov),
                        format!("{n}, which {} does not declare", ne.full_name()),
                    );
                }
                return;
            }
            let kind = classify(o, ok, n, nk);
            self.push(kind, path, of, Some(nf), shown(ov), shown(nv));
            return;
        }
        let same = match (ov, nv) {
            (Value::String(s), Value::Bytes(b)) | (Value::Bytes(b), Value::String(s)) => {
                self.encoding == Encoding::Binary && s.as_bytes() == b.as_ref()
            }
            _ => value_eq(ov, nv, EqOptions::EXACT),
        };
        if !same {
            self.push(
                DifferenceKind::Changed,
                path,
                of,
                Some(nf),
                shown(ov),
                shown(nv),
            );
        }
    }
}

enum Entries {
    Map(Vec<(MapKey, Value)>),
    List(Vec<Value>),
}

impl Entries {
    /// Lists as they are; maps as their entry messages, sorted by key (what the wire carries).
    fn into_list(self, field: &FieldDescriptor) -> Vec<Value> {
        match self {
            Entries::List(list) => list,
            Entries::Map(map) => {
                let Kind::Message(entry) = field.kind() else {
                    return Vec::new();
                };
                map.into_iter()
                    .map(|(k, v)| {
                        let mut m = DynamicMessage::new(entry.clone());
                        m.set_field_by_number(1, Value::from(k));
                        m.set_field_by_number(2, v);
                        Value::Message(m)
                    })
                    .collect()
            }
        }
    }
}

fn entries(value: &Value, field: &FieldDescriptor) -> Entries {
    match value {
        Value::Map(map) if field.is_map() => {
            let mut entries: Vec<(MapKey, Value)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Entries::Map(entries)
        }
        Value::List(list) => Entries::List(list.clone()),
        other => Entries::List(vec![other.clone()]),
    }
}

fn map_parts(field: &FieldDescriptor) -> (FieldDescriptor, FieldDescriptor) {
    match field.kind() {
        Kind::Message(entry) => (entry.map_entry_key_field(), entry.map_entry_value_field()),
        _ => unreachable!("map fields have an entry message"),
    }
}

fn element_kind(field: &FieldDescriptor) -> Kind {
    field.kind()
}

/// Map keys of different integer kinds are equal when they hold the same number.
fn key_eq(a: &MapKey, b: &MapKey) -> bool {
    let int = |k: &MapKey| match k {
        MapKey::String(_) => None,
        number => as_int(&Value::from(number.clone())),
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Why an integer changed (see [`int::classify`]).
fn classify(old: i128, ok: &Kind, new: i128, nk: &Kind) -> DifferenceKind {
    match int::classify(old, ok, new, nk) {
        IntChange::Truncated => DifferenceKind::Truncated,
        IntChange::SignFlipped => DifferenceKind::SignFlipped,
        IntChange::Changed => DifferenceKind::Changed,
    }
}

/// How old and new values show in differences.
fn shown(value: &Value) -> String {
    show(value, None, Style::EXACT)
}

fn message_json(message: &DynamicMessage) -> String {
    show_message(message, Style::EXACT)
}

/// Gets a field's number and type, e.g. `2 sint32` or `3 repeated string`.
fn field_label(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        other => short_name(&other).to_owned(),
    };
    let card = if field.is_map() {
        "map "
    } else if field.is_list() {
        "repeated "
    } else if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
        "oneof "
    } else if field.supports_presence() && !matches!(field.kind(), Kind::Message(_)) {
        "optional "
    } else {
        ""
    };
    format!("{} {card}{kind}", field.number())
}

#[cfg(test)]
mod tests {
    use prost_reflect::Kind;

    use super::{DifferenceKind, classify};

    #[test]
    fn roundtrip_classifies_integer_changes() {
        let (i32k, u32k, i64k) = (Kind::Int32, Kind::Uint32, Kind::Int64);
        assert_eq!(
            classify(-1, &i32k, 4_294_967_295, &u32k),
            DifferenceKind::SignFlipped
        );
        assert_eq!(
            classify(4_294_967_295, &u32k, -1, &i32k),
            DifferenceKind::SignFlipped
        );
        assert_eq!(
            classify((1 << 32) + 1, &i64k, 1, &i32k),
            DifferenceKind::Truncated
        );
        assert_eq!(
            classify(1, &i32k, -1, &Kind::Sint32),
            DifferenceKind::Changed
        );
        assert_eq!(classify(2, &i32k, 1, &Kind::Bool), DifferenceKind::Changed);
    }
}
