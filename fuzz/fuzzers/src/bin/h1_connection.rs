//! libFuzzer entry point of the `h1_connection` target (see `albany_fuzz::h1_connection`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| albany_fuzz::h1_connection(data));
