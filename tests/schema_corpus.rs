//! Every line rtmpscope writes for every capture in `captures/` (and the pair
//! captures in `captures/pairs/`), with default options and with `--redact`,
//! validates against `schema/rtmpscope-events.schema.json`.

#[path = "corpus/mod.rs"]
mod corpus;
#[path = "support/schema.rs"]
mod validator;

use serde_json::Value as J;

fn all_inputs() -> Vec<String> {
    let mut v = corpus::captures();
    let mut pairs: Vec<String> = std::fs::read_dir(format!("{}/captures/pairs", corpus::ROOT))
        .expect("captures/pairs")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .map(|n| format!("captures/pairs/{n}"))
        .collect();
    pairs.sort();
    v.extend(pairs);
    v
}

fn check(val: &validator::Validator, cap: &str, extra: &[&str]) -> (usize, Vec<String>) {
    let out = corpus::json(cap, extra);
    let mut errors = Vec::new();
    let mut n = 0;
    let lines: Vec<&str> = out.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        n += 1;
        let v: J = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{cap} {extra:?} line {}: not JSON: {e}", i + 1));
                continue;
            }
        };
        if let Err(e) = val.validate(&v) {
            let et = v.get("event_type").and_then(J::as_str).unwrap_or("?");
            errors.push(format!("{cap} {extra:?} line {} ({et}): {e}", i + 1));
        }
    }
    // Envelope order: meta first, stats last.
    let first: J =
        serde_json::from_str(lines.first().copied().unwrap_or("null")).unwrap_or(J::Null);
    let last: J = serde_json::from_str(lines.last().copied().unwrap_or("null")).unwrap_or(J::Null);
    if first["event_type"] != "meta" || last["event_type"] != "stats" {
        errors.push(format!(
            "{cap} {extra:?}: first line must be meta and last stats"
        ));
    }
    (n, errors)
}

#[test]
fn every_line_of_every_capture_validates() {
    let val = validator::load();
    let mut errors = Vec::new();
    let mut total = 0;
    let inputs = all_inputs();
    for cap in &inputs {
        for extra in [&[][..], &["--redact"][..]] {
            let (n, e) = check(&val, cap, extra);
            total += n;
            errors.extend(e);
        }
    }
    assert!(
        errors.is_empty(),
        "{} invalid line(s) of {total}:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Plausibility: the corpus is not empty output (about 6000 lines per pass).
    assert!(
        total > 2 * 5000,
        "only {total} lines over {} inputs",
        inputs.len()
    );
}

#[test]
fn corpus_covers_every_event_type() {
    // The schema check above is only as good as the variety it sees.
    let mut seen = std::collections::BTreeSet::new();
    for cap in corpus::captures() {
        for line in corpus::json(&cap, &[]).lines() {
            let v: J = serde_json::from_str(line).expect("JSON");
            if let Some(t) = v["event_type"].as_str() {
                seen.insert(t.to_string());
            }
        }
    }
    for t in [
        "meta",
        "flow_start",
        "handshake",
        "rtmp",
        "anomaly",
        "gap",
        "flow",
        "session",
        "stats",
    ] {
        assert!(
            seen.contains(t),
            "no {t} line in the corpus output: {seen:?}"
        );
    }
}

#[test]
fn validator_is_not_vacuous_on_corpus_lines() {
    // A real corpus line, broken in one field, must be rejected.
    let val = validator::load();
    let out = corpus::json("captures/01-ffmpeg-nginx-publish-play.pcap", &[]);
    let line = out
        .lines()
        .find(|l| l.contains("\"event_type\":\"rtmp\""))
        .expect("an rtmp line");
    let mut v: J = serde_json::from_str(line).expect("JSON");
    assert!(val.validate(&v).is_ok());
    v["rtmp"]["csid"] = J::String("three".into());
    assert!(
        val.validate(&v).is_err(),
        "csid as a string must not validate"
    );
}
