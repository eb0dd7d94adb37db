//! UI state and input handling (no terminal I/O here, so it is testable with
//! synthetic events and key presses).
//!
//! Contract: [`App::ingest`] takes producer batches, [`App::handle_key`] /
//! [`App::handle_mouse`] take input, [`App::render`] (in `view.rs`) draws.
//! Nothing here blocks except explicit exports, which run on a thread.

use std::sync::mpsc;

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::bytes::ByteStore;
use super::filter::Filter;
use super::model::Model;
use super::tree::{Hl, Tree};
use super::{Batch, TuiOptions};

/// Minimum time between session snapshots once there are many sessions.
pub const SESSION_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Top-level views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Sessions,
    Messages,
    Stats,
    Anomalies,
    /// Every TCP flow with its classification (like Conversations).
    Flows,
    /// One session's conversation as a dialogue (`F`).
    Follow,
}

/// Columns of the messages table (`o` chooses which are shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgCol {
    No,
    Pcap,
    Time,
    Ts,
    TsDelta,
    Flow,
    Dir,
    Csid,
    Msid,
    Fmt,
    Type,
    Len,
    Summary,
}

impl MsgCol {
    pub const ALL: [MsgCol; 13] = [
        MsgCol::No,
        MsgCol::Pcap,
        MsgCol::Time,
        MsgCol::Ts,
        MsgCol::TsDelta,
        MsgCol::Flow,
        MsgCol::Dir,
        MsgCol::Csid,
        MsgCol::Msid,
        MsgCol::Fmt,
        MsgCol::Type,
        MsgCol::Len,
        MsgCol::Summary,
    ];
    /// Name in the column chooser.
    pub fn name(self) -> &'static str {
        match self {
            MsgCol::No => "No. (message number)",
            MsgCol::Pcap => "pcap (packet number)",
            MsgCol::Time => "time (capture clock, format: t)",
            MsgCol::Ts => "ts (RTMP timestamp, ms)",
            MsgCol::TsDelta => "Δts (RTMP timestamp delta on the chunk stream)",
            MsgCol::Flow => "flow",
            MsgCol::Dir => "dir",
            MsgCol::Csid => "csid",
            MsgCol::Msid => "msid",
            MsgCol::Fmt => "fmt (chunk header type of the first chunk)",
            MsgCol::Type => "type",
            MsgCol::Len => "len",
            MsgCol::Summary => "summary",
        }
    }
    fn default_on(self) -> bool {
        !matches!(self, MsgCol::Fmt)
    }
}

/// How the messages table shows capture time (`t` cycles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFmt {
    /// Seconds since the first packet.
    Relative,
    /// UTC clock time of the packet.
    Absolute,
    /// Seconds since the previous row on display.
    Delta,
}

impl TimeFmt {
    pub fn header(self) -> &'static str {
        match self {
            TimeFmt::Relative => "rel s",
            TimeFmt::Absolute => "time UTC",
            TimeFmt::Delta => "Δt s",
        }
    }
    fn next(self) -> TimeFmt {
        match self {
            TimeFmt::Relative => TimeFmt::Absolute,
            TimeFmt::Absolute => TimeFmt::Delta,
            TimeFmt::Delta => TimeFmt::Relative,
        }
    }
}

/// Order of the sessions list (`o` in Sessions cycles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSort {
    /// Session number (first seen).
    Number,
    /// Live bitrate on the wire, highest first.
    Kbps,
    /// Messages, most first.
    Messages,
    /// Anomalies, most first.
    Anomalies,
    /// Start time, newest first.
    Start,
}

impl SessionSort {
    pub fn name(self) -> &'static str {
        match self {
            SessionSort::Number => "number",
            SessionSort::Kbps => "kbps",
            SessionSort::Messages => "messages",
            SessionSort::Anomalies => "anomalies",
            SessionSort::Start => "start (newest first)",
        }
    }
    fn next(self) -> SessionSort {
        match self {
            SessionSort::Number => SessionSort::Kbps,
            SessionSort::Kbps => SessionSort::Messages,
            SessionSort::Messages => SessionSort::Anomalies,
            SessionSort::Anomalies => SessionSort::Start,
            SessionSort::Start => SessionSort::Number,
        }
    }
}

/// Panes of the messages view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Table,
    Tree,
    Hex,
}

/// A scrolled list: selected index and first visible index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListPos {
    pub sel: usize,
    pub top: usize,
}

impl ListPos {
    /// Moves the selection by `delta` within `len` items.
    pub fn move_by(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.sel = 0;
            return;
        }
        let s = self.sel as isize + delta;
        self.sel = s.clamp(0, len as isize - 1) as usize;
    }
    /// Keeps the selection inside a window of `height` rows; returns top.
    pub fn scroll_into_view(&mut self, height: usize, len: usize) -> usize {
        if len == 0 {
            self.sel = 0;
            self.top = 0;
            return 0;
        }
        self.sel = self.sel.min(len - 1);
        let h = height.max(1);
        if self.sel < self.top {
            self.top = self.sel;
        } else if self.sel >= self.top + h {
            self.top = self.sel + 1 - h;
        }
        self.top = self.top.min(len.saturating_sub(h));
        self.top
    }
}

/// Everything the UI holds.
pub struct App {
    pub opts: TuiOptions,
    pub model: Model,
    pub bytes: ByteStore,
    pub view: View,
    pub pane: Pane,
    pub sessions: ListPos,
    pub anomalies: ListPos,
    pub flows: ListPos,
    /// The Follow view's dialogue (`F`) and its selection.
    pub dialogue: Option<super::follow::Follow>,
    pub dialogue_pos: ListPos,
    /// Hex view offsets relative to the message's first byte (`r`).
    pub hex_relative: bool,
    pub msgs: ListPos,
    pub chunks: ListPos,
    pub tree_pos: ListPos,
    /// First hex row shown.
    pub hex_top: usize,
    pub filter: Filter,
    /// Row indices matching the filter, ascending.
    pub filtered: Vec<u32>,
    filtered_upto: usize,
    /// (row, chunk index) pairs of the chunk view.
    pub chunk_rows: Vec<(u32, u32)>,
    chunk_upto: usize,
    pub chunk_mode: bool,
    pub follow: bool,
    /// Display frozen at this many filtered rows (`space`).
    pub paused: Option<usize>,
    pub tree: Option<(u32, Tree)>,
    pub show_tree: bool,
    pub show_hex: bool,
    pub hex_side: bool,
    pub maximized: bool,
    /// Percentage of the height given to the message table.
    pub table_pct: u16,
    /// Filter being typed (`/`), with its live validation error.
    pub input: Option<String>,
    pub input_error: Option<String>,
    pub help: bool,
    pub help_scroll: usize,
    pub status: Option<(String, bool)>,
    pub quit: bool,
    /// Where the last frame put things (for paging and mouse hits).
    pub layout: LayoutCache,
    /// Session the messages view was entered from.
    pub drilled_from_session: bool,
    export_rx: Option<mpsc::Receiver<Result<String, String>>>,
    last_sync: Option<std::time::Instant>,
    /// Decodes the capture file again on demand (file inputs).
    reloader: Option<super::reload::Reloader>,
    /// The request in flight: its id and rows.
    reload_pending: Option<(u64, Vec<u32>)>,
    /// Rows already asked for (not asked again if still missing).
    reread_tried: std::collections::HashSet<u32>,
    /// Row whose bytes are being re-read from the capture file.
    pub reread_loading: Option<u32>,
    /// Stream bytes wanted around the selection per re-read request.
    pub reload_window_bytes: u64,
    /// Something changed outside input and ingest (export or re-read done).
    pub needs_redraw: bool,
    /// Messages table columns and whether each is shown (`o`).
    pub msg_cols: Vec<(MsgCol, bool)>,
    /// The column chooser popup is open at this line.
    pub col_chooser: Option<usize>,
    /// How capture time is shown (`t`).
    pub time_fmt: TimeFmt,
    /// Order of the sessions list (`o` in Sessions).
    pub session_sort: SessionSort,
    /// The export path being typed (`e`, `p`, `m`).
    pub prompt: Option<Prompt>,
    /// Packet number being typed (`:` go to packet).
    pub goto: Option<String>,
    /// Filters applied, oldest first (Up/Down in the filter line).
    pub filter_history: Vec<String>,
    hist_pos: Option<usize>,
}

/// Stream bytes of the messages around the selection decoded again with
/// it (so that moving on is instant).
pub const RELOAD_WINDOW_BYTES: u64 = 8 * 1024 * 1024;
/// Messages on each side of the selection decoded again with it.
pub const RELOAD_WINDOW_ROWS: usize = 256;

/// Filters remembered in the history.
pub const MAX_FILTER_HISTORY: usize = 100;

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// `rtmpscope json` lines of the flow.
    Ndjson,
    /// The flow's packets.
    Pcap,
    /// The packets of the shown (filtered) messages, with the context a
    /// reader needs to decode them (see [`App::shown_ranges`]).
    PcapShown,
    /// The session's media as FLV files (a directory).
    Media,
}

impl ExportKind {
    pub fn what(self) -> &'static str {
        match self {
            ExportKind::Ndjson => "NDJSON (rtmpscope json lines of the flow)",
            ExportKind::Pcap => "pcap (the flow's packets)",
            ExportKind::PcapShown => "pcap (the packets of the shown messages)",
            ExportKind::Media => "FLV media (directory)",
        }
    }
}

/// The export path prompt.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: ExportKind,
    pub flow: u64,
    pub text: String,
    /// The path the user was warned exists (a second Enter overwrites).
    pub confirm: Option<String>,
}

/// Rectangles and sizes of the last frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct LayoutCache {
    pub table: Rect,
    pub tree: Rect,
    pub hex: Rect,
    pub hex_bpr: usize,
}

impl App {
    pub fn new(opts: TuiOptions) -> Self {
        let model = Model::new(opts.redact);
        App {
            opts,
            model,
            bytes: ByteStore::default(),
            view: View::Sessions,
            pane: Pane::Table,
            sessions: ListPos::default(),
            anomalies: ListPos::default(),
            flows: ListPos::default(),
            dialogue: None,
            dialogue_pos: ListPos::default(),
            hex_relative: false,
            msgs: ListPos::default(),
            chunks: ListPos::default(),
            tree_pos: ListPos::default(),
            hex_top: 0,
            filter: Filter::default(),
            filtered: Vec::new(),
            filtered_upto: 0,
            chunk_rows: Vec::new(),
            chunk_upto: 0,
            chunk_mode: false,
            follow: true,
            paused: None,
            tree: None,
            show_tree: true,
            show_hex: true,
            hex_side: false,
            maximized: false,
            table_pct: 45,
            input: None,
            input_error: None,
            help: false,
            help_scroll: 0,
            status: None,
            quit: false,
            layout: LayoutCache::default(),
            drilled_from_session: false,
            export_rx: None,
            last_sync: None,
            reloader: None,
            reload_pending: None,
            reread_tried: std::collections::HashSet::new(),
            reread_loading: None,
            reload_window_bytes: RELOAD_WINDOW_BYTES,
            needs_redraw: false,
            msg_cols: MsgCol::ALL.iter().map(|&c| (c, c.default_on())).collect(),
            col_chooser: None,
            time_fmt: TimeFmt::Relative,
            session_sort: SessionSort::Number,
            prompt: None,
            goto: None,
            filter_history: Vec::new(),
            hist_pos: None,
        }
    }

    /// Whether a messages-table column is shown.
    pub fn col_on(&self, c: MsgCol) -> bool {
        self.msg_cols.iter().any(|&(x, on)| x == c && on)
    }

    /// Indices into `model.sessions` in the order the Sessions view shows.
    pub fn session_order(&self) -> Vec<usize> {
        let ss = &self.model.sessions;
        let mut v: Vec<usize> = (0..ss.len()).collect();
        let kbps = |i: usize| -> u64 {
            let s = &ss[i];
            if super::model::sess::state(s) == super::model::SessionState::Closed {
                return 0;
            }
            self.model
                .flow(s.flow_id)
                .map(|l| l.bitrate_bps())
                .unwrap_or(0)
        };
        use std::cmp::Reverse;
        match self.session_sort {
            SessionSort::Number => {}
            SessionSort::Kbps => v.sort_by_key(|&i| Reverse(kbps(i))),
            SessionSort::Messages => {
                v.sort_by_key(|&i| Reverse(super::model::sess::messages(&ss[i])))
            }
            SessionSort::Anomalies => v.sort_by_key(|&i| {
                Reverse(super::model::sess::anomalies(&ss[i]) + ss[i].gaps.count)
            }),
            SessionSort::Start => v.sort_by(|&a, &b| ss[b].start.cmp(&ss[a].start)),
        }
        v
    }

    /// The session under the Sessions/Stats selection.
    pub fn selected_session(&self) -> Option<&super::model::Session> {
        let order = self.session_order();
        order
            .get(self.sessions.sel)
            .and_then(|&i| self.model.sessions.get(i))
    }

    /// Puts the Sessions selection on the session of `flow`.
    pub fn select_session_flow(&mut self, flow: u64) {
        let order = self.session_order();
        if let Some(p) = order
            .iter()
            .position(|&i| self.model.sessions[i].flow_id == flow)
        {
            self.sessions.sel = p;
        }
    }

    /// Takes one producer batch.
    pub fn ingest(&mut self, batch: Batch) {
        for ev in batch.events {
            self.model.ingest(ev);
        }
        for b in batch.bytes {
            self.bytes.push(b);
        }
        if let Some(p) = batch.progress {
            self.model.progress.packets = self.model.progress.packets.max(p.packets);
            self.model.progress.bytes = self.model.progress.bytes.max(p.bytes);
            if p.kernel_dropped.is_some() {
                self.model.progress.kernel_dropped = p.kernel_dropped;
            }
        }
        self.refresh();
    }

    /// Brings the filtered list and chunk list up to date with the model.
    pub fn refresh(&mut self) {
        let n = self.model.rows.len();
        let mut scratch = String::with_capacity(128);
        for i in self.filtered_upto..n {
            if self
                .filter
                .matches_with(&self.model.rows[i], &self.model, &mut scratch)
            {
                self.filtered.push(i as u32);
            }
        }
        self.filtered_upto = n;
        if self.chunk_mode {
            let upto = self.visible_len();
            for &r in &self.filtered[self.chunk_upto.min(upto)..upto] {
                let c = self.model.rows[r as usize].chunks.max(1);
                for k in 0..c {
                    self.chunk_rows.push((r, k));
                }
            }
            self.chunk_upto = self.chunk_upto.max(upto);
        }
        if self.follow && self.paused.is_none() {
            self.msgs.sel = self.filtered.len().saturating_sub(1);
            self.chunks.sel = self.chunk_rows.len().saturating_sub(1);
        }
        if let Some(rx) = &self.export_rx {
            if let Ok(r) = rx.try_recv() {
                self.status = Some(match r {
                    Ok(s) => (s, false),
                    Err(e) => (e, true),
                });
                self.export_rx = None;
                self.needs_redraw = true;
            }
        }
        if let Some(l) = self.reloader.as_ref().and_then(|r| r.try_recv()) {
            self.take_reloaded(l);
        }
    }

    /// Applies the answer of a re-read from the capture file.
    pub fn take_reloaded(&mut self, l: super::reload::Loaded) {
        let pending = match &self.reload_pending {
            Some((id, _)) if *id == l.id => self.reload_pending.take(),
            Some(_) => return,
            None if l.error.is_some() => None,
            None => return,
        };
        let cur = self.tree.as_ref().map(|(r, _)| *r);
        for (row, ev) in l.messages {
            if Some(row) == cur {
                // Rebuilt with the decoded message.
                self.tree = None;
            }
            self.model.put_reloaded(row, ev);
        }
        // Rows the file did not give back are not asked for again (rows
        // given back and evicted later are).
        if let Some((_, rows)) = &pending {
            let has = |w: &super::model::MsgRow, off: u64| {
                l.bytes.iter().any(|b| {
                    b.flow_id == w.flow_id
                        && b.direction == w.dir
                        && b.offset <= off
                        && off < b.offset + b.data.len() as u64
                })
            };
            for &r in rows {
                let Some(w) = self.model.rows.get(r as usize) else {
                    continue;
                };
                if self.model.full(r as usize).is_none()
                    || !has(w, w.first_byte)
                    || !has(w, w.last_byte)
                {
                    self.reread_tried.insert(r);
                }
            }
        }
        // The selected message's bytes go in last: the ring evicts the
        // oldest first, so a window larger than the ring keeps them.
        let sel = self
            .reread_loading
            .and_then(|r| self.model.rows.get(r as usize))
            .map(|w| (w.flow_id, w.dir, w.first_byte, w.last_byte));
        let (mine, others): (Vec<_>, Vec<_>) = l.bytes.into_iter().partition(|b| {
            sel.is_some_and(|(f, d, a, z)| {
                b.flow_id == f
                    && b.direction == d
                    && b.offset <= z
                    && b.offset + b.data.len() as u64 > a
            })
        });
        for sb in others.into_iter().chain(mine) {
            self.bytes.push(sb);
        }
        if let Some(e) = l.error {
            self.status = Some((format!("re-reading the capture file: {e}"), true));
        }
        self.reread_loading = None;
        self.needs_redraw = true;
    }

    /// Replaces the filter and recomputes the filtered list.
    pub fn set_filter(&mut self, f: Filter) {
        let keep = self.selected_row();
        self.filter = f;
        self.filtered.clear();
        self.filtered_upto = 0;
        self.chunk_rows.clear();
        self.chunk_upto = 0;
        let was_paused = self.paused.take();
        self.refresh();
        if was_paused.is_some() {
            self.paused = Some(self.filtered.len());
        }
        if !self.follow {
            if let Some(r) = keep {
                self.select_row(r);
            }
        }
    }

    /// Number of filtered rows on display (frozen while paused).
    pub fn visible_len(&self) -> usize {
        match self.paused {
            Some(n) => n.min(self.filtered.len()),
            None => self.filtered.len(),
        }
    }

    /// The message row under the selection.
    pub fn selected_row(&self) -> Option<u32> {
        if self.chunk_mode {
            let n = self.chunk_rows.len();
            return self
                .chunk_rows
                .get(self.chunks.sel.min(n.saturating_sub(1)))
                .map(|x| x.0);
        }
        let n = self.visible_len();
        if n == 0 {
            return None;
        }
        self.filtered.get(self.msgs.sel.min(n - 1)).copied()
    }

    /// Selects a message row (if it passes the filter).
    pub fn select_row(&mut self, row: u32) -> bool {
        match self.filtered.binary_search(&row) {
            Ok(i) => {
                self.msgs.sel = i;
                if self.chunk_mode {
                    if let Some(ci) = self.chunk_rows.iter().position(|c| c.0 == row) {
                        self.chunks.sel = ci;
                    }
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Flow the user is looking at (for stats and export).
    pub fn current_flow(&self) -> Option<u64> {
        if self.view == View::Messages {
            if let Some(r) = self.selected_row() {
                return self.model.rows.get(r as usize).map(|r| r.flow_id);
            }
            if let Some(f) = self.filter.flow() {
                return Some(f);
            }
            if let Some(f) = self
                .filter
                .session()
                .and_then(|n| self.model.session_flow(n))
            {
                return Some(f);
            }
        }
        self.selected_session().map(|s| s.flow_id)
    }

    /// Makes sure the detail tree is for the selected message.
    pub fn ensure_tree(&mut self) {
        let Some(r) = self.selected_row() else {
            self.tree = None;
            return;
        };
        if self.tree.as_ref().is_some_and(|(tr, _)| *tr == r) {
            return;
        }
        self.tree_pos = ListPos::default();
        self.hex_top = 0;
        let row = &self.model.rows[r as usize];
        let title = format!(
            "Message #{} pcap {} {} flow {}",
            r + 1,
            row.pcap_cnt,
            row.dir.as_str(),
            row.flow_id
        );
        let mut t = match self.model.full(r as usize) {
            Some(m) => Tree::build(&title, m, self.model.redact),
            None => {
                self.set_compact_tree(r, title);
                return;
            }
        };
        // Anomalies located in this message.
        let anoms: Vec<String> = self
            .model
            .anomalies
            .iter()
            .filter(|a| a.msg == Some(r))
            .take(100)
            .map(|a| format!("{} {}: {}", a.severity.as_str(), a.name, a.detail))
            .collect();
        if !anoms.is_empty() {
            // Right under the title, where they are seen first.
            let mut extra = vec![super::tree::Node {
                depth: 1,
                label: format!("Anomalies ({})", anoms.len()),
                hl: Hl::None,
                has_children: true,
            }];
            extra.extend(anoms.into_iter().map(|a| super::tree::Node {
                depth: 2,
                label: a,
                hl: Hl::None,
                has_children: false,
            }));
            let n = extra.len();
            let at = 1.min(t.nodes.len());
            t.nodes.splice(at..at, extra);
            t.collapsed.splice(at..at, std::iter::repeat_n(false, n));
        }
        self.tree = Some((r, t));
    }

    fn set_compact_tree(&mut self, r: u32, title: String) {
        let row = &self.model.rows[r as usize];
        let mut t = Tree::default();
        let lines = [
            title,
            format!("fmt: {}  csid: {}  msid: {}", row.fmt, row.csid, row.msid),
            format!(
                "type: {} ({})",
                row.type_id,
                crate::rtmp::message::type_name(row.type_id)
            ),
            format!("timestamp: {}  length: {}", row.timestamp, row.length),
            format!("stream bytes: {}..={}", row.first_byte, row.last_byte),
            format!("summary: {}", self.model.summary(row)),
            if self.opts.file.is_none() {
                format!(
                    "(decoded detail no longer kept: the last {} media messages are kept, \
                         and a live capture cannot be read again)",
                    super::model::MAX_FULL_MEDIA
                )
            } else if self.reread_tried.contains(&r) {
                match self.opts.spool.as_ref().and_then(|s| s.why_missing()) {
                    Some(w) => format!("(not decoded again: {w})"),
                    None => "(not decoded again: the message was not found when the capture \
                             file was read again)"
                        .to_string(),
                }
            } else {
                "(decoding again from the capture file ...)".to_string()
            },
        ];
        for (i, l) in lines.into_iter().enumerate() {
            t.nodes.push(super::tree::Node {
                depth: if i == 0 { 0 } else { 1 },
                label: l,
                hl: Hl::None,
                has_children: i == 0,
            });
            t.collapsed.push(false);
        }
        self.tree = Some((r, t));
    }

    /// Whether row `r` lacks its decoded message or its bytes.
    fn lacks(&self, r: u32) -> bool {
        let Some(row) = self.model.rows.get(r as usize) else {
            return false;
        };
        self.model.full(r as usize).is_none()
            || self
                .bytes
                .get(row.flow_id, row.dir, row.first_byte)
                .is_none()
            || self
                .bytes
                .get(row.flow_id, row.dir, row.last_byte)
                .is_none()
    }

    /// When the selected message's decoded form or bytes are no longer in
    /// memory and the input is a file, decodes the file again on the
    /// re-read thread ([`super::reload`]) for it and the messages around
    /// it in the list (bounded by [`RELOAD_WINDOW_ROWS`] and
    /// `reload_window_bytes`), once per message.
    pub fn maybe_reread(&mut self) {
        let Some(file) = self.opts.file.clone() else {
            return;
        };
        let Some(r) = self.selected_row() else { return };
        if !self.lacks(r) || self.reread_tried.contains(&r) {
            return;
        }
        if let Some((_, rows)) = &self.reload_pending {
            if rows.contains(&r) {
                return;
            }
        }
        // The selection first, then its neighbours in the list, outwards.
        let at = self.filtered.binary_search(&r).ok();
        let mut rows = vec![r];
        let mut budget = self.reload_window_bytes;
        let len = |app: &Self, x: u32| {
            let w = &app.model.rows[x as usize];
            w.last_byte.saturating_sub(w.first_byte) + 1
        };
        if let Some(i) = at {
            let n = self.visible_len().min(self.filtered.len());
            for k in 1..=RELOAD_WINDOW_ROWS {
                let mut any = false;
                for j in [i.checked_sub(k), Some(i + k).filter(|&j| j < n)]
                    .into_iter()
                    .flatten()
                {
                    let x = self.filtered[j];
                    let l = len(self, x);
                    if l > budget {
                        continue;
                    }
                    any = true;
                    if self.lacks(x) && !self.reread_tried.contains(&x) {
                        budget -= l;
                        rows.push(x);
                    }
                }
                if !any {
                    break;
                }
            }
        }
        let want: Vec<super::reload::WantRow> = rows
            .iter()
            .map(|&x| {
                let w = &self.model.rows[x as usize];
                super::reload::WantRow {
                    row: x,
                    flow: w.flow_id,
                    dir: w.dir,
                    first_byte: w.first_byte,
                    last_byte: w.last_byte,
                    pcap_cnt: w.pcap_cnt,
                }
            })
            .collect();
        let opts = &self.opts;
        let reloader = self.reloader.get_or_insert_with(|| {
            super::reload::Reloader::spawn(file, opts.filter.clone(), opts.config.clone())
        });
        let id = reloader.request(want);
        self.reload_pending = Some((id, rows));
        self.reread_loading = Some(r);
    }

    /// Waits for the re-read in flight (tests: `maybe_reread` then this).
    pub fn wait_reread(&mut self, timeout: std::time::Duration) -> bool {
        if self.reload_pending.is_none() {
            return true;
        }
        let deadline = std::time::Instant::now() + timeout;
        while self.reload_pending.is_some() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.reloader.as_ref().and_then(|r| r.recv_timeout(left)) {
                Some(l) => self.take_reloaded(l),
                None => return false,
            }
        }
        true
    }

    /// The highlight of the selected tree node.
    pub fn selected_hl(&self) -> Hl {
        let Some((_, t)) = &self.tree else {
            return Hl::None;
        };
        let vis = t.visible();
        vis.get(self.tree_pos.sel)
            .and_then(|&i| t.nodes.get(i))
            .map(|n| n.hl)
            .unwrap_or(Hl::None)
    }

    /// Scrolls the hex view to the first byte of the selected node.
    pub fn hex_follow_selection(&mut self) {
        let Some((r, _)) = &self.tree else { return };
        let r = *r;
        let Some(row) = self.model.rows.get(r as usize) else {
            return;
        };
        let start = match self.selected_hl() {
            Hl::Stream(b) => Some(b.start),
            Hl::Body(sp) => self
                .model
                .full(r as usize)
                .and_then(|m| m.stream_offset_of(sp.start)),
            Hl::None => None,
        };
        if let Some(s) = start {
            let bpr = self.layout.hex_bpr.max(1) as u64;
            let rowi = (s.saturating_sub(row.first_byte) / bpr) as usize;
            let h = self.layout.hex.height.saturating_sub(2).max(1) as usize;
            if rowi < self.hex_top || rowi >= self.hex_top + h {
                self.hex_top = rowi.saturating_sub(1);
            }
        }
    }

    fn page(&self) -> isize {
        let h = match (self.view, self.pane) {
            (View::Messages, Pane::Tree) => self.layout.tree.height,
            (View::Messages, Pane::Hex) => self.layout.hex.height,
            _ => self.layout.table.height,
        };
        (h.saturating_sub(3).max(1)) as isize
    }

    fn set_status(&mut self, s: impl Into<String>, err: bool) {
        self.status = Some((s.into(), err));
    }

    /// Refreshes the session snapshot, at most every
    /// [`SESSION_SYNC_INTERVAL`] when there are many sessions.
    pub fn sync_sessions_bounded(&mut self) {
        if !self.model.sessions_dirty() {
            return;
        }
        let due = self.model.sessions.len() < 256
            || self
                .last_sync
                .is_none_or(|t| t.elapsed() >= SESSION_SYNC_INTERVAL);
        if due {
            self.model.sync_sessions();
            self.last_sync = Some(std::time::Instant::now());
        }
    }

    /// Handles one key press.
    pub fn handle_key(&mut self, k: KeyEvent) {
        if k.kind != KeyEventKind::Press {
            return;
        }
        self.model.sync_sessions();
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(k.code, KeyCode::Char('c')) {
            self.quit = true;
            return;
        }
        if let Some(input) = self.input.as_mut() {
            match k.code {
                KeyCode::Esc => {
                    self.input = None;
                    self.input_error = None;
                }
                KeyCode::Up | KeyCode::Down => {
                    let n = self.filter_history.len();
                    if n > 0 {
                        let pos = match (self.hist_pos, k.code) {
                            (None, KeyCode::Up) => Some(n - 1),
                            (None, _) => None,
                            (Some(p), KeyCode::Up) => Some(p.saturating_sub(1)),
                            (Some(p), _) if p + 1 < n => Some(p + 1),
                            (Some(_), _) => None,
                        };
                        self.hist_pos = pos;
                        *input = pos
                            .and_then(|p| self.filter_history.get(p).cloned())
                            .unwrap_or_default();
                        self.input_error = Filter::parse(input).err();
                    }
                }
                KeyCode::Enter => {
                    let s = input.clone();
                    match Filter::parse(&s) {
                        Ok(f) => {
                            self.input = None;
                            self.input_error = None;
                            self.hist_pos = None;
                            let t = s.trim().to_string();
                            if !t.is_empty() {
                                self.filter_history.retain(|h| *h != t);
                                self.filter_history.push(t);
                                if self.filter_history.len() > MAX_FILTER_HISTORY {
                                    self.filter_history.remove(0);
                                }
                            }
                            self.set_filter(f);
                            if self.view != View::Messages {
                                self.view = View::Messages;
                                self.pane = Pane::Table;
                            }
                        }
                        Err(e) => self.input_error = Some(e),
                    }
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.input_error = Filter::parse(input).err();
                }
                KeyCode::Char('u') if ctrl => {
                    input.clear();
                    self.input_error = None;
                }
                KeyCode::Char(c) if !ctrl => {
                    input.push(c);
                    self.input_error = Filter::parse(input).err();
                }
                _ => {}
            }
            return;
        }
        if let Some(g) = self.goto.as_mut() {
            match k.code {
                KeyCode::Esc => self.goto = None,
                KeyCode::Backspace => {
                    g.pop();
                }
                KeyCode::Char(c) if c.is_ascii_digit() => g.push(c),
                KeyCode::Enter => {
                    let n = g.parse::<u64>().ok();
                    self.goto = None;
                    match n {
                        Some(n) => self.goto_packet(n),
                        None => self.set_status("go to packet: type a packet number", true),
                    }
                }
                _ => {}
            }
            return;
        }
        if let Some(p) = self.prompt.as_mut() {
            match k.code {
                KeyCode::Esc => {
                    self.prompt = None;
                    self.set_status("export cancelled", false);
                }
                KeyCode::Enter => self.prompt_enter(),
                KeyCode::Backspace => {
                    p.text.pop();
                }
                KeyCode::Char('u') if ctrl => p.text.clear(),
                KeyCode::Char(c) if !ctrl => p.text.push(c),
                _ => {}
            }
            return;
        }
        if let Some(sel) = self.col_chooser {
            let n = self.msg_cols.len();
            match k.code {
                KeyCode::Down | KeyCode::Char('j') => self.col_chooser = Some((sel + 1) % n),
                KeyCode::Up | KeyCode::Char('k') => self.col_chooser = Some((sel + n - 1) % n),
                KeyCode::Char(' ') | KeyCode::Enter => {
                    if let Some(c) = self.msg_cols.get_mut(sel) {
                        c.1 = !c.1;
                    }
                }
                KeyCode::Char('q') if ctrl => self.quit = true,
                _ => self.col_chooser = None,
            }
            return;
        }
        if self.help {
            match k.code {
                KeyCode::Down | KeyCode::Char('j') => self.help_scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => {
                    self.help_scroll = self.help_scroll.saturating_sub(1)
                }
                KeyCode::Char('q') => self.quit = true,
                _ => self.help = false,
            }
            return;
        }
        self.status = None;
        let page = self.page();
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => {
                self.help = true;
                self.help_scroll = 0;
            }
            KeyCode::Char('1') => self.view = View::Sessions,
            KeyCode::Char('2') => self.view = View::Messages,
            KeyCode::Char('3') | KeyCode::Char('s') => {
                // Stats of the session being looked at.
                if let Some(f) = self.current_flow() {
                    self.select_session_flow(f);
                }
                self.view = View::Stats;
            }
            KeyCode::Char('4') | KeyCode::Char('a') => self.view = View::Anomalies,
            KeyCode::Char('5') | KeyCode::Char('w') => self.view = View::Flows,
            KeyCode::Char('6') | KeyCode::Char('F') => self.open_follow(),
            KeyCode::Char('/') => {
                // Edit the current filter; a trailing space makes typing add
                // an AND term.
                let mut cur = self.filter.source().to_string();
                if !cur.is_empty() {
                    cur.push(' ');
                }
                self.input_error = Filter::parse(&cur).err();
                self.input = Some(cur);
            }
            KeyCode::Char(' ') => {
                if self.paused.is_some() {
                    self.paused = None;
                } else {
                    self.paused = Some(self.filtered.len());
                    self.follow = false;
                }
            }
            KeyCode::Char('f') => {
                self.paused = None;
                self.follow = true;
                self.refresh();
            }
            KeyCode::Char('t') => self.time_fmt = self.time_fmt.next(),
            KeyCode::Char(':') => self.goto = Some(String::new()),
            KeyCode::Char('o') if self.view == View::Sessions => {
                let keep = self.selected_session().map(|s| s.flow_id);
                self.session_sort = self.session_sort.next();
                if let Some(f) = keep {
                    self.select_session_flow(f);
                }
                let name = self.session_sort.name();
                self.set_status(format!("sessions sorted by {name}"), false);
            }
            KeyCode::Char('o') => self.col_chooser = Some(0),
            KeyCode::Char('c') => {
                let keep = self.selected_row();
                self.chunk_mode = !self.chunk_mode;
                self.chunk_rows.clear();
                self.chunk_upto = 0;
                self.refresh();
                if let Some(r) = keep {
                    self.select_row(r);
                }
            }
            KeyCode::Char('n') => self.jump_anomaly(true),
            KeyCode::Char('N') => self.jump_anomaly(false),
            KeyCode::Char('e') => self.ask_export(ExportKind::Ndjson),
            KeyCode::Char('p') => self.ask_export(ExportKind::Pcap),
            KeyCode::Char('P') => self.ask_export(ExportKind::PcapShown),
            KeyCode::Char('m') => self.ask_export(ExportKind::Media),
            KeyCode::Char('\\') => self.maximized = !self.maximized,
            KeyCode::Char('|') => self.hex_side = !self.hex_side,
            KeyCode::Char('r') => self.hex_relative = !self.hex_relative,
            KeyCode::Char('T') => self.show_tree = !self.show_tree,
            KeyCode::Char('X') => self.show_hex = !self.show_hex,
            KeyCode::Char('+') => self.table_pct = (self.table_pct + 5).min(85),
            KeyCode::Char('-') => self.table_pct = self.table_pct.saturating_sub(5).max(15),
            KeyCode::Tab => self.cycle_pane(true),
            KeyCode::BackTab => self.cycle_pane(false),
            KeyCode::Down | KeyCode::Char('j') => self.nav(1),
            KeyCode::Up | KeyCode::Char('k') => self.nav(-1),
            KeyCode::PageDown => self.nav(page),
            KeyCode::PageUp => self.nav(-page),
            KeyCode::Char('d') if ctrl => self.nav(page / 2),
            KeyCode::Char('u') if ctrl => self.nav(-page / 2),
            KeyCode::Char('g') | KeyCode::Home => self.nav(isize::MIN / 2),
            KeyCode::Char('G') | KeyCode::End => {
                self.nav(isize::MAX / 2);
                if self.view == View::Messages && self.pane == Pane::Table {
                    self.follow = true;
                }
            }
            KeyCode::Right | KeyCode::Char('l') => self.expand(true),
            KeyCode::Left | KeyCode::Char('h') => self.expand(false),
            KeyCode::Enter => self.enter(),
            KeyCode::Esc => self.escape(),
            _ => {}
        }
    }

    /// Selects the message completed by packet `n` (the `pcap_cnt` JSON
    /// prints), or the first one after it; outside the filter, the filter
    /// is cleared first (and the status says so).
    pub fn goto_packet(&mut self, n: u64) {
        let rows = &self.model.rows;
        // Rows are in completion order, which is packet order.
        let i = rows.partition_point(|r| r.pcap_cnt < n);
        let Some(r) = rows.get(i) else {
            return self.set_status(format!("no message at or after packet {n}"), true);
        };
        let (row, at) = (i as u32, r.pcap_cnt);
        let mut note = String::new();
        if self.filtered.binary_search(&row).is_err() {
            self.set_filter(Filter::default());
            self.drilled_from_session = false;
            note = " (filter cleared: the message was hidden by it)".into();
        }
        self.paused = None;
        self.follow = false;
        self.chunk_mode = false;
        self.select_row(row);
        self.view = View::Messages;
        self.pane = Pane::Table;
        let msg = if at == n {
            format!("packet {n}: message #{}{note}", row + 1)
        } else {
            format!("no message ends in packet {n}: next one, in packet {at}{note}")
        };
        self.set_status(msg, at != n);
    }

    /// Moves the message selection to the next (previous) message with a
    /// diagnostic or truncation.
    fn jump_anomaly(&mut self, fwd: bool) {
        if self.view != View::Messages || self.chunk_mode {
            return;
        }
        let n = self.visible_len();
        let bad = |i: usize| {
            self.filtered
                .get(i)
                .and_then(|&r| self.model.rows.get(r as usize))
                .is_some_and(|r| r.anomalies > 0 || r.truncated)
        };
        let found = if fwd {
            (self.msgs.sel + 1..n).find(|&i| bad(i))
        } else {
            (0..self.msgs.sel.min(n)).rev().find(|&i| bad(i))
        };
        match found {
            Some(i) => {
                self.msgs.sel = i;
                self.follow = false;
                self.pane = Pane::Table;
            }
            None => self.set_status("no further message with an anomaly", true),
        }
    }

    fn cycle_pane(&mut self, fwd: bool) {
        if self.view != View::Messages {
            let order = [
                View::Sessions,
                View::Messages,
                View::Stats,
                View::Anomalies,
                View::Flows,
            ];
            let i = order.iter().position(|v| *v == self.view).unwrap_or(0);
            self.view = order[(i + if fwd { 1 } else { order.len() - 1 }) % order.len()];
            return;
        }
        let mut panes = vec![Pane::Table];
        if self.show_tree {
            panes.push(Pane::Tree);
        }
        if self.show_hex {
            panes.push(Pane::Hex);
        }
        let i = panes.iter().position(|p| *p == self.pane).unwrap_or(0);
        let n = panes.len();
        self.pane = panes[(i + if fwd { 1 } else { n - 1 }) % n];
    }

    /// Moves the selection of the focused list.
    pub fn nav(&mut self, delta: isize) {
        match self.view {
            View::Sessions => self.sessions.move_by(delta, self.model.sessions.len()),
            View::Anomalies => self.anomalies.move_by(delta, self.model.anomalies.len()),
            View::Flows => self.flows.move_by(delta, self.model.flows.len()),
            View::Follow => {
                let n = self.dialogue.as_ref().map_or(0, |d| d.lines.len());
                self.dialogue_pos.move_by(delta, n);
            }
            View::Stats => self.sessions.move_by(delta, self.model.sessions.len()),
            View::Messages => match self.pane {
                Pane::Table => {
                    if self.chunk_mode {
                        let n = self.chunk_rows.len();
                        self.chunks.move_by(delta, n);
                        self.follow = self.chunks.sel + 1 >= n && delta > 0;
                        if let Some(&(r, _)) = self.chunk_rows.get(self.chunks.sel) {
                            if let Ok(i) = self.filtered.binary_search(&r) {
                                self.msgs.sel = i;
                            }
                        }
                    } else {
                        let n = self.visible_len();
                        self.msgs.move_by(delta, n);
                        self.follow = self.paused.is_none() && self.msgs.sel + 1 >= n && delta > 0;
                    }
                }
                Pane::Tree => {
                    self.ensure_tree();
                    let n = self
                        .tree
                        .as_ref()
                        .map(|(_, t)| t.visible().len())
                        .unwrap_or(0);
                    self.tree_pos.move_by(delta, n);
                    self.hex_follow_selection();
                }
                Pane::Hex => {
                    let total = self.hex_rows();
                    let t = self.hex_top as isize + delta;
                    self.hex_top = t.clamp(0, total.saturating_sub(1) as isize) as usize;
                }
            },
        }
    }

    /// Hex rows of the selected message.
    pub fn hex_rows(&self) -> usize {
        let Some(r) = self.selected_row() else {
            return 0;
        };
        let row = &self.model.rows[r as usize];
        let len = row.last_byte.saturating_sub(row.first_byte) + 1;
        len.div_ceil(self.layout.hex_bpr.max(1) as u64) as usize
    }

    fn expand(&mut self, open: bool) {
        if self.view == View::Messages && self.pane == Pane::Tree {
            self.ensure_tree();
            let sel = self.tree_pos.sel;
            if let Some((_, t)) = self.tree.as_mut() {
                let vis = t.visible();
                if let Some(&i) = vis.get(sel) {
                    t.set_collapsed(i, !open);
                }
            }
        } else if self.view == View::Messages && self.pane == Pane::Table && open {
            self.pane = Pane::Tree;
        }
    }

    fn enter(&mut self) {
        match self.view {
            View::Sessions | View::Stats => {
                if let Some(s) = self.selected_session() {
                    let n = s.session_id;
                    if let Ok(filter) = Filter::parse(&format!("session:{n}")) {
                        self.set_filter(filter);
                    }
                    self.view = View::Messages;
                    self.pane = Pane::Table;
                    self.drilled_from_session = true;
                    self.follow = false;
                    self.msgs = ListPos::default();
                }
            }
            View::Flows => {
                let Some(fl) = self.model.flows.get(self.flows.sel) else {
                    return;
                };
                let flow = fl.flow_id;
                match self.model.session_number(flow) {
                    Some(n) => {
                        if let Ok(filter) = Filter::parse(&format!("session:{n}")) {
                            self.set_filter(filter);
                        }
                        self.select_session_flow(flow);
                        self.view = View::Messages;
                        self.pane = Pane::Table;
                        self.drilled_from_session = true;
                        self.follow = false;
                        self.msgs = ListPos::default();
                    }
                    None => self.set_status(
                        format!("flow {flow} carries no RTMP session (see its classification)"),
                        true,
                    ),
                }
            }
            View::Anomalies => {
                let Some(a) = self.model.anomalies.get(self.anomalies.sel) else {
                    return;
                };
                let (msg, flow) = (a.msg, a.flow_id);
                match msg {
                    Some(r) => {
                        if !self
                            .filter
                            .matches(&self.model.rows[r as usize], &self.model)
                        {
                            let f = flow
                                .and_then(|f| self.model.session_number(f))
                                .map(|n| format!("session:{n}"))
                                .unwrap_or_default();
                            if let Ok(filter) = Filter::parse(&f) {
                                self.set_filter(filter);
                            }
                        }
                        self.paused = None;
                        self.follow = false;
                        self.select_row(r);
                        self.view = View::Messages;
                        self.pane = Pane::Table;
                    }
                    None => self.set_status("this anomaly is not inside a decoded message", true),
                }
            }
            View::Follow => {
                let Some(l) = self
                    .dialogue
                    .as_ref()
                    .and_then(|d| d.lines.get(self.dialogue_pos.sel))
                else {
                    return;
                };
                self.show_message(l.row());
            }
            View::Messages => match self.pane {
                Pane::Table => {
                    self.pane = if self.show_tree {
                        Pane::Tree
                    } else {
                        Pane::Hex
                    };
                }
                Pane::Tree => {
                    let sel = self.tree_pos.sel;
                    if let Some((_, t)) = self.tree.as_mut() {
                        let vis = t.visible();
                        if let Some(&i) = vis.get(sel) {
                            t.toggle(i);
                        }
                    }
                }
                Pane::Hex => {}
            },
        }
    }

    /// Opens the Follow view on the session being looked at (the selected
    /// session, message or flow).
    pub fn open_follow(&mut self) {
        let flow = if self.view == View::Flows {
            self.model.flows.get(self.flows.sel).map(|f| f.flow_id)
        } else if self.view == View::Follow {
            self.dialogue.as_ref().map(|d| d.flow)
        } else {
            self.current_flow()
        };
        let Some(flow) = flow else {
            return self.set_status("follow: select a session first", true);
        };
        if self.model.session_number(flow).is_none() {
            return self.set_status(format!("follow: flow {flow} carries no RTMP session"), true);
        }
        if self.dialogue.as_ref().map(|d| d.flow) != Some(flow) {
            let mut d = super::follow::Follow::new(flow);
            d.update(&self.model);
            // Start on the line of the selected message, if any.
            let at = (self.view == View::Messages)
                .then(|| self.selected_row())
                .flatten()
                .map(|r| d.lines.partition_point(|l| l.row() < r))
                .unwrap_or(0);
            self.dialogue_pos = ListPos { sel: at, top: 0 };
            self.dialogue = Some(d);
        }
        self.view = View::Follow;
    }

    /// Selects message `row` in the Messages view (clearing the filter,
    /// and saying so, if it hides the message).
    pub fn show_message(&mut self, row: u32) {
        let mut note = "";
        if self.filtered.binary_search(&row).is_err() {
            self.set_filter(Filter::default());
            self.drilled_from_session = false;
            note = " (filter cleared: it hid the message)";
        }
        self.paused = None;
        self.follow = false;
        self.chunk_mode = false;
        self.select_row(row);
        self.view = View::Messages;
        self.pane = Pane::Table;
        if !note.is_empty() {
            self.set_status(format!("message #{}{note}", row + 1), false);
        }
    }

    fn escape(&mut self) {
        if self.view == View::Messages {
            if self.pane != Pane::Table {
                self.pane = Pane::Table;
            } else if self.maximized {
                self.maximized = false;
            } else if self.drilled_from_session {
                self.drilled_from_session = false;
                self.set_filter(Filter::default());
                self.view = View::Sessions;
            } else {
                // A filter typed by hand stays applied.
                self.view = View::Sessions;
            }
        } else if self.view != View::Sessions {
            self.view = View::Sessions;
        }
    }

    /// Handles a mouse event (only delivered with `--mouse`).
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        let inside = |r: Rect| {
            m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height
        };
        match m.kind {
            MouseEventKind::ScrollDown => self.nav(3),
            MouseEventKind::ScrollUp => self.nav(-3),
            MouseEventKind::Down(_) => {
                if self.view == View::Messages {
                    if inside(self.layout.tree) {
                        self.pane = Pane::Tree;
                    } else if inside(self.layout.hex) {
                        self.pane = Pane::Hex;
                    } else if inside(self.layout.table) {
                        self.pane = Pane::Table;
                    } else {
                        return;
                    }
                }
                // Row under the pointer: table has a border and a header line.
                let area = match (self.view, self.pane) {
                    (View::Messages, Pane::Tree) => self.layout.tree,
                    (View::Messages, Pane::Hex) => return,
                    _ => self.layout.table,
                };
                let header = if matches!((self.view, self.pane), (View::Messages, Pane::Tree)) {
                    1
                } else {
                    2
                };
                if m.row < area.y + header || !inside(area) {
                    return;
                }
                let off = (m.row - area.y - header) as usize;
                let pos = match (self.view, self.pane) {
                    (View::Sessions, _) | (View::Stats, _) => &mut self.sessions,
                    (View::Anomalies, _) => &mut self.anomalies,
                    (View::Flows, _) => &mut self.flows,
                    (View::Follow, _) => &mut self.dialogue_pos,
                    (View::Messages, Pane::Tree) => &mut self.tree_pos,
                    (View::Messages, _) if self.chunk_mode => &mut self.chunks,
                    (View::Messages, _) => &mut self.msgs,
                };
                let target = pos.top + off;
                let cur = pos.sel as isize;
                self.nav(target as isize - cur);
            }
            _ => {}
        }
    }

    /// Writes the flow's NDJSON to `path`: with a capture file, exactly
    /// the lines `rtmpscope json -r FILE` writes for the flow (the file is
    /// decoded again on a thread); otherwise (live input) the messages held
    /// in memory, in the same line format, and the status says so.
    fn export_ndjson(&mut self, flow: u64, path: std::path::PathBuf) {
        let Some(file) = self.opts.file.clone() else {
            return match super::export::write_ndjson(&self.model, flow, &self.opts.source, &path) {
                Ok(n) => self.set_status(
                    format!(
                        "wrote {n} events of session {flow} to {} (from memory: a live \
                         input cannot be decoded again; evicted messages lack their body)",
                        path.display()
                    ),
                    false,
                ),
                Err(e) => self.set_status(format!("export failed: {e}"), true),
            };
        };
        let (tx, rx) = mpsc::channel();
        self.export_rx = Some(rx);
        self.set_status(
            format!("exporting flow {flow} to {} ...", path.display()),
            false,
        );
        let filter = self.opts.filter.clone();
        let redact = self.opts.redact;
        let config = self.opts.config.clone();
        std::thread::spawn(move || {
            let r = super::export::ndjson_from_file(&file, filter, config.clone(), redact, flow)
                .and_then(|bytes| {
                    std::fs::write(&path, &bytes)
                        .map(|_| bytes.iter().filter(|&&b| b == b'\n').count())
                        .map_err(|e| format!("{}: {e}", path.display()))
                })
                .map(|n| format!("wrote {n} lines of flow {flow} to {}", path.display()))
                .map_err(|e| format!("export failed: {e}"));
            let _ = tx.send(r);
        });
    }

    /// Opens the export path prompt for `kind` with its default path.
    fn ask_export(&mut self, kind: ExportKind) {
        let flow = match (kind, self.current_flow()) {
            (_, Some(f)) => f,
            (ExportKind::PcapShown, None) => 0,
            (_, None) => return self.set_status("no session selected to export", true),
        };
        let name = match kind {
            ExportKind::Ndjson => format!("rtmpscope-flow{flow}.ndjson"),
            ExportKind::Pcap => format!("rtmpscope-flow{flow}.pcap"),
            ExportKind::PcapShown => "rtmpscope-shown.pcap".to_string(),
            ExportKind::Media => format!("rtmpscope-flow{flow}-media"),
        };
        let text = self.opts.export_dir.join(name).display().to_string();
        self.prompt = Some(Prompt {
            kind,
            flow,
            text,
            confirm: None,
        });
    }

    /// Enter in the export prompt: never overwrites without a second Enter.
    fn prompt_enter(&mut self) {
        let Some(p) = self.prompt.as_mut() else {
            return;
        };
        let path = std::path::PathBuf::from(p.text.trim());
        if p.text.trim().is_empty() {
            return self.set_status("give a path to export to", true);
        }
        if path.exists() && p.confirm.as_deref() != Some(p.text.as_str()) {
            p.confirm = Some(p.text.clone());
            return self.set_status(
                format!(
                    "{} exists: Enter again overwrites it, Esc cancels, or edit the path",
                    path.display()
                ),
                true,
            );
        }
        let Some(p) = self.prompt.take() else { return };
        match p.kind {
            ExportKind::Ndjson => self.export_ndjson(p.flow, path),
            ExportKind::Pcap => self.export_pcap(p.flow, path),
            ExportKind::PcapShown => self.export_shown_pcap(path),
            ExportKind::Media => self.export_media(p.flow, path),
        }
    }

    /// Writes the selected session's media streams as FLV files (and
    /// sidecars) into `<export_dir>/rtmpscope-flow<N>-media/`, re-reading
    /// the capture file on a thread (`output::extract`).
    fn export_media(&mut self, flow: u64, dir: std::path::PathBuf) {
        let Some(file) = self.opts.file.clone() else {
            return self.set_status(
                "media export needs the capture file (live: use rtmpscope extract -i)",
                true,
            );
        };
        let (tx, rx) = mpsc::channel();
        self.export_rx = Some(rx);
        self.set_status(
            format!("exporting media of session {flow} to {} ...", dir.display()),
            false,
        );
        let filter = self.opts.filter.clone();
        let redact = self.opts.redact;
        let config = self.opts.config.clone();
        std::thread::spawn(move || {
            let opts = crate::output::extract::ExtractOptions {
                dir: dir.clone(),
                session: Some(flow),
                redact,
                ..Default::default()
            };
            let r = crate::output::extract::extract_file(&file, filter, config.clone(), opts)
                .map(|files| {
                    format!(
                        "wrote {} FLV file(s) of session {flow} to {}",
                        files.len(),
                        dir.display()
                    )
                })
                .map_err(|e| format!("media export failed: {e}"));
            let _ = tx.send(r);
        });
    }

    /// The stream bytes a pcap of the shown messages must carry: every
    /// shown message (the filter applied, up to the pause point), and for
    /// each flow they belong to the RTMP handshake and the protocol control
    /// messages (types 1-6: Set Chunk Size above all), without which the
    /// messages cannot be read again from the exported packets. Also
    /// returns the flows' endpoints (their SYN packets are kept too).
    pub fn shown_ranges(&self) -> (super::export::Ranges, Vec<crate::event::FlowInfo>) {
        use crate::rtmp::handshake::HANDSHAKE_TOTAL;
        let mut ranges = super::export::Ranges::new();
        let mut flows = std::collections::BTreeSet::new();
        for &r in &self.filtered[..self.visible_len()] {
            let row = &self.model.rows[r as usize];
            flows.insert(row.flow_id);
            ranges
                .entry((row.flow_id, row.dir))
                .or_default()
                .push((row.first_byte, row.last_byte.saturating_add(1)));
        }
        for row in &self.model.rows {
            if (1..=6).contains(&row.type_id) && flows.contains(&row.flow_id) {
                ranges
                    .entry((row.flow_id, row.dir))
                    .or_default()
                    .push((row.first_byte, row.last_byte.saturating_add(1)));
            }
        }
        let mut infos = Vec::new();
        for &f in &flows {
            for d in [
                crate::event::Direction::ToServer,
                crate::event::Direction::ToClient,
            ] {
                ranges
                    .entry((f, d))
                    .or_default()
                    .push((0, HANDSHAKE_TOTAL as u64));
            }
            if let Some(info) = self.model.flow(f).and_then(|s| s.info.clone()) {
                infos.push(info);
            }
        }
        super::export::normalize_ranges(&mut ranges);
        (ranges, infos)
    }

    /// Writes the packets of the shown messages (with their flows'
    /// handshake, control messages and SYNs) from the capture file to
    /// `path`, on a thread.
    fn export_shown_pcap(&mut self, path: std::path::PathBuf) {
        let Some(file) = self.opts.file.clone() else {
            return self.set_status(
                "pcap export needs the capture file (not available for live capture)",
                true,
            );
        };
        let shown = self.visible_len();
        if shown == 0 {
            return self.set_status("no shown message to export", true);
        }
        let (ranges, flows) = self.shown_ranges();
        let (tx, rx) = mpsc::channel();
        self.export_rx = Some(rx);
        let warn = self.raw_export_warning();
        self.set_status(
            format!(
                "exporting the packets of {shown} shown messages to {} ...{warn}",
                path.display()
            ),
            self.opts.redact,
        );
        let filter = self.opts.filter.clone();
        let config = self.opts.config.clone();
        std::thread::spawn(move || {
            let r = super::export::write_shown_pcap(&file, filter, config, &ranges, &flows, &path)
                .map(|w| {
                    let other = if w.other_linktype > 0 {
                        format!(
                            " ({} left out: another link type than the first packet's)",
                            w.other_linktype
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "wrote {} packets of {shown} shown messages (with their flows' \
                             handshake and control messages) to {}{other}{warn}",
                        w.packets,
                        path.display()
                    )
                })
                .map_err(|e| format!("pcap export failed: {e}"));
            let _ = tx.send(r);
        });
    }

    /// The status suffix of a pcap export: --redact covers what rtmpscope
    /// shows and writes from decoded events; a pcap is the raw packets,
    /// secrets included: say so.
    fn raw_export_warning(&self) -> &'static str {
        if self.opts.redact {
            " - NOT redacted: the raw packets contain the stream keys and tokens"
        } else {
            ""
        }
    }

    fn export_pcap(&mut self, flow: u64, path: std::path::PathBuf) {
        let Some(file) = self.opts.file.clone() else {
            return self.set_status(
                "pcap export needs the capture file (not available for live capture)",
                true,
            );
        };
        let Some(info) = self.model.flow(flow).and_then(|s| s.info.clone()) else {
            return self.set_status("pcap export: flow addresses unknown", true);
        };
        let (tx, rx) = mpsc::channel();
        self.export_rx = Some(rx);
        let warn = self.raw_export_warning();
        self.set_status(
            format!("exporting flow {flow} to {} ...{warn}", path.display()),
            self.opts.redact,
        );
        std::thread::spawn(move || {
            let r = super::export::write_pcap(&file, &info, &path)
                .map(|n| {
                    format!(
                        "wrote {n} packets of flow {flow} to {}{warn}",
                        path.display()
                    )
                })
                .map_err(|e| format!("pcap export failed: {e}"));
            let _ = tx.send(r);
        });
    }
}
