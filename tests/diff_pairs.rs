//! `rtmpscope diff` on real capture pairs (see captures/README.md, "pairs/"):
//! two runs of one scenario are equal, a changed scenario is reported with
//! exact sentences and exit code 1, and a saved golden NDJSON (plain or
//! `--redact`) equals its capture.

#[path = "corpus/mod.rs"]
mod corpus;

const C01: &str = "captures/01-ffmpeg-nginx-publish-play.pcap";
const C01_AGAIN: &str = "captures/pairs/01-second-run.pcap";
const C03: &str = "captures/03-nginx-chunk128-port19350.pcap";
const C04A: &str = "captures/04a-eRTMP-hevc-aac-ffmpeg-listen.pcap";
const C04B: &str = "captures/04b-eRTMP-av1-opus-ffmpeg-listen.pcap";
const C04A_H264: &str = "captures/pairs/04a-h264-aac-ffmpeg-listen.pcap";
const C05: &str = "captures/05-ffmpeg-node-media-server-publish-play.pcap";
const C05B: &str = "captures/05b-eRTMP-hevc-node-media-server.pcap";
const C06_OK: &str = "captures/pairs/06-flow5-publish-accepted.pcap";
const C06_BAD: &str = "captures/pairs/06-flow6-publish-badname.pcap";

/// (exit code, stdout lines) of `rtmpscope diff ARGS`.
fn diff(args: &[&str]) -> (i32, Vec<String>) {
    let mut a = vec!["diff"];
    a.extend_from_slice(args);
    let out = corpus::run(&a);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "diff {args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 report");
    (code, text.lines().map(str::to_string).collect())
}

fn assert_has(lines: &[String], want: &str) {
    assert!(
        lines.iter().any(|l| l == want),
        "missing line {want:?} in report:\n{}",
        lines.join("\n")
    );
}

#[test]
fn second_run_of_scenario_01_is_equal() {
    let (code, lines) = diff(&[C01, C01_AGAIN]);
    assert_eq!(code, 0, "{}", lines.join("\n"));
    assert_eq!(lines, ["no differences (2 session(s) compared)"]);
    // And the other way round.
    let (code, _) = diff(&[C01_AGAIN, C01]);
    assert_eq!(code, 0);
}

#[test]
fn the_second_run_really_is_another_capture() {
    // Guard: the pair must not be a byte copy (ports, times and TCP segmentation differ).
    let a = std::fs::read(format!("{}/{C01}", corpus::ROOT)).expect("01");
    let b = std::fs::read(format!("{}/{C01_AGAIN}", corpus::ROOT)).expect("pair");
    assert_ne!(a, b);
    let ja = corpus::json(C01, &[]);
    let jb = corpus::json(C01_AGAIN, &[]);
    assert_ne!(
        ja.lines().nth(1),
        jb.lines().nth(1),
        "first handshake line differs in time/port"
    );
}

#[test]
fn chunk_size_128_is_reported() {
    let (code, lines) = diff(&[C01, C03]);
    assert_eq!(code, 1);
    assert_eq!(lines[0], "session 1 (flow 1):");
    assert_has(
        &lines,
        "  - server now sends set_chunk_size 128 instead of set_chunk_size 4096",
    );
    assert_has(
        &lines,
        "  - publisher now sends set_chunk_size 128 instead of set_chunk_size 4096",
    );
    assert_has(&lines, "  - publisher now sends publish as `publish [\"small\",\"live\"]` (was `publish [\"stream1\",\"live\"]`)");
    assert_has(
        &lines,
        "  - player now sends play as `play [\"small\",-2000]` (was `play [\"stream1\",-2000]`)",
    );
    // Same media, same session count: nothing about codecs or counts.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("codec") || l.contains("messages from")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn hevc_vs_h264_same_server_scenario() {
    // 05b (NMS, E-RTMP HEVC + AAC 48 kHz) vs 05 (NMS, H.264 + AAC 44.1 kHz).
    let (code, lines) = diff(&[C05B, C05]);
    assert_eq!(code, 1);
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "  - video codec changed from hvc1 to avc1")
            .count(),
        2,
        "publisher and player sessions:\n{}",
        lines.join("\n")
    );
    assert_has(
        &lines,
        "  - audio codec configuration changed from {\"kind\":\"aac\",\"object_type\":2,\"sample_rate\":48000,\"channels\":1} to {\"kind\":\"aac\",\"object_type\":2,\"sample_rate\":44100,\"channels\":1}",
    );
    // Reverse direction names the codecs the other way round.
    let (code, lines) = diff(&[C05, C05B]);
    assert_eq!(code, 1);
    assert_has(&lines, "  - video codec changed from avc1 to hvc1");
}

#[test]
fn hevc_vs_h264_same_listen_scenario() {
    // 04a (E-RTMP hvc1 + AAC) vs the same ffmpeg-listen scenario with H.264 (legacy
    // AVC tags, fourCcList avc1,mp4a): exactly the connect object and the codec.
    let (code, lines) = diff(&[C04A, C04A_H264]);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 3, "{}", lines.join("\n"));
    assert_eq!(lines[0], "session 1 (flow 1):");
    assert!(
        lines[1].starts_with(
            "  - publisher now sends connect as `connect {\"app\":\"live\",\"fourCcList\":[\"avc1\",\"mp4a\"]"
        ) && lines[1].contains("(was `connect {\"app\":\"live\",\"fourCcList\":[\"hvc1\",\"mp4a\"]"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "  - video codec changed from hvc1 to avc1");
}

#[test]
fn ertmp_codec_change_hevc_aac_to_av1_opus() {
    let (code, lines) = diff(&[C04A, C04B]);
    assert_eq!(code, 1);
    assert_has(&lines, "  - video codec changed from hvc1 to av01");
    assert_has(&lines, "  - audio codec changed from mp4a to Opus");
}

#[test]
fn rejected_publish_vs_accepted() {
    // Two flows of 06 on live/taken: the first publisher is accepted, the second gets BadName.
    let (code, lines) = diff(&[C06_OK, C06_BAD]);
    assert_eq!(code, 1);
    assert_eq!(
        lines,
        [
            "session 1 (flow 1):",
            "  - server now sends onStatus NetStream.Publish.BadName instead of onStatus NetStream.Publish.Start",
            "  - publisher no longer sends @setDataFrame onMetaData",
            "  - publisher no longer sends audio (mp4a)",
            "  - publisher no longer sends video (avc1)",
        ]
    );
    let (code, lines) = diff(&[C06_BAD, C06_OK]);
    assert_eq!(code, 1);
    assert_has(
        &lines,
        "  - server now sends onStatus NetStream.Publish.Start instead of onStatus NetStream.Publish.BadName",
    );
}

#[test]
fn golden_ndjson_equals_its_capture() {
    // Every committed golden, diffed against its capture, is equal (both ways for 01).
    for cap in corpus::captures() {
        let g = format!("tests/golden/{}.ndjson", corpus::stem(&cap));
        let (code, lines) = diff(&[&g, &cap]);
        assert_eq!(code, 0, "{g} vs {cap}:\n{}", lines.join("\n"));
        assert!(lines[0].starts_with("no differences ("), "{}", lines[0]);
    }
    let g01 = "tests/golden/01-ffmpeg-nginx-publish-play.ndjson";
    let (code, _) = diff(&[C01, g01]);
    assert_eq!(code, 0);
    // A golden against a different capture is not equal.
    let (code, _) = diff(&[g01, C03]);
    assert_eq!(code, 1);
}

#[test]
fn redacted_ndjson_equals_fresh_capture_under_redact() {
    let dir = std::env::temp_dir().join(format!("rtmpscope-diffpairs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut caps = corpus::captures();
    caps.extend(corpus::pairs());
    for cap in &caps {
        let red = corpus::json(cap, &["--redact"]);
        let path = dir.join(format!("{}.redacted.ndjson", corpus::stem(cap)));
        std::fs::write(&path, red).expect("write");
        let p = path.to_str().expect("utf-8 path");
        let (code, lines) = diff(&["--redact", p, cap]);
        assert_eq!(code, 0, "{cap}:\n{}", lines.join("\n"));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("no differences ("), "{}", lines[0]);
    }
    // Without --redact the stream names differ (redacted vs clear) and are reported.
    for cap in [C01, C06_BAD] {
        let p = dir.join(format!("{}.redacted.ndjson", corpus::stem(cap)));
        let (code, _) = diff(&[p.to_str().expect("utf-8"), cap]);
        assert_eq!(code, 1, "{cap}: redacted names must differ from clear ones");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sessions_paired_by_what_they_are() {
    // 06's first client connects to `nosuchapp` and is closed before publish
    // or play: it is not compared with 01's player (it is reported as added);
    // 01's player is paired with 06's player, 01's publisher with the
    // publisher on the same app.
    let (code, lines) = diff(&[C01, "captures/06-nginx-rejected-publish-missing-play.pcap"]);
    assert_eq!(code, 1);
    assert_eq!(
        lines[..3],
        [
            "conversation:",
            "  - 6 RTMP session(s), was 2",
            "  - added: new session 1 (flow 1): client, app 'nosuchapp': connect",
        ]
    );
    assert_has(&lines, "session 1 (flow 1) -> new session 4 (flow 4):");
    assert_has(&lines, "session 2 (flow 2) -> new session 5 (flow 5):");
    assert_has(
        &lines,
        "  - server now sends onStatus NetStream.Play.StreamNotFound instead of onStatus NetStream.Play.Start",
    );
    // A publisher is never compared with a player.
    assert!(!lines.iter().any(|l| l.contains("player now sends publish")));
}

#[test]
fn player_publisher_vs_five_publishers_pairs_by_role() {
    // 01 (a player, then a publisher) vs 09 (five publishers): the
    // publisher pairs with a publisher, the player is removed, four
    // publishers are added. No line compares a player with a publisher.
    let (code, lines) = diff(&[C01, "captures/09-nginx-5-concurrent-publishers.pcap"]);
    assert_eq!(code, 1);
    assert_eq!(lines[0], "conversation:");
    assert_eq!(lines[1], "  - 5 RTMP session(s), was 2");
    assert_has(
        &lines,
        "  - removed: session 1 (flow 1): player, app 'live', stream 'stream1': connect, createStream, getStreamLength, play",
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("  - added: new session"))
            .count(),
        4
    );
    assert!(lines
        .iter()
        .filter(|l| l.starts_with("  - added"))
        .all(|l| l.contains(": publisher, app 'live'")));
    // One pair, headed by both numbers and flows.
    let headers: Vec<&String> = lines.iter().filter(|l| !l.starts_with("  ")).collect();
    assert_eq!(headers.len(), 2, "{}", lines.join("\n"));
    assert_eq!(headers[1], "session 2 (flow 2):");
    // Inside the pair: the stream name and the picture size, nothing else
    // (no player commands, no play/publish confusion).
    let pair: Vec<&String> = lines
        .iter()
        .skip_while(|l| *l != "session 2 (flow 2):")
        .skip(1)
        .collect();
    assert!(pair.len() <= 6, "{}", lines.join("\n"));
    assert!(
        pair.iter().all(|l| !l.contains("play")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn lossy_copy_reports_gaps_missed_bytes_and_anomalies() {
    let lossy = "captures/10-ffmpeg-nginx-publish-play-lossy.pcap";
    let (code, lines) = diff(&[C01, lossy]);
    assert_eq!(code, 1);
    assert_has(&lines, "session 1 (flow 1):");
    assert_has(&lines, "  - gaps changed from 0 to 3");
    assert_has(&lines, "  - tcp.seq_gap anomalies changed from 0 to 3");
    assert_has(&lines, "session 2 (flow 2):");
    assert_has(&lines, "  - gaps changed from 0 to 2");
    assert_has(&lines, "  - missed bytes changed from 0 to 4346");
    assert_has(
        &lines,
        "  - rtmp.gap_truncated anomalies changed from 0 to 2",
    );
    // --ignore leaves them out: gaps (and missed bytes), one anomaly name,
    // all anomalies.
    let (_, l2) = diff(&["--ignore", "gaps,anomalies.tcp.seq_gap", C01, lossy]);
    assert!(!l2
        .iter()
        .any(|l| l.contains("gaps changed") || l.contains("missed bytes")));
    assert!(!l2.iter().any(|l| l.contains("tcp.seq_gap")));
    assert!(l2.iter().any(|l| l.contains("rtmp.resync")));
    let (_, l3) = diff(&["--ignore", "gaps,anomalies", C01, lossy]);
    assert!(
        !l3.iter().any(|l| l.contains("anomalies changed")),
        "{}",
        l3.join("\n")
    );
    assert!(l3.iter().any(|l| l.contains("audio messages")));
}
