//! The chunk view and the hex view on a real capture (captures/01, file
//! input: bytes come from the file on demand): header bytes on every chunk
//! row, offsets in one base (zero-padded hex, the chunk table as the hex
//! rows), message-relative offsets with `r`, the transaction id
//! highlighted in the hex view when selected in the tree, and the help
//! popup between the tab bar and the key hints without running under the
//! key column.
//!
//! Needs the bundled capture; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;
#[path = "support/tui_load.rs"]
mod tui_load;

use std::path::Path;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;
use rtmpscope::tui::app::{App, Pane};
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

fn draw(app: &mut App, w: u16, h: u16) -> (String, Buffer) {
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

/// Draws, lets the re-read from the file finish, draws again.
fn settled(app: &mut App, w: u16, h: u16) -> (String, Buffer) {
    draw(app, w, h);
    assert!(
        app.wait_reread(Duration::from_secs(30)),
        "re-read timed out"
    );
    draw(app, w, h)
}

#[test]
fn chunk_rows_all_show_their_header_bytes() {
    let Some(mut app) = load() else { return };
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('c'));
    let (s, _) = settled(&mut app, 200, 60);
    let table: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("Chunks on the wire"))
        .skip(2)
        .take_while(|l| l.starts_with('│'))
        .collect();
    assert!(table.len() >= 10, "{s}");
    for l in &table {
        assert!(!l.contains(".. .."), "header bytes missing:\n{l}\n{s}");
    }
    // Chunk offsets are zero-padded hex, like the hex rows: the first
    // message after the handshakes (C0+C1+C2 = 3073 bytes) is at 0xc01.
    assert!(table[0].contains("00000c01"), "{}", table[0]);
    assert!(s.contains("Hex 00000c01..="), "{s}");
    assert!(s.contains("│00000c01 "), "{s}");
}

#[test]
fn transaction_id_is_highlighted_in_hex() {
    let Some(mut app) = load() else { return };
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    let (s, _) = settled(&mut app, 200, 60);
    assert!(s.contains("connect("), "{s}");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.pane, Pane::Tree);
    // Select the transaction_id node of the tree.
    let at = {
        let (_, t) = app.tree.as_ref().expect("tree");
        t.visible()
            .iter()
            .position(|&i| t.nodes[i].label.starts_with("transaction_id"))
            .expect("transaction_id node")
    };
    app.nav(at as isize - app.tree_pos.sel as isize);
    assert_ne!(app.selected_hl(), rtmpscope::tui::tree::Hl::None);
    let (s, b) = draw(&mut app, 200, 60);
    // The AMF0 number 1.0 (00 3f f0 00 00 00 00 00 00) is highlighted.
    let (y, line) = s
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("3f f0 00 00"))
        .unwrap_or_else(|| panic!("{s}"));
    let col = line[..line.find("3f f0").unwrap()].chars().count() as u16;
    assert_eq!(b[(col, y as u16)].bg, Color::Yellow, "{line}");
    // The bytes before the marker (the name "connect") are not.
    let before = line[..line.find("00 3f f0").unwrap()].chars().count() as u16 - 3;
    assert_ne!(b[(before, y as u16)].bg, Color::Yellow, "{line}");
    // `r`: the same rows with message-relative offsets.
    key(&mut app, KeyCode::Char('r'));
    let (s, _) = draw(&mut app, 200, 60);
    assert!(s.contains("Hex msg +0000000..="), "{s}");
    assert!(s.contains("│+0000000 "), "{s}");
}

#[test]
fn help_stays_between_tabs_and_key_hints() {
    use rtmpscope::tui::view::HELP;
    let Some(mut app) = load() else { return };
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        key(&mut app, KeyCode::Char('2'));
        let (before, _) = draw(&mut app, w, h);
        let hints = before.lines().nth(h as usize - 2).unwrap().to_string();
        key(&mut app, KeyCode::Char('?'));
        let (s, _) = draw(&mut app, w, h);
        let lines: Vec<&str> = s.lines().collect();
        // The tab bar and the key hints line stay visible.
        assert_eq!(lines[h as usize - 2], hints, "{s}");
        assert!(lines[0].contains("Sessions"), "{s}");
        // Inside the popup, every line starts with a key of the table or
        // with blanks over the key column (a continuation): a description
        // never runs under the keys.
        let key_w = 18.min((w as usize - 4 - 2) / 3);
        let mut seen = 0;
        for l in &lines[2..h as usize - 3] {
            // The popup: min(width - 4, 100) wide, centred, with a border.
            let pw = (w - 4).min(100);
            let x0 = ((w - pw) / 2) as usize;
            assert_eq!(l.chars().nth(x0), Some('│'), "{l:?}");
            let inner: String = l.chars().skip(x0 + 1).collect();
            let head: String = inner.chars().take(key_w).collect();
            if head.trim().is_empty() {
                continue;
            }
            if head.trim() == "Filter" {
                break;
            }
            let k = HELP.iter().find(|(k, _)| head.trim_end() == *k);
            assert!(k.is_some(), "not a key column: {head:?} in {l:?}\n{s}");
            seen += 1;
        }
        assert!(seen > 5, "{s}");
        key(&mut app, KeyCode::Esc);
    }
}
