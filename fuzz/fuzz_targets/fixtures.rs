//! The fixture loader: any text either loads (and lints) or fails with located errors whose
//! report renders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        grpc_double::fuzz::fixtures(text);
    }
});
