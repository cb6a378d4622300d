#![no_main]
use palisade::protocol::{ClientFrame, ServerFrame};
libfuzzer_sys::fuzz_target!(|f: (ClientFrame, ServerFrame)| palisade::fuzzing::frame_roundtrip(&f.0, &f.1));
