//! Capture loss is reported, not hidden: `captures/10-...-lossy.pcap` is a
//! copy of `captures/01-...` with TCP data packets removed (the removed ones
//! are listed in its `removed.tsv` ground truth). Every removed byte must be
//! reported as a gap at the right offset, and every other byte delivered
//! exactly as in the original.

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Direction, EventKind, FlowId};
use rtmpscope::pipeline::{Analyzer, Config, DataTap};

type Key = (IpAddr, u16, IpAddr, u16); // sender ip/port -> receiver ip/port
/// In-order runs of one flow direction: (stream offset, bytes).
type Runs = Vec<(u64, Vec<u8>)>;

#[derive(Default)]
struct Run {
    /// Delivered runs per (flow, direction): (offset, bytes).
    runs: HashMap<(FlowId, Direction), Runs>,
    gaps: HashMap<(FlowId, Direction), Vec<(u64, u64)>>,
    keys: HashMap<(FlowId, Direction), Key>,
}

impl DataTap for Run {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        self.runs
            .entry((flow, dir))
            .or_default()
            .push((offset, data.to_vec()));
    }
}

fn run(path: &Path) -> Run {
    let mut src = PacketSource::open_file(path, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(Config::default());
    let mut r = Run::default();
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        an.handle_packet_tap(&p, &mut events, &mut r);
    }
    an.finish(None, &mut events);
    for ev in events {
        match ev.kind {
            EventKind::FlowStart(f) => {
                let c = (f.client_ip, f.client_port);
                let s = (f.server_ip, f.server_port);
                r.keys
                    .insert((f.flow_id, Direction::ToServer), (c.0, c.1, s.0, s.1));
                r.keys
                    .insert((f.flow_id, Direction::ToClient), (s.0, s.1, c.0, c.1));
            }
            EventKind::Gap(g) => {
                let k = (
                    ev.flow_id.expect("gap has a flow"),
                    ev.direction.expect("dir"),
                );
                r.gaps.entry(k).or_default().push((g.offset, g.len));
            }
            _ => {}
        }
    }
    r
}

/// Removed payload bytes per sender->receiver, from `removed.tsv`.
fn removed(truth: &Path) -> HashMap<Key, u64> {
    let text = std::fs::read_to_string(truth).expect("read removed.tsv");
    let mut m = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 7, "bad removed.tsv line: {line}");
        let key = (
            f[1].parse().expect("ip"),
            f[2].parse().expect("port"),
            f[3].parse().expect("ip"),
            f[4].parse().expect("port"),
        );
        *m.entry(key).or_default() += f[6].parse::<u64>().expect("bytes");
    }
    m
}

#[test]
fn every_removed_byte_is_a_gap_and_nothing_else_is_lost() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let orig = dir.join("01-ffmpeg-nginx-publish-play.pcap");
    let lossy = dir.join("10-ffmpeg-nginx-publish-play-lossy.pcap");
    let truth = dir.join("10-ffmpeg-nginx-publish-play-lossy.truth/removed.tsv");
    if !orig.exists() || !lossy.exists() || !truth.exists() {
        inputs::missing("corpus captures 01/10 are absent (captures/generate.sh makes them)");
        return;
    }
    let a = run(&orig);
    let b = run(&lossy);
    let removed = removed(&truth);
    assert!(!removed.is_empty(), "removed.tsv lists nothing");
    assert!(a.gaps.is_empty(), "the original has gaps: {:?}", a.gaps);

    // Original bytes per sender->receiver key.
    let mut original: HashMap<Key, Vec<u8>> = HashMap::new();
    for (k, runs) in &a.runs {
        let v = original.entry(a.keys[k]).or_default();
        for (off, d) in runs {
            assert_eq!(*off, v.len() as u64);
            v.extend_from_slice(d);
        }
    }
    let mut seen_removed: HashMap<Key, u64> = HashMap::new();
    for (k, key) in &b.keys {
        let orig_bytes = original.get(key).cloned().unwrap_or_default();
        let mut covered = 0u64;
        for (off, d) in b.runs.get(k).into_iter().flatten() {
            let end = *off as usize + d.len();
            assert!(
                end <= orig_bytes.len(),
                "{key:?}: delivered past the original"
            );
            assert_eq!(
                &orig_bytes[*off as usize..end],
                &d[..],
                "{key:?}: bytes at {off} differ"
            );
            covered += d.len() as u64;
        }
        let gap_total: u64 = b.gaps.get(k).into_iter().flatten().map(|g| g.1).sum();
        assert_eq!(
            covered + gap_total,
            orig_bytes.len() as u64,
            "{key:?}: delivered + gaps must cover the original exactly"
        );
        if gap_total > 0 {
            seen_removed.insert(*key, gap_total);
        }
    }
    assert_eq!(
        seen_removed, removed,
        "gap bytes per direction vs removed.tsv"
    );
}
