//! Editions sources (`edition = "2023"`, `"2024"`), compiled by the protoc that
//! protoc-bin-vendored ships: what the loaded schema says about each feature, round trips that
//! honour the features, and `check` and `serve` on an editions contract.

use std::path::Path;

use grpc_double::{
    Schema,
    roundtrip::{
        DifferenceKind, Encoding, Options, StrategyConfig, arb_message, check_schema,
        find_counterexample, sample,
    },
    schema::edition,
};
use prost_reflect::{Kind, MessageDescriptor};

use crate::{
    cli::{serve_in, stop},
    common::{dynamic, grpc_double as run},
};

fn shop(file: &str) -> Schema {
    Schema::compile([Path::new("fixtures/editions").join(file)], [] as [&str; 0])
        .unwrap_or_else(|err| panic!("{file}: {:?}", miette::Report::new(err)))
}

fn message(schema: &Schema, name: &str) -> MessageDescriptor {
    schema.pool().get_message_by_name(name).expect(name)
}

#[test]
fn editions_files_load_with_their_features() {
    let schema = shop("shop.proto");
    let file = schema
        .pool()
        .get_file_by_name("shop.proto")
        .expect("shop.proto");
    assert_eq!(edition(&file), Some("2023"));
    let item = message(&schema, "shop.v1.Item");
    let field = |name: &str| item.get_field_by_name(name).expect(name);
    // field_presence: IMPLICIT for the file, EXPLICIT where the field says so.
    assert!(!field("sku").supports_presence());
    assert!(field("price_cents").supports_presence());
    assert!(field("size").supports_presence());
    // message_encoding = DELIMITED is a group on the wire; repeated_field_encoding = EXPANDED.
    assert!(field("details").is_group());
    assert!(!field("tags").is_packed());
    let s24 = shop("shop_2024.proto");
    let file = s24
        .pool()
        .get_file_by_name("shop_2024.proto")
        .expect("file");
    assert_eq!(edition(&file), Some("2024"));
    let item = message(&s24, "shop.v2.Item");
    assert!(
        item.get_field_by_name("price_cents")
            .expect("field")
            .supports_presence()
    );
    // proto2 and proto3 files are not editions.
    let bundled = Schema::bundled();
    let users = bundled
        .pool()
        .get_file_by_name("users.proto")
        .expect("users");
    assert_eq!(edition(&users), None);
}

#[test]
fn editions_messages_round_trip_and_closed_enums_take_declared_values_only() {
    for (file, name) in [
        ("shop.proto", "shop.v1.Item"),
        ("shop_2024.proto", "shop.v2.Item"),
    ] {
        let schema = shop(file);
        let options = Options {
            cases: 64,
            seed: 11,
            ..Options::default()
        };
        let report = check_schema(&schema, &options).expect("check");
        assert!(
            report.passed(),
            "{}",
            report.render(grpc_double::roundtrip::Format::Text, file)
        );
        assert!(
            report.results.iter().any(|r| r.message == name),
            "{name} was checked"
        );
    }
    let item = message(&shop("shop.proto"), "shop.v1.Item");
    let size = item.get_field_by_name("size").expect("size");
    let Kind::Enum(sizes) = size.kind() else {
        unreachable!()
    };
    let strategy = arb_message(&item, &StrategyConfig::default());
    let mut set = 0;
    for seed in 0..200 {
        let m = sample(&strategy, seed);
        if m.has_field(&size) {
            set += 1;
            let n = m.get_field(&size).as_enum_number().expect("enum");
            assert!(sizes.get_value(n).is_some(), "closed enum Size got {n}");
        }
    }
    assert!(set > 0, "explicit presence: the field is sometimes set");
}

#[test]
fn switching_a_field_to_delimited_encoding_is_caught_by_the_old_writer_new_reader_property() {
    let text = |encoding: &str| {
        format!(
            "edition = \"2023\";\npackage p;\nmessage Inner {{ string s = 1; }}\nmessage M {{ Inner inner = 1{encoding}; }}\n"
        )
    };
    let old = Schema::from_sources([("m.proto", text("").as_str())]).expect("old");
    let new = Schema::from_sources([(
        "m.proto",
        text(" [features.message_encoding = DELIMITED]").as_str(),
    )])
    .expect("new");
    let (old, new) = (message(&old, "p.M"), message(&new, "p.M"));
    let found =
        find_counterexample(&old, &new, 4, 128, Encoding::Binary).expect("a counterexample");
    assert!(
        matches!(
            found.differences[0].kind,
            DifferenceKind::Rejected | DifferenceKind::Dropped | DifferenceKind::Changed
        ),
        "{found:?}"
    );
    // The same field with the same encoding reads back.
    assert!(find_counterexample(&old, &old, 4, 64, Encoding::Binary).is_none());
}

#[test]
fn check_validates_fixtures_against_an_editions_proto() {
    let ok = run(&[
        "check",
        "--proto",
        "fixtures/editions/shop.proto",
        "--fixtures",
        "fixtures/editions/stubs.yaml",
    ]);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- method: shop.v1.Shop/GetItem\n  then:\n    message: { size: SIZE_HUGE }\n",
    )
    .expect("write");
    let failed = run(&[
        "check",
        "--proto",
        "fixtures/editions/shop.proto",
        "--fixtures",
        bad.to_str().expect("path"),
    ]);
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(failed.stderr.contains("SIZE_HUGE"), "{}", failed.stderr);
}

#[tokio::test]
async fn serve_answers_calls_from_an_editions_proto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (child, addr) = serve_in(
        root,
        &[
            "--proto",
            "fixtures/editions/shop.proto",
            "--fixtures",
            "fixtures/editions/stubs.yaml",
        ],
    )
    .await;
    let schema = shop("shop.proto");
    let method = schema.method("shop.v1.Shop/GetItem").expect("method");
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let request = dynamic::message(&method.input(), &serde_json::json!({"sku": "book-1"}));
    let answer = dynamic::call(
        channel,
        "/shop.v1.Shop/GetItem",
        &method,
        vec![request],
        tonic::metadata::MetadataMap::new(),
    )
    .await;
    assert_eq!(answer.code, tonic::Code::Ok, "{}", answer.message);
    assert_eq!(
        dynamic::json(&answer.replies[0]),
        serde_json::json!({
            "sku": "book-1",
            "price_cents": 1250,
            "kind": "KIND_BOOK",
            "details": {"origin": "Lisbon"},
            "tags": [1, 2],
            "size": "SIZE_LARGE"
        })
    );
    let served = stop(child).await;
    assert_eq!(served.code, Some(0), "{}", served.stderr);
}

#[test]
fn presence_comes_from_the_feature_even_where_the_descriptor_cannot_say_it() {
    // A closed enum whose first value is not 0 keeps this file from lowering to proto3, so its
    // descriptor gives every singular field presence; the checker reads the feature instead.
    let text = |age: &str| {
        format!(
            "edition = \"2023\";\npackage p;\noption features.field_presence = IMPLICIT;\nenum E {{ option features.enum_type = CLOSED; E_ONE = 1; }}\nmessage M {{ string name = 1; int32 age = 2{age}; }}\n"
        )
    };
    let previous = Schema::from_sources([("m.proto", text("").as_str())]).expect("previous");
    let current = Schema::from_sources([(
        "m.proto",
        text(" [features.field_presence = EXPLICIT]").as_str(),
    )])
    .expect("current");
    let config = grpc_double::breaking::Config::parse(
        r#"{"version":"v2","breaking":{"use":["FIELD_SAME_CARDINALITY"]}}"#,
    )
    .expect("config");
    let same = grpc_double::breaking::check(&previous, &previous, &config).expect("check");
    assert!(same.is_empty(), "{same:#?}");
    let findings = grpc_double::breaking::check(&previous, &current, &config).expect("check");
    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Field \"2\" with name \"age\" on message \"M\" changed cardinality from \"optional with implicit presence\" to \"optional with explicit presence\"."
        ]
    );
}
