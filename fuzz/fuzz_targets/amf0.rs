//! Fuzz target: AMF0 decoding of arbitrary bytes never panics, terminates,
//! and keeps every span and diagnostic range inside the input
//! (JSON serialization is not fuzzed here: it is the output layer's concern).
#![no_main]

#[path = "amf_common.rs"]
mod amf_common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    amf_common::decode_in_bounds(data, rtmpscope::amf::amf0::decode_all);
});
