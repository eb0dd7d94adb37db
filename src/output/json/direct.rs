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
use crate::time::PacketTime;

/// Appends `v` as JSON (serde_json's formatting and escaping).
#[inline]
pub(crate) fn put<T: Serialize + ?Sized>(b: &mut Vec<u8>, v: &T) {
    // Writing into a Vec cannot fail; the types written have string keys.
    let _ = serde_json::to_writer(&mut *b, v);
}

/// The RFC 3339 text of the last timestamp written: the next one in the
/// same second only rewrites its microseconds.
#[derive(Debug, Default)]
pub(crate) struct Stamp {
    sec: Option<i64>,
    text: [u8; 27],
}

impl Stamp {
    /// Appends [`PacketTime::write_rfc3339_micros`] of `t` to `b`.
    #[inline]
    pub(crate) fn write(&mut self, t: PacketTime, b: &mut Vec<u8>) {
        if self.sec == Some(t.sec) && t.nsec < 1_000_000_000 {
            let mut us = t.nsec / 1000;
            for c in self.text[20..26].iter_mut().rev() {
                *c = b'0' + (us % 10) as u8;
                us /= 10;
            }
            b.extend_from_slice(&self.text);
            return;
        }
        let at = b.len();
        t.write_rfc3339_micros(b);
        // Only the fixed-width form (years 0..=9999) is kept.
        match b.get(at..).and_then(|w| <[u8; 27]>::try_from(w).ok()) {
            Some(w) if t.nsec < 1_000_000_000 => {
                self.text = w;
                self.sec = Some(t.sec);
            }
            _ => self.sec = None,
        }
    }
}

/// `,"k":` of a member after the first of an object, as one literal.
macro_rules! member {
    ($k:literal) => {
        concat!(",\"", $k, "\":").as_bytes()
    };
}

/// Appends the decimal digits of `v` (small values, the common case, as
/// single bytes rather than a copy of a formatted buffer).
#[inline(always)]
fn put_u64(b: &mut Vec<u8>, v: u64) {
    if v < 10 {
        b.push(b'0' + v as u8);
    } else if v < 100 {
        b.push(b'0' + (v / 10) as u8);
        b.push(b'0' + (v % 10) as u8);
    } else {
        let mut tmp = itoa::Buffer::new();
        for &c in tmp.format(v).as_bytes() {
            b.push(c);
        }
    }
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
    #[inline(always)]
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

    /// String member: written as is when serde_json would not escape any
    /// of its bytes (no control character, quote or backslash), else
    /// through serde_json.
    #[inline]
    pub(crate) fn str(&mut self, k: &str, v: &str) {
        let b = self.key(k);
        if v.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
            b.reserve(v.len() + 2);
            b.push(b'"');
            b.extend_from_slice(v.as_bytes());
            b.push(b'"');
        } else {
            put(b, v);
        }
    }

    /// String member that is one of the writer's own names (fixed ASCII
    /// words: nothing to escape).
    #[inline(always)]
    pub(crate) fn name(&mut self, k: &str, v: &'static str) {
        debug_assert!(v.bytes().all(|c| c > 0x20 && c != b'"' && c != b'\\'));
        let b = self.key(k);
        b.push(b'"');
        b.extend_from_slice(v.as_bytes());
        b.push(b'"');
    }

    /// Unsigned integer member (the common case, without serde).
    #[inline(always)]
    pub(crate) fn uint(&mut self, k: &str, v: u64) {
        put_u64(self.key(k), v);
    }

    #[inline(always)]
    pub(crate) fn bool(&mut self, k: &str, v: bool) {
        let b = self.key(k);
        b.extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A member after the first: `lit` is its `,"key":` ([`member!`]).
    #[inline(always)]
    pub(crate) fn then_uint(&mut self, lit: &[u8], v: u64) {
        self.then_raw(lit);
        put_u64(self.b, v);
    }

    /// A member after the first with one of the writer's own names as
    /// value (see [`Obj::name`]).
    #[inline(always)]
    pub(crate) fn then_name(&mut self, lit: &[u8], v: &'static str) {
        debug_assert!(v.bytes().all(|c| c > 0x20 && c != b'"' && c != b'\\'));
        self.then_raw(lit);
        self.b.push(b'"');
        self.b.extend_from_slice(v.as_bytes());
        self.b.push(b'"');
    }

    /// A boolean member after the first.
    #[inline(always)]
    pub(crate) fn then_bool(&mut self, lit: &[u8], v: bool) {
        self.then_raw(lit);
        self.b
            .extend_from_slice(if v { b"true".as_slice() } else { b"false" });
    }

    /// Bytes of members after the first, written as they are.
    #[inline(always)]
    pub(crate) fn then_raw(&mut self, lit: &[u8]) {
        debug_assert!(!self.first && lit.first() == Some(&b','));
        self.b.extend_from_slice(lit);
        self.first = false;
    }

    pub(crate) fn close(self) {
        self.b.push(b'}');
    }
}

/// An open flow as the writer knows it: its identity, its formatted
/// client and server addresses, and the envelope members from `src_ip`
/// to `direction` (and `transport`), written once per direction.
#[derive(Debug)]
pub(crate) struct FlowText {
    pub(crate) info: FlowInfo,
    cip: String,
    sip: String,
    /// By [`FlowText::slot`]; empty until first written.
    tails: [Vec<u8>; 6],
    /// Per direction (to server, to client): the last message head and
    /// media objects written ([`Memo`]).
    memo: [Memo; 2],
}

/// The last `rtmp` object head (`csid` .. `msid`) and `audio` / `video`
/// objects written for one direction of a flow, with the values they were
/// written from: the next message with equal values copies the bytes
/// instead of writing them again (consecutive media messages of a stream
/// nearly always share them). Only single-track media bodies without a
/// codec configuration are kept.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// For audio, video and the other types (they interleave).
    head: [Option<(HeadKey, Vec<u8>)>; 3],
    audio: Option<(Audio, Vec<u8>)>,
    video: Option<(Video, Vec<u8>)>,
}

/// The values of an `rtmp` object head: csid, type id, msid, msid unknown.
type HeadKey = (u32, u8, u32, bool);

/// A track as far as the JSON shows it (the payload span is not written),
/// for single-track bodies without a config.
fn plain_track_eq(x: &[MediaTrack], y: &[MediaTrack]) -> bool {
    match (x, y) {
        ([x], [y]) => {
            let MediaTrack {
                track_id,
                fourcc,
                composition_time,
                payload: _,
                config,
            } = x;
            config.is_none()
                && y.config.is_none()
                && *track_id == y.track_id
                && *fourcc == y.fourcc
                && *composition_time == y.composition_time
        }
        _ => false,
    }
}

/// True when `a` and `b` are written as the same JSON (every field but the
/// payload spans; the destructuring fails to compile when a field is added).
fn audio_json_eq(a: &Audio, b: &Audio) -> bool {
    let Audio {
        sound_format,
        enhanced,
        codec,
        sample_rate,
        sample_bits,
        channels,
        packet_type,
        packet,
        multitrack,
        tracks,
        timestamp_offset_nanos,
    } = a;
    *sound_format == b.sound_format
        && *enhanced == b.enhanced
        && *codec == b.codec
        && *sample_rate == b.sample_rate
        && *sample_bits == b.sample_bits
        && *channels == b.channels
        && *packet_type == b.packet_type
        && *packet == b.packet
        && *multitrack == b.multitrack
        && *timestamp_offset_nanos == b.timestamp_offset_nanos
        && plain_track_eq(tracks, &b.tracks)
}

/// As [`audio_json_eq`] for video.
fn video_json_eq(a: &Video, b: &Video) -> bool {
    let Video {
        frame_type,
        keyframe,
        enhanced,
        codec_id,
        codec,
        packet_type,
        packet,
        composition_time,
        multitrack,
        tracks,
        timestamp_offset_nanos,
        command,
        metadata,
    } = a;
    *frame_type == b.frame_type
        && *keyframe == b.keyframe
        && *enhanced == b.enhanced
        && *codec_id == b.codec_id
        && *codec == b.codec
        && *packet_type == b.packet_type
        && *packet == b.packet
        && *composition_time == b.composition_time
        && *multitrack == b.multitrack
        && *timestamp_offset_nanos == b.timestamp_offset_nanos
        && *command == b.command
        && metadata.is_empty()
        && b.metadata.is_empty()
        && plain_track_eq(tracks, &b.tracks)
}

/// Writes with `write`, or copies the bytes kept in `slot` when `eq` says
/// they were written from an equal value; keeps what it writes when
/// `eq(v, v)` (a value the memo may hold).
fn memo_write<T: Clone>(
    b: &mut Vec<u8>,
    slot: &mut Option<(T, Vec<u8>)>,
    v: &T,
    eq: fn(&T, &T) -> bool,
    write: fn(&mut Vec<u8>, &T),
) {
    if let Some((prev, bytes)) = slot {
        if eq(prev, v) {
            b.extend_from_slice(bytes);
            return;
        }
    }
    let at = b.len();
    write(b, v);
    if eq(v, v) {
        let text = b.get(at..).unwrap_or_default();
        match slot {
            Some((prev, bytes)) => {
                prev.clone_from(v);
                bytes.clear();
                bytes.extend_from_slice(text);
            }
            None => *slot = Some((v.clone(), text.to_vec())),
        }
    }
}

impl FlowText {
    pub(crate) fn new(info: FlowInfo, cip: String, sip: String) -> Self {
        FlowText {
            info,
            cip,
            sip,
            tails: Default::default(),
            memo: Default::default(),
        }
    }

    fn slot(dir: Option<Direction>, rtmps: bool) -> usize {
        let d = match dir {
            None => 0,
            Some(Direction::ToServer) => 1,
            Some(Direction::ToClient) => 2,
        };
        d + if rtmps { 3 } else { 0 }
    }
}

/// The envelope members of `ev` (`timestamp` .. `direction`, then
/// `transport: rtmps` for the RTMP-layer events of a TLS flow); `flow`
/// holds the flow's identity and formatted client/server addresses when
/// open.
pub(crate) fn envelope<'f>(
    o: &mut Obj<'_>,
    ev: &Event,
    etype: &'static str,
    flow: Option<&'f mut FlowText>,
    rtmps: bool,
    stamp: &mut Stamp,
) -> Option<&'f mut Memo> {
    // RFC 3339 text is plain ASCII: no escaping.
    let b = o.key("timestamp");
    b.push(b'"');
    stamp.write(ev.time, b);
    b.push(b'"');
    if let Some(f) = ev.flow_id {
        o.uint("flow_id", f);
    }
    if ev.pcap_cnt > 0 {
        o.uint("pcap_cnt", ev.pcap_cnt);
    }
    o.name("event_type", etype);
    match flow {
        // The rest depends only on the flow, the direction and `rtmps`:
        // written once, then copied.
        Some(ft) if ft.info.tunnel.is_none() => {
            let slot = FlowText::slot(ev.direction, rtmps);
            if ft.tails[slot].is_empty() {
                let mut t = Vec::new();
                let mut to = Obj {
                    b: &mut t,
                    first: false,
                };
                tail(&mut to, ev, Some(&*ft), rtmps);
                ft.tails[slot] = t;
            }
            o.b.extend_from_slice(&ft.tails[slot]);
            let d = ev.direction?;
            ft.memo.get_mut(d.index())
        }
        flow => {
            tail(o, ev, flow.map(|f| &*f), rtmps);
            None
        }
    }
}

/// The envelope after `event_type`.
fn tail(o: &mut Obj<'_>, ev: &Event, flow: Option<&FlowText>, rtmps: bool) {
    if let Some(ft) = flow {
        let info = &ft.info;
        let client = (ft.cip.as_str(), info.client_port);
        let server = (ft.sip.as_str(), info.server_port);
        let (src, dst) = match ev.direction {
            Some(Direction::ToClient) => (server, client),
            _ => (client, server),
        };
        o.str("src_ip", src.0);
        o.uint("src_port", src.1.into());
        o.str("dest_ip", dst.0);
        o.uint("dest_port", dst.1.into());
        if let Some(t) = &info.tunnel {
            // (`rtmps` replaces the tunnel's transport in place.)
            o.str(
                "transport",
                if rtmps { "rtmps" } else { t.transport.as_str() },
            );
            o.str("tunnel_sid", &t.sid);
        }
    }
    if let Some(d) = ev.direction {
        o.name("direction", d.as_str());
    }
    if rtmps && flow.is_none_or(|ft| ft.info.tunnel.is_none()) {
        o.name("transport", "rtmps");
    }
}

/// Writes the data of the hot event kinds (`rtmp`, `gap`, `anomaly`,
/// `handshake`) under their key; returns false for the other kinds (the
/// caller writes those from their Value form).
pub(crate) fn encode_event_body(
    o: &mut Obj<'_>,
    ev: &Event,
    chunk_ranges: bool,
    memo: Option<&mut Memo>,
) -> bool {
    match &ev.kind {
        EventKind::Message(msg) => {
            message_memo(o.key("rtmp"), msg, chunk_ranges, 0, memo);
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
    message_memo(b, msg, chunk_ranges, depth, None);
}

/// `{"csid":..,"type_id":..,"type":..,"msid":..` (and `msid_unknown`).
fn head(b: &mut Vec<u8>, k: &HeadKey) {
    let (csid, type_id, msid, unknown) = *k;
    let mut m = Obj::open(b);
    m.uint("csid", csid.into());
    // The members after the first, each with its comma and key as one
    // literal.
    m.then_uint(member!("type_id"), type_id.into());
    m.then_name(member!("type"), crate::rtmp::message::type_name(type_id));
    m.then_uint(member!("msid"), msid.into());
    if unknown {
        m.then_raw(b",\"msid_unknown\":true");
    }
}

/// [`message`] with the direction's [`Memo`] (top-level messages).
fn message_memo(
    b: &mut Vec<u8>,
    msg: &Message,
    chunk_ranges: bool,
    depth: usize,
    mut memo: Option<&mut Memo>,
) {
    // Room for the members below without growing on the way (most lines
    // are shorter).
    b.reserve(512);
    let k = (msg.csid, msg.type_id, msg.msid, msg.msid_unknown);
    match memo.as_deref_mut() {
        Some(mm) => {
            let slot = match msg.type_id {
                8 => 0,
                9 => 1,
                _ => 2,
            };
            memo_write(b, &mut mm.head[slot], &k, |x, y| x == y, head)
        }
        None => head(b, &k),
    }
    let mut m = Obj { b, first: false };
    m.then_uint(member!("timestamp"), msg.timestamp.into());
    m.then_uint(member!("timestamp_delta"), msg.timestamp_delta.into());
    if let Some(e) = &msg.timestamp_estimate {
        // Capture loss (or a chunk stream never anchored by a fmt 0
        // header): `timestamp` is an estimate within these bounds.
        m.bool("timestamp_estimated", true);
        m.val("timestamp_bound", e);
    }
    m.then_uint(member!("length"), msg.length.into());
    m.then_uint(member!("fmt"), msg.fmt.into());
    m.then_uint(member!("chunks"), msg.chunk_count().into());
    m.then_uint(member!("stream_offset"), msg.first_byte);
    m.then_raw(if msg.extended_timestamp {
        b",\"extended_timestamp\":true"
    } else {
        b",\"extended_timestamp\":false"
    });
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
            uo.name("event", u.event);
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
        Body::Audio(a) => match memo {
            Some(mm) => memo_write(m.key("audio"), &mut mm.audio, a, audio_json_eq, audio),
            None => audio(m.key("audio"), a),
        },
        Body::Video(v) => match memo {
            Some(mm) => memo_write(m.key("video"), &mut mm.video, v, video_json_eq, video),
            None => video(m.key("video"), v),
        },
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
            m.name("kind", "avc");
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
            m.name("kind", "opaque");
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
        m.str("fourcc", f);
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
    m.then_bool(member!("keyframe"), v.keyframe);
    m.then_bool(member!("enhanced"), v.enhanced);
    if let Some(c) = v.codec_id {
        m.then_uint(member!("codec_id"), c.into());
    }
    m.str("codec", &v.codec);
    if let Some(p) = v.packet_type {
        m.then_uint(member!("packet_type"), p.into());
    }
    if let Some(p) = v.packet {
        m.name("packet", p);
    }
    if let Some(c) = v.composition_time {
        m.val("composition_time", &c);
    }
    if let Some(c) = v.command {
        m.then_uint(member!("command"), c.into());
    }
    if let Some(mt) = v.multitrack {
        m.name("multitrack", mt);
    }
    if let Some(t) = v.timestamp_offset_nanos {
        m.then_uint(member!("timestamp_offset_nanos"), t.into());
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
    m.then_bool(member!("enhanced"), a.enhanced);
    m.str("codec", &a.codec);
    if let Some(v) = a.sample_rate {
        m.then_uint(member!("sample_rate"), v.into());
    }
    if let Some(v) = a.sample_bits {
        m.then_uint(member!("sample_bits"), v.into());
    }
    if let Some(v) = a.channels {
        m.then_uint(member!("channels"), v.into());
    }
    if let Some(p) = a.packet_type {
        m.then_uint(member!("packet_type"), p.into());
    }
    if let Some(p) = a.packet {
        m.name("packet", p);
    }
    if let Some(mt) = a.multitrack {
        m.name("multitrack", mt);
    }
    if let Some(t) = a.timestamp_offset_nanos {
        m.then_uint(member!("timestamp_offset_nanos"), t.into());
    }
    tracks(&mut m, &a.tracks, a.multitrack, false);
    m.close();
}
