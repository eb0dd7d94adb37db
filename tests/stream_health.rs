//! Stream health in the JSON session record (`session.streams[].health`):
//! on every capture of the corpus the series adds up to the stream's own
//! totals, every line validates against the schema, and the schema rejects
//! a malformed series (the check is not vacuous).

#[path = "corpus/mod.rs"]
mod corpus;
#[path = "support/schema.rs"]
mod validator;

use serde_json::Value as J;

fn sum(v: &J) -> u64 {
    v.as_array()
        .expect("series array")
        .iter()
        .map(|x| x.as_u64().expect("count"))
        .sum()
}

#[test]
fn health_series_add_up_and_validate() {
    let val = validator::load();
    let mut streams = 0;
    for cap in corpus::captures() {
        for line in corpus::json(&cap, &[]).lines() {
            let v: J = serde_json::from_str(line).unwrap();
            if v["event_type"] != "session" {
                continue;
            }
            val.validate(&v).unwrap_or_else(|e| panic!("{cap}: {e}"));
            for st in v["session"]["streams"].as_array().unwrap() {
                let Some(h) = st.get("health") else {
                    assert_eq!(st["video"]["messages"], 0, "{cap}: media without health");
                    assert_eq!(st["audio"]["messages"], 0, "{cap}: media without health");
                    continue;
                };
                streams += 1;
                let se = &h["series"];
                let n = se["video_bytes"].as_array().unwrap().len();
                assert!(n > 0);
                for k in [
                    "audio_bytes",
                    "audio_frames",
                    "video_frames",
                    "keyframes",
                    "max_frame",
                    "jumps",
                    "regressions",
                    "drift_ms",
                ] {
                    assert_eq!(se[k].as_array().unwrap().len(), n, "{cap}: {k}");
                }
                assert_eq!(h["bucket_ms"], 1000, "{cap}");
                assert_eq!(sum(&se["video_bytes"]), st["video"]["bytes"], "{cap}");
                assert_eq!(sum(&se["audio_bytes"]), st["audio"]["bytes"], "{cap}");
                assert_eq!(sum(&se["video_frames"]), st["video"]["frames"], "{cap}");
                assert_eq!(sum(&se["audio_frames"]), st["audio"]["frames"], "{cap}");
                assert_eq!(sum(&se["keyframes"]), st["video"]["keyframes"], "{cap}");
                assert_eq!(sum(&se["jumps"]), h["timestamp_jumps"], "{cap}");
                // The worst second is one of the buckets.
                if let Some(w) = h.get("worst_second") {
                    assert!((w["index"].as_u64().unwrap() as usize) < n, "{cap}");
                }
                // The schema rejects a malformed series.
                let mut bad = v.clone();
                let idx = v["session"]["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .position(|s| s == st)
                    .unwrap();
                bad["session"]["streams"][idx]["health"]["series"]["drift_ms"] =
                    J::String("x".into());
                assert!(
                    val.validate(&bad).is_err(),
                    "{cap}: schema accepts a bad series"
                );
                let mut bad = v.clone();
                bad["session"]["streams"][idx]["health"]["anomalies"]["media.made_up"] = 1.into();
                assert!(
                    val.validate(&bad).is_err(),
                    "{cap}: schema accepts any anomaly name"
                );
            }
        }
    }
    assert!(streams >= 25, "only {streams} media streams in the corpus");
}
