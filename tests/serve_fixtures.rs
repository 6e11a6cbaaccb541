//! Fixture validation: each bad fixture is reported at its file:line:col with a hint, and all
//! problems of a load are reported at once. Snapshots hold miette's JSON rendering.

use grpc_double::{FixtureSource, Fixtures, Matcher, Payload, Respond, Schema, Test};
use prost_reflect::{DynamicMessage, Value};

use crate::common::insta_settings;

/// A proto with every kind of field, for type errors the bundled contract cannot show.
const KITCHEN: &str = r#"
syntax = "proto3";
package kitchen;
import "google/protobuf/timestamp.proto";

service Kitchen {
  rpc Cook(Order) returns (Dish);
  rpc Taste(stream Order) returns (Dish);
  rpc Serve(stream Order) returns (stream Dish);
}

enum Spice { SPICE_UNSPECIFIED = 0; PEPPER = 1; CHILI = 2; }

message Order {
  string name = 1;
  bool hot = 2;
  int64 weight = 3;
  bytes secret = 4;
  repeated string tags = 5;
  map<string, int32> counts = 6;
  Spice spice = 7;
  oneof size { int32 grams = 8; string label = 9; }
  google.protobuf.Timestamp at = 10;
}

message Dish { string name = 1; int32 calories = 2; }
"#;

fn kitchen() -> Schema {
    Schema::from_sources([("kitchen.proto", KITCHEN)]).unwrap()
}

/// Loads `yaml` and renders the errors as miette JSON (spans kept, no colour or width).
fn errors(schema: &Schema, yaml: &str) -> serde_json::Value {
    let err = Fixtures::load(schema, &[FixtureSource::new("bad.yaml", yaml)])
        .expect_err("the fixture is invalid");
    let mut out = String::new();
    miette::JSONReportHandler::new()
        .render_report(&mut out, &err)
        .unwrap();
    serde_json::from_str(&out).unwrap()
}

/// The `file:line:col: message` lines, for asserting locations in the test itself.
fn locations(schema: &Schema, yaml: &str) -> Vec<String> {
    let err = Fixtures::load(schema, &[FixtureSource::new("bad.yaml", yaml)]).unwrap_err();
    err.errors().iter().map(ToString::to_string).collect()
}

macro_rules! bad_fixture {
    ($name:ident, $schema:expr, $yaml:expr, $location:expr) => {
        #[test]
        fn $name() {
            let schema = $schema;
            let found = locations(&schema, $yaml);
            assert!(
                found.iter().any(|line| line.starts_with($location)),
                "expected an error at {}, got {found:#?}",
                $location
            );
            insta_settings("serve_fixtures").bind(|| {
                insta::assert_yaml_snapshot!(stringify!($name), errors(&schema, $yaml));
            });
        }
    };
}

bad_fixture!(
    unknown_method_suggests_the_closest,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUsr
  then: { message: {} }
",
    "bad.yaml:2:11"
);

bad_fixture!(
    method_without_service_is_explained,
    Schema::bundled(),
    "
- method: GetUser
  then: { message: {} }
",
    "bad.yaml:2:11"
);

bad_fixture!(
    unknown_field_in_matcher_suggests_the_closest,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when:
    message: { user_idd: x }
  then: { message: {} }
",
    "bad.yaml:4:16"
);

bad_fixture!(
    unknown_field_in_reply_suggests_the_closest,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { nmae: Ada }
",
    "bad.yaml:4:16"
);

bad_fixture!(
    wrong_type_for_an_integer_field,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { age: thirty }
",
    "bad.yaml:4:21"
);

bad_fixture!(
    integer_out_of_range_for_int32,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { age: 3000000000 }
",
    "bad.yaml:4:21"
);

bad_fixture!(
    boolean_field_rejects_yes,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { hot: yes } }
  then: { message: {} }
",
    "bad.yaml:3:27"
);

bad_fixture!(
    unknown_enum_value_suggests_the_closest,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { spice: PEPER } }
  then: { message: {} }
",
    "bad.yaml:3:29"
);

bad_fixture!(
    bytes_must_be_base64,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { secret: 'not base64!' } }
  then: { message: {} }
",
    "bad.yaml:3:30"
);

bad_fixture!(
    repeated_field_needs_a_list,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { tags: spicy } }
  then: { message: {} }
",
    "bad.yaml:3:28"
);

bad_fixture!(
    two_members_of_a_oneof,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { grams: 3, label: small } }
  then: { message: {} }
",
    "bad.yaml:3:32"
);

bad_fixture!(
    invalid_timestamp,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { at: yesterday } }
  then: { message: {} }
",
    "bad.yaml:3:26"
);

bad_fixture!(
    map_value_of_the_wrong_type,
    kitchen(),
    "
- method: kitchen.Kitchen/Cook
  when: { message: { counts: { eggs: many } } }
  then: { message: {} }
",
    "bad.yaml:3:38"
);

bad_fixture!(
    template_syntax_error,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { name: '{{ request.user_id ' }
",
    "bad.yaml:4:22"
);

bad_fixture!(
    template_unknown_request_field,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { name: '{{ request.user_idd }}' }
",
    "bad.yaml:4:22"
);

bad_fixture!(
    template_unknown_variable,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { name: '{{ reqest.user_id }}' }
",
    "bad.yaml:4:22"
);

bad_fixture!(
    template_in_a_matcher,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when: { message: { user_id: '{{ x }}' } }
  then: { message: {} }
",
    "bad.yaml:3:31"
);

bad_fixture!(
    unknown_status_code_suggests_the_closest,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    status: { code: NOT_FOUN }
",
    "bad.yaml:4:21"
);

bad_fixture!(
    stream_on_a_unary_method,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    stream: [ { message: {} } ]
",
    "bad.yaml:4:5"
);

bad_fixture!(
    unary_reply_with_message_and_error,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { name: x }
    status: NOT_FOUND
",
    "bad.yaml:4:5"
);

bad_fixture!(
    stub_without_then,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
",
    "bad.yaml:2:3"
);

bad_fixture!(
    unknown_stub_key_suggests_the_closest,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  whne: { message: {} }
  then: { message: {} }
",
    "bad.yaml:3:3"
);

bad_fixture!(
    duplicate_ids_name_the_first_use,
    Schema::bundled(),
    "
- { id: a, method: userservice.UserService/GetUser, then: { message: {} } }
- { id: a, method: userservice.UserService/GetUser, then: { message: {} } }
",
    "bad.yaml:3:9"
);

bad_fixture!(
    yaml_syntax_error,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then: { message: { name: [unclosed }
",
    "bad.yaml:3"
);

bad_fixture!(
    duplicate_yaml_key,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then: { message: {} }
  then: { message: {} }
",
    "bad.yaml:4:3"
);

bad_fixture!(
    single_message_matcher_on_a_client_stream,
    kitchen(),
    "
- method: kitchen.Kitchen/Taste
  when: { message: { name: x } }
  then: { message: {} }
",
    "bad.yaml:3:11"
);

bad_fixture!(
    bad_delay,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then: { message: {}, delay: soon }
",
    "bad.yaml:3:31"
);

bad_fixture!(
    headers_after_the_first_step_of_a_conversation,
    kitchen(),
    "
- method: kitchen.Kitchen/Serve
  conversation:
    - expect: any
    - headers: { x-a: b }
",
    "bad.yaml:5:7"
);

bad_fixture!(
    status_detail_of_unknown_type,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    status:
      code: INTERNAL
      details: [ { '@type': google.rpc.ErorInfo, reason: x } ]
",
    "bad.yaml:6:29"
);

bad_fixture!(
    invalid_header_name,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when: { metadata: { 'bad header': x } }
  then: { message: {} }
",
    "bad.yaml:3:23"
);

bad_fixture!(
    unclosed_bracket_is_reported_where_it_opened,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: { name: [a, b
- method: userservice.UserService/GetUser
  then: { message: {} }
",
    "bad.yaml:4:22"
);

bad_fixture!(
    status_code_out_of_range_says_0_to_16,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then: { status: { code: 42 } }
",
    "bad.yaml:3:27"
);

bad_fixture!(
    unknown_test_in_an_expr,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when: { expr: \"request.user_id is matching('u-')\" }
  then: { message: {} }
",
    "bad.yaml:3:17"
);

bad_fixture!(
    bad_binary_header_value_points_at_its_entry,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then:
    message: {}
    headers: { x-ok: fine, x-trace-bin: '***' }
",
    "bad.yaml:5:41"
);

bad_fixture!(
    an_alias_bomb_is_rejected,
    Schema::bundled(),
    "
a0: &a0 [x, x, x, x, x, x, x, x, x, x]
a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
a8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
",
    "bad.yaml:6:"
);

bad_fixture!(
    set_state_needs_a_scenario,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  then: { message: {}, set_state: done }
",
    "bad.yaml:2:3"
);

bad_fixture!(
    invalid_regex_is_located,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when: { message: { user_id: { regex: '(unclosed' } } }
  then: { message: {} }
",
    "bad.yaml:3:40"
);

bad_fixture!(
    present_on_a_field_without_presence,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  when: { message: { user_id: { present: true } } }
  then: { message: {} }
",
    "bad.yaml:3:33"
);

bad_fixture!(
    conversation_on_a_unary_method,
    Schema::bundled(),
    "
- method: userservice.UserService/GetUser
  conversation: [ { send: { message: {} } } ]
",
    "bad.yaml:3:17"
);

#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    std::fs::write(
        &path,
        b"- method: userservice.UserService/GetUser\n  then: { message: { name: caf\xe9 } }\n",
    )
    .unwrap();
    let err = FixtureSource::read(&path).unwrap_err();
    let errors = err.fixture_errors().expect("a located fixture error");
    let error = &errors.errors()[0];
    assert_eq!((error.location().line, error.location().col), (2, 31));
    assert_eq!(error.code(), "grpc_double::fixture::encoding");
}

#[test]
fn every_problem_of_a_load_is_reported_at_once() {
    let found = locations(
        &Schema::bundled(),
        "
- method: userservice.UserService/GetUser
  then: { message: { nmae: x } }
- method: userservice.UserService/Nope
  then: { message: {} }
- method: userservice.UserService/GetUser
  then: { message: { age: old } }
",
    );
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("bad.yaml:3:22:"), "{}", found[0]);
    assert!(found[1].starts_with("bad.yaml:4:11:"), "{}", found[1]);
    assert!(found[2].starts_with("bad.yaml:7:27:"), "{}", found[2]);
}

#[test]
fn the_bundled_fixtures_load() {
    let schema = Schema::bundled();
    let fixtures = Fixtures::bundled(&schema).unwrap();
    assert_eq!(fixtures.len(), 6);
    assert_eq!(
        fixtures.methods(),
        [
            "userservice.UserService/Chat",
            "userservice.UserService/CreateUsers",
            "userservice.UserService/GetUser",
            "userservice.UserService/ListUsers"
        ]
    );
}

#[test]
fn yaml_scalars_take_the_type_of_their_field() {
    // `012` stays text in a string field; `"30"` is a number in an int32 field; enums by
    // number; int64 as a string; JSON files load too.
    let schema = kitchen();
    let yaml = r#"[{"method": "kitchen.Kitchen/Cook", "when": {"message": {"name": 012, "weight": "9007199254740993", "spice": 2, "tags": []}}, "then": {"message": {"name": NO, "calories": "30"}}}]"#;
    let fixtures = Fixtures::load(&schema, &[FixtureSource::new("ok.json", yaml)]).unwrap();
    let stub = &fixtures.stubs()[0];
    let Matcher::Fields(checks) = &stub.when[0] else {
        panic!("`when.message` is a field matcher: {:?}", stub.when);
    };
    let expected: Vec<(&str, Value)> = checks
        .iter()
        .map(|c| match &c.test {
            Test::Equals(value) => (c.path[0].name(), value.clone()),
            other => panic!("a plain value is an equality test: {other:?}"),
        })
        .collect();
    assert_eq!(
        expected,
        [
            ("name", Value::String("012".into())),
            ("weight", Value::I64(9_007_199_254_740_993)),
            ("spice", Value::EnumNumber(2)),
            ("tags", Value::List(vec![])),
        ]
    );
    let Respond::Reply(reply) = &stub.then else {
        panic!("a `then` is one reply");
    };
    let Payload::Static(bytes) = &reply.messages().next().unwrap().payload else {
        panic!("a reply without templates is encoded when it loads");
    };
    let dish = DynamicMessage::decode(stub.method.output(), bytes.as_ref()).unwrap();
    assert_eq!(dish.get_field_by_name("name").unwrap().as_str(), Some("NO"));
    assert_eq!(
        dish.get_field_by_name("calories").unwrap().as_i32(),
        Some(30)
    );
}

#[test]
fn fixture_drift_lists_broken_and_silently_changed_stubs() {
    let old = Schema::compile(["fixtures/drift/old/shop.proto"], [] as [&str; 0]).unwrap();
    let new = Schema::compile(["fixtures/drift/new/shop.proto"], [] as [&str; 0]).unwrap();
    let sources = FixtureSource::read_all("fixtures/drift/stubs.yaml".as_ref()).unwrap();
    let drifts = grpc_double::fixture_drift(&old, &new, &sources).unwrap();
    let lines: Vec<String> = drifts
        .iter()
        .map(|d| {
            format!(
                "{} {}: {}",
                if d.breaks { "breaks" } else { "changes" },
                d.location,
                d.message
            )
        })
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "breaks fixtures/drift/stubs.yaml:5:16: no longer loads: unknown field `sku`"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "changes fixtures/drift/stubs.yaml:7:40: field `price` is now field number 6 (was 3)"
        )),
        "{lines:#?}"
    );
    insta_settings("serve_fixtures")
        .bind(|| insta::assert_snapshot!("fixture_drift", lines.join("\n")));
}

#[test]
fn fixture_drift_is_empty_for_an_unchanged_contract() {
    let old = Schema::compile(["fixtures/drift/old/shop.proto"], [] as [&str; 0]).unwrap();
    let sources = FixtureSource::read_all("fixtures/drift/stubs.yaml".as_ref()).unwrap();
    assert_eq!(
        grpc_double::fixture_drift(&old, &old, &sources).unwrap(),
        []
    );
}
