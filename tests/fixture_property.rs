//! A property over the fixture loader: any message, written as a fixture reply in its proto3
//! JSON form, loads, is encoded once, and decodes under the method's output type as the message
//! that was written. Messages come from the round-trip strategies (`grpc_double::roundtrip`).

use grpc_double::{FixtureSource, Fixtures, Payload, Respond, Schema, roundtrip};
use proptest::prelude::*;
use prost_reflect::{DynamicMessage, MethodDescriptor};

/// Every field type, well-known types included, for the reply property below.
const SINK: &str = r#"
syntax = "proto3";
package sink;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

service Sink {
  rpc Scalars(Empty) returns (Scalars);
  rpc Shapes(Empty) returns (Shapes);
  rpc Known(Empty) returns (Known);
}
message Empty {}
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
message Scalars {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 fx32 = 9; fixed64 fx64 = 10; sfixed32 sf32 = 11;
  sfixed64 sf64 = 12; bool b = 13; string s = 14; bytes by = 15; Color color = 16;
  optional int32 maybe = 17; optional string maybe_text = 18;
}
message Shapes {
  message Inner { string name = 1; repeated int64 values = 2; Inner next = 3; }
  repeated string tags = 1;
  repeated Color colors = 2;
  repeated Inner inners = 3;
  map<string, int32> by_name = 4;
  map<int64, string> by_number = 5;
  map<bool, Inner> by_flag = 6;
  map<uint32, Color> by_code = 7;
  oneof pick { string text = 8; Inner inner = 9; double ratio = 10; }
  Inner single = 11;
  repeated double samples = 12;
}
message Known {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Int32Value count = 3;
  google.protobuf.StringValue label = 4;
  google.protobuf.BytesValue blob = 5;
  google.protobuf.BoolValue flag = 6;
  google.protobuf.UInt64Value big = 7;
  google.protobuf.Struct extra = 8;
  google.protobuf.Value any_value = 9;
  google.protobuf.ListValue list = 10;
  google.protobuf.FieldMask mask = 11;
  google.protobuf.Any packed = 12;
  google.protobuf.Empty nothing = 13;
}
"#;

/// JSON text as YAML: non-ASCII and control characters (which YAML may not take raw) become
/// escapes; they only occur inside JSON strings, which are YAML double-quoted scalars.
fn json_as_yaml(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c as u32 {
            0x20..=0x7e => out.push(c),
            n if n <= 0xffff => out.push_str(&format!("\\u{n:04X}")),
            n => out.push_str(&format!("\\U{n:08X}")),
        }
    }
    out
}

/// A generated reply; printed as the method and proto3 JSON (prost-reflect's `Debug` of a
/// recursive message type does not terminate).
#[derive(Clone)]
struct Case {
    method: MethodDescriptor,
    message: DynamicMessage,
    /// Write lowerCamel JSON names instead of proto names.
    json_names: bool,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = if self.json_names {
            "JSON names"
        } else {
            "proto names"
        };
        write!(
            f,
            "{} -> {} ({names})",
            grpc_double::schema::method_name(&self.method),
            canonical_json(&self.message)
        )
    }
}

/// The canonical proto3 JSON of a message: maps compare as objects (unordered), NaN and the
/// infinities as their JSON strings, `Any` payloads by content — the equality a reader sees.
fn canonical_json(message: &DynamicMessage) -> serde_json::Value {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &prost_reflect::SerializeOptions::new(),
        )
        .expect("generated messages have a JSON form")
}

fn cases() -> impl proptest::strategy::Strategy<Value = Case> {
    let schema = Schema::from_sources([("sink.proto", SINK)]).unwrap();
    let methods: Vec<_> = schema
        .pool()
        .get_service_by_name("sink.Sink")
        .unwrap()
        .methods()
        .collect();
    proptest::sample::select(methods).prop_flat_map(|m| {
        let output = m.output();
        (
            roundtrip::arb_message(&output, &roundtrip::StrategyConfig::default()),
            proptest::bool::ANY,
        )
            .prop_map(move |(message, json_names)| Case {
                method: m.clone(),
                message,
                json_names,
            })
    })
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            "proptest-regressions/fixture_replies.txt",
        ))),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn any_reply_written_in_a_fixture_decodes_as_written(case in cases()) {
        let Case { method, message, json_names } = case;
        let options = prost_reflect::SerializeOptions::new().use_proto_field_name(!json_names);
        let mut json = Vec::new();
        message.serialize_with_options(&mut serde_json::Serializer::new(&mut json), &options).unwrap();
        let json = String::from_utf8(json).unwrap();
        // Strings holding template syntax are templates by design, not literal text.
        prop_assume!(!json.contains("{{") && !json.contains("{%"));
        let yaml = format!(
            "- method: {}\n  then:\n    message: {}\n",
            grpc_double::schema::method_name(&method),
            json_as_yaml(&json)
        );
        let schema = Schema::from_pool(method.parent_pool().clone());
        let fixtures = Fixtures::load(&schema, &[FixtureSource::new("p.yaml", yaml.as_str())])
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{yaml}")))?;
        let Respond::Reply(reply) = &fixtures.stubs()[0].then else {
            return Err(TestCaseError::fail("a `then` is one reply"));
        };
        let Payload::Static(bytes) = &reply.messages().next().unwrap().payload else {
            return Err(TestCaseError::fail("a reply without templates is encoded at load"));
        };
        let decoded = DynamicMessage::decode(method.output(), bytes.as_ref()).unwrap();
        prop_assert_eq!(canonical_json(&decoded), canonical_json(&message), "wrote {}", json);
    }
}
