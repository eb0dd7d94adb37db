//! Rendering of every view. Only visible rows are built (tables and hex are
//! windowed), so drawing cost does not grow with the number of messages.
//!
//! Contract: pure drawing from [`App`] state (plus scroll clamping); every
//! string drawn is either ours or was sanitised at ingest.

use ratatui::layout::{Constraint, Direction as LDir, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::app::{App, Pane, View};
use super::model::{sess, MsgRow, Session};
use super::sanitize::{clean, truncate};
use super::summary::{human_bytes, Kind};
use super::tree::{Hl, WireMap};
use crate::event::{Direction, Severity};

/// Every key, for the help overlay and docs/tui.md.
pub const HELP: &[(&str, &str)] = &[
    ("1 2 3 4", "views: Sessions, Messages, Stats, Anomalies"),
    ("Tab / S-Tab", "next/previous pane (Messages) or view"),
    ("j k / Down Up", "move selection"),
    ("PgDn PgUp", "page down / up (Ctrl-d Ctrl-u: half page)"),
    ("g G / Home End", "first / last (G follows again)"),
    (
        "Enter",
        "drill in: session -> messages, anomaly -> message, table -> detail, toggle tree node",
    ),
    ("Esc", "drill out / back to the table / back to sessions"),
    ("l h / Right Left", "expand / collapse tree node"),
    ("/", "filter (Enter apply, Esc cancel, Ctrl-u clear)"),
    ("space", "pause display (capture continues)"),
    ("f", "follow new messages (unpause)"),
    ("c", "chunk view on/off (messages as chunks on the wire)"),
    ("n / N", "next / previous message with an anomaly"),
    ("s / a", "stats / anomalies view"),
    ("e", "export selected session as NDJSON"),
    (
        "p",
        "export selected flow's packets as pcap (capture file input only)",
    ),
    (
        "m",
        "export selected session's media streams as FLV files (capture file input only)",
    ),
    ("\\", "maximise / restore the focused pane"),
    ("|", "hex beside / below the detail tree"),
    ("T / X", "show / hide detail tree / hex pane"),
    ("+ / -", "grow / shrink the message table"),
    ("?", "this help (any key closes)"),
    ("q / Ctrl-c", "quit"),
];

/// Filter syntax lines for the help overlay.
pub const FILTER_HELP: &[&str] = &[
    "type:video|audio|command|data|control|user_control|media|<name>|<id>",
    "cmd:publish  csid:4  msid:1  session:3  flow:3  dir:to_server|to_client",
    "anomaly  keyframe  free text (matched in summary)  \"quoted text\"",
    "terms are ANDed; prefix ! negates: type:video !keyframe",
];

fn sel_style(focused: bool) -> Style {
    if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
}

fn kind_style(r: &MsgRow) -> Style {
    if r.anomalies > 0 || r.truncated {
        return Style::default().fg(Color::Red);
    }
    let c = match r.kind {
        Kind::Command => Color::Cyan,
        Kind::Data => Color::Magenta,
        Kind::Control | Kind::UserControl => Color::Yellow,
        Kind::Video => Color::Green,
        Kind::Audio => Color::Blue,
        Kind::SharedObject => Color::Magenta,
        Kind::Aggregate => Color::Green,
        Kind::Other => Color::Gray,
    };
    Style::default().fg(c)
}

fn arrow(d: Direction) -> &'static str {
    match d {
        Direction::ToServer => "C→S",
        Direction::ToClient => "S→C",
    }
}

/// A table with a bold header row and one column of spacing, in a titled
/// block.
fn header_table<'a>(
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    header: Vec<&'a str>,
    title: String,
    focused: bool,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .block(block(title, focused))
}

fn block(title: impl Into<String>, focused: bool) -> Block<'static> {
    let b = Block::default().borders(Borders::ALL).title(title.into());
    if focused {
        b.border_style(Style::default().fg(Color::Cyan))
    } else {
        b
    }
}

/// Draws the whole UI.
pub fn render(app: &mut App, f: &mut Frame) {
    app.sync_sessions_bounded();
    let area = f.area();
    let [tabs, body, line, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_tabs(app, f, tabs);
    match app.view {
        View::Sessions => render_sessions(app, f, body),
        View::Messages => render_messages(app, f, body),
        View::Stats => render_stats(app, f, body),
        View::Anomalies => render_anomalies(app, f, body),
    }
    render_line(app, f, line);
    render_status(app, f, status);
    if app.help {
        render_help(app, f, area);
    }
}

fn render_tabs(app: &App, f: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        " rtmpscope ",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for (i, (v, name)) in [
        (View::Sessions, "Sessions"),
        (View::Messages, "Messages"),
        (View::Stats, "Stats"),
        (View::Anomalies, "Anomalies"),
    ]
    .iter()
    .enumerate()
    {
        let st = if app.view == *v {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!(" {} {} ", i + 1, name), st));
    }
    if app.view == View::Messages && app.chunk_mode {
        spans.push(Span::styled(
            " [chunks]",
            Style::default().fg(Color::Yellow),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_line(app: &App, f: &mut Frame, area: Rect) {
    let p = if let Some(input) = &app.input {
        let bad = app.input_error.is_some();
        let st = if bad {
            Style::default().fg(Color::Red)
        } else {
            Style::default().fg(Color::Green)
        };
        let mut spans = vec![Span::styled("/", st), Span::styled(clean(input), st)];
        if let Some(e) = &app.input_error {
            spans.push(Span::styled(
                format!("  ✗ {}", clean(e)),
                Style::default().fg(Color::Red),
            ));
        } else {
            spans.push(Span::styled(
                "  ✓ Enter to apply",
                Style::default().fg(Color::DarkGray),
            ));
        }
        Paragraph::new(Line::from(spans))
    } else if let Some((s, err)) = &app.status {
        let st = if *err {
            Style::default().fg(Color::Red)
        } else {
            Style::default().fg(Color::Green)
        };
        Paragraph::new(Line::from(Span::styled(clean(s), st)))
    } else {
        let hint = match app.view {
            View::Sessions => "Enter: messages of session  s: stats  /: filter  ?: help",
            View::Messages => "Enter/Tab: detail  c: chunks  /: filter  space: pause  f: follow  e/p: export  ?: help",
            View::Stats => "j/k: session  Enter: messages  ?: help",
            View::Anomalies => "Enter: jump to message  ?: help",
        };
        Paragraph::new(Line::from(Span::styled(
            hint,
            Style::default().fg(Color::DarkGray),
        )))
    };
    f.render_widget(p, area);
}

fn render_status(app: &App, f: &mut Frame, area: Rect) {
    let m = &app.model;
    let rtmp = m.sessions.iter().len();
    let mem = m.memory_estimate() + app.bytes.len();
    let mode = if app.paused.is_some() {
        let extra = app.filtered.len().saturating_sub(app.visible_len());
        format!("PAUSED +{extra}")
    } else if app.follow {
        "FOLLOW".to_string()
    } else {
        "SCROLL".to_string()
    };
    let drops = m
        .progress
        .kernel_dropped
        .map(|d| d.to_string())
        .unwrap_or_else(|| "-".into());
    let src = truncate(&clean(&app.opts.source), 24);
    let narrow = area.width < 120;
    let sep = if narrow { "|" } else { " | " };
    let mut s = format!(
        " {mode}{sep}{src}{}{sep}{} pkts{sep}{}{sep}drops {drops}{sep}flows {}{sep}rtmp {}{sep}msgs {}{sep}gaps {}{sep}mem {}",
        read_state(m.done, m.progress.packets, m.progress.bytes, app.opts.file_size),
        m.progress.packets,
        human_bytes(m.progress.bytes),
        m.flows.len(),
        rtmp,
        m.rows.len(),
        m.gaps,
        human_bytes(mem as u64),
    );
    if !app.filter.is_empty() {
        s.push_str(&format!(" | filter: {}", clean(app.filter.source())));
    }
    let st = if app.paused.is_some() {
        Style::default().fg(Color::Black).bg(Color::Yellow)
    } else {
        Style::default().fg(Color::Black).bg(Color::Gray)
    };
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(s, st))).style(st),
        area,
    );
}

/// ` (done)` once the input ended; while a file is read, how much of it
/// (captured bytes plus the 16-byte pcap record headers, an estimate).
fn read_state(done: bool, packets: u64, bytes: u64, file_size: Option<u64>) -> String {
    match (done, file_size) {
        (true, _) => " (done)".into(),
        (false, Some(total)) if total > 0 => {
            let read = bytes.saturating_add(packets.saturating_mul(16));
            format!(" ({}%)", (read.saturating_mul(100) / total).min(99))
        }
        _ => String::new(),
    }
}

fn session_flags(s: &Session) -> String {
    let mut v = Vec::new();
    if s.midstream {
        v.push("midstream");
    }
    if sess::encrypted(s) {
        v.push("encrypted");
    }
    if let Some(t) = &s.transport {
        v.push(t.as_str());
    }
    if let Some(t) = &s.tls {
        v.push(if t.decryption == "decrypted" {
            "tls:decrypted"
        } else {
            "tls"
        });
    }
    v.join(",")
}

fn render_sessions(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let h = area.height.saturating_sub(3) as usize;
    let n = app.model.sessions.len();
    let top = app.sessions.scroll_into_view(h, n);
    let wide = area.width >= 120;
    let rows: Vec<Row> = app.model.sessions[top..(top + h).min(n)]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let kbps = app
                .model
                .flow(s.flow_id)
                .map(|l| l.bitrate_bps() / 1000)
                .unwrap_or(0);
            let anomalies = sess::anomalies(s);
            let mut cells = vec![
                Cell::from(s.session_id.to_string()),
                Cell::from(s.flow_id.to_string()),
                Cell::from(sess::endpoints(s)),
                Cell::from(clean(s.app.as_deref().unwrap_or(""))),
                Cell::from(sess::streams(s)),
                Cell::from(sess::state(s).as_str()),
            ];
            if wide {
                cells.push(Cell::from(sess::codecs(s)));
            }
            cells.push(Cell::from(kbps.to_string()));
            cells.push(Cell::from(sess::messages(s).to_string()));
            if wide {
                cells.push(Cell::from(s.gaps.count.to_string()));
            }
            cells.push(Cell::from(anomalies.to_string()));
            cells.push(Cell::from(session_flags(s)));
            let mut st = Style::default();
            if anomalies > 0 || s.gaps.count > 0 {
                st = st.fg(Color::Red);
            }
            if top + i == app.sessions.sel {
                st = st.patch(sel_style(true));
            }
            Row::new(cells).style(st)
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "#",
                "flow",
                "client -> server",
                "app",
                "streams",
                "state",
                "codecs",
                "kbps",
                "msgs",
                "gaps",
                "anom",
                "flags",
            ],
            vec![
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(46),
                Constraint::Length(12),
                Constraint::Min(16),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(19),
            ],
        )
    } else {
        (
            vec![
                "#",
                "flow",
                "client -> server",
                "app",
                "streams",
                "state",
                "kbps",
                "msgs",
                "anom",
                "flags",
            ],
            vec![
                Constraint::Length(3),
                Constraint::Length(4),
                Constraint::Length(area.width.saturating_sub(71).clamp(16, 46)),
                Constraint::Length(6),
                Constraint::Min(8),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(4),
                Constraint::Length(5),
            ],
        )
    };
    let title = format!("Sessions ({n})");
    f.render_widget(header_table(rows, widths, header, title, true), area);
}

/// Short type names for narrow terminals.
pub fn short_type(id: u8) -> &'static str {
    match id {
        1 => "chunksz",
        2 => "abort",
        3 => "ack",
        4 => "userctl",
        5 => "winack",
        6 => "peerbw",
        8 => "audio",
        9 => "video",
        15 => "data3",
        16 => "so3",
        17 => "cmd3",
        18 => "data0",
        19 => "so0",
        20 => "cmd0",
        22 => "aggr",
        _ => crate::rtmp::message::type_name(id),
    }
}

fn rel_time(app: &App, r: &MsgRow) -> String {
    let t0 = app.model.t0.unwrap_or(r.time);
    format!("{:.6}", r.time.nanos_since(t0) as f64 / 1e9)
}

fn clock(r: &MsgRow) -> String {
    let s = r.time.rfc3339_micros();
    s.get(11..26).unwrap_or(&s).to_string()
}

fn render_messages(app: &mut App, f: &mut Frame, area: Rect) {
    app.ensure_tree();
    app.maybe_reread();
    let (table_area, tree_area, hex_area) = split_messages(app, area);
    app.layout.table = table_area.unwrap_or_default();
    app.layout.tree = tree_area.unwrap_or_default();
    app.layout.hex = hex_area.unwrap_or_default();
    if let Some(a) = table_area {
        if app.chunk_mode {
            render_chunk_table(app, f, a);
        } else {
            render_msg_table(app, f, a);
        }
    }
    if let Some(a) = tree_area {
        render_tree(app, f, a);
    }
    if let Some(a) = hex_area {
        render_hex(app, f, a);
    }
}

fn split_messages(app: &App, area: Rect) -> (Option<Rect>, Option<Rect>, Option<Rect>) {
    if app.maximized {
        return match app.pane {
            Pane::Table => (Some(area), None, None),
            Pane::Tree => (None, Some(area), None),
            Pane::Hex => (None, None, Some(area)),
        };
    }
    let (st, sh) = (app.show_tree, app.show_hex);
    if !st && !sh {
        return (Some(area), None, None);
    }
    let [top, bottom] = Layout::vertical([
        Constraint::Percentage(app.table_pct),
        Constraint::Percentage(100 - app.table_pct),
    ])
    .areas(area);
    match (st, sh) {
        (true, true) => {
            let dir = if app.hex_side {
                LDir::Horizontal
            } else {
                LDir::Vertical
            };
            let parts = Layout::default()
                .direction(dir)
                .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
                .split(bottom);
            (Some(top), Some(parts[0]), Some(parts[1]))
        }
        (true, false) => (Some(top), Some(bottom), None),
        _ => (Some(top), None, Some(bottom)),
    }
}

fn render_msg_table(app: &mut App, f: &mut Frame, area: Rect) {
    let h = area.height.saturating_sub(3) as usize;
    let n = app.visible_len();
    if app.follow && app.paused.is_none() {
        app.msgs.sel = n.saturating_sub(1);
    }
    let top = app.msgs.scroll_into_view(h, n);
    let wide = area.width >= 120;
    let focused = app.pane == Pane::Table;
    let mut rows = Vec::with_capacity(h);
    for i in top..(top + h).min(n) {
        let Some(&ri) = app.filtered.get(i) else {
            break;
        };
        let r = &app.model.rows[ri as usize];
        let mut cells = vec![Cell::from((ri + 1).to_string())];
        if wide {
            cells.push(Cell::from(r.pcap_cnt.to_string()));
            cells.push(Cell::from(clock(r)));
        }
        cells.push(Cell::from(rel_time(app, r)));
        if wide {
            cells.push(Cell::from(r.flow_id.to_string()));
        }
        cells.push(Cell::from(arrow(r.dir)));
        cells.push(Cell::from(r.csid.to_string()));
        if wide {
            cells.push(Cell::from(if r.msid_unknown {
                "?".to_owned()
            } else {
                r.msid.to_string()
            }));
        }
        cells.push(Cell::from(if wide {
            crate::rtmp::message::type_name(r.type_id)
        } else {
            short_type(r.type_id)
        }));
        cells.push(Cell::from(r.length.to_string()));
        let mut summ = app.model.summary(r);
        if r.anomalies > 0 {
            summ.push_str(&format!(" ⚠{}", r.anomalies));
        }
        cells.push(Cell::from(summ));
        let mut st = kind_style(r);
        if i == app.msgs.sel {
            st = st.patch(sel_style(focused));
        }
        rows.push(Row::new(cells).style(st));
    }
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "No.", "pcap", "time", "rel", "ses", "dir", "csid", "msid", "type", "len",
                "summary",
            ],
            vec![
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(15),
                Constraint::Length(12),
                Constraint::Length(4),
                Constraint::Length(3),
                Constraint::Length(5),
                Constraint::Length(4),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Min(20),
            ],
        )
    } else {
        (
            vec!["No.", "rel", "dir", "csid", "type", "len", "summary"],
            vec![
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(3),
                Constraint::Length(4),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Min(10),
            ],
        )
    };
    let title = format!(
        "Messages {}/{}{}",
        n,
        app.model.rows.len(),
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(" [{}]", clean(app.filter.source()))
        }
    );
    f.render_widget(header_table(rows, widths, header, title, focused), area);
}

fn render_chunk_table(app: &mut App, f: &mut Frame, area: Rect) {
    let h = area.height.saturating_sub(3) as usize;
    let n = app.chunk_rows.len();
    let top = app.chunks.scroll_into_view(h, n);
    let focused = app.pane == Pane::Table;
    let wide = area.width >= 120;
    let mut rows = Vec::with_capacity(h);
    for i in top..(top + h).min(n) {
        let (ri, ci) = app.chunk_rows[i];
        let r = &app.model.rows[ri as usize];
        let full = app.model.full(ri as usize);
        let c = full.and_then(|m| m.chunks.get(ci as usize)).copied();
        let (fmt, hdr, pay, off) = match c {
            Some(c) => (
                c.fmt.to_string(),
                c.header.len().to_string(),
                c.payload.len().to_string(),
                c.header.start.to_string(),
            ),
            None if ci == 0 => (
                r.fmt.to_string(),
                "?".into(),
                "?".into(),
                r.first_byte.to_string(),
            ),
            None => ("3".into(), "?".into(), "?".into(), "?".into()),
        };
        let what = if ci == 0 {
            app.model.summary(r)
        } else {
            format!("  continuation {}/{}", ci + 1, r.chunks)
        };
        let mut cells = vec![
            Cell::from((ri + 1).to_string()),
            Cell::from(format!("{}/{}", ci + 1, r.chunks.max(1))),
            Cell::from(arrow(r.dir)),
            Cell::from(fmt),
            Cell::from(r.csid.to_string()),
            Cell::from(hdr),
            Cell::from(pay),
            Cell::from(off),
        ];
        if wide {
            // The chunk header bytes themselves (basic + message header +
            // extended timestamp), when still held.
            let hb = match c {
                Some(c) if !c.header.is_empty() => app
                    .bytes
                    .range(
                        r.flow_id,
                        r.dir,
                        c.header.start,
                        c.header.end.min(c.header.start + 18),
                    )
                    .iter()
                    .map(|b| b.map(|x| format!("{x:02x}")).unwrap_or_else(|| "..".into()))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            cells.push(Cell::from(hb));
        }
        cells.push(Cell::from(what));
        let mut st = kind_style(r);
        if ci > 0 {
            st = st.add_modifier(Modifier::DIM);
        }
        if i == app.chunks.sel {
            st = st.patch(sel_style(focused));
        }
        rows.push(Row::new(cells).style(st));
    }
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(10),
    ];
    let mut header = vec![
        "msg", "chunk", "dir", "fmt", "csid", "hdr", "payld", "offset",
    ];
    if wide {
        widths.push(Constraint::Length(53));
        header.push("header bytes");
    }
    widths.push(Constraint::Min(10));
    header.push("message");
    let title = format!("Chunks on the wire ({n})");
    f.render_widget(header_table(rows, widths, header, title, focused), area);
}

fn render_tree(app: &mut App, f: &mut Frame, area: Rect) {
    let focused = app.pane == Pane::Tree;
    let h = area.height.saturating_sub(2) as usize;
    let Some((_, t)) = &app.tree else {
        f.render_widget(
            Paragraph::new("no message selected").block(block("Detail", focused)),
            area,
        );
        return;
    };
    let vis = t.visible();
    let top = app.tree_pos.scroll_into_view(h, vis.len());
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = vis[top..(top + h).min(vis.len())]
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let n = &t.nodes[i];
            let mark = if n.has_children {
                if t.collapsed[i] {
                    "▸ "
                } else {
                    "▾ "
                }
            } else {
                "  "
            };
            let text = format!("{}{}{}", "  ".repeat(n.depth as usize), mark, n.label);
            let mut st = Style::default();
            if n.label.starts_with("TRUNCATED")
                || n.label.starts_with("Anomalies")
                || n.label.starts_with("error ")
            {
                st = st.fg(Color::Red);
            }
            if top + k == app.tree_pos.sel {
                st = st.patch(sel_style(focused));
            }
            Line::from(Span::styled(truncate(&text, width.max(1)), st))
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block("Detail", focused)), area);
}

/// Bytes per hex row that fit in `inner` columns.
pub fn hex_bpr(inner: usize) -> usize {
    for b in [32usize, 16, 8, 4] {
        if 11 + b * 3 + 1 + b <= inner {
            return b;
        }
    }
    2
}

fn render_hex(app: &mut App, f: &mut Frame, area: Rect) {
    let focused = app.pane == Pane::Hex;
    let inner_w = area.width.saturating_sub(2) as usize;
    let bpr = hex_bpr(inner_w);
    app.layout.hex_bpr = bpr;
    let h = area.height.saturating_sub(2) as usize;
    let Some(ri) = app.selected_row() else {
        f.render_widget(Paragraph::new("").block(block("Hex", focused)), area);
        return;
    };
    let r = &app.model.rows[ri as usize];
    let full = app.model.full(ri as usize);
    let total = (r.last_byte.saturating_sub(r.first_byte) + 1).div_ceil(bpr as u64) as usize;
    app.hex_top = app.hex_top.min(total.saturating_sub(h.max(1)));
    let top = app.hex_top;
    let hl = app.selected_hl();
    let secrets: &[crate::amf::Span] = app
        .tree
        .as_ref()
        .map(|(_, t)| t.secret_spans.as_slice())
        .unwrap_or(&[]);
    let start = r.first_byte + (top * bpr) as u64;
    let end = (start + (h * bpr) as u64).min(r.last_byte + 1);
    let data = app.bytes.range(r.flow_id, r.dir, start, end);
    let any = data.iter().any(|b| b.is_some());
    let map = full.map(WireMap::new);
    let hl_style = Style::default().fg(Color::Black).bg(Color::Yellow);
    let hdr_style = Style::default().fg(Color::Cyan).add_modifier(Modifier::DIM);
    let mut lines = Vec::with_capacity(h);
    if !any {
        let why = if app.reread_loading == Some(ri) {
            "loading bytes from the capture file ..."
        } else if app.opts.file.is_some() {
            "bytes not available (not found in the capture file)"
        } else if app.bytes.is_empty() {
            "no stream bytes were forwarded to the UI"
        } else {
            "bytes no longer available (evicted from the in-memory ring)"
        };
        lines.push(Line::from(Span::styled(
            why,
            Style::default().fg(Color::DarkGray),
        )));
    } else {
        for (li, chunk) in data.chunks(bpr).enumerate() {
            let row_off = start + (li * bpr) as u64;
            let mut spans = vec![Span::styled(
                format!("{row_off:>10x} "),
                Style::default().fg(Color::DarkGray),
            )];
            let mut ascii = String::with_capacity(bpr);
            let mut styles = Vec::with_capacity(bpr);
            for (k, b) in chunk.iter().enumerate() {
                let off = row_off + k as u64;
                let body = map.as_ref().and_then(|w| w.body_offset(off));
                let is_hdr = map.as_ref().is_some_and(|w| w.in_header(off));
                let secret =
                    body.is_some_and(|bo| secrets.iter().any(|s| bo >= s.start && bo < s.end));
                let hit = match hl {
                    Hl::Stream(br) => off >= br.start && off < br.end,
                    Hl::Body(sp) => body.is_some_and(|bo| bo >= sp.start && bo < sp.end),
                    Hl::None => false,
                };
                let st = if hit {
                    hl_style
                } else if is_hdr {
                    hdr_style
                } else {
                    Style::default()
                };
                let (hx, ch) = match b {
                    _ if secret => ("**".to_string(), '*'),
                    Some(x) => (
                        format!("{x:02x}"),
                        if x.is_ascii_graphic() || *x == b' ' {
                            *x as char
                        } else {
                            '.'
                        },
                    ),
                    None => ("..".to_string(), ' '),
                };
                spans.push(Span::styled(hx, st));
                spans.push(Span::raw(" "));
                ascii.push(ch);
                styles.push(st);
            }
            for _ in chunk.len()..bpr {
                spans.push(Span::raw("   "));
            }
            spans.push(Span::raw(" "));
            for (c, st) in ascii.chars().zip(styles) {
                spans.push(Span::styled(c.to_string(), st));
            }
            lines.push(Line::from(spans));
        }
    }
    let title = format!(
        "Hex {}..={} ({}){}",
        r.first_byte,
        r.last_byte,
        human_bytes(r.last_byte - r.first_byte + 1),
        if full.is_none() {
            " [layout unknown]"
        } else {
            ""
        }
    );
    f.render_widget(Paragraph::new(lines).block(block(title, focused)), area);
}

fn render_anomalies(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let h = area.height.saturating_sub(3) as usize;
    let n = app.model.anomalies.len();
    let top = app.anomalies.scroll_into_view(h, n);
    let t0 = app.model.t0;
    let rows: Vec<Row> = app.model.anomalies[top..(top + h).min(n)]
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let rel = t0
                .map(|t| format!("{:.6}", a.time.nanos_since(t) as f64 / 1e9))
                .unwrap_or_default();
            let mut st = match a.severity {
                Severity::Error => Style::default().fg(Color::Red),
                Severity::Warning => Style::default().fg(Color::Yellow),
                Severity::Info => Style::default(),
            };
            if top + i == app.anomalies.sel {
                st = st.patch(sel_style(true));
            }
            Row::new(vec![
                Cell::from(a.pcap_cnt.to_string()),
                Cell::from(rel),
                Cell::from(a.flow_id.map(|f| f.to_string()).unwrap_or_default()),
                Cell::from(a.dir.map(arrow).unwrap_or("")),
                Cell::from(a.severity.as_str()),
                Cell::from(a.name),
                Cell::from(a.range.map(|r| r.start.to_string()).unwrap_or_default()),
                Cell::from(
                    a.msg
                        .map(|m| (m + 1).to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(a.detail.to_string()),
            ])
            .style(st)
        })
        .collect();
    let widths = [
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(4),
        Constraint::Length(3),
        Constraint::Length(7),
        Constraint::Length(26),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Min(10),
    ];
    let title = if app.model.anomalies_dropped > 0 {
        format!(
            "Anomalies ({n}, {} more not listed)",
            app.model.anomalies_dropped
        )
    } else {
        format!("Anomalies ({n})")
    };
    let header = vec![
        "pcap", "rel", "flow", "dir", "sev", "name", "offset", "msg", "detail",
    ];
    f.render_widget(header_table(rows, widths, header, title, true), area);
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn render_stats(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let flow = app.model.sessions.get(app.sessions.sel).map(|s| s.flow_id);
    let Some(s) = flow.and_then(|fl| app.model.session(fl)) else {
        f.render_widget(
            Paragraph::new("no session yet").block(block("Stats", true)),
            area,
        );
        return;
    };
    let live = app.model.flow(s.flow_id);
    let ms = |us: Option<u64>| {
        us.map(|r| format!("{:.1} ms", r as f64 / 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    let mut info = vec![
        Line::from(format!(
            "session {} (flow {})  {}  state {}  app {}  {}",
            s.session_id,
            s.flow_id,
            sess::endpoints(s),
            sess::state(s).as_str(),
            clean(s.app.as_deref().unwrap_or("-")),
            session_flags(s)
        )),
        Line::from(format!(
            "tcUrl {}",
            clean(s.tc_url.as_deref().unwrap_or("-"))
        )),
    ];
    if let Some(t) = &s.tls {
        info.push(Line::from(format!(
            "TLS {} {}  SNI {}  ALPN {}  resumed {}  decryption {}  records c/s {}/{}  RTMP-sized records {}",
            t.version.unwrap_or("?"),
            t.cipher_suite.as_deref().unwrap_or("-"),
            clean(t.sni.as_deref().unwrap_or("-")),
            clean(t.alpn.as_deref().unwrap_or("-")),
            t.resumed.unwrap_or("no"),
            t.decryption,
            t.records[0],
            t.records[1],
            if t.rtmp_inside { "yes" } else { "no" },
        )));
        if let Some(c) = &t.certificate {
            info.push(Line::from(format!(
                "certificate {}  issuer {}  valid {} .. {}",
                clean(&c.subject),
                clean(&c.issuer),
                c.not_before,
                c.not_after
            )));
        }
        for a in &t.alerts {
            info.push(Line::from(format!(
                "TLS alert from the {}: {} {}",
                if a.direction == crate::event::Direction::ToServer {
                    "client"
                } else {
                    "server"
                },
                a.level,
                a.description
            )));
        }
    }
    info.extend([
        Line::from(format!(
            "handshake {}  C0 {} S0 {}  client {} server {}  digest c/s {}/{}  echo c2/s2 {}/{}",
            clean(s.handshake.kind.as_deref().unwrap_or("-")),
            opt(s.handshake.c0_version),
            opt(s.handshake.s0_version),
            clean(s.handshake.client_version.as_deref().unwrap_or("-")),
            clean(s.handshake.server_version.as_deref().unwrap_or("-")),
            opt(s.handshake.client_digest_valid),
            opt(s.handshake.server_digest_valid),
            opt(s.handshake.c2_echo_ok),
            opt(s.handshake.s2_echo_ok),
        )),
        Line::from(format!(
            "ping RTT min/avg/max {}/{}/{} ({} samples)   gaps {} ({} lost)   anomalies {}",
            ms(s.pings.min_rtt_us),
            ms(s.pings.avg_rtt_us),
            ms(s.pings.max_rtt_us),
            s.pings.count,
            s.gaps.count,
            human_bytes(s.gaps.bytes),
            sess::anomalies(s)
        )),
    ]);
    // RTMPT: transport and tunnel facts (same lines as the summary).
    for l in crate::output::summary::tunnel_lines(s) {
        info.push(Line::from(clean(&l)));
    }
    for d in [Direction::ToServer, Direction::ToClient] {
        let (chunk, window_from_peer) = match d {
            Direction::ToServer => (s.chunk_size.to_server, s.window_ack_size.to_client),
            Direction::ToClient => (s.chunk_size.to_client, s.window_ack_size.to_server),
        };
        let sent = live.map(|l| l.stream_bytes[d.index()]).unwrap_or(0);
        let acked = live.and_then(|l| l.last_ack[d.reverse().index()]);
        info.push(Line::from(format!(
            "{}: chunk size {}  sent {}  ack window {}  acked {}  unacked {}",
            arrow(d),
            chunk.map(|c| c.to_string()).unwrap_or_else(|| "128".into()),
            sent,
            opt(window_from_peer),
            opt(acked),
            acked
                .map(|a| sent.saturating_sub(a as u64).to_string())
                .unwrap_or_else(|| "-".into()),
        )));
    }
    let info_h = info.len() as u16 + 1;
    let outer = block(
        format!("Stats: session {} (flow {})", s.session_id, s.flow_id),
        true,
    );
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let [ia, sa] = Layout::vertical([
        Constraint::Length(info_h.min(inner.height)),
        Constraint::Min(0),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(info)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::BOTTOM)),
        ia,
    );
    // One block per stream: two header lines, the health charts (media
    // time, when the terminal is tall enough) and the video / audio
    // sparklines (capture time).
    let chart_h = if sa.height >= 7 + CHART_H { CHART_H } else { 0 };
    let per = 7u16 + chart_h;
    let mut y = sa.y;
    let width = sa.width as usize;
    if s.streams.is_empty() {
        f.render_widget(Paragraph::new("no media streams yet"), sa);
    }
    let f1 = |x: Option<f64>, unit: &str| {
        x.map(|v| format!("{v:.1}{unit}"))
            .unwrap_or_else(|| "-".into())
    };
    for st in &s.streams {
        if y + per > sa.y + sa.height {
            break;
        }
        let kbps = st.video.bitrate_bps.unwrap_or(0.0) + st.audio.bitrate_bps.unwrap_or(0.0);
        let head = format!(
            "msid {} {} ({})  {} {}  avg {:.0} kbps",
            st.msid,
            clean(st.name.as_deref().unwrap_or("-")),
            st.role.as_deref().unwrap_or("?"),
            clean(st.video.codec.as_deref().unwrap_or("-")),
            clean(st.audio.codec.as_deref().unwrap_or("-")),
            kbps / 1000.0,
        );
        let drift = match (st.video.last_timestamp, st.audio.last_timestamp) {
            (Some(v), Some(a)) => format!("{} ms", v as i64 - a as i64),
            _ => "-".into(),
        };
        let head2 = format!(
            "  fps {}  keyint {}  A/V drift {drift}  frames v{} a{}  keyframes {}",
            f1(st.video.frame_rate, ""),
            f1(st.video.keyframe_interval_ms, " ms"),
            st.video.frames,
            st.audio.frames,
            st.video.keyframes,
        );
        f.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(
                    truncate(&head, width),
                    Style::default().add_modifier(Modifier::BOLD),
                )),
                Line::from(truncate(&head2, width)),
            ]),
            Rect::new(sa.x, y, sa.width, 2),
        );
        if let (Some(h), true) = (&st.health, chart_h > 0) {
            render_health(f, h, Rect::new(sa.x, y + 2, sa.width, chart_h));
        }
        let ys = y + chart_h;
        let label_w = 12u16.min(sa.width);
        let spark_w = sa.width.saturating_sub(label_w) as usize;
        let mut msids = vec![st.msid];
        msids.extend(st.media_msids.iter().copied());
        let bins = live
            .map(|l| l.bins_for(&msids, spark_w))
            .unwrap_or_default();
        let video: Vec<u64> = bins.iter().map(|b| b.video_bytes * 8 / 1000).collect();
        let audio: Vec<u64> = bins.iter().map(|b| b.audio_bytes * 8 / 1000).collect();
        render_rate(
            f,
            "video kbps",
            &video,
            Color::Green,
            Rect::new(sa.x, ys + 2, label_w, 2),
            Rect::new(sa.x + label_w, ys + 2, spark_w as u16, 3),
        );
        render_rate(
            f,
            "audio kbps",
            &audio,
            Color::Blue,
            Rect::new(sa.x, ys + 5, label_w, 2),
            Rect::new(sa.x + label_w, ys + 5, spark_w as u16, 2),
        );
        y += per;
    }
}

/// A line dataset of a chart.
fn line_set<'a>(name: &'a str, d: &'a [(f64, f64)], color: Color) -> ratatui::widgets::Dataset<'a> {
    ratatui::widgets::Dataset::default()
        .name(name)
        .marker(ratatui::symbols::Marker::Braille)
        .graph_type(ratatui::widgets::GraphType::Line)
        .style(Style::default().fg(color))
        .data(d)
}

/// Rows of the health charts of one stream in the stats view.
pub const CHART_H: u16 = 10;

/// Health charts over media time (src/health.rs series): bitrate with
/// keyframe marks, frame rate, and media-vs-capture drift.
fn render_health(f: &mut Frame, h: &crate::health::StreamHealth, area: Rect) {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let se = &h.series;
    let n = se.video_bytes.len();
    if n == 0 || area.width < 30 {
        return;
    }
    let bw = h.bucket_ms.max(1) as f64 / 1000.0;
    let x = |i: usize| i as f64 * bw;
    let kbps = |b: u64| b as f64 * 8.0 / 1000.0 / bw;
    let video: Vec<(f64, f64)> = (0..n).map(|i| (x(i), kbps(se.video_bytes[i]))).collect();
    let audio: Vec<(f64, f64)> = (0..n).map(|i| (x(i), kbps(se.audio_bytes[i]))).collect();
    let top = video
        .iter()
        .chain(&audio)
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        .ceil();
    let keys: Vec<(f64, f64)> = (0..n)
        .filter(|&i| se.keyframes[i] > 0)
        .map(|i| (x(i), top))
        .collect();
    let fps: Vec<(f64, f64)> = (0..n)
        .map(|i| (x(i), se.video_frames[i] as f64 / bw))
        .collect();
    let fps_top = fps.iter().map(|p| p.1).fold(1.0f64, f64::max).ceil();
    let drift: Vec<(f64, f64)> = (0..n).map(|i| (x(i), se.drift_ms[i] as f64)).collect();
    let dmin = drift.iter().map(|p| p.1).fold(0.0f64, f64::min).floor();
    let dmax = drift.iter().map(|p| p.1).fold(0.0f64, f64::max).ceil();
    let (dmin, dmax) = if dmax - dmin < 1.0 {
        (dmin - 1.0, dmax + 1.0)
    } else {
        (dmin, dmax)
    };
    let xmax = x(n.saturating_sub(1)).max(1.0);
    let x_axis = || {
        Axis::default()
            .bounds([0.0, xmax])
            .labels(vec![Span::raw("0"), Span::raw(format!("{xmax:.0}s"))])
    };
    let [a, b, c] = Layout::horizontal([
        Constraint::Percentage(50),
        Constraint::Percentage(25),
        Constraint::Percentage(25),
    ])
    .areas(area);
    let chart = Chart::new(vec![
        line_set("video", &video, Color::Green),
        line_set("audio", &audio, Color::Blue),
        Dataset::default()
            .name("keyframe")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(Color::Yellow))
            .data(&keys),
    ])
    .block(block("kbit/s (media time)", false))
    .x_axis(x_axis())
    .y_axis(
        Axis::default()
            .bounds([0.0, top])
            .labels(vec![Span::raw("0"), Span::raw(format!("{top:.0}"))]),
    );
    f.render_widget(chart, a);
    let chart = Chart::new(vec![Dataset::default()
        .name("fps")
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(Color::Magenta))
        .data(&fps)])
    .block(block("frames/s", false))
    .x_axis(x_axis())
    .y_axis(
        Axis::default()
            .bounds([0.0, fps_top])
            .labels(vec![Span::raw("0"), Span::raw(format!("{fps_top:.0}"))]),
    );
    f.render_widget(chart, b);
    let chart = Chart::new(vec![Dataset::default()
        .name("drift")
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(Color::Red))
        .data(&drift)])
    .block(block("drift ms", false))
    .x_axis(x_axis())
    .y_axis(Axis::default().bounds([dmin, dmax]).labels(vec![
        Span::raw(format!("{dmin:.0}")),
        Span::raw(format!("{dmax:.0}")),
    ]));
    f.render_widget(chart, c);
}

/// One rate row: its label and maximum, then the sparkline.
fn render_rate(
    f: &mut Frame,
    label: &str,
    data: &[u64],
    color: Color,
    label_area: Rect,
    area: Rect,
) {
    let max = data.iter().copied().max().unwrap_or(0);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(label.to_string()),
            Line::from(format!("max {max}")),
        ]),
        label_area,
    );
    f.render_widget(
        Sparkline::default()
            .data(data)
            .style(Style::default().fg(color)),
        area,
    );
}

fn render_help(app: &App, f: &mut Frame, area: Rect) {
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(2);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!("{k:<18}"), Style::default().fg(Color::Cyan)),
                Span::raw(*d),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Filter",
        Style::default().add_modifier(Modifier::BOLD),
    )));
    for l in FILTER_HELP {
        lines.push(Line::from(format!("  {l}")));
    }
    let skip = app.help_scroll.min(lines.len().saturating_sub(1));
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block("Help (any key closes, j/k scroll)", true)),
        r,
    );
}
