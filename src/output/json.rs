//! NDJSON writer: one JSON object per line, Suricata-EVE style.
//!
//! # Format (schema version [`SCHEMA_VERSION`], `schema/rtmpscope-events.schema.json`)
//!
//! Every line is a JSON object with an `event_type`. The first line is `meta`,
//! the last is `stats`. Events that belong to a flow also carry:
//!
//! | key | meaning |
//! |---|---|
//! | `timestamp` | RFC 3339 UTC, microseconds, of the packet that completed the event (never the wall clock) |
//! | `flow_id` | flow number, first-seen order from 1 |
//! | `pcap_cnt` | 1-based index of that packet in the input |
//! | `src_ip`, `src_port`, `dest_ip`, `dest_port` | oriented by `direction`: for `to_server` the client is `src`; events without a direction use client -> server |
//! | `direction` | `to_server` or `to_client` (absent when the event is about the whole flow) |
//! | `transport`, `tunnel_sid` | only on a tunnel's virtual flow: `rtmpt` and the tunnel's session id (addresses: the TCP connection that opened the tunnel) |
//!
//! The event's own data sits under a key named after `event_type`:
//!
//! | `event_type` | data |
//! |---|---|
//! | `meta` | `tool`, `version`, `schema_version`, `input`, `link_types` |
//! | `handshake` | `part` (c0..s2), `range` (stream offsets), `version_byte`, `time`, `peer_version`, `kind` (simple/digest), `digest` {scheme, offset, valid}, `echo_ok` |
//! | `rtmp` | one message: `csid`, `type_id`, `type` (snake_case), `msid`, `timestamp`, `timestamp_delta`, `length`, `fmt`, `chunks` (count), `stream_offset` (first byte on the wire), `extended_timestamp`, `truncated` {cause, received, lost} when incomplete, `chunk_ranges` only with [`JsonOptions::chunk_ranges`], and one body key: `command` {name, transaction_id, object, args, info}, `data` {name, args}, `control` {kind, ...}, `user_control` {event_type, event, params}, `audio` / `video` (codec, packet, config...), `shared_object` {name, version, flags, persistent, events}, `aggregate` [sub-messages without envelope] |
//! | `anomaly` | `name` (stable dotted name), `severity` (info/warning/error), `range` (stream offsets, when about bytes), `detail` |
//! | `flow_start` | a new TCP flow (client -> server addresses in the envelope): `midstream`, `client_by` (syn/port/first_packet), `community_id`, `vlan` |
//! | `gap` | `offset`, `len`: bytes of one direction never seen |
//! | `tls` | a TLS flow's handshake as seen in the clear ([`crate::tls::TlsInfo`]); the flow's `handshake`, `rtmp` and RTMP-layer `anomaly` lines then carry `"transport": "rtmps"` (offsets in the plaintext stream) |
//! | `flow` | at flow end: `pkts_toserver`, `pkts_toclient`, `bytes_toserver`, `bytes_toclient`, `missed_bytes` (+ per direction), `retransmitted_bytes_toserver`, `retransmitted_bytes_toclient`, `messages_toserver`, `messages_toclient`, `start`, `end`, `reason`, `protocol` (what the flow carries, [`crate::classify`]), `evidence`, `confidence`, `midstream`, `client_by`, `community_id`, `vlan`; on a tunnel's virtual flow `transport` and `tunnel` ([`crate::rtmpt::TunnelFacts`]: sid, carrier flows, requests by kind, intervals, HTTP vs RTMP bytes, latency, seq faults), `tls` (TLS flows) |
//! | `session` | the RTMP session model of the flow ([`crate::session::Session`]), right after its `flow` line |
//! | `stats` | last line: totals, `anomalies` as an object name -> count |
//!
//! # AMF values
//!
//! AMF values map to JSON as [`crate::amf::json`] says (plain JSON where
//! JSON can say it, otherwise a tagged form).
//!
//! # Properties
//!
//! Streaming: memory holds only the addresses of open flows (FlowStart ->
//! FlowEnd) and, with sessions on, the session state of open flows. Output is
//! deterministic: key order is fixed, no hash-map iteration, no wall clock.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Map, Value as J};

pub use crate::amf::json::{amf_to_json, amfstr_to_json, number_to_json, AMF_TAGS};
use crate::amf::AmfStr;
use crate::event::{Event, EventKind, FlowEnd, FlowId, FlowInfo};
use crate::redact::Redactor;
use crate::rtmp::message::{Audio, Body, CodecConfig, MediaTrack, Message, Video};
use crate::session::{Session, SessionTracker};

mod direct;
use direct::Obj;

/// Version of the NDJSON schema (`schema/rtmpscope-events.schema.json`).
/// Bumped on any incompatible change to the line format.
pub const SCHEMA_VERSION: &str = "1";

/// Writer options.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// Redact stream keys and credentials ([`crate::redact`]).
    pub redact: bool,
    /// Emit `session` lines (after each `flow` line, remaining ones before `stats`).
    pub sessions: bool,
    /// Add `chunk_ranges` (header/payload stream offsets per chunk) to rtmp events.
    pub chunk_ranges: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            redact: false,
            sessions: true,
            chunk_ranges: false,
        }
    }
}

/// Content of the first (`meta`) line.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Tool version (defaults to the crate version).
    pub version: String,
    /// Input description: file name, `-` for stdin, `iface:eth0` for live.
    pub input: String,
    /// Link types of the input (e.g. `ethernet`, `linux_sll`).
    pub link_types: Vec<String>,
}

impl Meta {
    pub fn new(input: impl Into<String>, link_types: Vec<String>) -> Self {
        Meta {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            input: input.into(),
            link_types,
        }
    }
}

fn opt_str(s: &Option<AmfStr>) -> J {
    s.as_ref().map_or(J::Null, amfstr_to_json)
}

/// Removes `null` members from a serde-produced object (optional fields).
fn strip_nulls(v: J) -> J {
    match v {
        J::Object(m) => J::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn config_to_json(c: &CodecConfig) -> J {
    match c {
        CodecConfig::Avc {
            profile,
            compatibility,
            level,
            nalu_length_size,
            sps,
            pps,
            width,
            height,
        } => {
            let mut m = Map::new();
            m.insert("kind".into(), "avc".into());
            m.insert("profile".into(), J::from(*profile));
            m.insert("compatibility".into(), J::from(*compatibility));
            m.insert("level".into(), J::from(*level));
            m.insert("nalu_length_size".into(), J::from(*nalu_length_size));
            m.insert("sps".into(), J::from(sps.len()));
            m.insert("pps".into(), J::from(pps.len()));
            if let Some(w) = width {
                m.insert("width".into(), J::from(*w));
            }
            if let Some(h) = height {
                m.insert("height".into(), J::from(*h));
            }
            J::Object(m)
        }
        CodecConfig::Opaque { span } => json!({"kind": "opaque", "length": span.len()}),
        other => serde_json::to_value(other).unwrap_or(J::Null),
    }
}

fn track_to_json(t: &MediaTrack, m: &mut Map<String, J>) {
    if let Some(f) = &t.fourcc {
        m.insert("fourcc".into(), J::String(f.clone()));
    }
    if let Some(ct) = t.composition_time {
        m.entry("composition_time").or_insert(J::from(ct));
    }
    if let Some(c) = &t.config {
        m.insert("config".into(), config_to_json(c));
    }
}

fn tracks_json(tracks: &[MediaTrack], multitrack: Option<&str>, m: &mut Map<String, J>) {
    if multitrack.is_some() || tracks.len() > 1 {
        let list = tracks
            .iter()
            .map(|t| {
                let mut tm = Map::new();
                tm.insert("track_id".into(), J::from(t.track_id));
                track_to_json(t, &mut tm);
                J::Object(tm)
            })
            .collect();
        m.insert("tracks".into(), J::Array(list));
    } else if let Some(t) = tracks.first() {
        track_to_json(t, m);
    }
}

fn video_to_json(v: &Video) -> J {
    let mut m = Map::new();
    m.insert("frame_type".into(), J::from(v.frame_type));
    m.insert("keyframe".into(), J::Bool(v.keyframe));
    m.insert("enhanced".into(), J::Bool(v.enhanced));
    if let Some(c) = v.codec_id {
        m.insert("codec_id".into(), J::from(c));
    }
    m.insert("codec".into(), J::String(v.codec.to_string()));
    if let Some(p) = v.packet_type {
        m.insert("packet_type".into(), J::from(p));
    }
    if let Some(p) = v.packet {
        m.insert("packet".into(), J::from(p));
    }
    if let Some(c) = v.composition_time {
        m.insert("composition_time".into(), J::from(c));
    }
    if let Some(c) = v.command {
        m.insert("command".into(), J::from(c));
    }
    if let Some(mt) = v.multitrack {
        m.insert("multitrack".into(), J::from(mt));
    }
    if let Some(t) = v.timestamp_offset_nanos {
        m.insert("timestamp_offset_nanos".into(), J::from(t));
    }
    if !v.metadata.is_empty() {
        m.insert(
            "metadata".into(),
            J::Array(v.metadata.iter().map(amf_to_json).collect()),
        );
    }
    tracks_json(&v.tracks, v.multitrack, &mut m);
    J::Object(m)
}

fn audio_to_json(a: &Audio) -> J {
    let mut m = Map::new();
    m.insert("sound_format".into(), J::from(a.sound_format));
    m.insert("enhanced".into(), J::Bool(a.enhanced));
    m.insert("codec".into(), J::String(a.codec.to_string()));
    if let Some(v) = a.sample_rate {
        m.insert("sample_rate".into(), J::from(v));
    }
    if let Some(v) = a.sample_bits {
        m.insert("sample_bits".into(), J::from(v));
    }
    if let Some(v) = a.channels {
        m.insert("channels".into(), J::from(v));
    }
    if let Some(p) = a.packet_type {
        m.insert("packet_type".into(), J::from(p));
    }
    if let Some(p) = a.packet {
        m.insert("packet".into(), J::from(p));
    }
    if let Some(mt) = a.multitrack {
        m.insert("multitrack".into(), J::from(mt));
    }
    if let Some(t) = a.timestamp_offset_nanos {
        m.insert("timestamp_offset_nanos".into(), J::from(t));
    }
    tracks_json(&a.tracks, a.multitrack, &mut m);
    J::Object(m)
}

/// Appends the `rtmp` object of one message as JSON text to `out`: the
/// same bytes as `serde_json::to_writer` of [`message_to_json`], written
/// directly (the writer's hot path).
pub fn write_message_json(out: &mut Vec<u8>, msg: &Message, chunk_ranges: bool) {
    direct::message(out, msg, chunk_ranges, 0);
}

/// Maps one message (without the EVE envelope) to the `rtmp` object.
pub fn message_to_json(msg: &Message, chunk_ranges: bool) -> J {
    message_depth(msg, chunk_ranges, 0)
}

fn message_depth(msg: &Message, chunk_ranges: bool, depth: usize) -> J {
    let mut m = Map::new();
    m.insert("csid".into(), J::from(msg.csid));
    m.insert("type_id".into(), J::from(msg.type_id));
    m.insert("type".into(), J::from(msg.type_name()));
    m.insert("msid".into(), J::from(msg.msid));
    if msg.msid_unknown {
        // `msid` is a placeholder: no fmt 0 header of this chunk stream
        // was seen (mid-stream pickup).
        m.insert("msid_unknown".into(), J::Bool(true));
    }
    m.insert("timestamp".into(), J::from(msg.timestamp));
    m.insert("timestamp_delta".into(), J::from(msg.timestamp_delta));
    if let Some(e) = &msg.timestamp_estimate {
        // Capture loss (or a chunk stream never anchored by a fmt 0
        // header): `timestamp` is an estimate within these bounds.
        m.insert("timestamp_estimated".into(), J::Bool(true));
        let mut b = Map::new();
        b.insert("low".into(), J::from(e.low));
        if let Some(h) = e.high {
            b.insert("high".into(), J::from(h));
        }
        m.insert("timestamp_bound".into(), J::Object(b));
    }
    m.insert("length".into(), J::from(msg.length));
    m.insert("fmt".into(), J::from(msg.fmt));
    m.insert("chunks".into(), J::from(msg.chunk_count()));
    m.insert("stream_offset".into(), J::from(msg.first_byte));
    m.insert("extended_timestamp".into(), J::Bool(msg.extended_timestamp));
    if let Some(t) = &msg.truncated {
        m.insert(
            "truncated".into(),
            serde_json::to_value(t).unwrap_or(J::Null),
        );
    }
    if chunk_ranges {
        let list = msg
            .chunks
            .iter()
            .map(|c| {
                json!({"fmt": c.fmt, "header": [c.header.start, c.header.end],
                       "payload": [c.payload.start, c.payload.end]})
            })
            .collect();
        m.insert("chunk_ranges".into(), J::Array(list));
    }
    match &msg.body {
        Body::Control(c) => {
            m.insert("control".into(), serde_json::to_value(c).unwrap_or(J::Null));
        }
        Body::UserControl(u) => {
            let mut params = Map::new();
            if let Some(v) = u.stream_id {
                params.insert("stream_id".into(), J::from(v));
            }
            if let Some(v) = u.buffer_length_ms {
                params.insert("buffer_length_ms".into(), J::from(v));
            }
            if let Some(v) = u.timestamp {
                params.insert("timestamp".into(), J::from(v));
            }
            if let Some(v) = u.rtt_us {
                params.insert("rtt_us".into(), J::from(v));
            }
            if let Some(v) = u.raw {
                params.insert("raw_length".into(), J::from(v.len()));
            }
            m.insert(
                "user_control".into(),
                json!({"event_type": u.event_type, "event": u.event, "params": params}),
            );
        }
        Body::Command(c) => {
            let mut cm = Map::new();
            cm.insert("name".into(), amfstr_to_json(&c.name));
            cm.insert(
                "transaction_id".into(),
                c.transaction_id.map_or(J::Null, number_to_json),
            );
            cm.insert(
                "object".into(),
                c.object.as_ref().map_or(J::Null, amf_to_json),
            );
            cm.insert(
                "args".into(),
                J::Array(c.args.iter().map(amf_to_json).collect()),
            );
            if let Some(info) = &c.info {
                cm.insert("info".into(), info_to_json(info));
            }
            m.insert("command".into(), J::Object(cm));
        }
        Body::Data(d) => {
            m.insert(
                "data".into(),
                json!({"name": opt_str(&d.name),
                       "args": J::Array(d.args.iter().map(amf_to_json).collect())}),
            );
        }
        Body::SharedObject(so) => {
            let events: Vec<J> = so
                .events
                .iter()
                .map(|e| {
                    let mut em = Map::new();
                    em.insert("event_type".into(), J::from(e.event_type));
                    em.insert("event".into(), J::from(e.event));
                    if let Some(n) = &e.name {
                        em.insert("name".into(), amfstr_to_json(n));
                    }
                    em.insert(
                        "values".into(),
                        J::Array(e.values.iter().map(amf_to_json).collect()),
                    );
                    J::Object(em)
                })
                .collect();
            m.insert(
                "shared_object".into(),
                json!({"name": amfstr_to_json(&so.name), "version": so.version,
                       "flags": so.flags, "persistent": so.persistent, "events": events}),
            );
        }
        Body::Audio(a) => {
            m.insert("audio".into(), audio_to_json(a));
        }
        Body::Video(v) => {
            m.insert("video".into(), video_to_json(v));
        }
        Body::Aggregate(subs) => {
            let list = if depth < 4 {
                subs.iter()
                    .map(|s| message_depth(s, chunk_ranges, depth + 1))
                    .collect()
            } else {
                Vec::new()
            };
            m.insert("aggregate".into(), J::Array(list));
        }
        Body::Raw => {}
    }
    J::Object(m)
}

/// Maps a command's interpreted info (`kind` + fields, absent ones omitted).
pub fn info_to_json(info: &crate::rtmp::message::CommandInfo) -> J {
    use crate::rtmp::message::CommandInfo as C;
    let mut m = Map::new();
    let put_s = |m: &mut Map<String, J>, k: &str, v: &Option<AmfStr>| {
        if let Some(s) = v {
            m.insert(k.into(), amfstr_to_json(s));
        }
    };
    let put_n = |m: &mut Map<String, J>, k: &str, v: &Option<f64>| {
        if let Some(n) = v {
            m.insert(k.into(), number_to_json(*n));
        }
    };
    match info {
        C::Connect {
            app,
            tc_url,
            flash_ver,
            swf_url,
            page_url,
            object_encoding,
            four_cc_list,
        } => {
            m.insert("kind".into(), "connect".into());
            put_s(&mut m, "app", app);
            put_s(&mut m, "tc_url", tc_url);
            put_s(&mut m, "flash_ver", flash_ver);
            put_s(&mut m, "swf_url", swf_url);
            put_s(&mut m, "page_url", page_url);
            put_n(&mut m, "object_encoding", object_encoding);
            if !four_cc_list.is_empty() {
                m.insert(
                    "four_cc_list".into(),
                    J::Array(four_cc_list.iter().map(amfstr_to_json).collect()),
                );
            }
        }
        C::Status {
            level,
            code,
            description,
        } => {
            m.insert("kind".into(), "status".into());
            put_s(&mut m, "level", level);
            put_s(&mut m, "code", code);
            put_s(&mut m, "description", description);
        }
        C::StreamCreated { stream_id } => {
            m.insert("kind".into(), "stream_created".into());
            m.insert("stream_id".into(), number_to_json(*stream_id));
        }
        C::Publish { name, publish_type } => {
            m.insert("kind".into(), "publish".into());
            put_s(&mut m, "name", name);
            put_s(&mut m, "publish_type", publish_type);
        }
        C::Play {
            name,
            start,
            duration,
            reset,
        } => {
            m.insert("kind".into(), "play".into());
            put_s(&mut m, "name", name);
            put_n(&mut m, "start", start);
            put_n(&mut m, "duration", duration);
            if let Some(r) = reset {
                m.insert("reset".into(), J::Bool(*r));
            }
        }
        other => {
            // Remaining kinds have only optional plain fields.
            return strip_nulls(serde_json::to_value(other).unwrap_or(J::Null));
        }
    }
    J::Object(m)
}

/// Flow-end counters as the `flow` object.
pub fn flow_to_json(info: Option<&FlowInfo>, end: &FlowEnd) -> J {
    let c = &end.counters;
    let mut m = Map::new();
    m.insert("pkts_toserver".into(), J::from(c.packets[0]));
    m.insert("pkts_toclient".into(), J::from(c.packets[1]));
    m.insert("bytes_toserver".into(), J::from(c.bytes[0]));
    m.insert("bytes_toclient".into(), J::from(c.bytes[1]));
    m.insert(
        "missed_bytes".into(),
        J::from(c.missed_bytes[0].saturating_add(c.missed_bytes[1])),
    );
    m.insert("missed_bytes_toserver".into(), J::from(c.missed_bytes[0]));
    m.insert("missed_bytes_toclient".into(), J::from(c.missed_bytes[1]));
    m.insert(
        "retransmitted_bytes_toserver".into(),
        J::from(c.retransmitted_bytes[0]),
    );
    m.insert(
        "retransmitted_bytes_toclient".into(),
        J::from(c.retransmitted_bytes[1]),
    );
    m.insert("messages_toserver".into(), J::from(c.messages[0]));
    m.insert("messages_toclient".into(), J::from(c.messages[1]));
    m.insert("start".into(), J::from(end.first_seen.rfc3339_micros()));
    m.insert("end".into(), J::from(end.last_seen.rfc3339_micros()));
    m.insert(
        "reason".into(),
        serde_json::to_value(end.reason).unwrap_or(J::Null),
    );
    m.insert(
        "protocol".into(),
        serde_json::to_value(end.protocol).unwrap_or(J::Null),
    );
    m.insert(
        "evidence".into(),
        serde_json::to_value(end.evidence).unwrap_or(J::Null),
    );
    m.insert(
        "confidence".into(),
        serde_json::to_value(end.confidence).unwrap_or(J::Null),
    );
    if let Some(i) = info {
        if let Some(t) = &i.tunnel {
            m.insert("transport".into(), J::from(t.transport.as_str()));
        }
        m.insert("midstream".into(), J::Bool(i.midstream));
        m.insert(
            "client_by".into(),
            serde_json::to_value(i.client_by).unwrap_or(J::Null),
        );
        m.insert("community_id".into(), J::from(i.community_id.clone()));
        if !i.vlan.is_empty() {
            m.insert("vlan".into(), J::from(i.vlan.clone()));
        }
    }
    if let Some(t) = &end.tunnel {
        m.insert("tunnel".into(), serde_json::to_value(t).unwrap_or(J::Null));
    }
    J::Object(m)
}

/// Output bytes collected before they are handed to the underlying writer.
const WRITE_CHUNK: usize = 64 << 10;

/// Streaming NDJSON writer. See the module documentation for the format.
///
/// Lines are encoded straight into an internal buffer ([`super::direct`]):
/// no Value tree for the hot event kinds; the buffer goes to the underlying
/// writer in blocks of [`WRITE_CHUNK`] bytes and on [`JsonWriter::flush`].
pub struct JsonWriter<W: Write> {
    w: W,
    opts: JsonOptions,
    /// Open flows: identity plus the address strings (formatted once).
    flows: BTreeMap<FlowId, direct::FlowText>,
    redactor: Redactor,
    sessions: Option<SessionTracker>,
    buf: Vec<u8>,
    /// Open flows that are TLS (a `tls` event was seen): their RTMP events
    /// carry `"transport": "rtmps"`.
    tls_flows: std::collections::BTreeSet<FlowId>,
    /// The last timestamp's text ([`direct::Stamp`]).
    stamp: direct::Stamp,
}

/// The TLS facts as JSON; with `redact`, the SNI goes through the redactor
/// (a stream key embedded in a server name is replaced like elsewhere).
pub fn tls_to_json(t: &crate::tls::TlsInfo, redactor: Option<&Redactor>) -> J {
    let mut v = serde_json::to_value(t).unwrap_or(J::Null);
    if let (Some(r), J::Object(m), Some(sni)) = (redactor, &mut v, &t.sni) {
        m.insert("sni".into(), J::from(r.redact_str(sni)));
    }
    v
}

impl<W: Write> JsonWriter<W> {
    pub fn new(w: W, opts: JsonOptions) -> Self {
        let sessions = opts.sessions.then(SessionTracker::new);
        JsonWriter {
            w,
            opts,
            flows: BTreeMap::new(),
            redactor: Redactor::new(),
            sessions,
            buf: Vec::with_capacity(WRITE_CHUNK + (4 << 10)),
            tls_flows: std::collections::BTreeSet::new(),
            stamp: direct::Stamp::default(),
        }
    }

    /// Hands the buffer to the writer once it holds a block.
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_CHUNK {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn line(&mut self, v: &J) -> io::Result<()> {
        direct::put(&mut self.buf, v);
        self.buf.push(b'\n');
        self.spill()
    }

    /// Writes the `meta` line (call first).
    pub fn write_meta(&mut self, meta: &Meta) -> io::Result<()> {
        let v = meta_to_json(meta);
        self.line(&v)
    }

    /// Maps one event to its JSON line without writing it (updates the flow
    /// table and redactor state like [`JsonWriter::write_event`]; does not
    /// feed the session tracker).
    pub fn event_to_json(&mut self, ev: &Event) -> Option<J> {
        let mut b = Vec::new();
        self.encode(ev, &mut b);
        serde_json::from_slice(&b).ok()
    }

    /// Appends the JSON text of `ev` (without newline) to `out`; updates
    /// the flow table and the redactor.
    fn encode(&mut self, ev: &Event, out: &mut Vec<u8>) {
        let redacted;
        let ev = if self.opts.redact && Redactor::may_change(ev) {
            redacted = self.redactor.redact_event(ev);
            &redacted
        } else {
            ev
        };
        if let EventKind::FlowStart(info) = &ev.kind {
            let (c, s) = (info.client_ip.to_string(), info.server_ip.to_string());
            self.flows
                .insert(info.flow_id, direct::FlowText::new(info.clone(), c, s));
        }
        let etype = match &ev.kind {
            EventKind::FlowStart(_) => "flow_start",
            EventKind::Handshake(_) => "handshake",
            EventKind::Message(_) => "rtmp",
            EventKind::Gap(_) => "gap",
            EventKind::Anomaly(_) => "anomaly",
            EventKind::FlowEnd(_) => "flow",
            EventKind::Tls(_) => "tls",
            EventKind::Stats(_) => "stats",
        };
        if let (EventKind::Tls(_), Some(f)) = (&ev.kind, ev.flow_id) {
            self.tls_flows.insert(f);
        }
        // RTMP-layer events of a TLS flow carry `"transport": "rtmps"`.
        let rtmp_layer = match &ev.kind {
            EventKind::Handshake(_) | EventKind::Message(_) => true,
            EventKind::Anomaly(a) => !a.name.starts_with("tls.") && !a.name.starts_with("tcp."),
            _ => false,
        };
        let rtmps = rtmp_layer
            && !self.tls_flows.is_empty()
            && ev.flow_id.is_some_and(|f| self.tls_flows.contains(&f));
        out.reserve(256);
        let mut o = Obj::open(out);
        let flow = ev.flow_id.and_then(|f| self.flows.get_mut(&f));
        let memo = direct::envelope(&mut o, ev, etype, flow, rtmps, &mut self.stamp);
        if !direct::encode_event_body(&mut o, ev, self.opts.chunk_ranges, memo) {
            let flow = ev.flow_id.and_then(|f| self.flows.get(&f));
            let data = match &ev.kind {
                EventKind::FlowStart(info) => {
                    let mut m = Map::new();
                    m.insert("midstream".into(), J::Bool(info.midstream));
                    m.insert(
                        "client_by".into(),
                        serde_json::to_value(info.client_by).unwrap_or(J::Null),
                    );
                    m.insert("community_id".into(), J::from(info.community_id.clone()));
                    if !info.vlan.is_empty() {
                        m.insert("vlan".into(), J::from(info.vlan.clone()));
                    }
                    J::Object(m)
                }
                EventKind::FlowEnd(end) => {
                    let mut v = flow_to_json(flow.map(|x| &x.info), end);
                    if let (Some(t), J::Object(m)) = (&end.tls, &mut v) {
                        let r = self.opts.redact.then_some(&self.redactor);
                        m.insert("tls".into(), tls_to_json(t, r));
                    }
                    v
                }
                EventKind::Tls(t) => {
                    let r = self.opts.redact.then_some(&self.redactor);
                    tls_to_json(t, r)
                }
                EventKind::Stats(s) => {
                    let mut v = serde_json::to_value(s).unwrap_or(J::Null);
                    if let J::Object(m) = &mut v {
                        let an: Map<String, J> = s
                            .anomalies
                            .iter()
                            .map(|(k, n)| (k.clone(), J::from(*n)))
                            .collect();
                        m.insert("anomalies".into(), J::Object(an));
                    }
                    v
                }
                // Written by encode_event_body.
                _ => J::Null,
            };
            o.val(etype, &data);
        }
        o.close();
        if let EventKind::FlowEnd(_) = &ev.kind {
            if let Some(f) = ev.flow_id {
                self.flows.remove(&f);
                self.tls_flows.remove(&f);
            }
        }
    }

    /// Writes one event (a FlowStart also opens the flow's address entry).
    /// With sessions on, a FlowEnd is followed by that flow's `session` line
    /// and Stats is preceded by the sessions still open.
    pub fn write_event(&mut self, ev: &Event) -> io::Result<()> {
        if let Some(t) = &mut self.sessions {
            t.handle(ev);
        }
        let is_stats = matches!(ev.kind, EventKind::Stats(_));
        if is_stats {
            let open = match &mut self.sessions {
                Some(t) => t.finish(),
                None => Vec::new(),
            };
            for s in open {
                self.write_session(&s)?;
            }
        }
        let mut b = std::mem::take(&mut self.buf);
        self.encode(ev, &mut b);
        b.push(b'\n');
        self.buf = b;
        self.spill()?;
        if !is_stats {
            let done = match &mut self.sessions {
                Some(t) => t.take_finished(),
                None => Vec::new(),
            };
            for s in done {
                self.write_session(&s)?;
            }
        }
        Ok(())
    }

    /// Writes a `session` line (redacted when the writer redacts).
    pub fn write_session(&mut self, s: &Session) -> io::Result<()> {
        let v = if self.opts.redact {
            session_line(&s.redacted(&mut self.redactor))
        } else {
            session_line(s)
        };
        self.line(&v)
    }

    /// Writes a `session` line for every RTMP session still open: a live
    /// capture calls this periodically so long sessions are seen before
    /// they end.
    pub fn write_open_sessions(&mut self) -> io::Result<()> {
        let open = match &self.sessions {
            Some(t) => t.snapshot_open(),
            None => Vec::new(),
        };
        for s in open {
            self.write_session(&s)?;
        }
        Ok(())
    }

    /// Flushes the underlying writer (live captures flush per packet).
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.w)
    }
}

/// The `meta` line.
pub fn meta_to_json(meta: &Meta) -> J {
    json!({
        "event_type": "meta",
        "meta": {
            "tool": "rtmpscope",
            "version": meta.version,
            "schema_version": SCHEMA_VERSION,
            "input": meta.input,
            "link_types": meta.link_types,
        }
    })
}

/// A full `session` line for a session (envelope with the client -> server
/// orientation, `session` data).
pub fn session_line(s: &Session) -> J {
    let mut m = Map::new();
    m.insert("timestamp".into(), J::from(s.end.clone()));
    m.insert("flow_id".into(), J::from(s.flow_id));
    m.insert("event_type".into(), J::from("session"));
    if let (Some(c), Some(sv)) = (&s.client, &s.server) {
        m.insert("src_ip".into(), J::from(c.ip.clone()));
        m.insert("src_port".into(), J::from(c.port));
        m.insert("dest_ip".into(), J::from(sv.ip.clone()));
        m.insert("dest_port".into(), J::from(sv.port));
    }
    m.insert("session".into(), serde_json::to_value(s).unwrap_or(J::Null));
    J::Object(m)
}
