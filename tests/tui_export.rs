//! pcap export from the TUI: re-reads a public capture and keeps exactly the
//! packets of one flow. Expected counts come from
//! `tcpdump -nr FILE 'tcp port A and tcp port B' | wc -l`. Skips (with a
//! message) when the shared captures are not present.

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};

use rtmpscope::event::{ClientBy, FlowInfo};
use rtmpscope::tui::export::{tcp_tuple, write_pcap};

fn capture(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        inputs::missing(&format!("{} not found", p.display()));
        None
    }
}

fn flow(client_port: u16) -> FlowInfo {
    FlowInfo {
        flow_id: 1,
        client_ip: "127.0.0.1".parse().unwrap(),
        client_port,
        server_ip: "127.0.0.1".parse().unwrap(),
        server_port: 1935,
        vlan: vec![],
        community_id: String::new(),
        midstream: false,
        client_by: ClientBy::Syn,
        tunnel: None,
    }
}

fn check(rel: &str, client_port: u16, want: usize) {
    let Some(input) = capture(rel) else { return };
    let out = std::env::temp_dir().join(format!(
        "rtmpscope-tui-export-{}-{client_port}.pcap",
        std::process::id()
    ));
    let n = write_pcap(&input, &flow(client_port), &out).unwrap();
    assert_eq!(n, want);
    // Read it back: same count, every packet on the flow's 5-tuple.
    let mut cap = pcap::Capture::from_file(&out).unwrap();
    let lt = cap.get_datalink().0;
    let mut count = 0;
    while let Ok(p) = cap.next_packet() {
        let (_, a, _, b) = tcp_tuple(lt, p.data).expect("tcp packet");
        assert!((a, b) == (client_port, 1935) || (a, b) == (1935, client_port));
        count += 1;
    }
    assert_eq!(count, want);
    let _ = std::fs::remove_file(out);
}

#[test]
fn pcap_export_ethernet_capture() {
    check("twinx/65926c9_nginx.pcap", 57080, 932);
}

#[test]
fn pcap_export_linux_sll_capture_skips_other_flows() {
    // The capture also holds ssh traffic, which must not be exported.
    check("oswystan-rtmp/publish.pcap", 58492, 1960);
}

#[test]
fn pcap_export_missing_input_is_an_error() {
    let e = write_pcap(
        Path::new("/nonexistent/x.pcap"),
        &flow(1),
        Path::new("/tmp/never.pcap"),
    )
    .unwrap_err();
    assert!(e.contains("/nonexistent/x.pcap"), "{e}");
}

#[test]
fn reread_stream_finds_handshake_and_connect_bytes() {
    use rtmpscope::event::Direction;
    use rtmpscope::tui::export::reread_stream;
    let Some(input) = capture("twinx/65926c9_nginx.pcap") else {
        return;
    };
    let f = flow(57080);
    // C0 (version 3) at offset 0 of to_server, S0 at offset 0 of to_client.
    let c = reread_stream(&input, &f, Direction::ToServer, 0, 1).unwrap();
    assert_eq!(c, vec![Some(3)]);
    let s = reread_stream(&input, &f, Direction::ToClient, 0, 1).unwrap();
    assert_eq!(s, vec![Some(3)]);
    // After C0+C1+C2 (3073 bytes) OBS sends SetChunkSize 4096 (csid 2,
    // type 1), then the `connect` command (csid 3, type 20).
    let w = reread_stream(&input, &f, Direction::ToServer, 3073, 3073 + 64).unwrap();
    let bytes: Vec<u8> = w.iter().map(|b| b.expect("captured")).collect();
    assert_eq!(bytes[0], 0x02);
    assert_eq!(bytes[7], 1, "set chunk size");
    assert_eq!(&bytes[12..16], &4096u32.to_be_bytes());
    assert_eq!(bytes[16], 0x03);
    assert_eq!(bytes[23], 20, "command AMF0");
    assert_eq!(&bytes[28..38], b"\x02\x00\x07connect");
    // Bytes past the end of the stream are None, not an error.
    let far = reread_stream(&input, &f, Direction::ToServer, 1 << 40, (1 << 40) + 4).unwrap();
    assert_eq!(far, vec![None; 4]);
}

#[test]
fn hex_view_rereads_bytes_from_the_capture_file() {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use rtmpscope::event::{ByteRange, Direction, Event, EventKind};
    use rtmpscope::rtmp::message::{Body, ChunkRef, Control, Message};
    use rtmpscope::tui::app::App;
    use rtmpscope::tui::{view, Batch, TuiOptions};
    let Some(input) = capture("twinx/65926c9_nginx.pcap") else {
        return;
    };
    let ev = |kind, dir| Event {
        pcap_cnt: 1,
        time: Default::default(),
        flow_id: Some(1),
        direction: dir,
        kind,
    };
    // The SetChunkSize message right after the handshake (offsets 3073..=3088).
    let m = Message {
        fmt: 0,
        csid: 2,
        type_id: 1,
        msid: 0,
        msid_unknown: false,
        timestamp: 0,
        timestamp_delta: 0,
        timestamp_estimate: None,
        extended_timestamp: false,
        length: 4,
        first_byte: 3073,
        last_byte: 3088,
        chunks: vec![ChunkRef {
            fmt: 0,
            header: ByteRange::new(3073, 3085),
            payload: ByteRange::new(3085, 3089),
        }],
        time: Default::default(),
        truncated: None,
        body: Body::Control(Control::SetChunkSize {
            size: 4096,
            ignored: false,
        }),
    };
    let mut app = App::new(TuiOptions {
        file: Some(input),
        ..TuiOptions::default()
    });
    app.ingest(Batch {
        events: vec![
            ev(EventKind::FlowStart(flow(57080)), None),
            ev(EventKind::Message(Box::new(m)), Some(Direction::ToServer)),
        ],
        ..Batch::default()
    });
    app.handle_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE));
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let screen = |term: &mut Terminal<TestBackend>, app: &mut App| {
        term.draw(|f| view::render(app, f)).unwrap();
        let b = term.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..b.area.height {
            for x in 0..b.area.width {
                s.push_str(b[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    };
    let s = screen(&mut term, &mut app);
    assert!(s.contains("loading bytes from the capture file"), "{s}");
    let t0 = std::time::Instant::now();
    while app.reread_loading.is_some() && t0.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        app.refresh();
    }
    assert!(app.needs_redraw);
    let s = screen(&mut term, &mut app);
    assert!(
        s.contains("02 00 00 00 00 00 04 01 00 00 00 00 00 00 10 00"),
        "{s}"
    );
}
