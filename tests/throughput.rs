//! Throughput work (issue 12) must not change a byte of output:
//! the direct JSON encoding equals the Value-tree mapping on every message
//! of the corpus, and any `--threads` count writes the same bytes (file
//! input: flows sharded over N workers, falling back to a single-threaded
//! re-read where sharding cannot be exact).

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

/// Events of a single-threaded run (`config`), `stats` included, and the
/// number of events the first n packets made (n = index).
fn single(cap: &Path, config: &Config) -> (Vec<rtmpscope::event::Event>, Vec<usize>) {
    let mut src = PacketSource::open_file(cap, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(config.clone());
    let mut events = Vec::new();
    let mut ends = vec![0];
    while let Some(p) = src.next_packet().expect("read") {
        an.handle_packet(&p, &mut events);
        ends.push(events.len());
    }
    an.finish(None, &mut events);
    (events, ends)
}

/// A sharded run over `workers`: the per-packet events and how it ended
/// (`Done` with all events, stats last, or `Fallback` after that many
/// packets).
fn sharded(
    cap: &Path,
    config: &Config,
    workers: usize,
) -> (Vec<rtmpscope::event::Event>, Option<u64>) {
    use rtmpscope::parallel::{run_sharded, EventBatch, ShardSender, Sharded};
    use rtmpscope::pipeline::RunEnd;
    let mut src = PacketSource::open_file(cap, &SourceOptions::default()).expect("open");
    let mut events = Vec::new();
    let r = run_sharded(
        workers,
        config,
        |tx: &mut ShardSender| {
            while let Some(p) = src.next_packet().expect("read") {
                assert!(tx.push(&p), "consumer gone");
            }
            Some(())
        },
        |_: &()| RunEnd::default(),
        |eb: &EventBatch| -> Result<(), ()> {
            for (evs, _) in eb.per_packet() {
                events.extend(evs.iter().cloned());
            }
            Ok(())
        },
    )
    .expect("no consumer error");
    match r {
        Sharded::Done {
            front,
            final_events,
            ..
        } => {
            events.extend(final_events);
            events.push(front.shard_stats(None, &RunEnd::default()));
            (events, None)
        }
        Sharded::Fallback { delivered } => (events, Some(delivered)),
        Sharded::Stopped => panic!("stopped"),
    }
}

fn lines(evs: &[rtmpscope::event::Event]) -> Vec<String> {
    evs.iter().map(|e| format!("{e:?}")).collect()
}

#[test]
fn flows_are_sharded_and_merged_in_single_threaded_order() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    // Five publishers (five flows over two or three workers), a lossy
    // capture (gaps), IPv6 pcapng, TLS.
    for name in [
        "09-nginx-5-concurrent-publishers.pcap",
        "10-ffmpeg-nginx-publish-play-lossy.pcap",
        "08b-ipv6-any-sll2-nanosec.pcapng",
        "15b-rtmps-tls12-aes128gcm-dsb.pcapng",
    ] {
        let cap = dir.join(name);
        let want = lines(&single(&cap, &Config::default()).0);
        for workers in [1, 2, 3] {
            let (got, fallback) = sharded(&cap, &Config::default(), workers);
            assert_eq!(fallback, None, "{name}: {workers} workers fell back");
            let got = lines(&got);
            assert_eq!(got.len(), want.len(), "{name}: {workers} workers");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "{name}: {workers} workers, event {i}");
            }
        }
    }
}

#[test]
fn what_cannot_be_sharded_falls_back_after_whole_packets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    // An RTMPT tunnel (its virtual flow id), and the dissector memory cap
    // reached (2 KB: chunk references and bodies held): the sharded run stops, and what it
    // delivered is exactly the single-threaded run's first packets.
    let capped = Config {
        max_dissector_mem: Some(2_000),
        ..Config::default()
    };
    for (name, config) in [
        (
            "14a-rtmpt-ffmpeg-bridge-publish-play.pcap",
            Config::default(),
        ),
        ("11-nginx-chunk60000-big-keyframes.pcap", capped),
    ] {
        let cap = dir.join(name);
        let (want, ends) = single(&cap, &config);
        let (got, fallback) = sharded(&cap, &config, 2);
        let delivered = fallback.unwrap_or_else(|| panic!("{name}: no fallback"));
        assert!(delivered > 0, "{name}");
        assert!(
            (delivered as usize) < ends.len() - 1,
            "{name}: fell back at the end"
        );
        let prefix = &want[..ends[delivered as usize]];
        assert!(!prefix.is_empty(), "{name}");
        assert_eq!(lines(&got), lines(prefix), "{name}");
    }
}
