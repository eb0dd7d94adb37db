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
    tls_section();
}

/// RTMPS: the same RTMP traffic through TLS (decrypted with the secrets
/// embedded in the `15x-...-dsb.pcapng` captures) and on stunnel's plain
/// upstream connection (port 15019), each selected with a BPF filter from
/// the same file. Prints MB/s of TCP payload and the slowdown of decryption.
fn tls_section() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut caps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    caps.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("15") && n.ends_with("-dsb.pcapng"))
    });
    caps.sort();
    if caps.is_empty() {
        return;
    }
    const ROUNDS: usize = 30;
    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>12} {:>9}",
        "RTMPS (payload MB/s, best of 3 x 30 rounds)",
        "TLS+decrypt",
        "TLS no key",
        "plain",
        "slowdown"
    );
    for f in &caps {
        let keys = rtmpscope::capture::pcapng_tls_secrets(f)
            .map(|t| std::sync::Arc::new(rtmpscope::tls::KeyLog::parse(&t)));
        let port = if f.to_string_lossy().contains("tls13") {
            15010
        } else if f.to_string_lossy().contains("aes128gcm") {
            15011
        } else if f.to_string_lossy().contains("chacha") {
            15012
        } else {
            15013
        };
        // Packets selected once, held in memory: the timing is the pipeline's.
        let load = |filter: &str| -> Vec<(u64, rtmpscope::time::PacketTime, u32, u32, Vec<u8>)> {
            let opts = SourceOptions {
                filter: Some(filter.to_owned()),
                ..SourceOptions::default()
            };
            let mut src = PacketSource::open_file(f, &opts).expect("open");
            let mut v = Vec::new();
            while let Some(p) = src.next_packet().expect("read") {
                v.push((p.pcap_cnt, p.time, p.linktype, p.origlen, p.data.to_vec()));
            }
            v
        };
        let time = |filter: String, keys: Option<std::sync::Arc<rtmpscope::tls::KeyLog>>| {
            let pkts = load(&filter);
            (0..3)
                .map(|_| {
                    let t0 = Instant::now();
                    let mut payload = 0u64;
                    let mut msgs = 0u64;
                    for _ in 0..ROUNDS {
                        let mut an = Analyzer::new(Config {
                            tls_keylog: keys.clone(),
                            ..Config::default()
                        });
                        let mut events = Vec::new();
                        payload = 0;
                        for (cnt, time, lt, orig, data) in &pkts {
                            let pkt = rtmpscope::capture::RawPacket {
                                pcap_cnt: *cnt,
                                time: *time,
                                linktype: *lt,
                                origlen: *orig,
                                data,
                            };
                            an.handle_packet(&pkt, &mut events);
                            for e in events.drain(..) {
                                if let rtmpscope::event::EventKind::FlowEnd(end) = &e.kind {
                                    payload += end.counters.bytes[0] + end.counters.bytes[1];
                                }
                            }
                        }
                        an.finish(None, &mut events);
                        for e in events.drain(..) {
                            if let rtmpscope::event::EventKind::FlowEnd(end) = &e.kind {
                                payload += end.counters.bytes[0] + end.counters.bytes[1];
                            }
                        }
                        msgs = an.stats(None).messages;
                    }
                    (
                        t0.elapsed().as_secs_f64(),
                        payload as f64 * ROUNDS as f64 / 1e6,
                        msgs,
                    )
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .expect("3 runs")
        };
        let (tk, mbk, mk) = time(format!("tcp port {port}"), keys.clone());
        let (tn, mbn, _) = time(format!("tcp port {port}"), None);
        let (tp, mbp, mp) = time("tcp port 15019".into(), None);
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        println!(
            "{:<44} {:>12.0} {:>12.0} {:>12.0} {:>8.2}x  ({mk} / {mp} messages)",
            name,
            mbk / tk,
            mbn / tn,
            mbp / tp,
            (tk / mbk) / (tp / mbp)
        );
    }
}
