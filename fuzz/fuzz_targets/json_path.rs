//! Fuzz target for the whole JSON path: the input is a classic pcap
//! (Ethernet; read leniently, record by record), run through the Analyzer
//! and the JSON writer (with session lines, unredacted and redacted) as
//! `rtmpscope json` does. Must never panic, and every output line must
//! validate against `schema/rtmpscope-events.schema.json` (the validator of
//! the test suite, tests/support/schema.rs: the jsonschema crate). Seeds: the bundled
//! captures and generated hostile sessions
//! (`cargo run --release --example gen_capture -- fuzz-seeds fuzz/corpus/json_path`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/hostile/mod.rs"]
mod hostile;
#[path = "../../tests/support/schema.rs"]
mod validator;

fn schema() -> &'static validator::Validator {
    static V: OnceLock<validator::Validator> = OnceLock::new();
    V.get_or_init(validator::load)
}

fuzz_target!(|data: &[u8]| {
    let redact = data.get(20).is_some_and(|b| b & 0x80 != 0);
    let out = hostile::json_of_pcap(data, redact);
    let mut n = 0;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        if let Err(e) = schema().validate(&v) {
            panic!("line {} does not match the schema: {e}\n{line}", n + 1);
        }
        n += 1;
    }
    assert!(n >= 2, "meta and stats lines");
});
