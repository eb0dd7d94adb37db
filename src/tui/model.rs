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

use super::redact;
use super::sanitize::{clean, clean_amf, truncate};
use super::summary::{self, Kind};
use crate::event::{
    Anomaly, ByteRange, Direction, Event, EventKind, FlowId, FlowInfo, FlowProtocol, Severity,
};
use crate::rtmp::handshake::HandshakePart;
use crate::rtmp::message::{Body, CommandInfo, Control, Message};
use crate::time::PacketTime;

/// Full decoded media messages kept (for the detail tree / chunk view).
pub const MAX_FULL_MEDIA: usize = 20_000;
/// Full decoded non-media messages kept.
pub const MAX_FULL_OTHER: usize = 500_000;
/// One-second bins kept per stream for the stats view.
pub const MAX_STAT_BINS: usize = 3_600;
/// Streams tracked per session.
pub const MAX_STREAMS_PER_SESSION: usize = 64;
/// Anomalies waiting for the message that contains their byte range.
pub const MAX_PENDING_ANOMALIES: usize = 1_024;
/// Anomaly rows kept (further ones are only counted).
pub const MAX_ANOMALY_ROWS: usize = 1_000_000;
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
    pub timestamp: u32,
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

/// Lifecycle state of a session.
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

/// Publish or play.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Publish,
    Play,
    Unknown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publish => "publish",
            Role::Play => "play",
            Role::Unknown => "?",
        }
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

/// One message stream (msid) of a session.
#[derive(Clone, Debug)]
pub struct StreamStats {
    pub msid: u32,
    pub name: String,
    pub role: Role,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub video_frames: u64,
    pub audio_frames: u64,
    pub video_bytes: u64,
    pub audio_bytes: u64,
    pub keyframes: u64,
    pub last_keyframe_ts: Option<u32>,
    /// RTMP-timestamp interval between the last two keyframes (ms).
    pub keyframe_interval_ms: Option<u32>,
    pub last_video_ts: Option<u32>,
    pub last_audio_ts: Option<u32>,
    pub first_video: Option<(PacketTime, u32)>,
    pub last_video: Option<(PacketTime, u32)>,
    pub bins: VecDeque<Bin>,
}

impl StreamStats {
    fn new(msid: u32) -> Self {
        StreamStats {
            msid,
            name: String::new(),
            role: Role::Unknown,
            video_codec: None,
            audio_codec: None,
            video_frames: 0,
            audio_frames: 0,
            video_bytes: 0,
            audio_bytes: 0,
            keyframes: 0,
            last_keyframe_ts: None,
            keyframe_interval_ms: None,
            last_video_ts: None,
            last_audio_ts: None,
            first_video: None,
            last_video: None,
            bins: VecDeque::new(),
        }
    }

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

    /// Average video frame rate over the stream's packet-time span.
    pub fn fps(&self) -> Option<f64> {
        let (t0, _) = self.first_video?;
        let (t1, _) = self.last_video?;
        let dt = t1.nanos_since(t0) as f64 / 1e9;
        if dt <= 0.0 || self.video_frames < 2 {
            return None;
        }
        Some((self.video_frames - 1) as f64 / dt)
    }

    /// Video timestamp minus audio timestamp of the latest frames (ms).
    pub fn av_drift_ms(&self) -> Option<i64> {
        Some(self.last_video_ts? as i64 - self.last_audio_ts? as i64)
    }

    /// Bits per second over the last complete second.
    pub fn bitrate_bps(&self) -> u64 {
        let n = self.bins.len();
        let b = if n >= 2 {
            self.bins.get(n - 2)
        } else {
            self.bins.back()
        };
        b.map(|b| (b.audio_bytes + b.video_bytes) * 8).unwrap_or(0)
    }
}

/// One RTMP connection.
#[derive(Clone, Debug)]
pub struct Session {
    pub flow_id: FlowId,
    pub info: Option<FlowInfo>,
    pub app: Option<String>,
    pub tc_url: Option<String>,
    pub state: SessionState,
    pub protocol: Option<FlowProtocol>,
    pub encrypted: bool,
    pub midstream: bool,
    pub messages: u64,
    pub gaps: u64,
    pub missed_bytes: u64,
    pub anomalies: u64,
    pub first_seen: PacketTime,
    pub last_seen: PacketTime,
    /// Stream bytes seen per direction (highest message end offset + 1).
    pub stream_bytes: [u64; 2],
    /// Window acknowledgement size announced by each direction's sender.
    pub window_ack: [Option<u32>; 2],
    /// Last Acknowledgement sequence sent in each direction.
    pub last_ack: [Option<u32>; 2],
    pub last_rtt_us: Option<u64>,
    pub rtt_samples: u64,
    pub chunk_size: [Option<u32>; 2],
    pub streams: Vec<StreamStats>,
}

impl Session {
    fn new(flow_id: FlowId) -> Self {
        Session {
            flow_id,
            info: None,
            app: None,
            tc_url: None,
            state: SessionState::Handshake,
            protocol: None,
            encrypted: false,
            midstream: false,
            messages: 0,
            gaps: 0,
            missed_bytes: 0,
            anomalies: 0,
            first_seen: PacketTime::default(),
            last_seen: PacketTime::default(),
            stream_bytes: [0; 2],
            window_ack: [None; 2],
            last_ack: [None; 2],
            last_rtt_us: None,
            rtt_samples: 0,
            chunk_size: [None; 2],
            streams: Vec::new(),
        }
    }

    /// Stream with this msid, created if there is room.
    fn stream(&mut self, msid: u32) -> Option<&mut StreamStats> {
        if let Some(i) = self.streams.iter().position(|s| s.msid == msid) {
            return self.streams.get_mut(i);
        }
        if self.streams.len() >= MAX_STREAMS_PER_SESSION {
            return None;
        }
        self.streams.push(StreamStats::new(msid));
        self.streams.last_mut()
    }

    /// Stream media on `msid` belongs to: ffmpeg sends media on msid 0 after
    /// createStream returned 1, so msid 0 maps to the only named stream.
    fn media_stream(&mut self, msid: u32) -> Option<&mut StreamStats> {
        if msid == 0 && !self.streams.iter().any(|s| s.msid == 0) {
            let named: Vec<usize> = (0..self.streams.len())
                .filter(|&i| self.streams[i].role != Role::Unknown)
                .collect();
            if named.len() == 1 {
                return self.streams.get_mut(named[0]);
            }
        }
        self.stream(msid)
    }

    /// "client:port -> server:port".
    pub fn endpoints(&self) -> String {
        match &self.info {
            Some(i) => format!(
                "{} -> {}",
                sockaddr(i.client_ip, i.client_port),
                sockaddr(i.server_ip, i.server_port)
            ),
            None => format!("flow {}", self.flow_id),
        }
    }

    /// Distinct codecs of all streams, e.g. `avc/aac`.
    pub fn codecs(&self) -> String {
        let mut v: Vec<&str> = Vec::new();
        for s in &self.streams {
            for c in [&s.video_codec, &s.audio_codec].into_iter().flatten() {
                if !v.contains(&c.as_str()) {
                    v.push(c);
                }
            }
        }
        v.join("/")
    }

    /// Live bitrate: sum over streams of the last complete second.
    pub fn bitrate_bps(&self) -> u64 {
        self.streams.iter().map(|s| s.bitrate_bps()).sum()
    }

    /// Stream names with role, e.g. `live/key(publish)`.
    pub fn stream_names(&self) -> String {
        self.streams
            .iter()
            .filter(|s| s.role != Role::Unknown || !s.name.is_empty())
            .map(|s| format!("{}({})", s.name, s.role.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn sockaddr(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
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
    pub sessions: Vec<Session>,
    session_idx: HashMap<FlowId, usize>,
    pub anomalies: Vec<AnomalyRow>,
    pub anomalies_dropped: u64,
    pending: VecDeque<u32>,
    /// Message rows per (flow, direction), in completion order.
    by_flow_dir: HashMap<(FlowId, Direction), Vec<u32>>,
    codecs: Vec<String>,
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
            ..Model::default()
        }
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
        match &r.summary {
            Summary::Text(t) => t.to_string(),
            Summary::Media {
                video,
                codec,
                keyframe,
                packet,
            } => {
                let mut s = summary::media_summary(
                    *video,
                    self.codec_name(*codec),
                    *keyframe,
                    *packet,
                    r.length,
                );
                if r.truncated {
                    s.push_str(" [truncated]");
                }
                s
            }
        }
    }

    /// Full decoded message of a row, if still kept.
    pub fn full(&self, row: usize) -> Option<&Message> {
        self.full.get(row).and_then(|m| m.as_deref())
    }

    /// Session of a flow.
    pub fn session(&self, flow: FlowId) -> Option<&Session> {
        self.session_idx
            .get(&flow)
            .and_then(|&i| self.sessions.get(i))
    }

    /// Index of a flow's session in `sessions`.
    pub fn session_index(&self, flow: FlowId) -> Option<usize> {
        self.session_idx.get(&flow).copied()
    }

    fn session_mut(&mut self, flow: FlowId) -> &mut Session {
        let i = match self.session_idx.get(&flow) {
            Some(&i) => i,
            None => {
                self.sessions.push(Session::new(flow));
                let i = self.sessions.len() - 1;
                self.session_idx.insert(flow, i);
                i
            }
        };
        &mut self.sessions[i]
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
        if self.t0.is_none() && ev.time != PacketTime::default() {
            self.t0 = Some(ev.time);
        }
        if let Some(f) = ev.flow_id {
            let s = self.session_mut(f);
            if s.first_seen == PacketTime::default() {
                s.first_seen = ev.time;
            }
            if ev.time > s.last_seen {
                s.last_seen = ev.time;
            }
        }
        match ev.kind {
            EventKind::FlowStart(info) => {
                let s = self.session_mut(info.flow_id);
                s.midstream = info.midstream;
                s.info = Some(info);
            }
            EventKind::Handshake(h) => {
                if let Some(f) = ev.flow_id {
                    let s = self.session_mut(f);
                    if matches!(h.part, HandshakePart::C0 | HandshakePart::S0)
                        && matches!(h.version_byte, Some(6) | Some(8))
                    {
                        s.encrypted = true;
                    }
                }
            }
            EventKind::Message(m) => self.ingest_message(ev.pcap_cnt, ev.flow_id, ev.direction, m),
            EventKind::Gap(g) => {
                self.gaps += 1;
                if let Some(f) = ev.flow_id {
                    let s = self.session_mut(f);
                    s.gaps += 1;
                    s.missed_bytes += g.len;
                }
                let a = Anomaly::new(
                    "gap",
                    Severity::Error,
                    Some(ByteRange::new(g.offset, g.offset.saturating_add(g.len))),
                    format!("{} bytes lost at offset {}", g.len, g.offset),
                );
                self.push_anomaly(ev.pcap_cnt, ev.time, ev.flow_id, ev.direction, a, false);
            }
            EventKind::Anomaly(a) => {
                if let Some(f) = ev.flow_id {
                    self.session_mut(f).anomalies += 1;
                }
                self.push_anomaly(ev.pcap_cnt, ev.time, ev.flow_id, ev.direction, a, true);
            }
            EventKind::FlowEnd(end) => {
                if let Some(f) = ev.flow_id {
                    let s = self.session_mut(f);
                    s.state = SessionState::Closed;
                    s.protocol = Some(end.protocol);
                    if end.protocol == FlowProtocol::RtmpEncrypted {
                        s.encrypted = true;
                    }
                    if end.protocol == FlowProtocol::RtmpMidstream {
                        s.midstream = true;
                    }
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
        let redact_on = self.redact;
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
            _ => Summary::Text(summary::summarize(&m, redact_on).into_boxed_str()),
        };
        let row_idx = self.rows.len() as u32;
        self.rows.push(MsgRow {
            flow_id,
            pcap_cnt,
            time: m.time,
            first_byte: m.first_byte,
            last_byte: m.last_byte,
            csid: m.csid,
            msid: m.msid,
            timestamp: m.timestamp,
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
        let (q, cap) = if kind.is_media() {
            (&mut self.full_media, MAX_FULL_MEDIA)
        } else {
            (&mut self.full_other, MAX_FULL_OTHER)
        };
        q.push_back(row_idx);
        if q.len() > cap {
            if let Some(old) = q.pop_front() {
                if let Some(slot) = self.full.get_mut(old as usize) {
                    *slot = None;
                }
            }
        }
    }

    fn session_update(&mut self, flow: FlowId, dir: Direction, m: &Message) {
        let redact_on = self.redact;
        let s = self.session_mut(flow);
        s.messages += 1;
        let d = dir.index();
        s.stream_bytes[d] = s.stream_bytes[d].max(m.last_byte.saturating_add(1));
        if s.state == SessionState::Handshake {
            s.state = SessionState::Connected;
        }
        let sec = m.time.sec;
        match &m.body {
            Body::Control(Control::WindowAckSize { size }) => s.window_ack[d] = Some(*size),
            Body::Control(Control::Acknowledgement { sequence }) => s.last_ack[d] = Some(*sequence),
            Body::Control(Control::SetChunkSize { size }) => s.chunk_size[d] = Some(*size),
            Body::UserControl(u) => {
                if let Some(r) = u.rtt_us {
                    s.last_rtt_us = Some(r);
                    s.rtt_samples += 1;
                }
            }
            Body::Command(c) => match &c.info {
                Some(CommandInfo::Connect { app, tc_url, .. }) => {
                    s.app = app.as_ref().map(|a| truncate(&clean_amf(a), 64));
                    s.tc_url = tc_url
                        .as_ref()
                        .map(|u| redact::url(&truncate(&clean_amf(u), 200), redact_on));
                }
                Some(CommandInfo::Publish { name, .. }) => {
                    let n = name
                        .as_ref()
                        .map(|n| truncate(&clean_amf(n), 64))
                        .unwrap_or_default();
                    let n = redact::stream_name(&n, redact_on);
                    s.state = SessionState::Publishing;
                    if let Some(st) = s.stream(m.msid) {
                        st.name = n;
                        st.role = Role::Publish;
                    }
                }
                Some(CommandInfo::Play { name, .. }) => {
                    let n = name
                        .as_ref()
                        .map(|n| truncate(&clean_amf(n), 64))
                        .unwrap_or_default();
                    let n = redact::stream_name(&n, redact_on);
                    s.state = SessionState::Playing;
                    if let Some(st) = s.stream(m.msid) {
                        st.name = n;
                        st.role = Role::Play;
                    }
                }
                Some(CommandInfo::Status {
                    code: Some(code), ..
                }) => {
                    if let Some(t) = code.as_text() {
                        if t == "NetStream.Publish.Start" {
                            s.state = SessionState::Publishing;
                        } else if t == "NetStream.Play.Start" {
                            s.state = SessionState::Playing;
                        }
                    }
                }
                _ => {}
            },
            Body::Video(v) => {
                if let Some(st) = s.media_stream(m.msid) {
                    st.video_frames += 1;
                    st.video_bytes += m.length as u64;
                    if st.video_codec.as_deref() != Some(v.codec.as_str()) {
                        st.video_codec = Some(clean(&v.codec));
                    }
                    if v.keyframe {
                        st.keyframes += 1;
                        if let Some(prev) = st.last_keyframe_ts {
                            st.keyframe_interval_ms = Some(m.timestamp.wrapping_sub(prev));
                        }
                        st.last_keyframe_ts = Some(m.timestamp);
                    }
                    st.last_video_ts = Some(m.timestamp);
                    if st.first_video.is_none() {
                        st.first_video = Some((m.time, m.timestamp));
                    }
                    st.last_video = Some((m.time, m.timestamp));
                    let b = st.bin(sec);
                    b.video_bytes += m.length as u64;
                    b.video_frames += 1;
                }
            }
            Body::Audio(a) => {
                if let Some(st) = s.media_stream(m.msid) {
                    st.audio_frames += 1;
                    st.audio_bytes += m.length as u64;
                    if st.audio_codec.as_deref() != Some(a.codec.as_str()) {
                        st.audio_codec = Some(clean(&a.codec));
                    }
                    st.last_audio_ts = Some(m.timestamp);
                    st.bin(sec).audio_bytes += m.length as u64;
                }
            }
            _ => {}
        }
    }
}
