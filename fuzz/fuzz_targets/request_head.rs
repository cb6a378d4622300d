#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| palisade::fuzzing::request_head(data));
