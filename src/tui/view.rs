//! Rendering of every view. Only visible rows are built (tables and hex are
//! windowed), so drawing cost does not grow with the number of messages.
//!
//! Contract: pure drawing from [`App`] state (plus scroll clamping); every
//! string drawn is either ours or was sanitised at ingest.

use ratatui::layout::{Constraint, Direction as LDir, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

use super::app::{App, Pane, View};
use super::columns::{self, Col, Cut};
use super::model::{sess, MsgRow, Session};
use super::sanitize::{clean, truncate};
use super::summary::{human_bytes, Kind};
use super::tree::{Hl, WireMap};
use crate::event::{Direction, Severity};

/// Every key, for the help overlay and docs/tui.md.
pub const HELP: &[(&str, &str)] = &[
    (
        "1 2 3 4 5 6",
        "views: Sessions, Messages, Stats, Anomalies, Flows, Follow",
    ),
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
    (
        "/",
        "filter (Enter apply, Esc cancel, Ctrl-u clear, Up/Down history)",
    ),
    (":", "go to packet number (pcap_cnt)"),
    (
        "t",
        "time column: relative / absolute UTC / delta from previous row",
    ),
    ("o", "Messages: choose columns; Sessions: cycle sort order"),
    ("space", "pause display (capture continues)"),
    ("f", "follow new messages (unpause)"),
    (
        "F",
        "Follow view: the session's commands and status as a dialogue (Enter: the message)",
    ),
    ("c", "chunk view on/off (messages as chunks on the wire)"),
    ("n / N", "next / previous message with an anomaly"),
    ("s / a / w", "stats / anomalies / flows view"),
    ("e", "export selected session as NDJSON"),
    (
        "p",
        "export selected flow's packets as pcap (file or stdin input, not live)",
    ),
    (
        "P",
        "export the shown (filtered) messages' packets as pcap, with their flows' handshake and control messages",
    ),
    (
        "m",
        "export selected session's media streams as FLV files (file or stdin input, not live)",
    ),
    ("\\", "maximise / restore the focused pane"),
    ("|", "hex beside / below the detail tree"),
    (
        "r",
        "hex offsets: stream (zero-padded hex) / message-relative",
    ),
    ("T / X", "show / hide detail tree / hex pane"),
    ("+ / -", "grow / shrink the message table"),
    ("?", "this help (any key closes)"),
    ("q / Ctrl-c", "quit"),
];

/// Filter syntax lines for the help overlay.
pub const FILTER_HELP: &[&str] = &[
    "type:video|audio|command|data|control|user_control|media|<name>|<id>",
    "cmd:publish  dir:to_server|to_client  anomaly  keyframe  \"quoted text\"",
    "numbers (: = != > >= < <=): len ts ts_delta csid msid fmt chunks pcap session flow",
    "and (or a space), or, not / !, ( ): (type:video or type:audio) and len>100000",
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
        View::Flows => render_flows(app, f, body),
        View::Follow => render_follow(app, f, body),
    }
    render_line(app, f, line);
    render_status(app, f, status);
    if app.help {
        render_help(app, f, area);
    }
    if let Some(sel) = app.col_chooser {
        render_col_chooser(app, f, area, sel);
    }
}

/// The column chooser (`o` in Messages): one line per column.
fn render_col_chooser(app: &App, f: &mut Frame, area: Rect, sel: usize) {
    let n = app.msg_cols.len() as u16;
    let w = 56u16.min(area.width);
    let h = (n + 2).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    let lines: Vec<Line> = app
        .msg_cols
        .iter()
        .enumerate()
        .map(|(i, (c, on))| {
            let st = if i == sel {
                sel_style(true)
            } else {
                Style::default()
            };
            Line::from(Span::styled(
                format!("[{}] {}", if *on { "x" } else { " " }, c.name()),
                st,
            ))
        })
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(block("Columns (space: toggle, Esc: close)", true)),
        r,
    );
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
        (View::Flows, "Flows"),
        (View::Follow, "Follow"),
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
    let p = if let Some(g) = &app.goto {
        Paragraph::new(Line::from(vec![
            Span::styled("go to packet: ", Style::default().fg(Color::Cyan)),
            Span::raw(g.clone()),
            Span::styled(
                "▏  Enter: go  Esc: cancel",
                Style::default().fg(Color::DarkGray),
            ),
        ]))
    } else if let Some(pr) = &app.prompt {
        let mut spans = vec![
            Span::styled(
                format!("export {} to: ", pr.kind.what()),
                Style::default().fg(Color::Cyan),
            ),
            Span::raw(clean(&pr.text)),
            Span::styled("▏", Style::default().fg(Color::Cyan)),
        ];
        if let Some((s, true)) = &app.status {
            spans.push(Span::styled(
                format!("  {}", clean(s)),
                Style::default().fg(Color::Red),
            ));
        } else {
            spans.push(Span::styled(
                "  Enter: write  Esc: cancel",
                Style::default().fg(Color::DarkGray),
            ));
        }
        Paragraph::new(Line::from(spans))
    } else if let Some(input) = &app.input {
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
            View::Sessions => "Enter: messages of session  s: stats  F: follow  /: filter  ?: help",
            View::Messages => "Enter/Tab: detail  c: chunks  /: filter  space: pause  F: dialogue  e/p: export  ?: help",
            View::Stats => "j/k: session  Enter: messages  ?: help",
            View::Anomalies => "Enter: jump to message  ?: help",
            View::Flows => "Enter: the flow's RTMP session  F: follow  ?: help",
            View::Follow => "Enter: the message  Esc: back  ?: help",
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
    let width = area.width as usize;
    let sep = if width < 120 { "|" } else { " | " };
    // Fields by priority (0 = always); the source takes what is left and is
    // cut in its middle, keeping the end of a file name.
    let read = read_state(
        m.done,
        m.progress.packets,
        m.progress.bytes,
        app.opts.file_size,
    );
    let mut fields: Vec<(u8, String)> = vec![
        (0, format!("{} pkts", m.progress.packets)),
        (4, human_bytes(m.progress.bytes)),
        (1, format!("drops {drops}")),
        (5, format!("flows {}", m.flows.len())),
        (3, format!("rtmp {rtmp}")),
        (0, format!("msgs {}", m.rows.len())),
        (2, format!("gaps {}", m.gaps)),
        (6, format!("mem {}", human_bytes(mem as u64))),
    ];
    if let Some(sp) = &app.opts.spool_note {
        fields.push((0, clean(sp)));
    }
    if let Some(sp) = &app.opts.spool {
        fields.push((0, clean(&sp.note())));
    }
    if !app.filter.is_empty() {
        fields.push((0, format!("filter: {}", clean(app.filter.source()))));
    }
    // A file input shows its path (its end is what identifies it).
    let src_full = match &app.opts.file {
        Some(p) if app.opts.spool.is_none() => clean(&p.display().to_string()),
        _ => clean(&app.opts.source),
    };
    // The file name (without its directory) is what must stay readable.
    let base = app
        .opts
        .file
        .as_ref()
        .filter(|_| app.opts.spool.is_none())
        .and_then(|p| p.file_name())
        .map(|n| clean(&n.to_string_lossy()))
        .unwrap_or_else(|| src_full.clone());
    let min_src = base.chars().count().clamp(12, 28);
    let len = |fs: &[(u8, String)]| -> usize {
        fs.iter()
            .map(|(_, s)| s.chars().count() + sep.len())
            .sum::<usize>()
            + mode.len()
            + 1
            + sep.len()
            + read.chars().count()
    };
    // Drop the least important fields until the source keeps some room.
    for p in (1..=6u8).rev() {
        if len(&fields) + min_src <= width {
            break;
        }
        fields.retain(|(q, _)| *q != p);
    }
    let room = width.saturating_sub(len(&fields)).max(min_src);
    let src = if src_full.chars().count() <= room {
        src_full
    } else {
        tail_cut(&base, room)
    };
    let mut s = format!(" {mode}{sep}{src}{read}");
    for (_, x) in &fields {
        s.push_str(sep);
        s.push_str(x);
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

/// `s` in `w` columns keeping its end (a file name's end identifies it):
/// `…` then the last `w - 1` characters, or a middle cut that keeps a
/// short start when there is room for one.
fn tail_cut(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_owned();
    }
    if w < 16 {
        let mut o = String::from("…");
        o.extend(s.chars().skip(n - w.saturating_sub(1)));
        return o;
    }
    let head = (w - 1) / 4;
    let tail = w - 1 - head;
    let mut o: String = s.chars().take(head).collect();
    o.push('…');
    o.extend(s.chars().skip(n - tail));
    o
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

/// A table laid out by priority ([`columns::fit`]): `cols` measured on the
/// visible `rows`, cells cut by each column's rule.
fn fitted_table<'a>(
    mut cols: Vec<Col>,
    rows: Vec<(Vec<String>, Style)>,
    area: Rect,
    title: String,
    focused: bool,
) -> Table<'a> {
    for (cells, _) in &rows {
        for (c, s) in cols.iter_mut().zip(cells) {
            c.measure(s);
        }
    }
    let widths = columns::fit(&cols, area.width.saturating_sub(2), 1);
    let header: Vec<Cell> = cols
        .iter()
        .zip(&widths)
        .filter_map(|(c, w)| w.map(|w| Cell::from(columns::cut(c.header, w as usize, Cut::End))))
        .collect();
    let body: Vec<Row> = rows
        .into_iter()
        .map(|(cells, st)| {
            let v: Vec<Cell> = cells
                .into_iter()
                .zip(cols.iter().zip(&widths))
                .filter_map(|(s, (c, w))| {
                    w.map(|w| Cell::from(columns::cut(&s, w as usize, c.cut)))
                })
                .collect();
            Row::new(v).style(st)
        })
        .collect();
    let constraints: Vec<Constraint> = widths
        .iter()
        .flatten()
        .map(|&w| Constraint::Length(w))
        .collect();
    Table::new(body, constraints)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .block(block(title, focused))
}

/// Live bitrate of a session on each clock, in kbit/s: `(wire, media)`.
/// Wire: bytes of the last complete second of capture time; media: of
/// the last complete second of media time (RTMP timestamps). A closed
/// session has no live rate (None).
pub fn live_kbps(app: &App, s: &Session) -> (Option<u64>, Option<u64>) {
    if sess::state(s) == super::model::SessionState::Closed {
        return (None, None);
    }
    let wire = app.model.flow(s.flow_id).map(|l| l.bitrate_bps() / 1000);
    let mut media = None;
    for st in &s.streams {
        if let Some(h) = &st.health {
            let se = &h.series;
            let n = se.video_bytes.len();
            if n == 0 {
                continue;
            }
            let i = if n >= 2 { n - 2 } else { n - 1 };
            let bytes = se.video_bytes[i] + se.audio_bytes.get(i).copied().unwrap_or(0);
            let secs = h.bucket_ms.max(1) as u64;
            *media.get_or_insert(0) += bytes * 8 * 1000 / secs / 1000;
        }
    }
    (wire, media)
}

fn kbps_cell(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn render_sessions(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let h = area.height.saturating_sub(3) as usize;
    let order = app.session_order();
    let n = order.len();
    let top = app.sessions.scroll_into_view(h, n);
    let mut rows = Vec::with_capacity(h);
    for (i, &si) in order[top..(top + h).min(n)].iter().enumerate() {
        let s = &app.model.sessions[si];
        let (wire, media) = live_kbps(app, s);
        let anomalies = sess::anomalies(s);
        let cells = vec![
            s.session_id.to_string(),
            s.flow_id.to_string(),
            sess::endpoints(s),
            clean(s.app.as_deref().unwrap_or("")),
            sess::streams(s),
            sess::state(s).as_str().to_string(),
            sess::codecs(s),
            kbps_cell(wire),
            kbps_cell(media),
            sess::messages(s).to_string(),
            s.gaps.count.to_string(),
            anomalies.to_string(),
            session_flags(s),
        ];
        let mut st = Style::default();
        if anomalies > 0 || s.gaps.count > 0 {
            st = st.fg(Color::Red);
        }
        if top + i == app.sessions.sel {
            st = st.patch(sel_style(true));
        }
        rows.push((cells, st));
    }
    let cols = vec![
        Col::new("#", 1, 0),
        Col::new("flow", 4, 3),
        Col::new("client -> server", 21, 0).flex(Cut::Endpoints),
        Col::new("app", 4, 0).flex(Cut::Middle).enough(12),
        Col::new("streams", 12, 0).flex(Cut::Roles).enough(28),
        Col::new("state", 6, 0).keep(),
        Col::new("codecs", 6, 4),
        Col::new("kbps wire", 4, 6),
        Col::new("kbps media", 4, 5),
        Col::new("msgs", 4, 7),
        Col::new("gaps", 4, 2),
        Col::new("anom", 4, 0),
        Col::new("flags", 5, 1).cut(Cut::Middle),
    ];
    let sort = if app.session_sort == super::app::SessionSort::Number {
        String::new()
    } else {
        format!(", by {}", app.session_sort.name())
    };
    let title = format!("Sessions ({n}{sort})");
    f.render_widget(fitted_table(cols, rows, area, title, true), area);
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
    use super::app::{MsgCol, TimeFmt};
    let h = area.height.saturating_sub(3) as usize;
    let n = app.visible_len();
    if app.follow && app.paused.is_none() {
        app.msgs.sel = n.saturating_sub(1);
    }
    let top = app.msgs.scroll_into_view(h, n);
    let focused = app.pane == Pane::Table;
    let shown: Vec<MsgCol> = app
        .msg_cols
        .iter()
        .filter(|(_, on)| *on)
        .map(|(c, _)| *c)
        .collect();
    let t0 = app.model.t0;
    let mut rows = Vec::with_capacity(h);
    for i in top..(top + h).min(n) {
        let Some(&ri) = app.filtered.get(i) else {
            break;
        };
        let r = &app.model.rows[ri as usize];
        let prev = i
            .checked_sub(1)
            .and_then(|p| app.filtered.get(p))
            .map(|&p| app.model.rows[p as usize].time);
        let cells: Vec<String> = shown
            .iter()
            .map(|c| match c {
                MsgCol::No => (ri + 1).to_string(),
                MsgCol::Pcap => r.pcap_cnt.to_string(),
                MsgCol::Time => match app.time_fmt {
                    TimeFmt::Relative => {
                        let t0 = t0.unwrap_or(r.time);
                        format!("{:.6}", r.time.nanos_since(t0) as f64 / 1e9)
                    }
                    TimeFmt::Absolute => clock(r),
                    TimeFmt::Delta => format!(
                        "{:.6}",
                        prev.map(|p| r.time.nanos_since(p) as f64 / 1e9)
                            .unwrap_or(0.0)
                    ),
                },
                MsgCol::Ts => {
                    if r.ts_estimated {
                        // Capture loss: the RTMP timestamp is an estimate.
                        format!("~{}", r.timestamp)
                    } else {
                        r.timestamp.to_string()
                    }
                }
                MsgCol::TsDelta => r
                    .ts_delta
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                MsgCol::Flow => r.flow_id.to_string(),
                MsgCol::Dir => arrow(r.dir).to_string(),
                MsgCol::Csid => r.csid.to_string(),
                MsgCol::Msid => {
                    if r.msid_unknown {
                        "?".to_owned()
                    } else {
                        r.msid.to_string()
                    }
                }
                MsgCol::Fmt => r.fmt.to_string(),
                MsgCol::Type => crate::rtmp::message::type_name(r.type_id).to_string(),
                MsgCol::Len => r.length.to_string(),
                MsgCol::Summary => {
                    let mut summ = app.model.summary(r);
                    if r.ts_estimated {
                        summ.push_str(" ~ts");
                    }
                    if r.anomalies > 0 {
                        summ.push_str(&format!(" ⚠{}", r.anomalies));
                    }
                    summ
                }
            })
            .collect();
        let mut st = kind_style(r);
        if i == app.msgs.sel {
            st = st.patch(sel_style(focused));
        }
        rows.push((cells, st));
    }
    let mut cols: Vec<Col> = shown
        .iter()
        .map(|c| match c {
            MsgCol::No => Col::new("No.", 3, 0),
            MsgCol::Pcap => Col::new("pcap", 4, 3),
            MsgCol::Time => Col::new(app.time_fmt.header(), 8, 8),
            MsgCol::Ts => Col::new("ts", 4, 7),
            MsgCol::TsDelta => Col::new("Δts", 3, 4),
            MsgCol::Flow => Col::new("flow", 4, 2),
            MsgCol::Dir => Col::new("dir", 3, 0),
            MsgCol::Csid => Col::new("csid", 4, 5),
            MsgCol::Msid => Col::new("msid", 4, 1),
            MsgCol::Fmt => Col::new("fmt", 3, 1),
            MsgCol::Type => Col::new("type", 7, 0),
            MsgCol::Len => Col::new("len", 3, 6),
            MsgCol::Summary => Col::new("summary", 20, 0).flex(Cut::Middle).enough(40),
        })
        .collect();
    // The type column: full names when they fit, else the short ones.
    if let Some(ti) = shown.iter().position(|c| *c == MsgCol::Type) {
        let mut probe = cols.clone();
        for (cells, _) in &rows {
            for (c, s) in probe.iter_mut().zip(cells) {
                c.measure(s);
            }
        }
        let w = columns::fit(&probe, area.width.saturating_sub(2), 1);
        if w[ti].is_some_and(|w| w < probe[ti].want) {
            for (k, i) in (top..(top + h).min(n)).enumerate() {
                if let (Some(&ri), Some(row)) = (app.filtered.get(i), rows.get_mut(k)) {
                    row.0[ti] = short_type(app.model.rows[ri as usize].type_id).to_string();
                }
            }
        }
        cols[ti].min = 7;
    }
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
    f.render_widget(fitted_table(cols, rows, area, title, focused), area);
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
                format!("{:08x}", c.header.start),
            ),
            None if ci == 0 => (
                r.fmt.to_string(),
                "?".into(),
                "?".into(),
                format!("{:08x}", r.first_byte),
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

/// Width of a hex row's offset label (8 zero-padded hex digits and a
/// space; `+` and 7 digits for message-relative offsets).
const HEX_LABEL: usize = 9;

/// Bytes per hex row that fit in `inner` columns.
pub fn hex_bpr(inner: usize) -> usize {
    for b in [32usize, 16, 8, 4] {
        if HEX_LABEL + b * 3 + 1 + b <= inner {
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
        let spool_why = app.opts.spool.as_ref().and_then(|s| s.why_missing());
        let why = if app.reread_loading == Some(ri) {
            "loading bytes from the capture file ...".to_string()
        } else if let Some(w) = spool_why {
            format!("bytes not available: {w}")
        } else if app.opts.file.is_some() {
            "bytes not available: the capture file read again did not deliver them \
             (capture loss, or the file changed)"
                .to_string()
        } else if app.bytes.is_empty() {
            "no stream bytes were forwarded to the UI".to_string()
        } else {
            "bytes no longer available (evicted from the in-memory ring; a live capture \
             cannot be read again)"
                .to_string()
        };
        lines.push(Line::from(Span::styled(
            why,
            Style::default().fg(Color::DarkGray),
        )));
    } else {
        for (li, chunk) in data.chunks(bpr).enumerate() {
            let row_off = start + (li * bpr) as u64;
            let label = if app.hex_relative {
                format!("+{:07x} ", row_off - r.first_byte)
            } else {
                format!("{row_off:08x} ")
            };
            let mut spans = vec![Span::styled(label, Style::default().fg(Color::DarkGray))];
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
    // One base everywhere: zero-padded hex stream offsets (as the rows
    // and the chunk table), or message-relative ones (`r`).
    let title = format!(
        "Hex {} ({}){}",
        if app.hex_relative {
            format!("msg +{:07x}..=+{:07x}", 0, r.last_byte - r.first_byte)
        } else {
            format!("{:08x}..={:08x}", r.first_byte, r.last_byte)
        },
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
    let rows: Vec<(Vec<String>, Style)> = app.model.anomalies[top..(top + h).min(n)]
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
            (
                vec![
                    a.pcap_cnt.to_string(),
                    rel,
                    a.flow_id.map(|f| f.to_string()).unwrap_or_default(),
                    a.dir.map(arrow).unwrap_or("").to_string(),
                    a.severity.as_str().to_string(),
                    a.name.to_string(),
                    a.range.map(|r| r.start.to_string()).unwrap_or_default(),
                    a.msg
                        .map(|m| (m + 1).to_string())
                        .unwrap_or_else(|| "-".into()),
                    a.detail.to_string(),
                ],
                st,
            )
        })
        .collect();
    let cols = vec![
        Col::new("pcap", 4, 0),
        Col::new("rel s", 8, 3),
        Col::new("flow", 4, 4),
        Col::new("dir", 3, 5),
        Col::new("sev", 7, 2),
        Col::new("name", 4, 0).keep(),
        Col::new("offset", 6, 1),
        Col::new("msg", 3, 6),
        Col::new("detail", 12, 0).flex(Cut::End).enough(30),
    ];
    let title = if app.model.anomalies_dropped > 0 {
        format!(
            "Anomalies ({n}, {} more not listed)",
            app.model.anomalies_dropped
        )
    } else {
        format!("Anomalies ({n})")
    };
    f.render_widget(fitted_table(cols, rows, area, title, true), area);
}

/// `s` broken at spaces into lines of at most `w` columns (a word longer
/// than `w` is split).
pub fn wrap_words(s: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let wl = word.chars().count();
        let cl = cur.chars().count();
        if cl > 0 && cl + 1 + wl > w {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        while cur.chars().count() > w {
            let head: String = cur.chars().take(w).collect();
            cur = cur.chars().skip(w).collect();
            out.push(head);
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// A flow record's protocol as the JSON writes it (snake_case), so a
/// protocol this build does not name still shows as its own word.
fn snake<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Display name of a flow record's `protocol`; unknown strings are shown
/// as they are.
pub fn protocol_label(p: &str) -> String {
    match p {
        "rtmp" => "RTMP".into(),
        "rtmp_midstream" => "RTMP mid-stream".into(),
        "rtmp_encrypted" => "RTMPE".into(),
        "rtmpt" => "RTMPT (HTTP)".into(),
        "tls" => "TLS".into(),
        "rtmps" => "TLS/RTMPS".into(),
        "http" => "HTTP".into(),
        "not_rtmp" => "other".into(),
        "unknown" => "unknown".into(),
        other => clean(&other.to_uppercase()),
    }
}

fn render_flows(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let h = area.height.saturating_sub(3) as usize;
    let n = app.model.flows.len();
    let top = app.flows.scroll_into_view(h, n);
    let mut rows = Vec::with_capacity(h);
    for (i, fl) in app.model.flows[top..(top + h).min(n)].iter().enumerate() {
        let ep = match &fl.info {
            Some(x) => {
                let e = |ip: std::net::IpAddr, port: u16| match ip {
                    std::net::IpAddr::V6(_) => format!("[{ip}]:{port}"),
                    _ => format!("{ip}:{port}"),
                };
                format!(
                    "{} -> {}",
                    e(x.client_ip, x.client_port),
                    e(x.server_ip, x.server_port)
                )
            }
            None => "?".into(),
        };
        let sess = app
            .model
            .session_number(fl.flow_id)
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let (proto, why, pkts, bytes, gaps, state) = match &fl.end {
            Some(e) => {
                let c = &e.counters;
                (
                    protocol_label(&snake(&e.protocol)),
                    format!("{} ({})", snake(&e.evidence), snake(&e.confidence)),
                    format!("{}/{}", c.packets[0], c.packets[1]),
                    format!("{}/{}", human_bytes(c.bytes[0]), human_bytes(c.bytes[1])),
                    if c.missed_bytes == [0, 0] {
                        "0".to_string()
                    } else {
                        format!("{}/{} B", c.missed_bytes[0], c.missed_bytes[1])
                    },
                    snake(&e.reason),
                )
            }
            None => {
                // Open: what the messages already show.
                let proto = match app.model.session(fl.flow_id) {
                    Some(s) if s.midstream => "RTMP mid-stream",
                    Some(_) => "RTMP",
                    None => "…",
                };
                let b = fl.stream_bytes;
                (
                    proto.to_string(),
                    "open: classified when it ends".to_string(),
                    "-".into(),
                    format!("{}/{}", human_bytes(b[0]), human_bytes(b[1])),
                    "-".into(),
                    "open".into(),
                )
            }
        };
        // A tunnel's virtual flow: RTMP carried inside HTTP requests.
        let proto = match fl.info.as_ref().and_then(|x| x.tunnel.as_ref()) {
            Some(t) => format!("{proto} in {}", t.transport.as_str().to_uppercase()),
            None => proto,
        };
        let mut st = Style::default();
        if !proto.starts_with("RTMP") {
            st = st.fg(Color::Gray);
        }
        if top + i == app.flows.sel {
            st = st.patch(sel_style(true));
        }
        rows.push((
            vec![
                fl.flow_id.to_string(),
                ep,
                proto,
                why,
                pkts,
                bytes,
                gaps,
                state,
                sess,
            ],
            st,
        ));
    }
    let cols = vec![
        Col::new("flow", 4, 0),
        Col::new("client -> server", 21, 0)
            .flex(Cut::Endpoints)
            .enough(40),
        Col::new("protocol", 8, 0).keep(),
        Col::new("why (evidence, confidence)", 12, 0)
            .flex(Cut::Middle)
            .enough(30),
        Col::new("pkts c/s", 5, 3),
        Col::new("bytes c/s", 7, 4),
        Col::new("lost c/s", 4, 2),
        Col::new("end", 4, 1),
        Col::new("session", 3, 5),
    ];
    let title = if app.model.flows_dropped > 0 {
        format!("Flows ({n}, {} older not listed)", app.model.flows_dropped)
    } else {
        format!("Flows ({n})")
    };
    f.render_widget(fitted_table(cols, rows, area, title, true), area);
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

fn render_stats(app: &mut App, f: &mut Frame, area: Rect) {
    app.layout.table = area;
    let flow = app.selected_session().map(|s| s.flow_id);
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
        format!(
            "session {} (flow {})  {}  state {}  app {}  {}",
            s.session_id,
            s.flow_id,
            sess::endpoints(s),
            sess::state(s).as_str(),
            clean(s.app.as_deref().unwrap_or("-")),
            session_flags(s)
        ),
        format!("tcUrl {}", clean(s.tc_url.as_deref().unwrap_or("-"))),
    ];
    if let Some(t) = &s.tls {
        info.push(format!(
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
        ));
        if let Some(c) = &t.certificate {
            info.push(format!(
                "certificate {}  issuer {}  valid {} .. {}",
                clean(&c.subject),
                clean(&c.issuer),
                c.not_before,
                c.not_after
            ));
        }
        for a in &t.alerts {
            info.push(format!(
                "TLS alert from the {}: {} {}",
                if a.direction == crate::event::Direction::ToServer {
                    "client"
                } else {
                    "server"
                },
                a.level,
                a.description
            ));
        }
    }
    info.extend([
        format!(
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
        ),
        format!(
            "ping RTT min/avg/max {}/{}/{} ({} samples)   gaps {} ({} lost)   anomalies {}",
            ms(s.pings.min_rtt_us),
            ms(s.pings.avg_rtt_us),
            ms(s.pings.max_rtt_us),
            s.pings.count,
            s.gaps.count,
            human_bytes(s.gaps.bytes),
            sess::anomalies(s)
        ),
    ]);
    let (wire_now, media_now) = live_kbps(app, s);
    info.push(format!(
        "rate now: {} kbit/s wire time (capture clock), {} kbit/s media time (RTMP timestamps)",
        kbps_cell(wire_now),
        kbps_cell(media_now)
    ));
    // RTMPT: transport and tunnel facts (same lines as the summary).
    for l in crate::output::summary::tunnel_lines(s) {
        info.push(clean(&l));
    }
    for d in [Direction::ToServer, Direction::ToClient] {
        let (chunk, window_from_peer) = match d {
            Direction::ToServer => (s.chunk_size.to_server, s.window_ack_size.to_client),
            Direction::ToClient => (s.chunk_size.to_client, s.window_ack_size.to_server),
        };
        let sent = live.map(|l| l.stream_bytes[d.index()]).unwrap_or(0);
        let acked = live.and_then(|l| l.last_ack[d.reverse().index()]);
        info.push(format!(
            "{}: chunk size {}  sent {}  ack window {}  acked {}  unacked {}",
            arrow(d),
            chunk.map(|c| c.to_string()).unwrap_or_else(|| "128".into()),
            sent,
            opt(window_from_peer),
            opt(acked),
            acked
                .map(|a| sent.saturating_sub(a as u64).to_string())
                .unwrap_or_else(|| "-".into()),
        ));
    }
    // Wrapped here (at spaces) so the height is exact and no line is lost.
    let inner_w = area.width.saturating_sub(2).max(10) as usize;
    let info: Vec<Line> = info
        .iter()
        .flat_map(|l| wrap_words(l, inner_w))
        .map(Line::from)
        .collect();
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
        Paragraph::new(info).block(Block::default().borders(Borders::BOTTOM)),
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
        // The same average on the other clock: bytes over the capture
        // seconds the stream spans.
        let mut all_msids = vec![st.msid];
        all_msids.extend(st.media_msids.iter().copied());
        let wire_avg = live
            .map(|l| l.bins_for(&all_msids, super::model::MAX_STAT_BINS))
            .filter(|b| !b.is_empty())
            .map(|b| {
                let bytes: u64 = b.iter().map(|x| x.audio_bytes + x.video_bytes).sum();
                let secs = (b[b.len() - 1].sec - b[0].sec + 1).max(1) as u64;
                format!("{}", bytes * 8 / secs / 1000)
            })
            .unwrap_or_else(|| "-".into());
        let head = format!(
            "msid {} {} ({})  {} {}  avg {:.0} kbit/s media time, {wire_avg} kbit/s wire time",
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
        let mut head2 = format!(
            "  fps {}  keyint {}  A/V drift {drift}  frames v{} a{}  keyframes {}",
            f1(st.video.frame_rate, ""),
            f1(st.video.keyframe_interval_ms, " ms"),
            st.video.frames,
            st.audio.frames,
            st.video.keyframes,
        );
        let (lv, la) = (&st.video.loss, &st.audio.loss);
        if !lv.is_empty() || !la.is_empty() {
            // Capture loss of this stream: messages lost (estimated), the
            // media time they covered, and estimated timestamps.
            head2.push_str(&format!(
                "  lost v~{} a~{} (~{} ms)  est ts {}",
                lv.messages_lost,
                la.messages_lost,
                lv.media_ms.max(la.media_ms),
                lv.timestamps_estimated + la.timestamps_estimated,
            ));
        }
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
        let label_w = 18u16.min(sa.width);
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
            "video kbit/s wire",
            &video,
            Color::Green,
            Rect::new(sa.x, ys + 2, label_w, 2),
            Rect::new(sa.x + label_w, ys + 2, spark_w as u16, 3),
        );
        render_rate(
            f,
            "audio kbit/s wire",
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
    // Between the tab bar and the key hints (both stay visible).
    let h = area.height.saturating_sub(3);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    let inner = w.saturating_sub(2) as usize;
    let key_w = 18.min(inner / 3);
    let mut lines: Vec<Line> = Vec::new();
    for (k, d) in HELP {
        // Descriptions too long for the line continue under themselves
        // (never under the key column).
        let parts = wrap_words(d, inner.saturating_sub(key_w).max(8));
        for (i, p) in parts.into_iter().enumerate() {
            let key = if i == 0 { *k } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<key_w$}"), Style::default().fg(Color::Cyan)),
                Span::raw(p),
            ]));
        }
    }
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
        Paragraph::new(lines).block(block("Help (any key closes, j/k scroll)", true)),
        r,
    );
}

/// The Follow view: the followed session's messages as a dialogue, client
/// lines on the left in red, server lines indented in blue, media folded.
fn render_follow(app: &mut App, f: &mut Frame, area: Rect) {
    let h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let Some(d) = app.dialogue.as_mut() else {
        f.render_widget(
            Paragraph::new("no session followed: press F on a session, message or flow")
                .block(block("Follow", true)),
            area,
        );
        return;
    };
    d.update(&app.model);
    let n = d.lines.len();
    let top = app.dialogue_pos.scroll_into_view(h, n);
    let m = &app.model;
    let client_st = Style::default().fg(Color::LightRed);
    let server_st = Style::default().fg(Color::LightBlue);
    let fold_st = Style::default().fg(Color::DarkGray);
    let t0 = d
        .lines
        .first()
        .and_then(|l| m.rows.get(l.row() as usize))
        .map(|r| r.time);
    let mut lines = Vec::with_capacity(h);
    for (i, l) in d.lines.iter().enumerate().skip(top).take(h) {
        let r = &m.rows[l.row() as usize];
        let t = t0.map_or(0.0, |t0| r.time.nanos_since(t0) as f64 / 1e9);
        let (text, st) = match l {
            super::follow::Line::Msg(_) => {
                let mut text = match r.dir {
                    Direction::ToServer => format!("{t:>10.3}  C→S  {}", clean(&m.summary(r))),
                    Direction::ToClient => {
                        format!("{t:>10.3}      S→C  {}", clean(&m.summary(r)))
                    }
                };
                if r.anomalies > 0 || r.truncated {
                    text.push_str("  [anomaly]");
                }
                let st = match r.dir {
                    Direction::ToServer => client_st,
                    Direction::ToClient => server_st,
                };
                (text, st)
            }
            super::follow::Line::Folded(run) => (
                format!("{t:>10.3}  {}", super::follow::folded_text(run)),
                fold_st,
            ),
        };
        let st = if i == app.dialogue_pos.sel {
            st.patch(sel_style(true))
        } else {
            st
        };
        lines.push(Line::from(Span::styled(truncate(&text, width.max(1)), st)));
    }
    let ends = m
        .flow(d.flow)
        .and_then(|fl| fl.info.as_ref())
        .map(|i| {
            format!(
                "client {}:{} (red) ⇄ server {}:{} (blue)",
                i.client_ip, i.client_port, i.server_ip, i.server_port
            )
        })
        .unwrap_or_default();
    let num = m.session_number(d.flow).unwrap_or(d.flow);
    let capped = if d.capped {
        format!(" (first {} lines)", super::follow::MAX_FOLLOW_LINES)
    } else {
        String::new()
    };
    let title = format!("Follow session {num}: {ends}; media folded{capped}");
    f.render_widget(
        Paragraph::new(lines).block(block(truncate(&title, width.max(1)), true)),
        area,
    );
}
