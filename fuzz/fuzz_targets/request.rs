//! A unary call's request bytes, decoded against the bundled users.proto, matched against
//! stubs that use every kind of matcher, and answered with templated replies.
//!
//! Input: one byte picking the method, one byte giving the length of an `x-fuzz` header value,
//! that value, then the request's bytes.
#![no_main]

use std::sync::OnceLock;

use grpc_double::Fixtures;
use libfuzzer_sys::fuzz_target;

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| grpc_double::fuzz::request_fixtures(include_str!("../stubs.yaml")))
}

fuzz_target!(|data: &[u8]| {
    let [method, header_len, rest @ ..] = data else {
        return;
    };
    let split = usize::from(*header_len).min(rest.len());
    let (header, request) = rest.split_at(split);
    let header = String::from_utf8_lossy(header);
    grpc_double::fuzz::request(fixtures(), *method, &header, request);
});
