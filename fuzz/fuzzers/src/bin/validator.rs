//! libFuzzer entry point of the `validator` target (see `albany_fuzz::validator`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| albany_fuzz::validator(data));
