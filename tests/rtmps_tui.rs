//! The TUI shows TLS flows with their TLS facts (issue 15): sessions view
//! flags and the stats view's TLS lines, rendered with ratatui's TestBackend.

use std::path::Path;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::tui::app::App;
use rtmpscope::tui::{view, Batch, TuiOptions};

fn screen(cap: &str, keys: &[KeyCode]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(cap);
    let mut src = PacketSource::open_file(&path, &SourceOptions::default()).unwrap();
    let mut an = Analyzer::new(Config::default());
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        an.handle_packet(&p, &mut events);
    }
    an.finish(None, &mut events);
    let mut app = App::new(TuiOptions {
        source: cap.into(),
        ..TuiOptions::default()
    });
    app.ingest(Batch {
        events,
        bytes: Vec::new(),
        progress: None,
    });
    for k in keys {
        app.handle_key(KeyEvent::new(*k, KeyModifiers::NONE));
    }
    let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
    t.draw(|f| view::render(&mut app, f)).unwrap();
    let b = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn tui_lists_tls_flows_and_shows_their_facts() {
    let s = screen("15e-rtmps-handshake-failure.pcap", &[]);
    assert!(s.contains("Sessions (1)"), "{s}");
    assert!(s.contains("tls"), "{s}");
    let s = screen("15e-rtmps-handshake-failure.pcap", &[KeyCode::Char('s')]);
    assert!(s.contains("SNI rtmps.lab.test"), "{s}");
    assert!(
        s.contains("TLS alert from the server: fatal handshake_failure"),
        "{s}"
    );
    // Without keys: the two TLS flows are listed beside the two plain
    // upstream RTMP sessions, flagged `tls`.
    let s = screen("15b-rtmps-tls12-aes128gcm.pcap", &[]);
    assert!(s.contains("Sessions (4)"), "{s}");
    assert_eq!(
        s.lines()
            .filter(|l| l.trim_end().ends_with("tls │") || l.contains(" tls "))
            .count(),
        2,
        "{s}"
    );
}
