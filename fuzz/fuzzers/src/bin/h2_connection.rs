//! libFuzzer entry point of the `h2_connection` target (see `albany_fuzz::h2_connection`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| albany_fuzz::h2_connection(data));
