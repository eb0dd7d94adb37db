//! Capture loss against its ground truth (issue 11): every lossy copy listed
//! in `captures/lossy/MANIFEST.tsv` is made again by `tools/drop_packets.py`
//! (deterministic; its removed-packet list must equal the committed one) and
//! decoded beside the clean capture it was cut from. Messages are matched by
//! (client port, direction, stream offset of the first header byte): TCP
//! offsets survive the loss.
//!
//! For every message the lossy run reports complete: its type, csid, length,
//! message stream id (unless marked unknown) and chunk payload spans (so its
//! body bytes, which reassembly delivers unchanged) equal the clean run's;
//! its timestamp equals the clean run's, or is marked estimated with bounds
//! that hold the true value. A message reported cut by the loss with its
//! true header (type, csid, length) is held to the same timestamp rule. The
//! share of the clean run's messages whose timestamp the lossy run reports
//! equal (complete or cut) is printed per copy (the figures in
//! captures/README.md) and held to the floors (97% at 0.5-1% loss,
//! 90% at 2-5%). On the copies whose gap swallows a Set Chunk Size (one per
//! direction), every message that begins after the gap is recovered whole.

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Direction, EventKind, FlowId};
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::rtmp::message::Message;

type Key = (u16, Direction, u64);

/// The run's messages by key, and the end offsets of the gaps it reports
/// (client port, direction, end).
fn messages(path: &Path) -> (HashMap<Key, Message>, Vec<Key>) {
    let mut src = PacketSource::open_file(path, &SourceOptions::default()).expect("open");
    let mut an = Analyzer::new(Config::default());
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        an.handle_packet(&p, &mut events);
    }
    an.finish(None, &mut events);
    let mut port: HashMap<FlowId, u16> = HashMap::new();
    let mut out = HashMap::new();
    let mut gaps = Vec::new();
    for ev in events {
        match ev.kind {
            EventKind::FlowStart(f) => {
                port.insert(f.flow_id, f.client_port);
            }
            EventKind::Message(m) => {
                let flow = ev.flow_id.expect("message has a flow");
                let key = (port[&flow], ev.direction.expect("dir"), m.first_byte);
                out.insert(key, *m);
            }
            EventKind::Gap(g) => {
                let flow = ev.flow_id.expect("gap has a flow");
                gaps.push((port[&flow], ev.direction.expect("dir"), g.offset + g.len));
            }
            _ => {}
        }
    }
    (out, gaps)
}

/// The rule for a gap that swallows a Set Chunk Size: every message
/// after the next intact header (the clean run's messages that begin at or
/// after the gap's end, in that direction) is recovered whole. Returns the
/// offsets of those that are not.
fn not_recovered_after_gaps(
    clean: &HashMap<Key, Message>,
    lossy: &HashMap<Key, Message>,
    gaps: &[Key],
) -> Vec<Key> {
    let mut missed: Vec<Key> = clean
        .iter()
        .filter(|(k, m)| {
            m.truncated.is_none()
                && gaps.iter().any(|g| g.0 == k.0 && g.1 == k.1 && k.2 >= g.2)
                && lossy.get(k).is_none_or(|l| l.truncated.is_some())
        })
        .map(|(k, _)| *k)
        .collect();
    missed.sort_by_key(|k| (k.0, k.1.index(), k.2));
    missed
}

#[derive(Debug, Default)]
struct Score {
    clean: usize,
    complete: usize,
    wrong_body: usize,
    wrong_unmarked: usize,
    bound_misses: usize,
    estimated: usize,
    ts_equal: usize,
    /// Messages reported truncated (cut by a gap) whose header (type,
    /// csid, length) and timestamp equal the clean run's.
    ts_equal_truncated: usize,
}

fn compare(clean: &HashMap<Key, Message>, lossy: &HashMap<Key, Message>) -> Score {
    let mut s = Score {
        clean: clean.values().filter(|m| m.truncated.is_none()).count(),
        ..Score::default()
    };
    for (k, m) in lossy {
        if m.truncated.is_some() {
            // A message cut by the loss, reported with its true header:
            // its timestamp is held to the same rule as a complete one's
            // (equal, or marked estimated with a bound that holds it).
            let Some(c) = clean
                .get(k)
                .filter(|c| (c.type_id, c.csid, c.length) == (m.type_id, m.csid, m.length))
            else {
                continue;
            };
            if m.timestamp == c.timestamp {
                s.ts_equal_truncated += 1;
            } else {
                check_estimate(&mut s, k, m, c);
            }
            continue;
        }
        s.complete += 1;
        let Some(c) = clean.get(k) else {
            s.wrong_body += 1;
            eprintln!(
                "  phantom message {k:?}: {} len {}",
                m.type_name(),
                m.length
            );
            continue;
        };
        let spans = |m: &Message| m.chunks.iter().map(|c| c.payload).collect::<Vec<_>>();
        if (m.type_id, m.csid, m.length) != (c.type_id, c.csid, c.length)
            || (!m.msid_unknown && m.msid != c.msid)
            || spans(m) != spans(c)
        {
            s.wrong_body += 1;
            eprintln!("  wrong message {k:?}: {m:?} vs {c:?}");
            continue;
        }
        if m.timestamp_estimate.is_some() {
            s.estimated += 1;
        }
        if m.timestamp == c.timestamp {
            s.ts_equal += 1;
            continue;
        }
        if std::env::var("RTMPSCOPE_LOSSY_DEBUG").is_ok() {
            eprintln!(
                "  ts off {k:?} csid {} type {}: true {} got {} diff {} est {:?}",
                m.csid,
                m.type_id,
                c.timestamp,
                m.timestamp,
                c.timestamp as i64 - m.timestamp as i64,
                m.timestamp_estimate
            );
        }
        check_estimate(&mut s, k, m, c);
    }
    s
}

/// A timestamp `m` reports unequal to the clean run's `c`: it must be
/// marked estimated, with a bound that holds the true value.
fn check_estimate(s: &mut Score, k: &Key, m: &Message, c: &Message) {
    {
        match m.timestamp_estimate {
            None => {
                s.wrong_unmarked += 1;
                eprintln!(
                    "  unmarked wrong timestamp {k:?} {} csid {}: {} vs {}",
                    m.type_name(),
                    m.csid,
                    m.timestamp,
                    c.timestamp
                );
            }
            Some(e) => {
                if c.timestamp < e.low || e.high.is_some_and(|h| c.timestamp > h) {
                    s.bound_misses += 1;
                    eprintln!(
                        "  bound misses {k:?} csid {}: true {} estimate {} {e:?}",
                        m.csid, c.timestamp, m.timestamp
                    );
                }
            }
        }
    }
}

/// (name, source, options) rows of the manifest.
fn manifest(dir: &Path) -> Vec<(String, String, Vec<String>)> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "bad manifest line {l}");
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].split_whitespace().map(String::from).collect(),
            )
        })
        .collect()
}

/// Copies with a known open defect: (name, messages reported complete that
/// are not in the clean run, why). Held to exactly that count so a change
/// either way is seen. Empty: the two phantoms once listed here (a
/// zero-length type-0 message read after a resync with the wrong chunk
/// size, in 01-player-5pct and 01-setchunksize-server) are gone since a
/// header no real stream sends breaks a fresh resync's chain
/// (`rtmp.chunk.implausible_header`).
const KNOWN_PHANTOMS: &[(&str, usize, &str)] = &[];

/// Lowest share of the clean run's messages whose timestamp must come out
/// equal, by the loss in the copy's name (issue 11: 97% at 1%, 90% at 5%).
fn floor(name: &str) -> Option<f64> {
    if name.contains("-0.5pct") || name.contains("-1pct") {
        Some(0.97)
    } else if name.contains("-5pct") || name.contains("-2pct") {
        Some(0.90)
    } else {
        None
    }
}

#[test]
fn lossy_copies_report_no_wrong_message_and_no_unmarked_wrong_timestamp() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let lossy_dir = root.join("lossy");
    let have_python = Command::new("python3").arg("--version").output().is_ok();
    if !have_python {
        inputs::missing("python3 absent: cannot make the lossy copies");
        return;
    }
    let tmp: PathBuf =
        std::env::temp_dir().join(format!("rtmpscope-lossy-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let mut clean_runs: HashMap<String, HashMap<Key, Message>> = HashMap::new();
    let mut failures = Vec::new();
    for (name, source, opts) in manifest(&lossy_dir) {
        let src = root.join(&source);
        if !src.exists() {
            inputs::missing(&format!("{source} absent"));
            continue;
        }
        let out = tmp.join(format!("{name}.pcap"));
        let removed = tmp.join(format!("{name}.removed.tsv"));
        let st = Command::new("python3")
            .arg(root.join("tools/drop_packets.py"))
            .args(&opts)
            .arg(&src)
            .arg(&out)
            .arg(&removed)
            .status()
            .expect("run drop_packets.py");
        assert!(st.success(), "{name}: drop_packets.py failed");
        let want = std::fs::read_to_string(lossy_dir.join(format!("{name}.removed.tsv")))
            .expect("committed removed list");
        let got = std::fs::read_to_string(&removed).expect("removed list");
        assert_eq!(got, want, "{name}: the dropper is not deterministic");
        let clean = clean_runs
            .entry(source.clone())
            .or_insert_with(|| messages(&src).0);
        let (lossy, gaps) = messages(&out);
        let s = compare(clean, &lossy);
        // The floor counts the clean run's messages whose timestamp
        // the lossy run reports equal: complete ones, and ones the loss cut
        // that are reported with their true header (their body is not
        // whole, their timestamp is: no decoder can report the bytes a
        // lost packet carried, and on loopback one lost 64 KB segment cuts
        // several messages).
        let share = (s.ts_equal + s.ts_equal_truncated) as f64 / s.clean.max(1) as f64;
        eprintln!(
            "{name}: {} clean messages; lossy: {} complete, {} estimated; timestamps equal {:.1}% \
             (cut messages with their true header and timestamp included; complete ones alone \
             {:.1}%, {:.1}% of the complete ones); wrong body {}, unmarked wrong timestamps {}, \
             bounds missed {}",
            s.clean,
            s.complete,
            s.estimated,
            100.0 * share,
            100.0 * s.ts_equal as f64 / s.clean.max(1) as f64,
            100.0 * s.ts_equal as f64 / s.complete.max(1) as f64,
            s.wrong_body,
            s.wrong_unmarked,
            s.bound_misses
        );
        let phantoms = KNOWN_PHANTOMS
            .iter()
            .find(|k| k.0 == name)
            .map_or(0, |k| k.1);
        if s.wrong_body != phantoms || s.wrong_unmarked + s.bound_misses > 0 {
            failures.push(format!("{name}: {s:?}"));
        }
        if name.starts_with("01-setchunksize-") {
            let missed = not_recovered_after_gaps(clean, &lossy, &gaps);
            eprintln!(
                "{name}: gaps end at {gaps:?}; messages after them not recovered whole: {missed:?}"
            );
            if gaps.is_empty() || !missed.is_empty() {
                failures.push(format!(
                    "{name}: messages after the lost Set Chunk Size not recovered: {missed:?}"
                ));
            }
        }
        if let Some(f) = floor(&name) {
            if share < f {
                failures.push(format!(
                    "{name}: {:.1}% of timestamps equal, under {:.0}%",
                    100.0 * share,
                    100.0 * f
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
