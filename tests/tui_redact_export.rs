//! The TUI's pcap export writes raw packets: under `--redact` it says so in
//! the status line (the packets carry the stream keys), without it nothing
//! changes. The capture is generated here.

mod hostile;

use rtmpscope::capture::RawPacket;
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::time::PacketTime;
use rtmpscope::tui::app::App;
use rtmpscope::tui::{Batch, TuiOptions};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn export_status(redact: bool) -> (String, bool) {
    let cap = hostile::write_capture(&format!("tui-export-{redact}.pcap"), |p| {
        hostile::long_name_session(p, 1)
    });
    let dir = hostile::temp_path(&format!("tui-export-dir-{redact}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = App::new(TuiOptions {
        file: Some(cap.clone()),
        redact,
        export_dir: dir.clone(),
        ..TuiOptions::default()
    });
    let bytes = std::fs::read(&cap).unwrap();
    let mut a = Analyzer::new(Config::default());
    let mut events = Vec::new();
    for (i, (t, f)) in hostile::pcap_records(&bytes).iter().enumerate() {
        let pkt = RawPacket {
            pcap_cnt: i as u64 + 1,
            time: PacketTime::new((t / 1_000_000) as i64, (t % 1_000_000 * 1000) as u32),
            linktype: 1,
            origlen: f.len() as u32,
            data: f,
        };
        a.handle_packet(&pkt, &mut events);
    }
    a.finish(None, &mut events);
    app.ingest(Batch {
        events,
        ..Batch::default()
    });
    app.model.sync_sessions();
    let _ = std::fs::remove_file(dir.join("rtmpscope-flow1.pcap"));
    app.handle_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE));
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < 20 {
        app.refresh();
        if app
            .status
            .as_ref()
            .is_some_and(|s| s.0.starts_with("wrote") || s.0.contains("failed"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(dir.join("rtmpscope-flow1.pcap").exists());
    app.status.clone().expect("a status line")
}

#[test]
fn pcap_export_under_redact_says_the_packets_are_not_redacted() {
    let (msg, _) = export_status(true);
    assert!(msg.starts_with("wrote"), "{msg}");
    assert!(msg.contains("NOT redacted"), "{msg}");
    let (msg, _) = export_status(false);
    assert!(msg.starts_with("wrote"), "{msg}");
    assert!(!msg.contains("redacted"), "{msg}");
}
