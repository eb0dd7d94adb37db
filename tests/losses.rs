//! One loss, one row (issue 17): on the 5-gap lossy capture the JSON keeps
//! every fact (`gap`, `tcp.seq_gap`, `rtmp.gap_truncated`, `rtmp.resync`)
//! and links them (a truncation names the offset of its gap); `summary`
//! and the TUI show one line per loss.

use std::collections::BTreeSet;
use std::process::Command;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::pipeline::Analyzer;
use rtmpscope::tui::app::App;
use rtmpscope::tui::{Batch, TuiOptions};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const LOSSY: &str = "captures/10-ffmpeg-nginx-publish-play-lossy.pcap";
const FOLDED: [&str; 3] = ["tcp.seq_gap", "rtmp.gap_truncated", "rtmp.resync"];

fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_rtmpscope"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

/// (flow, direction, offset) of every gap in the JSON.
fn gaps() -> BTreeSet<(u64, String, u64)> {
    run(&["-r", LOSSY, "json"])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event_type"] == "gap")
        .map(|v| {
            (
                v["flow_id"].as_u64().unwrap(),
                v["direction"].as_str().unwrap().to_owned(),
                v["gap"]["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn json_truncations_name_their_gap() {
    let g = gaps();
    assert_eq!(g.len(), 5);
    let mut n = 0;
    for l in run(&["-r", LOSSY, "json"]).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["anomaly"]["name"] != "rtmp.gap_truncated" {
            continue;
        }
        n += 1;
        let d = v["anomaly"]["detail"].as_str().unwrap();
        let at: u64 = d
            .split("cut by the gap at offset ")
            .nth(1)
            .and_then(|x| x.split(':').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("no gap offset in {d:?}"));
        assert_eq!(v["anomaly"]["range"]["end"], at);
        let key = (
            v["flow_id"].as_u64().unwrap(),
            v["direction"].as_str().unwrap().to_owned(),
            at,
        );
        assert!(g.contains(&key), "{key:?} is not a gap");
    }
    assert_eq!(n, 2);
}

#[test]
fn summary_shows_one_line_per_loss() {
    let text = run(&["-r", LOSSY, "summary"]);
    let loss_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    s->c offset ") || l.starts_with("    c->s offset "))
        .collect();
    assert_eq!(loss_lines.len(), 5, "{text}");
    // Each gap once, with what it caused.
    for (_, dir, off) in gaps() {
        let d = if dir == "to_server" { "c->s" } else { "s->c" };
        let want = format!("    {d} offset {off}: ");
        assert_eq!(
            loss_lines.iter().filter(|l| l.starts_with(&want)).count(),
            1,
            "{want}"
        );
    }
    assert_eq!(
        loss_lines
            .iter()
            .filter(|l| l.contains(", cut audio message"))
            .count(),
        2
    );
    assert!(loss_lines.iter().all(|l| l.contains("resynchronised at ")));
    // The session blocks list no loss-linked diagnostic separately (the
    // totals keep the exact counts).
    let sessions = text.split("Totals:").next().unwrap();
    for name in FOLDED {
        assert!(!sessions.contains(name), "{name} listed apart:\n{sessions}");
    }
    let totals = text.split("Totals:").nth(1).unwrap();
    assert!(totals.contains("tcp.seq_gap x5"));
}

#[test]
fn tui_shows_one_row_per_loss() {
    let mut src = PacketSource::open_file(
        &std::path::Path::new(ROOT).join(LOSSY),
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
    let rows = &app.model.anomalies;
    assert_eq!(rows.iter().filter(|r| r.name == "gap").count(), 5);
    for name in FOLDED {
        assert!(
            !rows.iter().any(|r| r.name == name),
            "{name} has its own row"
        );
    }
    let cut: Vec<&str> = rows
        .iter()
        .filter(|r| r.detail.contains("; cut audio message"))
        .map(|r| &*r.detail)
        .collect();
    assert_eq!(cut.len(), 2, "{cut:?}");
    assert!(rows
        .iter()
        .filter(|r| r.name == "gap")
        .all(|r| r.detail.contains("; resynchronised at ")));
}
