//! Reply templates: any text either fails to compile or renders (to a value or an error)
//! against a request decoded from the bytes after the first NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, request) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(text) = std::str::from_utf8(text) {
        grpc_double::fuzz::template(text, request);
    }
});
