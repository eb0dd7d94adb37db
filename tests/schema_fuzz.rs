//! The schema is the contract for every input, not only the corpus: the
//! whole JSON path (pcap bytes -> Analyzer -> JSON writer with sessions)
//! runs over generated hostile sessions and frame-level mutants of them and
//! of the bundled captures, and every line must validate against
//! `schema/rtmpscope-events.schema.json`. The same path is the fuzz target
//! `fuzz/fuzz_targets/json_path.rs`.

mod hostile;
#[path = "support/schema.rs"]
mod validator;

use hostile::{amf, chunked_any, json_of_pcap, mutate, pcap_from_records, pcap_records, Rng};
use serde_json::Value as J;

/// Validates every line; returns the parsed lines or panics with the first
/// failures.
fn validate_all(val: &validator::Validator, what: &str, out: &str) -> Vec<J> {
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    for (i, l) in out.lines().enumerate() {
        let v: J =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: line {}: {e}", i + 1));
        if let Err(e) = val.validate(&v) {
            errors.push(format!("{what} line {} ({}): {e}", i + 1, v["event_type"]));
        }
        lines.push(v);
    }
    assert!(
        errors.is_empty(),
        "{}",
        errors[..errors.len().min(10)].join("\n")
    );
    assert_eq!(
        lines.first().map(|v| &v["event_type"]),
        Some(&J::from("meta")),
        "{what}"
    );
    assert_eq!(
        lines.last().map(|v| &v["event_type"]),
        Some(&J::from("stats")),
        "{what}"
    );
    lines
}

fn has_cause(v: &J, cause: &str, in_aggregate: bool) -> bool {
    let r = &v["rtmp"];
    if in_aggregate {
        r["aggregate"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["truncated"]["cause"] == cause))
    } else {
        r["truncated"]["cause"] == cause
    }
}

#[test]
fn interrupted_messages_validate_also_inside_aggregates() {
    let val = validator::load();
    let pcap = {
        let mut p = hostile::PcapWriter::new(Vec::new()).unwrap();
        let mut c = hostile::Conn::new(1, 0);
        c.open(&mut p).unwrap();
        c.handshake(&mut p).unwrap();
        // An aggregate of two video tags, cut after its first chunk, then a
        // new type-0 header on the same chunk stream.
        let mut agg = Vec::new();
        for i in 0..2 {
            let mut body = vec![0x17, 1, 0, 0, 0];
            body.extend(std::iter::repeat_n(0xab, 200));
            agg.extend(hostile::aggregate_sub(9, i * 40, &body));
        }
        let mut bytes = chunked_any(6, 22, 1, 0, &agg, 128, Some(128));
        bytes.extend(chunked_any(
            6,
            9,
            1,
            80,
            &[0x17, 1, 0, 0, 0, 1, 2, 3],
            128,
            None,
        ));
        // A command cut the same way.
        let cmd = amf::command(b"publish", 5.0, &[amf::null(), amf::string(&[b'k'; 300])]);
        bytes.extend(chunked_any(8, 20, 1, 0, &cmd, 128, Some(200)));
        bytes.extend(chunked_any(
            8,
            20,
            1,
            0,
            &amf::command(b"ping", 0.0, &[]),
            128,
            None,
        ));
        c.client(&mut p, &bytes).unwrap();
        c.close(&mut p).unwrap();
        p.into_inner()
    };
    for redact in [false, true] {
        let lines = validate_all(&val, "interrupted", &json_of_pcap(&pcap, redact));
        assert!(
            lines.iter().any(|v| has_cause(v, "interrupted", false)),
            "no interrupted message"
        );
        assert!(
            lines.iter().any(|v| has_cause(v, "interrupted", true)),
            "no interrupted aggregate sub-message"
        );
    }
}

#[test]
fn generated_and_mutated_inputs_validate() {
    let val = validator::load();
    let mut r = Rng(0x5eed_0018);
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    // Generated sessions (1-3 flows per capture, some with evil strings).
    for i in 0..120u32 {
        let mut p = hostile::PcapWriter::new(Vec::new()).unwrap();
        for f in 0..1 + r.below(3) as u32 {
            if r.chance(15) {
                hostile::evil_session(&mut p, i * 4 + f, r.chance(50)).unwrap();
            } else {
                hostile::random_session(&mut p, &mut r, i * 4 + f).unwrap();
            }
        }
        inputs.push((format!("generated #{i}"), p.into_inner()));
    }
    // Bundled captures (small ones) as seeds for mutation too.
    for name in [
        "01-ffmpeg-nginx-publish-play.pcap",
        "02-rtmpdump-nginx-play-connect-args.pcap",
        "06-nginx-rejected-publish-missing-play.pcap",
        "07-nginx-midstream-chunk4096.pcap",
    ] {
        let path = format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"));
        let b = std::fs::read(&path).expect("bundled capture");
        // The bundled captures may be any link type: only classic Ethernet
        // pcaps are mutated here (the others are covered by schema_corpus).
        if b.len() > 24 && b[..4] == 0xa1b2_c3d4u32.to_le_bytes() && b[20] == 1 {
            inputs.push((name.to_string(), b));
        }
    }
    let seeds = inputs.len();
    for k in 0..seeds * 3 {
        let (name, b) = &inputs[k % seeds];
        let mut recs = pcap_records(b);
        mutate(&mut r, &mut recs);
        inputs.push((format!("mutant {k} of {name}"), pcap_from_records(&recs)));
    }
    let (mut lines, mut interrupted, mut messages) = (0usize, 0usize, 0usize);
    for (name, pcap) in &inputs {
        for redact in [false, true] {
            let out = json_of_pcap(pcap, redact);
            let v = validate_all(&val, name, &out);
            lines += v.len();
            messages += v.iter().filter(|v| v["event_type"] == "rtmp").count();
            interrupted += v
                .iter()
                .filter(|v| has_cause(v, "interrupted", false) || has_cause(v, "interrupted", true))
                .count();
        }
    }
    eprintln!(
        "{} inputs, {lines} lines, {messages} rtmp, {interrupted} interrupted",
        inputs.len()
    );
    // The generator reaches what the corpus does not.
    assert!(interrupted > 10, "{interrupted}");
    assert!(messages > 5000, "{messages}");
}
