//! Well-known types whose legal values are narrower than their fields: `Timestamp` and
//! `Duration` in range, `Value` with a kind and finite numbers, `FieldMask` paths that survive
//! the JSON mapping, `Any` packing a type the pool resolves.

use proptest::{
    collection::vec,
    prelude::*,
    strategy::{BoxedStrategy, Just, Union},
};
use prost::{Message as _, bytes::Bytes};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};

use super::{
    Builder,
    scalars::{arb_field_path, arb_string, finite_f32, finite_f64, json_safe_f32},
};

impl Builder<'_> {
    /// Strategies for well-known types whose legal values are narrower than their fields.
    pub(super) fn well_known(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
        budget: usize,
    ) -> Option<BoxedStrategy<DynamicMessage>> {
        let d = desc.clone();
        let strategy = match desc.full_name() {
            "google.protobuf.Timestamp" => (
                -62_135_596_800i64..=253_402_300_799,
                prop_oneof![Just(0), 0..=999_999_999i32],
            )
                .prop_map(move |(seconds, nanos)| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::I64(seconds));
                    m.set_field_by_number(2, Value::I32(nanos));
                    m
                })
                .boxed(),
            "google.protobuf.Duration" => (
                -315_576_000_000i64..=315_576_000_000,
                prop_oneof![Just(0), 0..=999_999_999i32],
                any::<bool>(),
            )
                .prop_map(move |(seconds, nanos, negative)| {
                    let negative = seconds < 0 || (seconds == 0 && negative);
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::I64(seconds));
                    m.set_field_by_number(2, Value::I32(if negative { -nanos } else { nanos }));
                    m
                })
                .boxed(),
            "google.protobuf.FieldMask" => vec(arb_field_path(), 0..=3)
                .prop_map(move |paths| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(
                        1,
                        Value::List(paths.into_iter().map(Value::String).collect()),
                    );
                    m
                })
                .boxed(),
            "google.protobuf.Value" => self.wkt_value(desc, depth, budget),
            "google.protobuf.FloatValue" if self.config.json_compatible => finite_f32()
                .prop_map(move |v| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::F32(json_safe_f32(v)));
                    m
                })
                .boxed(),
            "google.protobuf.DoubleValue" if self.config.json_compatible => finite_f64()
                .prop_map(move |v| {
                    let mut m = DynamicMessage::new(d.clone());
                    m.set_field_by_number(1, Value::F64(v));
                    m
                })
                .boxed(),
            "google.protobuf.Any" => self.wkt_any(desc, depth, budget),
            _ => return None,
        };
        Some(strategy)
    }

    /// `google.protobuf.Value` always has its `kind` set (an unset kind has no JSON form) and
    /// only finite numbers (the JSON mapping has no NaN for `Value`); a `Struct` or `ListValue`
    /// while depth and budget remain.
    fn wkt_value(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
        budget: usize,
    ) -> BoxedStrategy<DynamicMessage> {
        let d = desc.clone();
        let set = move |number: u32, value: Value| {
            let mut m = DynamicMessage::new(d.clone());
            m.set_field_by_number(number, value);
            m
        };
        let (s1, s2, s3, s4) = (set.clone(), set.clone(), set.clone(), set.clone());
        let mut options: Vec<BoxedStrategy<DynamicMessage>> = vec![
            Just(())
                .prop_map(move |()| s1(1, Value::EnumNumber(0)))
                .boxed(),
            finite_f64().prop_map(move |v| s2(2, Value::F64(v))).boxed(),
            arb_string(self.config.max_string)
                .prop_map(move |v| s3(3, Value::String(v)))
                .boxed(),
            any::<bool>()
                .prop_map(move |v| s4(4, Value::Bool(v)))
                .boxed(),
        ];
        let share = self.share(desc, depth, budget);
        for number in [5u32, 6] {
            let Some(field) = desc.get_field(number) else {
                continue;
            };
            let Kind::Message(inner) = field.kind() else {
                continue;
            };
            let Some((depth, budget)) = share.filter(|_| self.fits(&inner, share)) else {
                continue;
            };
            let s = set.clone();
            options.push(
                self.message(&inner, depth, budget)
                    .prop_map(move |m| s(number, Value::Message(m)))
                    .boxed(),
            );
        }
        Union::new(options).boxed()
    }

    /// `google.protobuf.Any` packs a type the pool resolves: a few well-known types, and
    /// `google.rpc.Status` (always in a [`Schema`](crate::Schema)) while depth remains; only
    /// payloads that fit in what the budget leaves.
    fn wkt_any(
        &mut self,
        desc: &MessageDescriptor,
        depth: u32,
        budget: usize,
    ) -> BoxedStrategy<DynamicMessage> {
        let payload_budget = budget.saturating_sub(self.own_len(desc));
        let pool = desc.parent_pool().clone();
        let mut names = vec![
            "google.protobuf.Empty",
            "google.protobuf.StringValue",
            "google.protobuf.Int64Value",
            "google.protobuf.Timestamp",
            "google.protobuf.Duration",
        ];
        if depth > 0 {
            names.extend(["google.protobuf.Struct", "google.rpc.Status"]);
        }
        let mut options = Vec::new();
        for name in names {
            let Some(inner) = pool.get_message_by_name(name) else {
                continue;
            };
            if self.own_len(&inner) > payload_budget {
                continue;
            }
            let d = desc.clone();
            let url = format!("type.googleapis.com/{name}");
            options.push(
                self.message(&inner, depth.saturating_sub(1), payload_budget)
                    .prop_map(move |payload| {
                        let mut m = DynamicMessage::new(d.clone());
                        m.set_field_by_number(1, Value::String(url.clone()));
                        m.set_field_by_number(
                            2,
                            Value::Bytes(Bytes::from(payload.encode_to_vec())),
                        );
                        m
                    })
                    .boxed(),
            );
        }
        if options.is_empty() {
            let d = desc.clone();
            return Just(())
                .prop_map(move |()| DynamicMessage::new(d.clone()))
                .boxed();
        }
        Union::new(options).boxed()
    }
}
