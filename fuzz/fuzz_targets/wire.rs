//! The `wire` target of `tcpsim fuzz` under libFuzzer: any bytes through
//! the IPv4/TCP parser and emitter (see `scenarios::fuzz::wire`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = scenarios::fuzz::wire(data) {
        panic!("{finding}");
    }
});
