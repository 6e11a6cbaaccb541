//! Round-trip throughput: dynamic (`DynamicMessage`, what `grpc-double roundtrip` does) against
//! static prost-generated types decoding the very same bytes, measured in the same run.
//!
//! ```sh
//! cargo bench --bench roundtrip            # prints msgs/s per row and the dynamic/static ratio
//! ```
//!
//! One *round trip* is encode → decode → compare. The dynamic side compares semantically (NaN,
//! presence, `Any` payloads); the static side uses the derived `PartialEq`. Inputs are generated
//! once by the round-trip strategies (fixed seeds) and are identical on both sides.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use grpc_double::{
    Schema,
    roundtrip::{
        Encoding, Options, Property, StrategyConfig, arb_message, check_property, check_schema,
        sample,
    },
    schema::Loader,
};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};

#[allow(dead_code, clippy::all)]
mod userservice {
    include!(concat!(env!("OUT_DIR"), "/userservice.rs"));
}

const BUDGET: Duration = Duration::from_millis(1500);
const SAMPLES: u64 = 512;

/// Runs `round` over `inputs` until the budget is spent; returns round trips per second.
fn rate<T>(inputs: &[T], mut round: impl FnMut(&T)) -> f64 {
    for input in inputs.iter().take(64) {
        round(input);
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < BUDGET {
        for input in inputs {
            round(input);
        }
        n += inputs.len() as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn samples(desc: &MessageDescriptor) -> Vec<DynamicMessage> {
    let strategy = arb_message(desc, &StrategyConfig::default());
    (0..SAMPLES).map(|seed| sample(&strategy, seed)).collect()
}

fn dynamic_binary(messages: &[DynamicMessage]) -> f64 {
    rate(messages, |m| {
        if let Err(err) = check_property(black_box(m), Property::Binary) {
            panic!("{err}");
        }
    })
}

fn row(name: &str, dynamic: f64, reference: Option<f64>, bytes: f64) {
    match reference {
        Some(r) => println!(
            "{name:<44} {dynamic:>12.0} msgs/s   static prost {r:>12.0} msgs/s   dynamic/static {:>5.2}   avg {bytes:>6.0} B",
            dynamic / r
        ),
        None => println!(
            "{name:<44} {dynamic:>12.0} msgs/s   {:>43}   avg {bytes:>6.0} B",
            ""
        ),
    }
}

fn avg_len(messages: &[DynamicMessage]) -> f64 {
    messages.iter().map(|m| m.encoded_len() as f64).sum::<f64>() / messages.len() as f64
}

fn main() {
    let users = Schema::bundled();
    let mut loader = Loader::new();
    loader.proto("fixtures/roundtrip/kitchen/all_wkt.proto");
    let wkt = match loader.load() {
        Ok(schema) => schema,
        Err(err) => panic!("run from the crate root: {err}"),
    };
    let get = |schema: &Schema, name: &str| {
        schema
            .pool()
            .get_message_by_name(name)
            .unwrap_or_else(|| panic!("{name} is in the schema"))
    };
    println!(
        "round trips (encode → decode → compare), one thread, {SAMPLES} generated inputs per row\n"
    );

    // A typical request/response message: four scalar fields.
    let user = get(&users, "userservice.UserResponse");
    let dynamic = samples(&user);
    let bytes: Vec<Vec<u8>> = dynamic.iter().map(|m| m.encode_to_vec()).collect();
    let statics: Vec<userservice::UserResponse> = bytes
        .iter()
        .map(|b| userservice::UserResponse::decode(b.as_slice()).unwrap_or_default())
        .collect();
    let reference = rate(&statics, |m| {
        let encoded = black_box(m).encode_to_vec();
        let decoded = userservice::UserResponse::decode(encoded.as_slice()).unwrap_or_default();
        assert!(&decoded == m);
    });
    row(
        "userservice.UserResponse (binary)",
        dynamic_binary(&dynamic),
        Some(reference),
        avg_len(&dynamic),
    );

    // A well-known type.
    let ts = get(&wkt, "google.protobuf.Timestamp");
    let dynamic = samples(&ts);
    let statics: Vec<prost_types::Timestamp> = dynamic
        .iter()
        .map(|m| prost_types::Timestamp::decode(m.encode_to_vec().as_slice()).unwrap_or_default())
        .collect();
    let reference = rate(&statics, |m| {
        let encoded = black_box(m).encode_to_vec();
        let decoded = prost_types::Timestamp::decode(encoded.as_slice()).unwrap_or_default();
        assert!(&decoded == m);
    });
    row(
        "google.protobuf.Timestamp (binary)",
        dynamic_binary(&dynamic),
        Some(reference),
        avg_len(&dynamic),
    );

    // A real, nested message: the descriptor of proto/users.proto (the same bytes on both sides).
    let fdp_desc = get(&wkt, "google.protobuf.FileDescriptorProto");
    let fdp = users
        .pool()
        .get_file_by_name("users.proto")
        .map(|f| f.file_descriptor_proto().clone())
        .unwrap_or_default();
    let fdp_bytes = fdp.encode_to_vec();
    let dynamic = vec![
        DynamicMessage::decode(fdp_desc.clone(), fdp_bytes.as_slice())
            .unwrap_or_else(|e| panic!("{e}")),
    ];
    let reference = rate(std::slice::from_ref(&fdp), |m| {
        let encoded = black_box(m).encode_to_vec();
        let decoded =
            prost_types::FileDescriptorProto::decode(encoded.as_slice()).unwrap_or_default();
        assert!(&decoded == m);
    });
    row(
        "FileDescriptorProto of users.proto (binary)",
        dynamic_binary(&dynamic),
        Some(reference),
        avg_len(&dynamic),
    );

    // Generated kitchen-sink-like messages from the WKT holder (deep, maps, Any, Struct).
    let holder = get(&wkt, "kitchen.wkt.Holder");
    let dynamic = samples(&holder);
    row(
        "kitchen.wkt.Holder, generated (binary)",
        dynamic_binary(&dynamic),
        None,
        avg_len(&dynamic),
    );

    // JSON has no static prost counterpart; dynamic only.
    let dynamic = samples(&user);
    let json = rate(&dynamic, |m| {
        if let Err(err) = check_property(black_box(m), Property::Json) {
            panic!("{err}");
        }
    });
    row(
        "userservice.UserResponse (JSON)",
        json,
        None,
        avg_len(&dynamic),
    );

    // What `grpc-double roundtrip` achieves end to end: generation, binary, stable, unknown
    // fields and JSON properties per case.
    for (label, encoding) in [("binary", Encoding::Binary), ("both", Encoding::Both)] {
        let options = Options {
            cases: 20_000,
            seed: 1,
            messages: vec!["userservice.UserResponse".into()],
            encoding,
            ..Options::default()
        };
        let start = Instant::now();
        let report = match check_schema(&users, &options) {
            Ok(report) => report,
            Err(err) => panic!("{err}"),
        };
        assert!(report.passed());
        let cases = report.total_cases() as f64 / start.elapsed().as_secs_f64();
        row(
            &format!("check_schema UserResponse, --encoding {label}"),
            cases,
            None,
            0.0,
        );
    }
}
