//! Direct NDJSON encoding of the hot event kinds: the bytes of a line are
//! written straight into an output buffer, without building a
//! `serde_json::Value` tree (no map per object, no `String` per key).
//!
//! Contract: for every event, [`encode_event_body`] writes exactly the bytes
//! `serde_json::to_writer` writes for the Value that
//! [`super::JsonWriter::event_to_json`] builds (same keys, same order,
//! same number and string formatting): scalars and derived-`Serialize`
//! structs go through serde_json's own serializer, so escaping and number
//! formatting are serde_json's. The test `direct_encoding_equals_value_tree`
//! (tests/outputs/json_tests.rs) checks this on every event of the corpus.
//! Bodies that carry AMF values (commands, data, shared objects, video
//! metadata) and the rare once-per-flow kinds are written from their Value
//! form, so their mapping has one definition.

use serde::Serialize;

use crate::event::{Direction, Event, EventKind, FlowInfo};
use crate::rtmp::message::{Audio, Body, CodecConfig, MediaTrack, Message, Video};

/// Appends `v` as JSON (serde_json's formatting and escaping).
#[inline]
pub(crate) fn put<T: Serialize + ?Sized>(b: &mut Vec<u8>, v: &T) {
    // Writing into a Vec cannot fail; the types written have string keys.
    let _ = serde_json::to_writer(&mut *b, v);
}

/// An object being written: `{` on open, `,` between members, `}` on close.
pub(crate) struct Obj<'a> {
    b: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub(crate) fn open(b: &'a mut Vec<u8>) -> Self {
        b.push(b'{');
        Obj { b, first: true }
    }

    /// Writes `"k":` (keys are the writer's own ASCII names: no escaping).
    #[inline]
    pub(crate) fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.b.push(b',');
        }
        self.first = false;
        self.b.push(b'"');
        self.b.extend_from_slice(k.as_bytes());
        self.b.extend_from_slice(b"\":");
        self.b
    }

    #[inline]
    pub(crate) fn val<T: Serialize + ?Sized>(&mut self, k: &str, v: &T) {
        put(self.key(k), v);
    }

    /// Unsigned integer member (the common case, without serde).
    #[inline]
    pub(crate) fn uint(&mut self, k: &str, v: u64) {
        let b = self.key(k);
        let mut tmp = itoa::Buffer::new();
        b.extend_from_slice(tmp.format(v).as_bytes());
    }

    #[inline]
    pub(crate) fn bool(&mut self, k: &str, v: bool) {
        let b = self.key(k);
        b.extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub(crate) fn close(self) {
        self.b.push(b'}');
    }
}

/// The envelope members of `ev` (`timestamp` .. `direction`, then
/// `transport: rtmps` for the RTMP-layer events of a TLS flow); `flow`
/// holds the flow's identity and formatted client/server addresses when
/// open.
pub(crate) fn envelope(
    o: &mut Obj<'_>,
    ev: &Event,
    etype: &str,
    flow: Option<&(FlowInfo, String, String)>,
    rtmps: bool,
) {
    // RFC 3339 text is plain ASCII: no escaping.
    let b = o.key("timestamp");
    b.push(b'"');
    ev.time.write_rfc3339_micros(b);
    b.push(b'"');
    if let Some(f) = ev.flow_id {
        o.uint("flow_id", f);
    }
    if ev.pcap_cnt > 0 {
        o.uint("pcap_cnt", ev.pcap_cnt);
    }
    o.val("event_type", etype);
    if let Some((info, cip, sip)) = flow {
        let client = (cip.as_str(), info.client_port);
        let server = (sip.as_str(), info.server_port);
        let (src, dst) = match ev.direction {
            Some(Direction::ToClient) => (server, client),
            _ => (client, server),
        };
        o.val("src_ip", src.0);
        o.uint("src_port", src.1.into());
        o.val("dest_ip", dst.0);
        o.uint("dest_port", dst.1.into());
        if let Some(t) = &info.tunnel {
            // (`rtmps` replaces the tunnel's transport in place.)
            o.val(
                "transport",
                if rtmps { "rtmps" } else { t.transport.as_str() },
            );
            o.val("tunnel_sid", &t.sid);
        }
    }
    if let Some(d) = ev.direction {
        o.val("direction", d.as_str());
    }
    if rtmps && flow.is_none_or(|(info, _, _)| info.tunnel.is_none()) {
        o.val("transport", "rtmps");
    }
}

/// Writes the data of the hot event kinds (`rtmp`, `gap`, `anomaly`,
/// `handshake`) under their key; returns false for the other kinds (the
/// caller writes those from their Value form).
pub(crate) fn encode_event_body(o: &mut Obj<'_>, ev: &Event, chunk_ranges: bool) -> bool {
    match &ev.kind {
        EventKind::Message(msg) => {
            message(o.key("rtmp"), msg, chunk_ranges, 0);
        }
        EventKind::Gap(g) => {
            let mut d = Obj::open(o.key("gap"));
            d.uint("offset", g.offset);
            d.uint("len", g.len);
            d.close();
        }
        EventKind::Anomaly(a) => o.val("anomaly", a),
        EventKind::Handshake(h) => o.val("handshake", h),
        _ => return false,
    }
    true
}

/// The `rtmp` object of one message (see [`super::message_to_json`]).
pub(crate) fn message(b: &mut Vec<u8>, msg: &Message, chunk_ranges: bool, depth: usize) {
    let mut m = Obj::open(b);
    m.uint("csid", msg.csid.into());
    m.uint("type_id", msg.type_id.into());
    m.val("type", msg.type_name());
    m.uint("msid", msg.msid.into());
    if msg.msid_unknown {
        m.bool("msid_unknown", true);
    }
    m.uint("timestamp", msg.timestamp.into());
    m.uint("timestamp_delta", msg.timestamp_delta.into());
    if let Some(e) = &msg.timestamp_estimate {
        // Capture loss (or a chunk stream never anchored by a fmt 0
        // header): `timestamp` is an estimate within these bounds.
        m.bool("timestamp_estimated", true);
        m.val("timestamp_bound", e);
    }
    m.uint("length", msg.length.into());
    m.uint("fmt", msg.fmt.into());
    m.uint("chunks", msg.chunk_count().into());
    m.uint("stream_offset", msg.first_byte);
    m.bool("extended_timestamp", msg.extended_timestamp);
    if let Some(t) = &msg.truncated {
        m.val("truncated", t);
    }
    if chunk_ranges {
        let b = m.key("chunk_ranges");
        b.push(b'[');
        for (i, c) in msg.chunks.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            let mut co = Obj::open(b);
            co.uint("fmt", c.fmt.into());
            co.val("header", &[c.header.start, c.header.end]);
            co.val("payload", &[c.payload.start, c.payload.end]);
            co.close();
        }
        b.push(b']');
    }
    match &msg.body {
        Body::Control(c) => m.val("control", c),
        Body::UserControl(u) => {
            let mut uo = Obj::open(m.key("user_control"));
            uo.uint("event_type", u.event_type.into());
            uo.val("event", u.event);
            let mut p = Obj::open(uo.key("params"));
            if let Some(v) = u.stream_id {
                p.uint("stream_id", v.into());
            }
            if let Some(v) = u.buffer_length_ms {
                p.uint("buffer_length_ms", v.into());
            }
            if let Some(v) = u.timestamp {
                p.uint("timestamp", v.into());
            }
            if let Some(v) = u.rtt_us {
                p.uint("rtt_us", v);
            }
            if let Some(v) = u.raw {
                p.uint("raw_length", v.len() as u64);
            }
            p.close();
            uo.close();
        }
        Body::Audio(a) => audio(m.key("audio"), a),
        Body::Video(v) => video(m.key("video"), v),
        Body::Aggregate(subs) => {
            let b = m.key("aggregate");
            b.push(b'[');
            if depth < 4 {
                for (i, s) in subs.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    message(b, s, chunk_ranges, depth + 1);
                }
            }
            b.push(b']');
        }
        Body::Command(_) | Body::Data(_) | Body::SharedObject(_) => {
            // AMF-valued bodies: their one mapping is the Value form.
            if let serde_json::Value::Object(mut vm) = super::message_to_json(msg, false) {
                for k in ["command", "data", "shared_object"] {
                    if let Some(v) = vm.shift_remove(k) {
                        m.val(k, &v);
                    }
                }
            }
        }
        Body::Raw => {}
    }
    m.close();
}

fn config(b: &mut Vec<u8>, c: &CodecConfig) {
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
            let mut m = Obj::open(b);
            m.val("kind", "avc");
            m.uint("profile", (*profile).into());
            m.uint("compatibility", (*compatibility).into());
            m.uint("level", (*level).into());
            m.uint("nalu_length_size", (*nalu_length_size).into());
            m.uint("sps", sps.len() as u64);
            m.uint("pps", pps.len() as u64);
            if let Some(w) = width {
                m.uint("width", (*w).into());
            }
            if let Some(h) = height {
                m.uint("height", (*h).into());
            }
            m.close();
        }
        CodecConfig::Opaque { span } => {
            let mut m = Obj::open(b);
            m.val("kind", "opaque");
            m.uint("length", span.len() as u64);
            m.close();
        }
        other => put(b, other),
    }
}

/// Members of one track (`composition_time` only when the enclosing
/// object has none yet: `written_ct`).
fn track(m: &mut Obj<'_>, t: &MediaTrack, written_ct: bool) {
    if let Some(f) = &t.fourcc {
        m.val("fourcc", f);
    }
    if let (Some(ct), false) = (t.composition_time, written_ct) {
        m.val("composition_time", &ct);
    }
    if let Some(c) = &t.config {
        config(m.key("config"), c);
    }
}

fn tracks(m: &mut Obj<'_>, ts: &[MediaTrack], multitrack: Option<&str>, written_ct: bool) {
    if multitrack.is_some() || ts.len() > 1 {
        let b = m.key("tracks");
        b.push(b'[');
        for (i, t) in ts.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            let mut tm = Obj::open(b);
            tm.uint("track_id", t.track_id.into());
            track(&mut tm, t, false);
            tm.close();
        }
        b.push(b']');
    } else if let Some(t) = ts.first() {
        track(m, t, written_ct);
    }
}

fn video(b: &mut Vec<u8>, v: &Video) {
    let mut m = Obj::open(b);
    m.uint("frame_type", v.frame_type.into());
    m.bool("keyframe", v.keyframe);
    m.bool("enhanced", v.enhanced);
    if let Some(c) = v.codec_id {
        m.uint("codec_id", c.into());
    }
    m.val("codec", &v.codec);
    if let Some(p) = v.packet_type {
        m.uint("packet_type", p.into());
    }
    if let Some(p) = v.packet {
        m.val("packet", p);
    }
    if let Some(c) = v.composition_time {
        m.val("composition_time", &c);
    }
    if let Some(c) = v.command {
        m.uint("command", c.into());
    }
    if let Some(mt) = v.multitrack {
        m.val("multitrack", mt);
    }
    if let Some(t) = v.timestamp_offset_nanos {
        m.uint("timestamp_offset_nanos", t.into());
    }
    if !v.metadata.is_empty() {
        let b = m.key("metadata");
        b.push(b'[');
        for (i, x) in v.metadata.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            put(b, &super::amf_to_json(x));
        }
        b.push(b']');
    }
    tracks(
        &mut m,
        &v.tracks,
        v.multitrack,
        v.composition_time.is_some(),
    );
    m.close();
}

fn audio(b: &mut Vec<u8>, a: &Audio) {
    let mut m = Obj::open(b);
    m.uint("sound_format", a.sound_format.into());
    m.bool("enhanced", a.enhanced);
    m.val("codec", &a.codec);
    if let Some(v) = a.sample_rate {
        m.uint("sample_rate", v.into());
    }
    if let Some(v) = a.sample_bits {
        m.uint("sample_bits", v.into());
    }
    if let Some(v) = a.channels {
        m.uint("channels", v.into());
    }
    if let Some(p) = a.packet_type {
        m.uint("packet_type", p.into());
    }
    if let Some(p) = a.packet {
        m.val("packet", p);
    }
    if let Some(mt) = a.multitrack {
        m.val("multitrack", mt);
    }
    if let Some(t) = a.timestamp_offset_nanos {
        m.uint("timestamp_offset_nanos", t.into());
    }
    tracks(&mut m, &a.tracks, a.multitrack, false);
    m.close();
}
