//! A received message kept as its bytes, read field by field, and decoded whole only when
//! something needs the whole message.
//!
//! Most stubs read a few scalar fields of a request (`{{ request.user_id }}`, a filter on
//! `email`), and a hand-written server would decode the request into a generated struct for the
//! same. Building a [`DynamicMessage`] costs more than that (a map insert and a type check per
//! field), so a message of a flat type (see [`FlatDecoder`]) is checked when it arrives — the
//! same reads as decoding, nothing built, so garbage is still refused at once — and kept as
//! bytes, with where each field's value starts: [`LazyMessage::with_scalar`] finds one field's
//! value with one lookup, and the message is decoded the first time it is dereferenced (a matcher
//! comparing messages, a template printing one).
//!
//! A request of a few dozen bytes is copied into the message itself, a larger one up to 1 KiB
//! into a block of its own (copying costs less than sharing tonic's receive buffer: an atomic
//! count per message, and a buffer tonic cannot reuse while a share is held); larger ones are
//! a share of that buffer, not a copy. What a call keeps is thus about the bytes it received,
//! which its request limit (`--max-received-bytes`) bounds, as it bounded the decoded messages
//! before.

use std::{borrow::Cow, ops::Deref, sync::Arc, sync::OnceLock};

use bytes::Bytes;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, MessageDescriptor, ReflectMessage as _, Value,
};

use super::flat::{FlatDecoder, Offsets, ScalarRef};

/// A message as received: decoded, or bytes checked by a flat decoder (see the module
/// documentation). Dereferences to the decoded message.
pub(crate) struct LazyMessage {
    repr: Repr,
}

enum Repr {
    Decoded(DynamicMessage),
    Bytes {
        bytes: Kept,
        flat: Arc<FlatDecoder>,
        offsets: Option<Offsets>,
        /// Boxed: most messages are never decoded, and each carries this slot.
        message: OnceLock<Box<DynamicMessage>>,
    },
}

/// The most bytes a message keeps inline (see [`Kept`]).
const INLINE: usize = 54;

/// A message's bytes: copied into the message when they are few (a typical request of a
/// stream: no block of their own to allocate and free per message), else a [`Bytes`].
enum Kept {
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Bytes),
}

impl Deref for Kept {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Kept::Inline { len, buf } => &buf[..usize::from(*len)],
            Kept::Shared(bytes) => bytes,
        }
    }
}

impl LazyMessage {
    /// A message already decoded.
    pub(crate) fn decoded(message: DynamicMessage) -> Self {
        Self {
            repr: Repr::Decoded(message),
        }
    }

    /// The message `bytes` encode, kept as bytes, when `flat` decodes them; the bytes back
    /// otherwise (for the general decoder, which keeps unknown fields and reports errors).
    ///
    /// The message is put in its `Arc` first and checked there, so the offsets are written
    /// where they stay (no copy of what was just written).
    pub(crate) fn flat(bytes: Bytes, flat: &Arc<FlatDecoder>) -> Result<Arc<Self>, Bytes> {
        Self::accepted(Kept::Shared(bytes), flat, |_| {}).map_err(|refused| {
            match Arc::try_unwrap(refused).map(|lazy| lazy.repr) {
                Ok(Repr::Bytes {
                    bytes: Kept::Shared(bytes),
                    ..
                }) => bytes,
                // Unreachable: a refused message was never shared.
                _ => Bytes::new(),
            }
        })
    }

    /// The message `bytes` encode, copied (inline when they are few), when `flat` decodes
    /// them; `None` otherwise (for the general decoder).
    pub(crate) fn flat_copied(bytes: &[u8], flat: &Arc<FlatDecoder>) -> Option<Arc<Self>> {
        let fill = |kept: &mut Kept| {
            if let Kept::Inline { len, buf } = kept {
                buf[..bytes.len()].copy_from_slice(bytes);
                *len = bytes.len() as u8;
            }
        };
        let kept = if bytes.len() <= INLINE {
            Kept::Inline {
                len: 0,
                buf: [0; INLINE],
            }
        } else {
            Kept::Shared(Bytes::copy_from_slice(bytes))
        };
        Self::accepted(kept, flat, fill).ok()
    }

    /// The message in `bytes` (after `fill` wrote them in place), checked by `flat`: put in
    /// its `Arc` first and checked there, so the bytes and the offsets are written where they
    /// stay (no copy of what was just written, which would stall on those writes).
    fn accepted(
        bytes: Kept,
        flat: &Arc<FlatDecoder>,
        fill: impl FnOnce(&mut Kept),
    ) -> Result<Arc<Self>, Arc<Self>> {
        let mut lazy = Arc::new(Self {
            repr: Repr::Bytes {
                bytes,
                flat: flat.clone(),
                offsets: None,
                message: OnceLock::new(),
            },
        });
        // A new `Arc` is not shared, so `get_mut` always answers.
        let accepted = match Arc::get_mut(&mut lazy).map(|lazy| &mut lazy.repr) {
            Some(Repr::Bytes { bytes, offsets, .. }) => {
                fill(bytes);
                flat.accept_into(bytes, offsets)
            }
            _ => false,
        };
        if accepted { Ok(lazy) } else { Err(lazy) }
    }

    /// The bytes, for a message kept as bytes.
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Decoded(_) => None,
            Repr::Bytes { bytes, .. } => Some(bytes),
        }
    }

    /// The message's type (the message is not decoded for it).
    pub(crate) fn descriptor(&self) -> MessageDescriptor {
        match &self.repr {
            Repr::Decoded(message) => message.descriptor(),
            Repr::Bytes { flat, .. } => flat.descriptor().clone(),
        }
    }

    /// Calls `f` with the value of `field` as a [`ScalarRef`] — read from the bytes when it can
    /// be, else borrowed from the decoded message (an unset field's default included) — or
    /// with `None` when the field is not a singular scalar.
    pub(crate) fn with_scalar<R>(
        &self,
        field: &FieldDescriptor,
        f: impl FnOnce(Option<ScalarRef<'_>>) -> R,
    ) -> R {
        match self.read(field) {
            Some(value) => f(Some(value)),
            None => f(ScalarRef::of(&self.field(field))),
        }
    }

    /// The value of the singular scalar `field` (its default when it is not set), read from
    /// the bytes without decoding the message. `None` when it cannot be read that way (the
    /// message is decoded already, or `field` is not one of its type's): use
    /// [`field`](Self::field).
    fn read(&self, field: &FieldDescriptor) -> Option<ScalarRef<'_>> {
        match &self.repr {
            Repr::Bytes {
                bytes,
                flat,
                offsets,
                message,
            } if message.get().is_none() => flat.read(bytes, offsets.as_ref(), field),
            _ => None,
        }
    }

    /// The value of `field`, as [`DynamicMessage::get_field`] gives it, read from the bytes
    /// when it can be.
    pub(crate) fn field(&self, field: &FieldDescriptor) -> Cow<'_, Value> {
        match self.read(field) {
            Some(value) => Cow::Owned(value.to_value()),
            None => self.deref().get_field(field),
        }
    }
}

impl Deref for LazyMessage {
    type Target = DynamicMessage;

    fn deref(&self) -> &DynamicMessage {
        match &self.repr {
            Repr::Decoded(message) => message,
            Repr::Bytes {
                bytes,
                flat,
                message,
                ..
            } => message.get_or_init(|| {
                // The bytes were accepted by this decoder when they arrived, so it decodes
                // them; the general decoder is only a guard that cannot be reached.
                Box::new(flat.decode(bytes).unwrap_or_else(|| {
                    DynamicMessage::decode(flat.descriptor().clone(), &bytes[..])
                        .unwrap_or_else(|_| DynamicMessage::new(flat.descriptor().clone()))
                }))
            }),
        }
    }
}

impl std::fmt::Debug for LazyMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.deref(), f)
    }
}

impl From<DynamicMessage> for LazyMessage {
    fn from(message: DynamicMessage) -> Self {
        Self::decoded(message)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::schema::Schema;

    const PROTO: &str = r#"
        syntax = "proto2";
        package lazy;
        message Flat {
          optional string name = 1 [default = "anon"];
          optional int32 age = 2;
          oneof contact { string email = 3; string phone = 4; }
        }
    "#;

    fn decoder() -> Arc<FlatDecoder> {
        let schema = Schema::from_sources([("lazy.proto", PROTO)]).unwrap();
        let message = schema.pool().get_message_by_name("lazy.Flat").unwrap();
        Arc::new(FlatDecoder::new(&message).unwrap())
    }

    fn encode(flat: &FlatDecoder, fields: &[(&str, Value)]) -> Bytes {
        let mut out = Vec::new();
        for (name, value) in fields {
            let mut one = DynamicMessage::new(flat.descriptor().clone());
            one.set_field_by_name(name, value.clone());
            out.extend(one.encode_to_vec());
        }
        out.into()
    }

    /// Every field read from the bytes is what the decoded message holds: repeats keep the
    /// last value, a later oneof member replaces an earlier one, unset fields give their
    /// (declared) default.
    #[test]
    fn fields_read_from_bytes_agree_with_the_decoded_message() {
        let flat = decoder();
        let cases: Vec<Vec<(&str, Value)>> = vec![
            vec![],
            vec![("name", Value::String("a".into())), ("age", Value::I32(3))],
            vec![("age", Value::I32(1)), ("age", Value::I32(2))],
            vec![
                ("email", Value::String("e".into())),
                ("phone", Value::String("p".into())),
            ],
            vec![
                ("phone", Value::String("p".into())),
                ("email", Value::String("e".into())),
                ("name", Value::String("n".into())),
            ],
        ];
        for fields in cases {
            let bytes = encode(&flat, &fields);
            let expected = DynamicMessage::decode(flat.descriptor().clone(), &bytes[..]).unwrap();
            let lazy = LazyMessage::flat(bytes, &flat).unwrap();
            for field in flat.descriptor().fields() {
                assert!(
                    lazy.read(&field).is_some(),
                    "{fields:?}: read {}",
                    field.name()
                );
                assert_eq!(
                    lazy.field(&field),
                    expected.get_field(&field),
                    "{fields:?}: {}",
                    field.name()
                );
            }
            // Dereferencing decodes it whole; fields are then read from the message.
            assert_eq!(**lazy, expected);
            assert!(
                lazy.read(&flat.descriptor().fields().next().unwrap())
                    .is_none()
            );
        }
    }

    /// Copied bytes, inline or not, read as shared ones do; refused ones are not kept.
    #[test]
    fn copied_messages_read_as_shared_ones_do() {
        let flat = decoder();
        for name in [
            "a",
            &"n".repeat(INLINE),
            &"n".repeat(INLINE + 1),
            &"n".repeat(300),
        ] {
            let bytes = encode(
                &flat,
                &[("name", Value::String(name.into())), ("age", Value::I32(7))],
            );
            let copied = LazyMessage::flat_copied(&bytes, &flat).unwrap();
            let shared = LazyMessage::flat(bytes.clone(), &flat).unwrap();
            assert_eq!(copied.bytes(), Some(&bytes[..]));
            for field in flat.descriptor().fields() {
                assert_eq!(
                    copied.field(&field),
                    shared.field(&field),
                    "{}",
                    field.name()
                );
            }
            assert_eq!(**copied, **shared);
        }
        assert!(LazyMessage::flat_copied(&[0x0a, 0x01, 0xff], &flat).is_none());
    }

    #[test]
    fn bytes_the_flat_decoder_refuses_are_handed_back() {
        let flat = decoder();
        // Invalid UTF-8 in `name`, an unknown field, a truncated varint.
        for bytes in [&[0x0a, 0x01, 0xff][..], &[0x28, 0x01], &[0x10, 0x80]] {
            let back = LazyMessage::flat(Bytes::copy_from_slice(bytes), &flat).unwrap_err();
            assert_eq!(&back[..], bytes);
        }
        // A field of another type is not read from the bytes.
        let schema = Schema::from_sources([("lazy.proto", PROTO)]).unwrap();
        let other = schema.pool().get_message_by_name("lazy.Flat").unwrap();
        let lazy = LazyMessage::flat(Bytes::new(), &flat).unwrap();
        let foreign = other.get_field_by_name("name").unwrap();
        assert!(lazy.read(&foreign).is_none());
    }

    /// Every message of a stream is one of these in its `Arc`: moving a larger one in cost
    /// more than its lookups save (docs/performance.md), so its size is held here.
    #[test]
    fn a_message_kept_as_bytes_stays_small() {
        assert!(
            std::mem::size_of::<LazyMessage>() <= 128,
            "{} bytes",
            std::mem::size_of::<LazyMessage>()
        );
    }
}
