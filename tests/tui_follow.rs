//! The Follow view (`F`, issue 16): one session's conversation as a
//! dialogue on capture 01 (session 1: a player reading from nginx):
//! every non-media message of the session is one line, in order; media and
//! acknowledgements are folded into count lines that account for every one
//! of them; client lines are red, server lines blue and indented; Enter
//! goes to the message in the Messages view.
//!
//! Needs the bundled capture; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::path::Path;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;
use rtmpscope::event::Direction;
use rtmpscope::tui::app::{App, View};
use rtmpscope::tui::follow::{self, Line};
use rtmpscope::tui::TuiOptions;

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
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

fn screen(app: &mut App, w: u16, h: u16) -> (String, Buffer) {
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
    (s, buf)
}

/// Foreground colour of the first screen line containing `needle`, and
/// the column it starts at.
fn line_colour(s: &str, buf: &Buffer, needle: &str) -> (Color, usize) {
    let (y, line) = s
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{s}"));
    let col = line[..line.find(needle).unwrap()].chars().count();
    (buf[(col as u16, y as u16)].fg, col)
}

#[test]
fn follow_view_is_the_sessions_dialogue() {
    let Some(mut app) = load() else { return };
    let flow = app.model.sessions[0].flow_id;
    // Sessions view, first session selected: F opens its dialogue.
    key(&mut app, KeyCode::Char('F'));
    assert_eq!(app.view, View::Follow);
    let (s, buf) = screen(&mut app, 120, 40);
    assert!(s.contains("Follow session 1"), "{s}");
    assert!(s.contains("(red) ⇄ server"), "{s}");
    // Commands and status codes, in both directions.
    let (c_connect, x_connect) = line_colour(&s, &buf, "C→S  connect(");
    let (c_result, x_result) = line_colour(&s, &buf, "S→C  _result NetConnection.Connect.Success");
    assert_eq!(c_connect, Color::LightRed);
    assert_eq!(c_result, Color::LightBlue);
    assert!(x_result > x_connect, "server lines are indented");
    let d = app.dialogue.clone().unwrap();
    // Oracle: the session's rows, from the model.
    let rows: Vec<u32> = (0..app.model.rows.len() as u32)
        .filter(|&i| app.model.rows[i as usize].flow_id == flow)
        .collect();
    let shown: Vec<u32> = d
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Msg(r) => Some(*r),
            Line::Folded(_) => None,
        })
        .collect();
    let not_folded: Vec<u32> = rows
        .iter()
        .copied()
        .filter(|&r| !follow::folded(&app.model.rows[r as usize]))
        .collect();
    assert_eq!(shown, not_folded, "every non-media message, in order");
    let media = rows.len() - not_folded.len();
    assert!(media > 100, "{media} media messages");
    let folded: u32 = d
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Folded(r) => Some(r.video.iter().chain(&r.audio).chain(&r.other).sum::<u32>()),
            Line::Msg(_) => None,
        })
        .sum();
    assert_eq!(
        folded as usize, media,
        "folded lines count every media message"
    );
    // No two folded lines in a row (a run is one line).
    assert!(d
        .lines
        .windows(2)
        .all(|w| !matches!(w, [Line::Folded(_), Line::Folded(_)])));
    // The play status is there; Enter on it selects it in Messages.
    let i = d
        .lines
        .iter()
        .position(|l| {
            let r = &app.model.rows[l.row() as usize];
            matches!(l, Line::Msg(_))
                && r.dir == Direction::ToClient
                && app.model.summary(r).contains("NetStream.Play.Start")
        })
        .expect("NetStream.Play.Start in the dialogue");
    app.nav(i as isize);
    let (s, _) = screen(&mut app, 120, 40);
    assert!(s.contains("NetStream.Play.Start"), "{s}");
    assert!(s.contains(" video"), "folded media line on screen:\n{s}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Messages);
    assert_eq!(app.selected_row(), Some(d.lines[i].row()));
    // F in Messages follows the selected message's session, at that line.
    key(&mut app, KeyCode::Char('F'));
    assert_eq!(app.view, View::Follow);
    assert_eq!(app.dialogue_pos.sel, i);
    // At 80 columns the view still names both directions.
    let (s, _) = screen(&mut app, 80, 24);
    assert!(s.contains("S→C  onStatus NetStream.Play.Start"), "{s}");
}

#[test]
fn follow_needs_an_rtmp_session() {
    let Some(mut app) = load() else { return };
    key(&mut app, KeyCode::Char('5'));
    // Flows view: every flow of capture 01 is RTMP; F on one follows it.
    key(&mut app, KeyCode::Char('F'));
    assert_eq!(app.view, View::Follow);
    assert!(app.dialogue.as_ref().is_some_and(|d| !d.lines.is_empty()));
}
