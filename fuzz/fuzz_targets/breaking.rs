//! The descriptor differ: two arbitrary descriptor sets, each either rejected or checked one
//! against the other, the findings annotated and rendered in every format.
//!
//! Input: a little-endian u16 giving the length of the previous set, the previous set, then the
//! current set.
#![no_main]

use grpc_double::{
    Schema,
    breaking::{self, Config, Format, PathDisplay},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
    let (previous, current) = rest.split_at(split);
    let (Ok(previous), Ok(current)) = (
        Schema::from_descriptor_set(previous, "previous.binpb"),
        Schema::from_descriptor_set(current, "current.binpb"),
    ) else {
        return;
    };
    let Ok(findings) = breaking::check(&previous, &current, &Config::default()) else {
        return;
    };
    let annotations = breaking::annotate(&findings, current.pool(), &PathDisplay::default());
    for format in [Format::Text, Format::Json, Format::GithubActions] {
        let _ = breaking::render(&annotations, format, false);
    }
    // A schema never breaks against itself.
    if let Ok(same) = breaking::check(&current, &current, &Config::default()) {
        assert!(same.is_empty(), "a schema breaks against itself: {same:?}");
    }
});
