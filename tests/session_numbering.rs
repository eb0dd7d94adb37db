//! One session numbering everywhere (issue 17): `json` (`session.session_id`),
//! `summary` (`Session N (flow F)`), `diff` (pair headers, added / removed
//! sessions) and the TUI model give the same number to the same connection,
//! with its flow id beside it. Checked on the multi-session captures 01 (a
//! player, then a publisher, ending in the other order) and 09 (five
//! publishers).

use std::collections::BTreeMap;
use std::process::Command;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::pipeline::Analyzer;
use rtmpscope::tui::app::App;
use rtmpscope::tui::{Batch, TuiOptions};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const C01: &str = "captures/01-ffmpeg-nginx-publish-play.pcap";
const C09: &str = "captures/09-nginx-5-concurrent-publishers.pcap";

/// session number -> (flow id, first stream name).
type Numbering = BTreeMap<u64, (u64, String)>;

fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

fn from_json(cap: &str) -> Numbering {
    let mut m = Numbering::new();
    for l in run(&["-r", cap, "json"]).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["event_type"] == "session" {
            let s = &v["session"];
            let name = s["streams"][0]["name"].as_str().unwrap_or("").to_owned();
            let n = s["session_id"].as_u64().unwrap();
            assert_eq!(v["flow_id"], s["flow_id"]);
            m.insert(n, (s["flow_id"].as_u64().unwrap(), name));
        }
    }
    m
}

fn from_summary(cap: &str) -> (Numbering, Vec<u64>) {
    let (mut m, mut order) = (Numbering::new(), Vec::new());
    let mut cur: Option<(u64, u64)> = None;
    for l in run(&["-r", cap, "summary"]).lines() {
        if let Some(rest) = l.strip_prefix("Session ") {
            let (n, rest) = rest.split_once(" (flow ").unwrap();
            let (f, _) = rest.split_once("):").unwrap();
            let (n, f) = (n.parse().unwrap(), f.parse().unwrap());
            order.push(n);
            cur = Some((n, f));
            m.insert(n, (f, String::new()));
        } else if let (Some((n, f)), Some(rest)) = (cur, l.trim().strip_prefix("stream ")) {
            if let Some(q) = rest.split('"').nth(1) {
                let e = m.entry(n).or_insert((f, String::new()));
                if e.1.is_empty() {
                    e.1 = q.to_owned();
                }
            }
        }
    }
    (m, order)
}

/// From `diff OLD NEW`: the numbers of NEW's sessions named in pair headers
/// and `added:` lines, and of OLD's in `removed:` lines.
fn from_diff(old: &str, new: &str) -> (Numbering, Numbering) {
    let (mut o, mut n) = (Numbering::new(), Numbering::new());
    let parse = |s: &str| -> (u64, u64) {
        let s = s.trim_start_matches("new ").trim_start_matches("session ");
        let (num, rest) = s.split_once(" (flow ").unwrap();
        let (f, _) = rest.split_once(')').unwrap();
        (num.parse().unwrap(), f.parse().unwrap())
    };
    let stream = |s: &str| {
        s.split("stream '")
            .nth(1)
            .and_then(|x| x.split('\'').next())
            .unwrap_or("")
            .to_owned()
    };
    for l in run(&["diff", old, new]).lines() {
        if let Some(rest) = l.strip_prefix("  - added: ") {
            let (num, f) = parse(rest);
            n.insert(num, (f, stream(rest)));
        } else if let Some(rest) = l.strip_prefix("  - removed: ") {
            let (num, f) = parse(rest);
            o.insert(num, (f, stream(rest)));
        } else if l.starts_with("session ") && l.ends_with(':') {
            let h = l.trim_end_matches(':');
            let (a, b) = match h.split_once(" -> ") {
                Some((a, b)) => (a, b),
                None => (h, h),
            };
            let (na, fa) = parse(a);
            let (nb, fb) = parse(b);
            o.entry(na).or_insert((fa, String::new()));
            n.entry(nb).or_insert((fb, String::new()));
        }
    }
    (o, n)
}

fn from_tui(cap: &str) -> Numbering {
    let mut src = PacketSource::open_file(
        &std::path::Path::new(ROOT).join(cap),
        &SourceOptions::default(),
    )
    .unwrap();
    let mut an = Analyzer::default();
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        an.handle_packet(&p, &mut events);
    }
    an.finish(None, &mut events);
    let mut app = App::new(TuiOptions::default());
    app.ingest(Batch {
        events,
        ..Batch::default()
    });
    app.model.sync_sessions();
    let mut m = Numbering::new();
    for s in &app.model.sessions {
        let name = s
            .streams
            .first()
            .and_then(|x| x.name.clone())
            .unwrap_or_default();
        assert_eq!(app.model.session_number(s.flow_id), Some(s.session_id));
        m.insert(s.session_id, (s.flow_id, name));
    }
    // The sessions table lists them in that order.
    let ids: Vec<u64> = app.model.sessions.iter().map(|s| s.session_id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    m
}

/// Every entry of `part` agrees with `full` (same flow; same stream name
/// where `part` knows one).
fn agrees(what: &str, full: &Numbering, part: &Numbering) {
    assert!(!part.is_empty(), "{what}: no sessions found");
    for (n, (f, name)) in part {
        let (ff, fname) = full
            .get(n)
            .unwrap_or_else(|| panic!("{what}: session {n} unknown to json"));
        assert_eq!(
            f, ff,
            "{what}: session {n} is flow {f}, json says flow {ff}"
        );
        if !name.is_empty() {
            assert_eq!(name, fname, "{what}: session {n}");
        }
    }
}

#[test]
fn same_number_for_the_same_connection_in_every_output() {
    for cap in [C01, C09] {
        let json = from_json(cap);
        let want: Vec<u64> = (1..=json.len() as u64).collect();
        assert_eq!(json.keys().copied().collect::<Vec<_>>(), want, "{cap}");
        let (summary, order) = from_summary(cap);
        assert_eq!(summary, json, "{cap}: summary");
        assert_eq!(
            order, want,
            "{cap}: summary lists sessions first seen first"
        );
        assert_eq!(from_tui(cap), json, "{cap}: TUI model");
    }
    // 01: the player (flow 1) was seen first and ends last: it is session 1
    // everywhere (summary used to number by end order).
    let j01 = from_json(C01);
    assert_eq!(j01[&1].0, 1);
    assert_eq!(j01[&2].0, 2);
    // diff 01 09: 01's numbers for removed sessions, 09's for the pair and
    // the added ones.
    let (old, new) = from_diff(C01, C09);
    agrees("diff (old side)", &j01, &old);
    agrees("diff (new side)", &from_json(C09), &new);
    assert_eq!(new.len(), 5, "all five of 09's sessions are named: {new:?}");
}
