//! Throughput of each stage on one capture, in one run:
//! read only (capture source), + link/reassembly/RTMP dissector (events
//! dropped), + NDJSON writer (to a sink).
//!
//! usage: `cargo bench --bench throughput -- FILE [FILE...]`
//! (default: every capture in `captures/`). Prints MB/s of capture file per
//! stage and the dissector's share. Figures are for comparison within one
//! run on one machine; `captures/benchmark.sh` compares against tshark.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::output::json::{JsonOptions, JsonWriter};
use rtmpscope::pipeline::{Analyzer, Config};

#[derive(Clone, Copy)]
enum Stage {
    Read,
    Dissect,
    Json,
}

/// Runs one stage over `path`; returns (seconds, events).
fn run(path: &Path, stage: Stage) -> (f64, u64) {
    let t0 = Instant::now();
    let mut src = PacketSource::open_file(path, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(Config::default());
    let mut writer = JsonWriter::new(std::io::sink(), JsonOptions::default());
    let mut events = Vec::new();
    let mut n = 0u64;
    while let Some(pkt) = src.next_packet().expect("read") {
        match stage {
            Stage::Read => n += pkt.data.len() as u64 & 1,
            Stage::Dissect | Stage::Json => an.handle_packet(&pkt, &mut events),
        }
        n += events.len() as u64;
        if let Stage::Json = stage {
            for e in &events {
                writer.write_event(e).expect("write");
            }
        }
        events.clear();
    }
    if !matches!(stage, Stage::Read) {
        an.finish(None, &mut events);
        n += events.len() as u64;
    }
    (t0.elapsed().as_secs_f64(), n)
}

fn main() {
    let mut files: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        files = std::fs::read_dir(&dir)
            .expect("captures/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        files.sort();
    }
    println!(
        "{:<48} {:>9} {:>10} {:>10} {:>10} {:>8}",
        "capture", "MB", "read MB/s", "dissect", "json", "events"
    );
    for f in &files {
        let mb = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        // Warm the page cache, then measure each stage (best of 3).
        let _ = run(f, Stage::Read);
        let best = |s| {
            (0..3)
                .map(|_| run(f, s))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .expect("3 runs")
        };
        let (r, _) = best(Stage::Read);
        let (d, _) = best(Stage::Dissect);
        let (j, ev) = best(Stage::Json);
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        println!(
            "{:<48} {:>9.1} {:>10.0} {:>10.0} {:>10.0} {:>8}",
            name,
            mb,
            mb / r,
            mb / d,
            mb / j,
            ev
        );
    }
}
