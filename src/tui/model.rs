//! The TUI's view of the event stream: compact per-message rows, sessions
//! (one per RTMP connection) with per-stream statistics, and anomalies.
//!
//! Contract: [`Model::ingest`] takes events in stream order and never
//! panics. Memory is bounded per message: media rows are compact (no payload,
//! no decoded tree); full decoded [`Message`]s are kept for at most
//! [`MAX_FULL_OTHER`] non-media and [`MAX_FULL_MEDIA`] media messages (the
//! oldest are dropped first). Per-stream time series keep at most
//! [`MAX_STAT_BINS`] one-second bins. All timing is packet time.

use std::collections::{HashMap, VecDeque};

use super::sanitize::{clean, truncate};
use super::summary::{self, Kind};
use crate::event::{Anomaly, ByteRange, Direction, Event, EventKind, FlowId, FlowInfo, Severity};
use crate::redact::Redactor;
use crate::rtmp::message::{Body, Control, Message};
pub use crate::session::Session;
use crate::session::SessionTracker;
use crate::time::PacketTime;

/// Full decoded media messages kept (for the detail tree / chunk view).
pub const MAX_FULL_MEDIA: usize = 20_000;
/// Full decoded non-media messages kept.
pub const MAX_FULL_OTHER: usize = 500_000;
/// Messages decoded again from the capture file (on demand, see
/// `tui::reload`) kept besides the ones above.
pub const MAX_RELOADED: usize = 4_096;
/// One-second bins kept per stream for the stats view.
pub const MAX_STAT_BINS: usize = 3_600;
/// Streams tracked per session.
pub const MAX_STREAMS_PER_SESSION: usize = 64;
/// Anomalies waiting for the message that contains their byte range.
pub const MAX_PENDING_ANOMALIES: usize = 1_024;
/// Anomaly rows kept (further ones are only counted).
pub const MAX_ANOMALY_ROWS: usize = 200_000;
/// Distinct codec names interned.
pub const MAX_CODECS: usize = 255;

/// Compact summary: text for non-media, fields for media.
#[derive(Clone, Debug)]
pub enum Summary {
    Text(Box<str>),
    Media {
        video: bool,
        codec: u8,
        keyframe: bool,
        packet: Option<&'static str>,
    },
}

/// One message in the table (compact: about 100 bytes).
#[derive(Clone, Debug)]
pub struct MsgRow {
    pub flow_id: FlowId,
    pub pcap_cnt: u64,
    pub time: PacketTime,
    pub first_byte: u64,
    pub last_byte: u64,
    pub csid: u32,
    pub msid: u32,
    /// The message stream id was never on the wire (mid-stream pickup).
    pub msid_unknown: bool,
    pub timestamp: u32,
    /// The timestamp is an estimate (capture loss; `~` in the list).
    pub ts_estimated: bool,
    /// RTMP timestamp minus the previous message's on the same flow,
    /// direction and chunk stream (None for the first one).
    pub ts_delta: Option<i32>,
    pub length: u32,
    pub chunks: u32,
    pub anomalies: u16,
    pub type_id: u8,
    pub fmt: u8,
    pub dir: Direction,
    pub kind: Kind,
    pub truncated: bool,
    pub summary: Summary,
}

/// Lifecycle state of a session, derived from the session model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Handshake,
    Connected,
    Publishing,
    Playing,
    Closed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Handshake => "handshake",
            SessionState::Connected => "connected",
            SessionState::Publishing => "publishing",
            SessionState::Playing => "playing",
            SessionState::Closed => "closed",
        }
    }
}

/// Display helpers over the crate's one session model
/// ([`crate::session::Session`], built by [`SessionTracker`]).
pub mod sess {
    use super::SessionState;
    use crate::session::Session;

    /// Derived lifecycle state.
    pub fn state(s: &Session) -> SessionState {
        if s.end_reason.is_some() {
            return SessionState::Closed;
        }
        let live = |role: &str| {
            s.streams
                .iter()
                .any(|st| !st.deleted && st.role.as_deref() == Some(role))
        };
        if live("publish") {
            SessionState::Publishing
        } else if live("play") {
            SessionState::Playing
        } else if s.messages.to_server + s.messages.to_client > 0 {
            SessionState::Connected
        } else {
            SessionState::Handshake
        }
    }

    /// RTMPE (C0/S0 version 6 or 8, or the flow was classified encrypted).
    pub fn encrypted(s: &Session) -> bool {
        matches!(s.handshake.c0_version, Some(6) | Some(8))
            || matches!(s.handshake.s0_version, Some(6) | Some(8))
            || s.protocol == Some(crate::vocab::FlowProtocol::RtmpEncrypted)
    }

    /// `client:port -> server:port`.
    pub fn endpoints(s: &Session) -> String {
        let ep = |e: &Option<crate::session::Endpoint>| match e {
            Some(e) if e.ip.contains(':') => format!("[{}]:{}", e.ip, e.port),
            Some(e) => format!("{}:{}", e.ip, e.port),
            None => "?".into(),
        };
        format!("{} -> {}", ep(&s.client), ep(&s.server))
    }

    /// Distinct codecs of all streams, e.g. `avc1/mp4a`.
    pub fn codecs(s: &Session) -> String {
        let mut v: Vec<&str> = Vec::new();
        for st in &s.streams {
            for c in [&st.video.codec, &st.audio.codec].into_iter().flatten() {
                if !v.contains(&c.as_str()) {
                    v.push(c);
                }
            }
        }
        super::clean(&v.join("/"))
    }

    /// Stream names with role, e.g. `key(publish)`.
    pub fn streams(s: &Session) -> String {
        let v: Vec<String> = s
            .streams
            .iter()
            .filter(|st| st.name.is_some() || st.role.is_some())
            .map(|st| {
                format!(
                    "{}({}{})",
                    super::truncate(&super::clean(st.name.as_deref().unwrap_or("")), 48),
                    st.role.as_deref().unwrap_or("?"),
                    if st.role_inferred { "?" } else { "" }
                )
            })
            .collect();
        v.join(", ")
    }

    /// Total anomalies.
    pub fn anomalies(s: &Session) -> u64 {
        s.anomalies.values().sum()
    }

    pub fn messages(s: &Session) -> u64 {
        s.messages.to_server + s.messages.to_client
    }
}

/// One second of a stream's media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bin {
    pub sec: i64,
    pub audio_bytes: u64,
    pub video_bytes: u64,
    pub video_frames: u32,
}

/// Per-msid media time series of a flow (the session model keeps totals,
/// the TUI keeps these one-second bins for charts).
#[derive(Clone, Debug)]
pub struct Series {
    pub msid: u32,
    pub bins: VecDeque<Bin>,
}

impl Series {
    fn bin(&mut self, sec: i64) -> &mut Bin {
        if self.bins.back().is_none_or(|b| b.sec < sec) {
            // Fill skipped seconds with empty bins so charts show silence.
            let start = self
                .bins
                .back()
                .map(|b| (b.sec + 1).max(sec - MAX_STAT_BINS as i64))
                .unwrap_or(sec);
            for s in start..=sec {
                self.bins.push_back(Bin {
                    sec: s,
                    ..Bin::default()
                });
            }
            while self.bins.len() > MAX_STAT_BINS {
                self.bins.pop_front();
            }
        }
        let idx = self
            .bins
            .iter()
            .rposition(|b| b.sec <= sec)
            .unwrap_or(self.bins.len() - 1);
        &mut self.bins[idx]
    }
}

/// Closed sessions the TUI keeps (the newest); older ones are dropped and
/// counted in [`Model::sessions_dropped`] (per-flow state budget: a capture
/// of a million short sessions must not exhaust memory).
pub const MAX_SESSIONS: usize = 5_000;
/// Ended flows whose live facts ([`FlowLive`]) the TUI keeps; older ones
/// are dropped and counted in [`Model::flows_dropped`].
pub const MAX_ENDED_FLOWS: usize = 5_000;

/// TUI-side live facts of one flow that the session model does not keep.
#[derive(Clone, Debug)]
pub struct FlowLive {
    pub flow_id: FlowId,
    /// The flow ended (its entry may be dropped under the budget).
    pub ended: bool,
    pub info: Option<FlowInfo>,
    /// Stream bytes seen per direction (highest message end offset + 1).
    pub stream_bytes: [u64; 2],
    /// Last Acknowledgement sequence sent in each direction.
    pub last_ack: [Option<u32>; 2],
    pub series: Vec<Series>,
    /// The flow record once the flow ended (classification, counters).
    pub end: Option<Box<crate::event::FlowEnd>>,
}

impl FlowLive {
    fn series(&mut self, msid: u32) -> Option<&mut Series> {
        if let Some(i) = self.series.iter().position(|s| s.msid == msid) {
            return self.series.get_mut(i);
        }
        if self.series.len() >= MAX_STREAMS_PER_SESSION {
            return None;
        }
        self.series.push(Series {
            msid,
            bins: VecDeque::new(),
        });
        self.series.last_mut()
    }

    /// Bins of the given msids summed per second (last `max` seconds).
    pub fn bins_for(&self, msids: &[u32], max: usize) -> Vec<Bin> {
        let mut out: std::collections::BTreeMap<i64, Bin> = std::collections::BTreeMap::new();
        for s in self.series.iter().filter(|s| msids.contains(&s.msid)) {
            for b in s.bins.iter().rev().take(max) {
                let e = out.entry(b.sec).or_insert(Bin {
                    sec: b.sec,
                    ..Bin::default()
                });
                e.audio_bytes += b.audio_bytes;
                e.video_bytes += b.video_bytes;
                e.video_frames += b.video_frames;
            }
        }
        let v: Vec<Bin> = out.into_values().collect();
        let skip = v.len().saturating_sub(max);
        v[skip..].to_vec()
    }

    /// Live bitrate: sum over series of the last complete second.
    pub fn bitrate_bps(&self) -> u64 {
        self.series
            .iter()
            .map(|s| {
                let n = s.bins.len();
                let b = if n >= 2 {
                    s.bins.get(n - 2)
                } else {
                    s.bins.back()
                };
                b.map(|b| (b.audio_bytes + b.video_bytes) * 8).unwrap_or(0)
            })
            .sum()
    }
}

/// A diagnostic (or a gap) with its location.
#[derive(Clone, Debug)]
pub struct AnomalyRow {
    pub pcap_cnt: u64,
    pub time: PacketTime,
    pub flow_id: Option<FlowId>,
    pub dir: Option<Direction>,
    pub name: &'static str,
    pub severity: Severity,
    pub range: Option<ByteRange>,
    pub detail: Box<str>,
    /// Index of the message row the range falls in, once known.
    pub msg: Option<u32>,
}

/// Capture-level counters shown in the status bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub packets: u64,
    pub bytes: u64,
    pub kernel_dropped: Option<u64>,
}

/// Everything the UI knows.
#[derive(Debug, Default)]
pub struct Model {
    pub redact: bool,
    pub rows: Vec<MsgRow>,
    /// Full decoded messages by row (None when not kept / evicted).
    full: Vec<Option<Box<Message>>>,
    full_media: VecDeque<u32>,
    full_other: VecDeque<u32>,
    /// Caps of the full-message cache (media, other); `None`:
    /// [`MAX_FULL_MEDIA`], [`MAX_FULL_OTHER`] (tests set small ones).
    pub full_caps: Option<(usize, usize)>,
    /// Messages decoded again from the capture file, by row (bounded by
    /// [`MAX_RELOADED`], oldest first out).
    reloaded: HashMap<u32, Box<Message>>,
    reloaded_order: VecDeque<u32>,
    /// Sessions (RTMP flows) in session-number order (first seen, the
    /// number every output shows): a snapshot of the tracker.
    pub sessions: Vec<Session>,
    /// Index into [`Model::sessions`] by flow id.
    session_idx: HashMap<FlowId, usize>,
    /// Session number by flow id, assigned as events arrive (the same rule
    /// as [`crate::session::Session::session_id`]).
    session_numbers: HashMap<FlowId, u64>,
    tracker: SessionTracker,
    sessions_dirty: bool,
    redactor: Option<Redactor>,
    pub flows: Vec<FlowLive>,
    flow_idx: HashMap<FlowId, usize>,
    ended_flows: usize,
    /// Closed sessions and ended flows dropped under [`MAX_SESSIONS`] /
    /// [`MAX_ENDED_FLOWS`].
    pub sessions_dropped: u64,
    pub flows_dropped: u64,
    pub anomalies: Vec<AnomalyRow>,
    pub anomalies_dropped: u64,
    pending: VecDeque<u32>,
    /// Message rows per (flow, direction), in completion order.
    by_flow_dir: HashMap<(FlowId, Direction), Vec<u32>>,
    codecs: Vec<String>,
    /// Last RTMP timestamp per (flow, direction, csid), for `ts_delta`.
    last_ts: HashMap<(FlowId, Direction, u32), u32>,
    pub t0: Option<PacketTime>,
    pub progress: Progress,
    pub gaps: u64,
    pub done: bool,
    pub final_stats: Option<crate::event::Stats>,
}

impl Model {
    pub fn new(redact: bool) -> Self {
        Model {
            redact,
            redactor: redact.then(Redactor::new),
            ..Model::default()
        }
    }

    /// Refreshes [`Model::sessions`] from the tracker if events came in.
    pub fn sync_sessions(&mut self) {
        if self.sessions_dirty {
            let mut v = self.tracker.snapshot();
            v.sort_by_key(|s| s.session_id);
            self.session_idx = v.iter().enumerate().map(|(i, s)| (s.flow_id, i)).collect();
            self.sessions = v;
            self.sessions_dirty = false;
        }
    }

    /// Whether events arrived since the last [`Model::sync_sessions`].
    pub fn sessions_dirty(&self) -> bool {
        self.sessions_dirty
    }

    /// Codec name of an interned index.
    pub fn codec_name(&self, i: u8) -> &str {
        self.codecs
            .get(i as usize)
            .map(|s| s.as_str())
            .unwrap_or("?")
    }

    fn intern_codec(&mut self, c: &str) -> u8 {
        if let Some(i) = self.codecs.iter().position(|x| x == c) {
            return i as u8;
        }
        if self.codecs.len() >= MAX_CODECS {
            return u8::MAX;
        }
        self.codecs.push(clean(c));
        (self.codecs.len() - 1) as u8
    }

    /// Summary text of a row (built on the fly for media rows).
    pub fn summary(&self, r: &MsgRow) -> String {
        let mut s = String::with_capacity(32);
        self.write_summary(r, &mut s);
        s
    }

    /// Appends the summary text of a row to `out`.
    fn write_summary(&self, r: &MsgRow, out: &mut String) {
        match &r.summary {
            Summary::Text(t) => out.push_str(t),
            Summary::Media {
                video,
                codec,
                keyframe,
                packet,
            } => {
                summary::write_media_summary(
                    out,
                    *video,
                    self.codec_name(*codec),
                    *keyframe,
                    *packet,
                    r.length,
                );
                if r.truncated {
                    out.push_str(" [truncated]");
                }
            }
        }
    }

    /// Lower-case summary of a row into `out` (cleared first): the filter's
    /// text matching, without allocating per row.
    pub fn summary_lower_into(&self, r: &MsgRow, out: &mut String) {
        out.clear();
        self.write_summary(r, out);
        if out.is_ascii() {
            out.make_ascii_lowercase();
        } else {
            *out = out.to_lowercase();
        }
    }

    /// Full decoded message of a row, if still kept (or decoded again
    /// from the capture file).
    pub fn full(&self, row: usize) -> Option<&Message> {
        self.full
            .get(row)
            .and_then(|m| m.as_deref())
            .or_else(|| self.reloaded.get(&(row as u32)).map(|m| &**m))
    }

    /// Keeps a message of `row` decoded again from the capture file (an
    /// event of the same analyzer on the same input; redacted here like
    /// every ingested event). Ignored when it is not that row's message.
    pub fn put_reloaded(&mut self, row: u32, ev: Event) {
        let ev = match &mut self.redactor {
            Some(r) => r.redact_event(&ev),
            None => ev,
        };
        let EventKind::Message(m) = ev.kind else {
            return;
        };
        let Some(r) = self.rows.get(row as usize) else {
            return;
        };
        if r.first_byte != m.first_byte || r.last_byte != m.last_byte || r.type_id != m.type_id {
            return;
        }
        if self.reloaded.insert(row, m).is_none() {
            self.reloaded_order.push_back(row);
        }
        while self.reloaded_order.len() > MAX_RELOADED {
            if let Some(old) = self.reloaded_order.pop_front() {
                self.reloaded.remove(&old);
            }
        }
    }

    /// Session (model) of a flow, from the last snapshot.
    pub fn session(&self, flow: FlowId) -> Option<&Session> {
        self.session_idx
            .get(&flow)
            .and_then(|&i| self.sessions.get(i))
    }

    /// Session number of a flow (None until it shows RTMP).
    pub fn session_number(&self, flow: FlowId) -> Option<u64> {
        self.session_numbers.get(&flow).copied()
    }

    /// Flow id of session number `n`.
    pub fn session_flow(&self, n: u64) -> Option<FlowId> {
        self.session_numbers
            .iter()
            .find(|(_, &v)| v == n)
            .map(|(&f, _)| f)
    }

    /// TUI-side live facts of a flow.
    pub fn flow(&self, flow: FlowId) -> Option<&FlowLive> {
        self.flow_idx.get(&flow).and_then(|&i| self.flows.get(i))
    }

    fn flow_mut(&mut self, flow: FlowId) -> &mut FlowLive {
        let i = match self.flow_idx.get(&flow) {
            Some(&i) => i,
            None => {
                self.flows.push(FlowLive {
                    flow_id: flow,
                    ended: false,
                    info: None,
                    stream_bytes: [0; 2],
                    last_ack: [None; 2],
                    series: Vec::new(),
                    end: None,
                });
                let i = self.flows.len() - 1;
                self.flow_idx.insert(flow, i);
                i
            }
        };
        &mut self.flows[i]
    }

    /// Drops the oldest ended flows' live facts down to [`MAX_ENDED_FLOWS`].
    fn drop_ended_flows(&mut self) {
        let mut excess = self.ended_flows.saturating_sub(MAX_ENDED_FLOWS);
        let before = self.flows.len();
        self.flows.retain(|f| {
            if f.ended && excess > 0 {
                excess -= 1;
                false
            } else {
                true
            }
        });
        let dropped = before - self.flows.len();
        self.ended_flows -= dropped;
        self.flows_dropped += dropped as u64;
        self.flow_idx = self
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.flow_id, i))
            .collect();
    }

    /// Rough bytes held by the model (rows, kept messages, anomalies).
    pub fn memory_estimate(&self) -> usize {
        let rows = self.rows.capacity() * std::mem::size_of::<MsgRow>()
            + self
                .rows
                .iter()
                .rev()
                .take(1000)
                .map(|r| match &r.summary {
                    Summary::Text(t) => t.len(),
                    _ => 0,
                })
                .sum::<usize>()
                * self.rows.len()
                / self.rows.len().clamp(1, 1000);
        let full = (self.full_media.len() + self.full_other.len()) * 600 + self.full.capacity() * 8;
        let an = self.anomalies.capacity() * std::mem::size_of::<AnomalyRow>();
        let idx = self.rows.len() * 4;
        rows + full + an + idx
    }

    /// Row that contains stream offset `off` of `(flow, dir)`.
    pub fn row_at_offset(&self, flow: FlowId, dir: Direction, off: u64) -> Option<u32> {
        let v = self.by_flow_dir.get(&(flow, dir))?;
        let i = v.partition_point(|&r| self.rows[r as usize].last_byte < off);
        let r = *v.get(i)?;
        (self.rows[r as usize].first_byte <= off).then_some(r)
    }

    /// Takes one event.
    pub fn ingest(&mut self, ev: Event) {
        // Redaction happens once, here: everything downstream (summaries,
        // detail tree, sessions, exports) sees the redacted event.
        let ev = match &mut self.redactor {
            Some(r) => r.redact_event(&ev),
            None => ev,
        };
        self.tracker.handle(&ev);
        self.sessions_dirty = true;
        if let (Some(f), EventKind::Handshake(_) | EventKind::Message(_)) = (ev.flow_id, &ev.kind) {
            let next = self.session_numbers.len() as u64 + 1;
            self.session_numbers.entry(f).or_insert(next);
        }
        if let (EventKind::FlowEnd(_), Some(f)) = (&ev.kind, ev.flow_id) {
            self.sessions_dropped += self.tracker.trim_finished(MAX_SESSIONS) as u64;
            self.last_ts.retain(|k, _| k.0 != f);
            let f = self.flow_mut(f);
            if !f.ended {
                f.ended = true;
                self.ended_flows += 1;
            }
            if self.ended_flows > MAX_ENDED_FLOWS + MAX_ENDED_FLOWS / 4 {
                self.drop_ended_flows();
            }
        }
        if self.t0.is_none() && ev.time != PacketTime::default() {
            self.t0 = Some(ev.time);
        }
        match ev.kind {
            EventKind::FlowStart(info) => {
                let f = info.flow_id;
                self.flow_mut(f).info = Some(info);
            }
            EventKind::FlowEnd(e) => {
                if let Some(f) = ev.flow_id {
                    self.flow_mut(f).end = Some(Box::new(e));
                }
            }
            EventKind::Handshake(_) | EventKind::Tls(_) => {}
            EventKind::Message(m) => self.ingest_message(ev.pcap_cnt, ev.flow_id, ev.direction, m),
            EventKind::Gap(g) => {
                self.gaps += 1;
                // A row for the gap event (not an anomaly of the registry).
                let a = Anomaly {
                    name: "gap",
                    severity: Severity::Error,
                    range: Some(ByteRange::new(g.offset, g.offset.saturating_add(g.len))),
                    detail: format!("{} bytes lost at offset {}", g.len, g.offset),
                    suppressed: None,
                };
                self.push_anomaly(ev.pcap_cnt, ev.time, ev.flow_id, ev.direction, a, false);
            }
            EventKind::Anomaly(a) => {
                // Gaps counted but not written (rate limit) still count.
                if let Some(x) = a.suppressed.filter(|x| x.name == "gap") {
                    self.gaps += x.count;
                }
                if !self.fold_into_loss(ev.flow_id, ev.direction, &a) {
                    self.push_anomaly(ev.pcap_cnt, ev.time, ev.flow_id, ev.direction, a, true);
                }
            }
            EventKind::Stats(st) => {
                self.progress.packets = self.progress.packets.max(st.packets);
                self.progress.bytes = self.progress.bytes.max(st.bytes);
                if st.kernel_dropped.is_some() {
                    self.progress.kernel_dropped = st.kernel_dropped;
                }
                self.final_stats = Some(st);
            }
        }
    }

    /// One loss, one row: a `tcp.seq_gap`, `rtmp.gap_truncated` or
    /// `rtmp.resync` about a gap already listed is folded into that gap's
    /// row (its detail says what the gap cut and where decoding resumed)
    /// instead of a row of its own. Returns true when folded.
    fn fold_into_loss(
        &mut self,
        flow: Option<FlowId>,
        dir: Option<Direction>,
        a: &Anomaly,
    ) -> bool {
        let (Some(r), Some(_)) = (a.range, flow) else {
            return false;
        };
        let at = match a.name {
            "tcp.seq_gap" | "rtmp.resync" => r.start,
            "rtmp.gap_truncated" => r.end,
            _ => return false,
        };
        let Some(row) = self.anomalies.iter_mut().rev().take(16).find(|x| {
            x.name == "gap"
                && x.flow_id == flow
                && x.dir == dir
                && x.range.map(|g| g.start) == Some(at)
        }) else {
            return false;
        };
        let mut d = row.detail.to_string();
        match a.name {
            "rtmp.gap_truncated" => {
                let what = a.detail.split(" cut by").next().unwrap_or("");
                d.push_str(&format!("; cut {}", clean(what)));
                if row.severity < a.severity {
                    row.severity = a.severity;
                }
            }
            "rtmp.resync" => d.push_str(&format!("; resynchronised at {}", r.end)),
            _ => {}
        }
        row.detail = d.into_boxed_str();
        true
    }

    fn push_anomaly(
        &mut self,
        pcap_cnt: u64,
        time: PacketTime,
        flow: Option<FlowId>,
        dir: Option<Direction>,
        a: Anomaly,
        mark: bool,
    ) {
        if self.anomalies.len() >= MAX_ANOMALY_ROWS {
            self.anomalies_dropped += 1;
            return;
        }
        let msg = match (flow, dir, a.range) {
            (Some(f), Some(d), Some(r)) => self.row_at_offset(f, d, r.start),
            _ => None,
        };
        if let (Some(m), true) = (msg, mark) {
            if let Some(row) = self.rows.get_mut(m as usize) {
                row.anomalies = row.anomalies.saturating_add(1);
            }
        }
        self.anomalies.push(AnomalyRow {
            pcap_cnt,
            time,
            flow_id: flow,
            dir,
            name: a.name,
            severity: a.severity,
            range: a.range,
            detail: clean(&a.detail).into_boxed_str(),
            msg,
        });
        if msg.is_none() && mark && flow.is_some() && dir.is_some() && a.range.is_some() {
            self.pending.push_back((self.anomalies.len() - 1) as u32);
            while self.pending.len() > MAX_PENDING_ANOMALIES {
                self.pending.pop_front();
            }
        }
    }

    fn ingest_message(
        &mut self,
        pcap_cnt: u64,
        flow: Option<FlowId>,
        dir: Option<Direction>,
        m: Box<Message>,
    ) {
        let flow_id = flow.unwrap_or(0);
        let dir = dir.unwrap_or(Direction::ToServer);
        let kind = Kind::of_type(m.type_id);
        let summary = match &m.body {
            Body::Video(v) if m.truncated.is_none() => Summary::Media {
                video: true,
                codec: self.intern_codec(&v.codec),
                keyframe: v.keyframe,
                packet: v.packet,
            },
            Body::Audio(a) if m.truncated.is_none() => Summary::Media {
                video: false,
                codec: self.intern_codec(&a.codec),
                keyframe: false,
                packet: a.packet,
            },
            _ => Summary::Text(summary::summarize(&m).into_boxed_str()),
        };
        let row_idx = self.rows.len() as u32;
        let ts_delta = self
            .last_ts
            .insert((flow_id, dir, m.csid), m.timestamp)
            .map(|prev| {
                (m.timestamp as i64 - prev as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32
            });
        self.rows.push(MsgRow {
            flow_id,
            pcap_cnt,
            time: m.time,
            first_byte: m.first_byte,
            last_byte: m.last_byte,
            csid: m.csid,
            msid: m.msid,
            msid_unknown: m.msid_unknown,
            timestamp: m.timestamp,
            ts_estimated: m.timestamp_estimate.is_some(),
            ts_delta,
            length: m.length,
            chunks: m.chunk_count(),
            anomalies: 0,
            type_id: m.type_id,
            fmt: m.fmt,
            dir,
            kind,
            truncated: m.truncated.is_some(),
            summary,
        });
        self.by_flow_dir
            .entry((flow_id, dir))
            .or_default()
            .push(row_idx);
        self.session_update(flow_id, dir, &m);
        // Resolve anomalies that arrived before this message.
        let (fb, lb) = (m.first_byte, m.last_byte);
        let mut hits = 0u16;
        self.pending.retain(|&ai| {
            let Some(a) = self.anomalies.get_mut(ai as usize) else {
                return false;
            };
            if a.flow_id != Some(flow_id) || a.dir != Some(dir) {
                return true;
            }
            let Some(r) = a.range else { return false };
            if r.start >= fb && r.start <= lb {
                a.msg = Some(row_idx);
                hits = hits.saturating_add(1);
                false
            } else {
                r.start > lb
            }
        });
        if let Some(r) = self.rows.last_mut() {
            r.anomalies = hits;
        }
        // Keep the full message, bounded.
        self.full.push(Some(m));
        let (cap_media, cap_other) = self.full_caps.unwrap_or((MAX_FULL_MEDIA, MAX_FULL_OTHER));
        let (q, cap) = if kind.is_media() {
            (&mut self.full_media, cap_media)
        } else {
            (&mut self.full_other, cap_other)
        };
        q.push_back(row_idx);
        while q.len() > cap {
            if let Some(old) = q.pop_front() {
                if let Some(slot) = self.full.get_mut(old as usize) {
                    *slot = None;
                }
            }
        }
    }

    fn session_update(&mut self, flow: FlowId, dir: Direction, m: &Message) {
        let s = self.flow_mut(flow);
        let d = dir.index();
        s.stream_bytes[d] = s.stream_bytes[d].max(m.last_byte.saturating_add(1));
        let sec = m.time.sec;
        match &m.body {
            Body::Control(Control::Acknowledgement { sequence }) => s.last_ack[d] = Some(*sequence),
            Body::Video(_) => {
                if let Some(st) = s.series(m.msid) {
                    let b = st.bin(sec);
                    b.video_bytes += m.length as u64;
                    b.video_frames += 1;
                }
            }
            Body::Audio(_) => {
                if let Some(st) = s.series(m.msid) {
                    st.bin(sec).audio_bytes += m.length as u64;
                }
            }
            Body::Aggregate(subs) => {
                // Media inside an aggregate counts for the parent's stream.
                if let Some(st) = s.series(m.msid) {
                    let b = st.bin(sec);
                    for sub in subs {
                        match sub.type_id {
                            8 => b.audio_bytes += sub.length as u64,
                            9 => {
                                b.video_bytes += sub.length as u64;
                                b.video_frames += 1;
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
