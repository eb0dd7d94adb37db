//! Feeds a capture through the analyzer into the TUI model (no terminal)
//! and prints how many sessions / flows it keeps and the peak RSS: the TUI
//! part of `benches/limits.sh`.
//!
//! `cargo run --release --example tui_model_rss -- CAPTURE`

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::tui::model::Model;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: tui_model_rss CAPTURE");
        std::process::exit(2);
    };
    let mut src =
        match PacketSource::open_file(std::path::Path::new(&path), &SourceOptions::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
    let mut a = Analyzer::new(Config::default());
    let mut m = Model::new(false);
    let mut ev = Vec::new();
    while let Ok(Some(p)) = src.next_packet() {
        a.handle_packet(&p, &mut ev);
        for e in ev.drain(..) {
            m.ingest(e);
        }
    }
    a.finish(None, &mut ev);
    for e in ev.drain(..) {
        m.ingest(e);
    }
    m.sync_sessions();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "sessions {} (dropped {}) flows {} (dropped {}) rows {} {hwm}",
        m.sessions.len(),
        m.sessions_dropped,
        m.flows.len(),
        m.flows_dropped,
        m.rows.len()
    );
}
