//! Key-level tests on a real capture (captures/01): the filter language's
//! operators (and, or, not, parentheses, numeric comparisons), validation
//! as you type, the filter history, go to packet, the RTMP timestamp and
//! delta columns, the time formats and the column chooser, session sort.
//!
//! Needs the bundled capture; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::path::Path;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rtmpscope::tui::app::{App, View};
use rtmpscope::tui::TuiOptions;

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn load() -> Option<App> {
    let cap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/01-ffmpeg-nginx-publish-play.pcap");
    if !cap.exists() {
        inputs::missing(&format!("{} not found", cap.display()));
        return None;
    }
    Some(tui_load::load(
        &cap,
        TuiOptions {
            file: Some(cap.clone()),
            ..TuiOptions::default()
        },
    ))
}

/// Applies a filter typed after `/` (Ctrl-u clears the prefilled one).
fn apply(app: &mut App, f: &str) -> Result<Vec<u32>, String> {
    key(app, KeyCode::Char('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(app, f);
    if let Some(e) = app.input_error.clone() {
        key(app, KeyCode::Esc);
        return Err(e);
    }
    key(app, KeyCode::Enter);
    Ok(app.filtered.clone())
}

/// Rows matching `pred` computed directly on the model (the oracle).
fn rows_where(app: &App, pred: impl Fn(&rtmpscope::tui::model::MsgRow) -> bool) -> Vec<u32> {
    (0..app.model.rows.len() as u32)
        .filter(|&i| pred(&app.model.rows[i as usize]))
        .collect()
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| rtmpscope::tui::view::render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn boolean_operators_and_numeric_comparisons() {
    let Some(mut app) = load() else { return };
    let video = |r: &rtmpscope::tui::model::MsgRow| r.type_id == 9;
    let audio = |r: &rtmpscope::tui::model::MsgRow| r.type_id == 8;
    let got = apply(&mut app, "type:video or type:audio").unwrap();
    let want = rows_where(&app, |r| video(r) || audio(r));
    assert_eq!(got, want);
    assert!(!want.is_empty());
    let got = apply(
        &mut app,
        "(type:video or type:audio) and not keyframe and len>300",
    )
    .unwrap();
    let want = rows_where(&app, |r| {
        (video(r) || audio(r))
            && !matches!(
                r.summary,
                rtmpscope::tui::model::Summary::Media { keyframe: true, .. }
            )
            && r.length > 300
    });
    assert_eq!(got, want);
    assert!(!want.is_empty() && want.len() < app.model.rows.len());
    let got = apply(&mut app, "ts_delta>30").unwrap();
    let want = rows_where(&app, |r| r.ts_delta.is_some_and(|d| d > 30));
    assert_eq!(got, want);
    assert!(!want.is_empty());
    let got = apply(&mut app, "csid>=5 && dir:s2c").unwrap();
    let want = rows_where(&app, |r| {
        r.csid >= 5 && r.dir == rtmpscope::event::Direction::ToClient
    });
    assert_eq!(got, want);
    let got = apply(&mut app, "pcap>=900").unwrap();
    let want = rows_where(&app, |r| r.pcap_cnt >= 900);
    assert_eq!(got, want);
    assert!(!want.is_empty());
    let got = apply(&mut app, "!type:video session:2").unwrap();
    let want = rows_where(&app, |r| r.type_id != 9 && r.flow_id == 2);
    assert_eq!(got, want);
    // Validated as you type: the error shows before Enter, and Enter keeps
    // the previous filter.
    key(&mut app, KeyCode::Char('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    typed(&mut app, "(len>5");
    assert!(app.input_error.as_deref().unwrap_or("").contains("')'"));
    typed(&mut app, ")");
    assert!(app.input_error.is_none());
    typed(&mut app, " or");
    assert!(app.input_error.is_some());
    key(&mut app, KeyCode::Esc);
    assert!(apply(&mut app, "len>abc").unwrap_err().contains("number"));
}

#[test]
fn filter_history_recalls_applied_filters() {
    let Some(mut app) = load() else { return };
    apply(&mut app, "type:video").unwrap();
    apply(&mut app, "cmd:onStatus").unwrap();
    key(&mut app, KeyCode::Char('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.as_deref(), Some("cmd:onStatus"));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.input.as_deref(), Some("type:video"));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.input.as_deref(), Some("cmd:onStatus"));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter.source(), "cmd:onStatus");
}

#[test]
fn go_to_packet_selects_the_message_it_completes() {
    let Some(mut app) = load() else { return };
    // A packet that completes a message, picked from the model.
    let target = app.model.rows[100].pcap_cnt;
    let first = app
        .model
        .rows
        .iter()
        .position(|r| r.pcap_cnt == target)
        .unwrap() as u32;
    // Hidden by a filter: going there clears it.
    apply(&mut app, "cmd:onStatus").unwrap();
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, &target.to_string());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Messages);
    assert_eq!(app.selected_row(), Some(first));
    let (msg, _) = app.status.clone().unwrap();
    assert!(msg.contains(&format!("packet {target}")), "{msg}");
    assert!(msg.contains("filter cleared"), "{msg}");
    // A packet that completes no message: the next one, said so.
    let gap = (1..)
        .map(|n| target + n)
        .find(|n| !app.model.rows.iter().any(|r| r.pcap_cnt == *n))
        .unwrap();
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, &gap.to_string());
    key(&mut app, KeyCode::Enter);
    let sel = app.selected_row().unwrap();
    assert!(app.model.rows[sel as usize].pcap_cnt > gap);
    assert!(app.status.clone().unwrap().0.contains("no message ends"));
}

#[test]
fn timestamp_and_delta_columns_time_formats_and_chooser() {
    let Some(mut app) = load() else { return };
    apply(&mut app, "session:2 type:video").unwrap();
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    let r = app.model.rows[app.selected_row().unwrap() as usize].clone();
    let s = screen(&mut app, 160, 40);
    let header = s
        .lines()
        .find(|l| l.contains("summary"))
        .unwrap()
        .to_string();
    assert!(
        header.contains(" ts ") && header.contains("Δts"),
        "{header}"
    );
    let line = s
        .lines()
        .find(|l| l.contains(&format!("│{} ", app.selected_row().unwrap() + 1)))
        .unwrap()
        .to_string();
    assert!(
        line.contains(&format!(" {} ", r.timestamp)),
        "ts {} in {line}",
        r.timestamp
    );
    assert!(
        line.contains(&format!(" {} ", r.ts_delta.unwrap())),
        "delta {:?} in {line}",
        r.ts_delta
    );
    // t cycles the time column: relative, absolute UTC, delta.
    assert!(header.contains("rel s"), "{header}");
    key(&mut app, KeyCode::Char('t'));
    let s = screen(&mut app, 160, 40);
    assert!(s.contains("time UTC"), "{s}");
    let clock = r.time.rfc3339_micros();
    assert!(s.contains(&clock[11..26]), "{s}");
    key(&mut app, KeyCode::Char('t'));
    assert!(screen(&mut app, 160, 40).contains("Δt s"));
    // o: the chooser hides the ts column.
    key(&mut app, KeyCode::Char('o'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Esc);
    let s = screen(&mut app, 160, 40);
    let header = s
        .lines()
        .find(|l| l.contains("summary"))
        .unwrap()
        .to_string();
    assert!(!header.contains(" ts "), "{header}");
    assert!(header.contains("Δts"), "{header}");
}

#[test]
fn sessions_sort_by_messages_and_start() {
    let Some(mut app) = load() else { return };
    key(&mut app, KeyCode::Char('1'));
    let by = |app: &mut App| -> Vec<u64> {
        app.session_order()
            .iter()
            .map(|&i| app.model.sessions[i].session_id)
            .collect()
    };
    assert_eq!(by(&mut app), vec![1, 2]);
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('o'));
    }
    // Start, newest first.
    assert_eq!(app.session_sort, rtmpscope::tui::app::SessionSort::Start);
    assert_eq!(by(&mut app), vec![2, 1]);
    assert!(screen(&mut app, 120, 20).contains("by start"));
}
