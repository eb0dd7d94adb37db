//! Golden tests: the NDJSON output (`rtmpscope -r captures/X json`, default
//! options, relative input path, current dir = crate root) of every capture in
//! `captures/` is committed as `tests/golden/X.ndjson` and compared byte for
//! byte. `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the files. See
//! `tests/golden/README.md` (update mechanism and the human review of them).

#[path = "corpus/mod.rs"]
mod corpus;

use std::path::{Path, PathBuf};

/// How many differing lines a mismatch report shows.
const SHOW_DIFFS: usize = 5;
/// Longest line shown in a mismatch report (characters, then `...`).
const SHOW_CHARS: usize = 1500;

fn golden_path(capture: &str) -> PathBuf {
    Path::new(corpus::ROOT)
        .join("tests/golden")
        .join(format!("{}.ndjson", corpus::stem(capture)))
}

fn clip(s: &str) -> String {
    if s.chars().count() <= SHOW_CHARS {
        s.to_string()
    } else {
        let head: String = s.chars().take(SHOW_CHARS).collect();
        format!("{head}...")
    }
}

/// Readable report of the first differing lines, or None when equal.
fn first_differences(expected: &str, got: &str) -> Option<String> {
    if expected == got {
        return None;
    }
    let e: Vec<&str> = expected.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = format!("  expected {} lines, got {} lines\n", e.len(), g.len());
    let mut shown = 0;
    for i in 0..e.len().max(g.len()) {
        let (a, b) = (e.get(i), g.get(i));
        if a != b {
            out.push_str(&format!(
                "  line {}:\n    expected: {}\n    got:      {}\n",
                i + 1,
                a.map(|s| clip(s)).unwrap_or_else(|| "<end of file>".into()),
                b.map(|s| clip(s)).unwrap_or_else(|| "<end of file>".into()),
            ));
            shown += 1;
            if shown == SHOW_DIFFS {
                out.push_str("  ... (more differences not shown)\n");
                break;
            }
        }
    }
    if shown == 0 {
        out.push_str("  (lines equal; the difference is in line endings / final newline)\n");
    }
    Some(out)
}

#[test]
fn every_capture_matches_its_golden() {
    let update = std::env::var("UPDATE_GOLDEN")
        .map(|v| v == "1")
        .unwrap_or(false);
    let mut failures = Vec::new();
    for cap in corpus::captures() {
        let first = corpus::json(&cap, &[]);
        let second = corpus::json(&cap, &[]);
        assert!(
            first == second,
            "{cap}: two runs differ (non-deterministic output):\n{}",
            first_differences(&first, &second).unwrap_or_default()
        );
        assert!(
            first.starts_with(&format!(
                "{{\"event_type\":\"meta\",\"meta\":{{\"tool\":\"rtmpscope\",\"version\":\"{}\"",
                env!("CARGO_PKG_VERSION")
            )) && first.contains(&format!("\"input\":\"file {cap} (")),
            "{cap}: the meta line must name the relative input path"
        );
        let path = golden_path(&cap);
        if update {
            std::fs::write(&path, &first).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Err(e) => failures.push(format!(
                "{cap}: no golden {} ({e}); run UPDATE_GOLDEN=1 cargo test --test golden",
                path.display()
            )),
            Ok(expected) => {
                if let Some(d) = first_differences(&expected, &first) {
                    failures.push(format!(
                        "{cap}: output differs from {}:\n{d}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es); if the change is intended, review it and run \
         UPDATE_GOLDEN=1 cargo test --test golden\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn no_stale_goldens() {
    let caps: Vec<String> = corpus::captures().iter().map(|c| corpus::stem(c)).collect();
    let dir = Path::new(corpus::ROOT).join("tests/golden");
    for e in std::fs::read_dir(&dir).expect("tests/golden exists") {
        let name = e
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(".ndjson") {
            assert!(
                caps.iter().any(|c| c == stem),
                "tests/golden/{name} has no capture in captures/"
            );
        }
    }
}

#[test]
fn mismatch_report_names_line_expected_and_got() {
    let d = first_differences("a\nb\nc\n", "a\nX\nc\nd\n").expect("differs");
    assert!(d.contains("expected 3 lines, got 4 lines"), "{d}");
    assert!(
        d.contains("line 2:\n    expected: b\n    got:      X"),
        "{d}"
    );
    assert!(
        d.contains("line 4:\n    expected: <end of file>\n    got:      d"),
        "{d}"
    );
    assert!(!d.contains("line 1:") && !d.contains("line 3:"), "{d}");
    assert!(first_differences("a\n", "a\n").is_none());
    assert!(first_differences("a\n", "a")
        .unwrap()
        .contains("line endings"));
}

#[test]
fn fail_on_error_exits_1_after_writing_everything() {
    // 10 (lossy) has error-severity anomalies: exit 1, yet the output is
    // complete (byte-identical to the golden, ending with the stats line).
    let cap = "captures/10-ffmpeg-nginx-publish-play-lossy.pcap";
    let out = corpus::run(&["-r", cap, "json", "--fail-on", "error"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.contains("\"event_type\":\"stats\""),
        "last line: {last}"
    );
    assert!(text.ends_with('\n'));
    let golden = std::fs::read_to_string(golden_path(cap)).expect("golden of 10");
    assert!(text == golden, "--fail-on must not change the output");
    // The baseline capture has no error anomaly: exit 0.
    let out = corpus::run(&[
        "-r",
        "captures/01-ffmpeg-nginx-publish-play.pcap",
        "json",
        "--fail-on",
        "error",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .is_some_and(|l| l.contains("\"event_type\":\"stats\"")));
}

/// Video stats of every session in a capture's golden-equivalent output.
fn video_stats(cap: &str) -> Vec<serde_json::Value> {
    corpus::json(cap, &[])
        .lines()
        .filter(|l| l.contains("\"event_type\":\"session\""))
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            v["session"]["streams"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|s| s["video"].clone())
                .filter(|v| v["frames"].as_u64().unwrap_or(0) > 0)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn session_stats_match_captures_readme() {
    // captures/README.md: testsrc at 25 fps, GOP 25 (keyframe every 1 s); 11 has -g 10 (0.4 s).
    // The frame rate is measured over coded frames only: ffmpeg sends the sequence
    // header at 0 and the first frame at 23 ms (01), and 12 jumps to 16800000 ms.
    for (cap, kfi) in [
        ("captures/01-ffmpeg-nginx-publish-play.pcap", 1000.0),
        ("captures/03-nginx-chunk128-port19350.pcap", 1000.0),
        ("captures/04a-eRTMP-hevc-aac-ffmpeg-listen.pcap", 1000.0),
        ("captures/04b-eRTMP-av1-opus-ffmpeg-listen.pcap", 1000.0),
        ("captures/04c-eRTMP-vp9-opus-ffmpeg-listen.pcap", 1000.0),
        // Multitrack: rate and keyframe interval of the first track (two tracks
        // at 25 fps read 50.51 fps and 333 ms before), config of the 320x240 track.
        (
            "captures/04d-eRTMP-multitrack-hevc-aac-ffmpeg-listen.pcap",
            1000.0,
        ),
        ("captures/09-nginx-5-concurrent-publishers.pcap", 1000.0),
        ("captures/11-nginx-chunk60000-big-keyframes.pcap", 400.0),
        ("captures/12-nginx-extended-timestamps.pcap", 1000.0),
    ] {
        let stats = video_stats(cap);
        assert!(!stats.is_empty(), "{cap}: no video stats");
        for v in stats {
            assert_eq!(v["frame_rate"].as_f64(), Some(25.0), "{cap}: {v}");
            assert_eq!(v["keyframe_interval_ms"].as_f64(), Some(kfi), "{cap}: {v}");
            // 12: 100 frames of 640x480 over 4 s is far above 2 kbit/s; over
            // 16804 s (sequence header at 0) it read 26 bit/s and 0.01 fps.
            let br = v["bitrate_bps"].as_f64().unwrap_or(0.0);
            assert!(br > 2_000.0, "{cap}: bitrate {br}");
            if cap.contains("04d") {
                assert_eq!(v["frames"].as_u64(), Some(100), "all tracks counted");
                assert_eq!(v["config"].as_str(), Some("profile 1 level 60"));
            }
        }
    }
}

#[test]
fn session_amf_numbers_are_written_like_rtmp_lines() {
    // createStream transaction 4 is `"transaction_id":4` in the rtmp line; the
    // session's `created_by_transaction` (an AMF number too) must say 4, not 4.0.
    let out = corpus::json("captures/01-ffmpeg-nginx-publish-play.pcap", &[]);
    let sessions: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\"event_type\":\"session\""))
        .collect();
    assert_eq!(sessions.len(), 2);
    let all = sessions.join("\n");
    assert!(
        all.contains("\"created_by_transaction\":4,"),
        "publisher's createStream"
    );
    assert!(all.contains("\"play_start\":-2000,"), "player's play start");
    for key in ["created_by_transaction", "play_start", "capabilities"] {
        assert!(
            !all.contains(&format!("\"{key}\":4.0"))
                && !all.contains(&format!("\"{key}\":-2000.0"))
                && !all.contains(&format!("\"{key}\":15.0")),
            "{key} written with a fraction"
        );
    }
}
