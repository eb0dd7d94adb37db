//! Throughput work (issue 12) must not change a byte of output:
//! the direct JSON encoding equals the Value-tree mapping on every message
//! of the corpus, and any `--threads` count writes the same bytes.

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
