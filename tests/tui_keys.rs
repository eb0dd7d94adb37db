//! Key handling: navigation, filter entry with live validation, pause and
//! follow, drill in/out; plus a scale check (many messages stay fast).

mod tui_fixture;

use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rtmpscope::event::Direction;
use rtmpscope::tui::app::{App, Pane, View};
use rtmpscope::tui::{view, TuiOptions};
use tui_fixture::*;

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn app() -> (App, Fx) {
    let mut fx = publish_session(1, "live");
    let mut app = App::new(TuiOptions::default());
    app.ingest(fx.batch());
    (app, fx)
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(app, f)).unwrap();
    let b = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn navigation_keys_move_selection() {
    let (mut app, _) = app();
    key(&mut app, KeyCode::Char('2'));
    let _ = draw(&mut app, 80, 24);
    let n = app.filtered.len();
    assert_eq!(n, 86);
    // Following: selection on the last row.
    assert_eq!(app.msgs.sel, n - 1);
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.msgs.sel, 0);
    assert!(!app.follow);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.msgs.sel, 2);
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.msgs.sel, 1);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.msgs.sel, 0);
    key(&mut app, KeyCode::PageDown);
    let page = app.msgs.sel;
    assert!(page >= 3, "page moved {page}");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.msgs.sel, 0);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.msgs.sel, n - 1);
    assert!(app.follow);
    // Tab cycles panes, Esc returns to the table.
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.pane, Pane::Tree);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.pane, Pane::Hex);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.pane, Pane::Table);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.pane, Pane::Tree);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.pane, Pane::Table);
    // Views by number.
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.view, View::Anomalies);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Sessions);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits() {
    let (mut app, _) = app();
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn tree_expand_collapse() {
    let (mut app, _) = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Enter);
    app.ensure_tree();
    let before = app.tree.as_ref().unwrap().1.visible().len();
    // Node 1 is the collapsed "Header": expand it.
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('l'));
    let after = app.tree.as_ref().unwrap().1.visible().len();
    assert_eq!(after, before + 7, "header has 7 fields");
    key(&mut app, KeyCode::Char('h'));
    assert_eq!(app.tree.as_ref().unwrap().1.visible().len(), before);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.tree.as_ref().unwrap().1.visible().len(), after);
}

#[test]
fn filter_is_validated_live_and_applied_on_enter() {
    let (mut app, _) = app();
    key(&mut app, KeyCode::Char('/'));
    assert!(app.input.is_some());
    typed(&mut app, "type:vid");
    assert!(app.input_error.as_deref().unwrap().contains("unknown type"));
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("/type:vid"), "{screen}");
    assert!(screen.contains("unknown type"), "{screen}");
    // Enter on an invalid filter keeps the input open.
    key(&mut app, KeyCode::Enter);
    assert!(app.input.is_some());
    typed(&mut app, "eo");
    assert!(app.input_error.is_none());
    key(&mut app, KeyCode::Enter);
    assert!(app.input.is_none());
    assert_eq!(app.view, View::Messages);
    assert_eq!(app.filtered.len(), 40);
    for &r in &app.filtered {
        assert_eq!(app.model.rows[r as usize].type_id, 9);
    }
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("Messages 40/86"), "{screen}");
    assert!(screen.contains("Messages 40/86 [type:video]"), "{screen}");
    assert!(draw(&mut app, 200, 50).contains("filter: type:video"));

    // Combined terms, free text, negation, cmd:, dir:, csid:, session:.
    let cases = [
        ("type:video keyframe", 2),
        ("type:video !keyframe", 38),
        ("cmd:publish", 1),
        ("cmd:connect", 1),
        ("dir:to_client", 3),
        ("csid:4", 40),
        ("session:1 publish.start", 1),
        ("session:2", 0),
        ("\"PingRequest ts=123\"", 1),
        ("type:command", 5),
    ];
    for (f, want) in cases {
        key(&mut app, KeyCode::Char('/'));
        app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        typed(&mut app, f);
        assert!(app.input_error.is_none(), "{f}: {:?}", app.input_error);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.filtered.len(), want, "filter {f}");
    }
    // Esc cancels editing and keeps the applied filter.
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "zzz");
    key(&mut app, KeyCode::Esc);
    assert!(app.input.is_none());
    assert_eq!(app.filter.source(), "type:command");
}

#[test]
fn anomaly_filter_and_session_drill() {
    let mut fx = publish_session(1, "live");
    fx.anomaly(Direction::ToServer, "rtmp.test", 3080, "x");
    let mut app = App::new(TuiOptions::default());
    app.ingest(fx.batch());
    let mut fx2 = publish_session(2, "two");
    app.ingest(fx2.batch());
    key(&mut app, KeyCode::Char('j')); // second session
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Messages);
    assert_eq!(app.filter.source(), "session:2");
    assert!(app
        .filtered
        .iter()
        .all(|&r| app.model.rows[r as usize].flow_id == 2));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Sessions);
    assert!(app.filter.is_empty());
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "anomaly");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filtered, vec![0]);
}

#[test]
fn pause_freezes_display_and_follow_resumes() {
    let (mut app, _) = app();
    key(&mut app, KeyCode::Char('2'));
    let _ = draw(&mut app, 80, 24);
    let n = app.visible_len();
    key(&mut app, KeyCode::Char(' '));
    assert!(app.paused.is_some());
    // Capture continues: the model grows, the display does not.
    let mut more = Fx::new(7);
    more.start();
    more.ping(1);
    more.ping(2);
    app.ingest(more.batch());
    assert_eq!(app.model.rows.len(), n + 2);
    assert_eq!(app.visible_len(), n);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("PAUSED +2"), "{screen}");
    key(&mut app, KeyCode::Char('f'));
    assert!(app.paused.is_none());
    assert!(app.follow);
    let _ = draw(&mut app, 80, 24);
    assert_eq!(app.visible_len(), n + 2);
    assert_eq!(app.msgs.sel, n + 1);
    // Scrolling up stops following; new data does not move the selection.
    key(&mut app, KeyCode::Char('k'));
    assert!(!app.follow);
    let sel = app.msgs.sel;
    let mut more = Fx::new(8);
    more.start();
    more.ping(3);
    app.ingest(more.batch());
    let _ = draw(&mut app, 80, 24);
    assert_eq!(app.msgs.sel, sel);
    // space toggles pause off again.
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    assert!(app.paused.is_none());
}

#[test]
fn export_ndjson_writes_session_messages() {
    let (mut app, _) = app();
    let dir = std::env::temp_dir().join(format!("rtmpscope-tui-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    app.opts.export_dir = dir.clone();
    let _ = std::fs::remove_file(dir.join("rtmpscope-flow1.ndjson"));
    // e asks for the path, with the default filled in.
    key(&mut app, KeyCode::Char('e'));
    let p = app.prompt.clone().expect("a path prompt");
    assert!(p.text.ends_with("rtmpscope-flow1.ndjson"), "{}", p.text);
    key(&mut app, KeyCode::Enter);
    assert!(app.prompt.is_none());
    let (msg, err) = app.status.clone().unwrap();
    assert!(!err, "{msg}");
    assert!(msg.contains("rtmpscope-flow1.ndjson"), "{msg}");
    let text = std::fs::read_to_string(dir.join("rtmpscope-flow1.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 89); // meta + flow_start + 86 messages + session
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["event_type"], "meta");
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["event_type"], "flow_start");
    assert_eq!(v["flow_id"], 1);
    let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(v["event_type"], "rtmp");
    assert_eq!(v["rtmp"]["csid"], 3);
    assert_eq!(v["src_ip"], "10.0.0.1");
    assert_eq!(v["rtmp"]["command"]["name"], "connect");
    let v: serde_json::Value = serde_json::from_str(lines[88]).unwrap();
    assert_eq!(v["event_type"], "session");
    // Never overwritten silently: the second export warns first.
    std::fs::write(dir.join("rtmpscope-flow1.ndjson"), "keep").unwrap();
    key(&mut app, KeyCode::Char('e'));
    key(&mut app, KeyCode::Enter);
    let (msg, err) = app.status.clone().unwrap();
    assert!(err && msg.contains("exists"), "{msg}");
    assert!(app.prompt.is_some());
    assert_eq!(
        std::fs::read_to_string(dir.join("rtmpscope-flow1.ndjson")).unwrap(),
        "keep"
    );
    key(&mut app, KeyCode::Enter);
    assert!(app.prompt.is_none());
    assert_ne!(
        std::fs::read_to_string(dir.join("rtmpscope-flow1.ndjson")).unwrap(),
        "keep"
    );
    // pcap export without a file says so.
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Enter);
    let (msg, err) = app.status.clone().unwrap();
    assert!(err && msg.contains("needs the capture file"), "{msg}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Many messages: ingest, filter and draw stay fast because rows are
/// compact and only the visible window is rendered. `RTMPSCOPE_TUI_SCALE_N`
/// sets the count (default 200,000; the report used 1,000,000 in release).
#[test]
fn scales_to_many_messages() {
    let n: u32 = std::env::var("RTMPSCOPE_TUI_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut app = App::new(TuiOptions::default());
    let mut fx = Fx::new(1);
    fx.start();
    app.ingest(fx.batch());
    // Build the input first so only the UI's ingest is timed.
    let mut batches = Vec::new();
    for chunk in 0..(n / 1000) {
        for i in 0..1000 {
            fx.video(chunk * 1000 + i, i == 0, 200);
        }
        batches.push(fx.batch());
    }
    let t = Instant::now();
    for b in batches {
        app.ingest(b);
    }
    let ingest = t.elapsed();
    assert_eq!(app.model.rows.len(), n as usize);
    key(&mut app, KeyCode::Char('2'));
    let t = Instant::now();
    let s = draw(&mut app, 200, 50);
    let first_draw = t.elapsed();
    assert!(s.contains("Video AVC"));
    let t = Instant::now();
    for _ in 0..20 {
        key(&mut app, KeyCode::Char('k'));
        let _ = draw(&mut app, 200, 50);
    }
    let per_frame = t.elapsed() / 20;
    let t = Instant::now();
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "keyframe");
    key(&mut app, KeyCode::Enter);
    let filter = t.elapsed();
    assert_eq!(app.filtered.len(), (n / 1000) as usize);
    let t = Instant::now();
    key(&mut app, KeyCode::Char('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut app, "\"avc keyframe\"");
    key(&mut app, KeyCode::Enter);
    let text_filter = t.elapsed();
    assert_eq!(app.filtered.len(), (n / 1000) as usize);
    eprintln!(
        "{n} msgs: ingest {ingest:?} ({:?}/msg), first draw {first_draw:?}, frame {per_frame:?}, \
         flag filter {filter:?}, text filter {text_filter:?}, row {} B, model ~{} MB",
        ingest / n,
        std::mem::size_of::<rtmpscope::tui::model::MsgRow>(),
        app.model.memory_estimate() / 1_000_000
    );
    // Generous bounds for unoptimised test builds on a shared machine.
    assert!(per_frame.as_millis() < 500, "frame took {per_frame:?}");
    assert!(filter.as_secs() < 10, "filter took {filter:?}");
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let (mut app, _) = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    let _ = draw(&mut app, 100, 40);
    let t = app.layout.table;
    // Border + header: the 4th data row is at y = t.y + 2 + 3.
    let click = |row: u16| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: t.x + 5,
        row,
        modifiers: KeyModifiers::NONE,
    };
    app.handle_mouse(click(t.y + 2 + 3));
    assert_eq!(app.msgs.sel, 3);
    app.handle_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: t.x + 5,
        row: t.y + 3,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.msgs.sel, 6);
    // A click in the detail pane focuses it.
    let tr = app.layout.tree;
    app.handle_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: tr.x + 3,
        row: tr.y + 2,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.pane, Pane::Tree);
    assert_eq!(app.tree_pos.sel, 1);
}

#[test]
fn evicted_bytes_are_reported() {
    let mut fx = publish_session(1, "live");
    let mut app = App::new(TuiOptions::default());
    app.bytes = rtmpscope::tui::bytes::ByteStore::with_capacity(4096);
    app.ingest(fx.batch());
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    let s = draw(&mut app, 100, 40);
    assert!(s.contains("bytes no longer available"), "{s}");
    // The last message's bytes are still held.
    key(&mut app, KeyCode::Char('G'));
    let s = draw(&mut app, 100, 40);
    assert!(!s.contains("bytes no longer available"), "{s}");
    assert!(s.contains(" af 01 21 10"), "{s}");
}

#[test]
fn stats_key_follows_the_selected_message_session() {
    let mut app = App::new(TuiOptions::default());
    let mut a = publish_session(1, "one");
    let mut b = publish_session(2, "two");
    app.ingest(a.batch());
    app.ingest(b.batch());
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('G')); // last message: session 2
    assert_eq!(app.current_flow(), Some(2));
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.view, View::Stats);
    let s = draw(&mut app, 100, 30);
    assert!(s.contains("Stats: session 2"), "{s}");
    key(&mut app, KeyCode::Char('k'));
    let s = draw(&mut app, 100, 30);
    assert!(s.contains("Stats: session 1"), "{s}");
}

#[test]
fn events_source_adapter_fills_batches() {
    let mut fx = publish_session(1, "live");
    let mut events = Some(fx.batch().events);
    let mut src = rtmpscope::tui::events_source(move |out| match events.take() {
        Some(e) => {
            out.extend(e);
            rtmpscope::tui::SourceStatus::More
        }
        None => rtmpscope::tui::SourceStatus::Done,
    });
    let mut b = rtmpscope::tui::Batch::default();
    assert_eq!(src(&mut b), rtmpscope::tui::SourceStatus::More);
    assert!(b.events.len() > 80 && b.bytes.is_empty());
    let mut app = App::new(TuiOptions::default());
    app.ingest(b);
    assert_eq!(app.model.rows.len(), 86);
    let mut b = rtmpscope::tui::Batch::default();
    assert_eq!(src(&mut b), rtmpscope::tui::SourceStatus::Done);
    assert!(b.is_empty());
}

#[test]
fn n_jumps_between_anomalous_messages() {
    let mut fx = publish_session(1, "live");
    fx.anomaly(Direction::ToServer, "rtmp.a", 3080, "in connect");
    // An anomaly inside the publish command (row 3): find its offset.
    let mut app = App::new(TuiOptions::default());
    app.ingest(fx.batch());
    let publish_first = app.model.rows[3].first_byte;
    let mut more = Fx::new(1);
    more.anomaly(
        Direction::ToServer,
        "rtmp.b",
        publish_first + 14,
        "in publish",
    );
    app.ingest(more.batch());
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.selected_row(), Some(3));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.selected_row(), Some(3));
    assert!(app.status.as_ref().unwrap().0.contains("no further"));
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(app.selected_row(), Some(0));
}

#[test]
fn anomaly_before_its_message_is_linked_when_the_message_arrives() {
    let mut fx = Fx::new(1);
    fx.start();
    fx.anomaly(
        Direction::ToServer,
        "amf.early",
        3073 + 20,
        "reported first",
    );
    fx.command(Direction::ToServer, 0, "connect", 1.0, None, &[], None);
    let mut app = App::new(TuiOptions::default());
    app.ingest(fx.batch());
    assert_eq!(app.model.anomalies[0].msg, Some(0));
    assert_eq!(app.model.rows[0].anomalies, 1);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "anomaly");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filtered, vec![0]);
}

#[test]
fn lowercase_summary_buffer_matches_display_summary() {
    let (app, _) = app();
    let mut buf = String::new();
    for r in &app.model.rows {
        app.model.summary_lower_into(r, &mut buf);
        assert_eq!(buf, app.model.summary(r).to_lowercase());
    }
}

#[test]
fn aggregate_media_counts_in_the_bitrate_series() {
    use rtmpscope::rtmp::message::{Body, Message};
    let mut fx = Fx::new(1);
    fx.start();
    let sub = |type_id: u8, len: u32| Message {
        fmt: 0,
        csid: 0,
        type_id,
        msid: 1,
        msid_unknown: false,
        timestamp: 0,
        timestamp_delta: 0,
        timestamp_estimate: None,
        extended_timestamp: false,
        length: len,
        first_byte: 0,
        last_byte: 0,
        chunks: Default::default(),
        time: Default::default(),
        truncated: None,
        body: Body::Raw,
    };
    let body = Body::Aggregate(vec![sub(9, 1000), sub(8, 200), sub(9, 500)]);
    fx.msg(Direction::ToClient, 5, 22, 1, 0, &[0u8; 1733], body);
    let mut app = App::new(TuiOptions::default());
    app.ingest(fx.batch());
    let live = app.model.flow(1).unwrap();
    let bins = live.bins_for(&[1], 10);
    assert_eq!(bins.len(), 1);
    assert_eq!(bins[0].video_bytes, 1500);
    assert_eq!(bins[0].audio_bytes, 200);
    assert_eq!(bins[0].video_frames, 2);
}
