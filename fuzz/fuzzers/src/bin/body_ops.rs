//! libFuzzer entry point of the `body_ops` target (see `albany_fuzz::body_ops`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| albany_fuzz::body_ops(data));
