//! Render tests of every TUI view with ratatui's TestBackend, at 80x24 and
//! 200x50: headers, summaries, highlighted cells, and that no wire control
//! byte ever reaches the terminal buffer.

mod tui_fixture;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use rtmpscope::event::Direction;
use rtmpscope::tui::app::{App, Pane, View};
use rtmpscope::tui::{view, TuiOptions};
use tui_fixture::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn app_with(fx: &mut Fx, redact: bool) -> App {
    let mut app = App::new(TuiOptions {
        source: "test.pcap".into(),
        redact,
        ..TuiOptions::default()
    });
    app.ingest(fx.batch());
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let a = b.area;
    let mut s = String::new();
    for y in 0..a.height {
        for x in 0..a.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn row_text(b: &Buffer, y: u16) -> String {
    (0..b.area.width).map(|x| b[(x, y)].symbol()).collect()
}

/// Line number of the first row containing `needle`.
fn find_row(b: &Buffer, needle: &str) -> Option<u16> {
    (0..b.area.height).find(|&y| row_text(b, y).contains(needle))
}

fn assert_clean(b: &Buffer) {
    for c in b.content() {
        for ch in c.symbol().chars() {
            assert!(
                !rtmpscope::tui::sanitize::is_unsafe(ch),
                "control char {:?} reached the buffer",
                ch
            );
        }
    }
}

#[test]
fn sessions_view_shows_one_row_per_connection() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    let mut fx2 = publish_session(2, "other");
    app.ingest(fx2.batch());
    for (w, h) in SIZES {
        let b = draw(&mut app, w, h);
        let t = text(&b);
        assert!(t.contains("client -> server"), "{t}");
        assert!(t.contains("state"));
        assert!(t.contains("publishing"));
        assert!(t.contains("Sessions (2)"));
        if w >= 120 {
            assert!(t.contains("10.0.0.1:50000 -> 10.0.0.2:1935"), "{t}");
            assert!(t.contains("secretkey123(publish)"), "{t}");
            assert!(t.contains("avc1/mp4a"), "{t}");
        }
        // First session row is selected (reversed).
        let y = find_row(&b, "10.0.0.1:50000").unwrap();
        assert!(b[(2, y)].modifier.contains(Modifier::REVERSED));
        // Status bar.
        assert!(t.contains("test.pcap"));
        assert!(t.contains("rtmp 2"));
    }
}

#[test]
fn messages_view_summaries_colours_and_selection() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Enter); // session -> messages
    assert_eq!(app.view, View::Messages);
    key(&mut app, KeyCode::Char('g'));
    for (w, h) in SIZES {
        let b = draw(&mut app, w, h);
        let t = text(&b);
        assert!(t.contains("summary"), "{t}");
        assert!(t.contains("connect('live') tcUrl=rtmp://10.0.0"), "{t}");
        assert!(t.contains("_result NetConnection.Connect.Succe"));
        if w >= 200 {
            assert!(
                t.contains("connect('live') tcUrl=rtmp://10.0.0.2/live"),
                "{t}"
            );
        }
        if h >= 50 {
            assert!(t.contains("onStatus NetStream.Publish.Start"), "{t}");
            assert!(t.contains("UserControl PingRequest ts=123"), "{t}");
            assert!(t.contains("Video AVC keyframe 42 KB"), "{t}");
        }
        // Selected row (first) is reversed and commands are cyan.
        let y = find_row(&b, "connect('live')").unwrap();
        let x = row_text(&b, y).find("connect").unwrap() as u16;
        assert!(b[(x, y)].modifier.contains(Modifier::REVERSED));
        assert_eq!(b[(x, y)].fg, Color::Cyan);
        // Detail tree and hex panes are there.
        assert!(t.contains("Detail"));
        assert!(t.contains("Hex"));
        assert!(t.contains("Command connect"));
    }
}

#[test]
fn detail_tree_shows_tcurl_and_hex_highlights_field() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Enter); // focus tree
    assert_eq!(app.pane, Pane::Tree);
    // Walk down to the tcUrl property of the command object.
    let _ = draw(&mut app, 200, 50);
    for _ in 0..60 {
        let t = text(&draw(&mut app, 200, 50));
        let y = find_row(&draw(&mut app, 200, 50), "tcUrl: 'rtmp://").unwrap_or(0);
        let b = draw(&mut app, 200, 50);
        if y > 0
            && b[(find_col(&b, y, "tcUrl"), y)]
                .modifier
                .contains(Modifier::REVERSED)
        {
            assert!(t.contains("tcUrl: 'rtmp://10.0.0.2/live'"));
            // The hex view highlights the value bytes: 0x02 marker, then the
            // length 0x00 0x16 ("rtmp://10.0.0.2/live" is 20 bytes -> 0x14).
            let hl: Vec<String> = b
                .content()
                .iter()
                .filter(|c| c.bg == Color::Yellow)
                .map(|c| c.symbol().to_string())
                .collect();
            let joined = hl.concat();
            assert!(joined.starts_with("020014"), "highlighted: {joined}");
            // "rtmp" in hex appears in the highlight.
            assert!(joined.contains("72746d70"), "highlighted: {joined}");
            return;
        }
        key(&mut app, KeyCode::Char('j'));
    }
    panic!("tcUrl node not found");
}

fn find_col(b: &Buffer, y: u16, needle: &str) -> u16 {
    let row = row_text(b, y);
    let byte = row.find(needle).unwrap_or(0);
    row[..byte].chars().count() as u16
}

#[test]
fn chunk_headers_are_marked_in_hex() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('g'));
    let b = draw(&mut app, 200, 50);
    // The first hex byte of a message is its chunk header (csid 3 -> 03).
    let y = find_row(&b, "Hex 00000c01..=").unwrap() + 1;
    let row = row_text(&b, y);
    let col = find_col(&b, y, " 03 ") + 1;
    assert!(row.contains("│00000c01 03"), "row: {row}"); // offset 3073 = 0xc01
    assert_eq!(b[(col, y)].fg, Color::Cyan, "row: {row}");
    assert!(b[(col, y)].modifier.contains(Modifier::DIM));
    // `r`: offsets relative to the message, same width.
    key(&mut app, KeyCode::Char('r'));
    let b = draw(&mut app, 200, 50);
    let y = find_row(&b, "Hex msg +0000000..=").unwrap() + 1;
    assert!(
        row_text(&b, y).contains("│+0000000 03"),
        "{}",
        row_text(&b, y)
    );
}

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let evil = "li\x1b[2J\x1b]0;pwned\x07ve\u{202e}";
    let mut fx = publish_session(1, evil);
    fx.anomaly(Direction::ToServer, "amf.test", 3080, "bad \x1b[31m detail");
    let mut app = app_with(&mut fx, false);
    for v in ['1', '2', '3', '4'] {
        key(&mut app, KeyCode::Char(v));
        for (w, h) in SIZES {
            let b = draw(&mut app, w, h);
            assert_clean(&b);
        }
    }
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Tab);
    let b = draw(&mut app, 200, 50);
    assert_clean(&b);
    let t = text(&b);
    assert!(t.contains("li\\x1b[2J\\x1b]0;pwned\\x07ve\\u{202e}"), "{t}");
    // Filter input with a control character is shown escaped too.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Char('\x1b'));
    assert_clean(&draw(&mut app, 80, 24));
}

#[test]
fn redaction_hides_stream_key_everywhere() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, true);
    for (w, h) in SIZES {
        assert!(!text(&draw(&mut app, w, h)).contains("secretkey123"));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Tab);
    for _ in 0..40 {
        let t = text(&draw(&mut app, 200, 50));
        assert!(!t.contains("secretkey123"), "{t}");
        // ASCII column of the hex view must not spell it either.
        assert!(!t.contains("secretke"), "{t}");
        key(&mut app, KeyCode::Char('j'));
    }
    let t = text(&draw(&mut app, 200, 50));
    assert!(t.contains("publish('redacted:"), "{t}");
}

#[test]
fn stats_view_shows_streams_and_sparklines() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Char('3'));
    for (w, h) in SIZES {
        let t = text(&draw(&mut app, w, h));
        assert!(t.contains("Stats: session 1"), "{t}");
        assert!(t.contains("handshake -  C0 3 S0 -"), "{t}");
        assert!(t.contains("video kbit/s wire"), "{t}");
        assert!(t.contains("secretkey123 (publish)"), "{t}");
        assert!(t.contains("avc1 mp4a"), "{t}");
        assert!(t.contains("frames v40 a40  keyframes 2"), "{t}");
        assert!(t.contains("keyint 660.0 ms"), "{t}");
        assert!(t.contains("A/V drift -5 ms"), "{t}");
    }
}

#[test]
fn anomalies_view_lists_and_jumps() {
    let mut fx = publish_session(1, "live");
    // Anomaly inside the connect message (stream offset 3073..).
    fx.anomaly(Direction::ToServer, "amf.test_anomaly", 3080, "detail text");
    fx.gap(Direction::ToServer, 500);
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Char('4'));
    for (w, h) in SIZES {
        let t = text(&draw(&mut app, w, h));
        assert!(t.contains("Anomalies (2)"), "{t}");
        assert!(t.contains("amf.test_anomaly"), "{t}");
        assert!(t.contains("gap"), "{t}");
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Messages);
    assert_eq!(app.selected_row(), Some(0));
    let t = text(&draw(&mut app, 200, 50));
    assert!(t.contains("Anomalies (1)"), "{t}"); // in the detail tree
    assert!(t.contains("⚠1"), "{t}");
}

#[test]
fn chunk_view_lists_chunks() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('c'));
    for (w, h) in SIZES {
        let t = text(&draw(&mut app, w, h));
        assert!(t.contains("Chunks on the wire"), "{t}");
        assert!(t.contains("fmt"));
        assert!(t.contains("payld"));
    }
    key(&mut app, KeyCode::Char('g'));
    let t = text(&draw(&mut app, 200, 50));
    assert!(t.contains("connect('live')"), "{t}");
    // Header bytes of the connect chunk: csid 3, ts 0, length 0x56, type 20.
    assert!(t.contains("03 00 00 00 00 00 56 14 00 00 00 00"), "{t}");
}

#[test]
fn help_overlay_lists_every_key() {
    let mut fx = publish_session(1, "live");
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Char('?'));
    let t = text(&draw(&mut app, 200, 50));
    for (k, _) in view::HELP {
        assert!(t.contains(k), "help lacks {k}");
    }
    let t = text(&draw(&mut app, 80, 24));
    assert!(t.contains("Help"));
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.help);
}

#[test]
fn hex_says_when_bytes_are_gone() {
    let mut fx = publish_session(1, "live");
    fx.bytes.clear();
    let mut app = app_with(&mut fx, false);
    key(&mut app, KeyCode::Char('2'));
    let t = text(&draw(&mut app, 80, 24));
    assert!(t.contains("no stream bytes were forwarded"), "{t}");
}

/// Prints the text screenshots used in docs/tui.md:
/// `cargo test --test tui_render screenshots -- --ignored --nocapture`.
#[test]
#[ignore = "documentation helper"]
fn screenshots() {
    let mut fx = publish_session(1, "live");
    fx.anomaly(
        Direction::ToServer,
        "amf.example",
        3080,
        "example diagnostic",
    );
    let mut app = app_with(&mut fx, false);
    let shot = |app: &mut App, name: &str, w: u16, h: u16| {
        let t = text(&draw(app, w, h));
        assert!(!t.is_empty());
        println!("=== {name} ({w}x{h})\n{t}");
    };
    shot(&mut app, "sessions", 100, 12);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Tab);
    for _ in 0..6 {
        key(&mut app, KeyCode::Char('j'));
    }
    shot(&mut app, "messages", 100, 34);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('c'));
    shot(&mut app, "chunks", 100, 14);
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('3'));
    shot(&mut app, "stats", 100, 20);
    key(&mut app, KeyCode::Char('4'));
    shot(&mut app, "anomalies", 100, 8);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever bytes the wire puts in an AMF string (here: the app name,
        /// which lands in the summary, the sessions table, the detail tree
        /// and the stats view), no control character reaches the terminal.
        #[test]
        fn wire_strings_never_reach_the_terminal_raw(app_name in "(\\PC|[\\x00-\\x1f\\x7f-\\x9f\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]){0,40}") {
            let mut fx = publish_session(1, &app_name);
            fx.anomaly(Direction::ToServer, "amf.prop", 3080, &app_name);
            let mut app = app_with(&mut fx, false);
            for v in ['1', '2', '3', '4'] {
                key(&mut app, KeyCode::Char(v));
                if v == '2' {
                    key(&mut app, KeyCode::Char('g'));
                }
                let b = draw(&mut app, 120, 40);
                assert_clean(&b);
            }
        }

        #[test]
        fn clean_output_is_always_safe(s in "\\PC*|[\\x00-\\x20\\x7f-\\xa0]*") {
            let c = rtmpscope::tui::sanitize::clean(&s);
            prop_assert!(!c.chars().any(rtmpscope::tui::sanitize::is_unsafe));
            let b = rtmpscope::tui::sanitize::clean_bytes(s.as_bytes());
            prop_assert!(!b.chars().any(rtmpscope::tui::sanitize::is_unsafe));
        }
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut fx = publish_session(1, "live");
    fx.anomaly(Direction::ToServer, "amf.x", 3080, "x");
    let mut app = app_with(&mut fx, false);
    for (w, h) in [(1, 1), (5, 3), (10, 5), (20, 8), (30, 10), (79, 23)] {
        for k in ['1', '2', '3', '4', 'c', '?', '|', '\\'] {
            key(&mut app, KeyCode::Char(k));
            let b = draw(&mut app, w, h);
            assert_clean(&b);
            if k == '?' {
                key(&mut app, KeyCode::Esc);
            }
        }
        key(&mut app, KeyCode::Char('2'));
        key(&mut app, KeyCode::Tab);
        let _ = draw(&mut app, w, h);
        key(&mut app, KeyCode::Tab);
        let _ = draw(&mut app, w, h);
    }
}

#[test]
fn status_bar_shows_how_much_of_the_file_is_read() {
    let mut fx = Fx::new(1);
    let mut app = App::new(TuiOptions {
        source: "big.pcap".into(),
        file_size: Some(10_000),
        ..TuiOptions::default()
    });
    app.ingest(fx.batch());
    app.model.done = false;
    app.model.progress.packets = 100;
    app.model.progress.bytes = 2_400; // + 100 * 16 record headers = 4000 of 10000
    let b = draw(&mut app, 200, 50);
    let status = row_text(&b, 49);
    assert!(status.contains("(40%)"), "{status}");
    app.model.done = true;
    let b = draw(&mut app, 200, 50);
    let status = row_text(&b, 49);
    assert!(
        status.contains("(done)") && !status.contains('%'),
        "{status}"
    );
}
