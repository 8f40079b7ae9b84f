//! The `endpoint` target of `tcpsim fuzz` under libFuzzer: the bytes as a
//! program for two endpoints (see `scenarios::fuzz::endpoint`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = scenarios::fuzz::endpoint(data) {
        panic!("{finding}");
    }
});
