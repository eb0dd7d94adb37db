//! Throughput work (issue 12) must not change a byte of output:
//! the direct JSON encoding equals the Value-tree mapping on every message
//! of the corpus, and any `--threads` count writes the same bytes (2: reader thread; 3+: analyzer thread too).

use std::path::{Path, PathBuf};

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::EventKind;
use rtmpscope::output::json::{message_to_json, write_message_json};
use rtmpscope::pipeline::{Analyzer, Config};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 20, "the corpus is in the repository");
    v
}

#[test]
fn direct_encoding_equals_value_tree() {
    let mut checked = 0u64;
    let mut kinds = std::collections::BTreeSet::new();
    for cap in corpus() {
        let mut src = PacketSource::open_file(&cap, &SourceOptions::default()).expect("open");
        let mut an = Analyzer::new(Config::default());
        let mut events = Vec::new();
        while let Some(p) = src.next_packet().expect("read") {
            an.handle_packet(&p, &mut events);
        }
        an.finish(None, &mut events);
        for ev in &events {
            let EventKind::Message(m) = &ev.kind else {
                continue;
            };
            for cr in [false, true] {
                let mut direct = Vec::new();
                write_message_json(&mut direct, m, cr);
                let tree = serde_json::to_string(&message_to_json(m, cr)).expect("json");
                assert_eq!(
                    String::from_utf8(direct).expect("utf-8"),
                    tree,
                    "{}: pcap_cnt {}",
                    cap.display(),
                    ev.pcap_cnt
                );
            }
            kinds.insert(m.type_name());
            checked += 1;
        }
    }
    // The corpus has every hot body kind.
    for k in [
        "audio",
        "video",
        "user_control",
        "set_chunk_size",
        "command_amf0",
        "data_amf0",
    ] {
        assert!(kinds.contains(k), "no {k} message in the corpus: {kinds:?}");
    }
    assert!(checked > 5_000, "{checked} messages");
}

/// stdout of `rtmpscope --threads N CMD -r CAP`.
fn run_cli(threads: u32, cmd: &str, cap: &Path) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--threads", &threads.to_string(), cmd, "-r"])
        .arg(cap)
        .output()
        .expect("run rtmpscope");
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "{cmd} {}: {:?} {}",
        cap.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    for cap in corpus() {
        let rel = cap
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("in the crate")
            .to_path_buf();
        for cmd in ["json", "summary"] {
            let one = run_cli(1, cmd, &rel);
            assert!(one.len() > 100, "{cmd} {}: output", rel.display());
            for n in [2, 3, 4] {
                let many = run_cli(n, cmd, &rel);
                assert!(
                    one == many,
                    "{cmd} {}: --threads {n} differs from --threads 1",
                    rel.display()
                );
            }
        }
    }
}

#[test]
fn threads_option_is_checked() {
    let cap = Path::new("captures/01-ffmpeg-nginx-publish-play.pcap");
    for bad in ["0", "65", "x"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["--threads", bad, "json", "-r"])
            .arg(cap)
            .output()
            .expect("run rtmpscope");
        assert_eq!(out.status.code(), Some(2), "--threads {bad}");
    }
}
