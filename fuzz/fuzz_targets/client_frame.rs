#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| palisade::fuzzing::client_frame(data));
