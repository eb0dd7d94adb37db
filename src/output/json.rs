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
//! | `flow_start` | a new TCP flow (client -> server addresses in the envelope): `midstream`, `client_by` (syn/handshake/port/first_packet), `community_id`, `vlan` |
//! | `gap` | `offset`, `len`: bytes of one direction never seen |
//! | `tls` | a TLS flow's handshake as seen in the clear ([`crate::tls::TlsInfo`]); the flow's `handshake`, `rtmp` and RTMP-layer `anomaly` lines then carry `"transport": "rtmps"` (offsets in the plaintext stream) |
//! | `flow` | at flow end: `pkts_toserver`, `pkts_toclient`, `bytes_toserver`, `bytes_toclient`, `missed_bytes` (+ per direction), `retransmitted_bytes_toserver`, `retransmitted_bytes_toclient`, `messages_toserver`, `messages_toclient`, `start`, `end`, `reason`, `protocol` (what the flow carries, [`crate::classify`]), `evidence`, `confidence`, `midstream`, `client_by`, `community_id`, `vlan`; on a tunnel's virtual flow `transport` and `tunnel` ([`crate::rtmpt::TunnelFacts`]: sid, carrier flows, requests by kind, intervals, HTTP vs RTMP bytes, latency, seq faults), `tls` (TLS flows) |
//! | `session` | the RTMP session model of the flow ([`crate::session::Session`]), right after its `flow` line |
//! | `stats` | last line: totals, `anomalies` as an object name -> count |
//!
//! # AMF values
//!
//! Values map without loss; plain JSON where JSON can say it, otherwise a
//! *tagged form*: an object with exactly ONE key from the tag set below.
//!
//! | AMF | JSON |
//! |---|---|
//! | number (finite) | number (integral values without a fraction) |
//! | number NaN / +inf / -inf / -0 | `{"number":"NaN"}`, `{"number":"Infinity"}`, `{"number":"-Infinity"}`, `{"number":"-0"}` |
//! | AMF3 integer | `{"integer": n}` |
//! | boolean, null | `true`/`false`, `null` |
//! | undefined | `{"undefined": null}` |
//! | string (UTF-8) | string |
//! | string (not UTF-8) | `{"bytes": "<base64>"}` (ripgrep convention) |
//! | object / ECMA array with unique UTF-8 keys, no class name, and not a single tag-named key | JSON object in wire order |
//! | any other object (typed, repeated or non-UTF-8 keys) | `{"object": {"class"?: s, "properties": [[key, value], ...]}}` |
//! | ECMA array that cannot be a plain object | `{"ecma_array": {"count": n, "properties": [[key, value], ...]}}` |
//! | strict array, AMF3 dense-only array | JSON array |
//! | AMF3 array with associative part | `{"array": {"associative": [[k, v]...], "dense": [...]}}` |
//! | date | `{"date": {"ms": n, "timezone"?: n}}` |
//! | XML | `{"xml": s}` |
//! | AMF3 ByteArray | `{"bytearray": {"length": n}}` (bytes stay in the capture) |
//! | reference | `{"reference": {"index": n, "value"?: v}}` (`value` absent for a cycle) |
//! | AMF3 vector | `{"vector": {"kind", "fixed", "class"?, "items"}}` |
//! | AMF3 dictionary | `{"dictionary": {"weak_keys", "entries": [[k, v], ...]}}` |
//! | AMF3 externalizable | `{"externalizable": {"class": s, "length": n}}` |
//! | movieclip / unsupported / recordset | `{"movieclip": null}`, `{"unsupported": null}`, `{"recordset": null}` |
//! | undecodable | `{"invalid": {"marker": n}}` |
//!
//! Keys in the pair lists are strings or `{"bytes": ...}`. The plain-object form
//! does not keep the AMF0 marker difference between an anonymous object and an
//! ECMA array (nor the ECMA count hint).
//!
//! # Properties
//!
//! Streaming: memory holds only the addresses of open flows (FlowStart ->
//! FlowEnd) and, with sessions on, the session state of open flows. Output is
//! deterministic: key order is fixed, no hash-map iteration, no wall clock.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Map, Value as J};

use crate::amf::{AmfStr, Property, Value, ValueKind};
use crate::event::{Direction, Event, EventKind, FlowEnd, FlowId, FlowInfo};
use crate::redact::Redactor;
use crate::rtmp::message::{Audio, Body, CodecConfig, MediaTrack, Message, Video};
use crate::session::{Session, SessionTracker};

/// Version of the NDJSON schema (`schema/rtmpscope-events.schema.json`).
/// Bumped on any incompatible change to the line format.
pub const SCHEMA_VERSION: &str = "1";

/// Single-key object keys that mark a tagged AMF value.
pub const AMF_TAGS: &[&str] = &[
    "number",
    "integer",
    "undefined",
    "bytes",
    "object",
    "ecma_array",
    "array",
    "date",
    "xml",
    "bytearray",
    "reference",
    "vector",
    "dictionary",
    "externalizable",
    "movieclip",
    "unsupported",
    "recordset",
    "invalid",
];

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

/// Maps an f64 to JSON: integral values without a fraction, NaN/inf/-0 tagged.
pub fn number_to_json(n: f64) -> J {
    if n.is_nan() {
        json!({"number": "NaN"})
    } else if n.is_infinite() {
        json!({"number": if n > 0.0 { "Infinity" } else { "-Infinity" }})
    } else if n == 0.0 && n.is_sign_negative() {
        json!({"number": "-0"})
    } else if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        J::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(J::Null, J::Number)
    }
}

/// A wire string: JSON string, or `{"bytes": base64}` when not UTF-8.
pub fn amfstr_to_json(s: &AmfStr) -> J {
    use base64::Engine;
    match s {
        AmfStr::Text(t) => J::String(t.clone()),
        AmfStr::Bytes(b) => {
            json!({"bytes": base64::engine::general_purpose::STANDARD.encode(b)})
        }
    }
}

fn opt_str(s: &Option<AmfStr>) -> J {
    s.as_ref().map_or(J::Null, amfstr_to_json)
}

fn pairs(props: &[Property], depth: usize) -> J {
    J::Array(
        props
            .iter()
            .map(|p| J::Array(vec![amfstr_to_json(&p.key), amf_depth(&p.value, depth + 1)]))
            .collect(),
    )
}

/// Plain-object form when possible: unique UTF-8 keys, not one tag-named key.
fn plain_object(props: &[Property], depth: usize) -> Option<J> {
    let mut m = Map::new();
    for p in props {
        let k = p.key.as_text()?;
        if m.contains_key(k) {
            return None;
        }
        m.insert(k.to_owned(), amf_depth(&p.value, depth + 1));
    }
    if m.len() == 1 && m.keys().all(|k| AMF_TAGS.contains(&k.as_str())) {
        return None;
    }
    Some(J::Object(m))
}

/// Maps an AMF value to JSON (see the module doc for the tagged forms).
pub fn amf_to_json(v: &Value) -> J {
    amf_depth(v, 0)
}

fn amf_depth(v: &Value, depth: usize) -> J {
    // Decoders bound depth at MAX_DEPTH; this guards hand-built trees.
    if depth > crate::amf::MAX_DEPTH * 4 {
        return json!({"invalid": {"marker": 255}});
    }
    match &v.kind {
        ValueKind::Number(n) => number_to_json(*n),
        ValueKind::Integer(i) => json!({ "integer": i }),
        ValueKind::Boolean(b) => J::Bool(*b),
        ValueKind::String(s) => amfstr_to_json(s),
        ValueKind::Null => J::Null,
        ValueKind::Undefined => json!({ "undefined": null }),
        ValueKind::Object { class, properties } => {
            if class.is_none() {
                if let Some(o) = plain_object(properties, depth) {
                    return o;
                }
            }
            let mut inner = Map::new();
            if let Some(c) = class {
                inner.insert("class".into(), amfstr_to_json(c));
            }
            inner.insert("properties".into(), pairs(properties, depth));
            json!({ "object": inner })
        }
        ValueKind::EcmaArray { count, properties } => match plain_object(properties, depth) {
            Some(o) => o,
            None => json!({"ecma_array": {"count": count, "properties": pairs(properties, depth)}}),
        },
        ValueKind::StrictArray(items) => {
            J::Array(items.iter().map(|i| amf_depth(i, depth + 1)).collect())
        }
        ValueKind::Array { associative, dense } => {
            let d: Vec<J> = dense.iter().map(|i| amf_depth(i, depth + 1)).collect();
            if associative.is_empty() {
                J::Array(d)
            } else {
                json!({"array": {"associative": pairs(associative, depth), "dense": d}})
            }
        }
        ValueKind::Date { ms, timezone } => {
            let mut inner = Map::new();
            inner.insert("ms".into(), number_to_json(*ms));
            if let Some(tz) = timezone {
                inner.insert("timezone".into(), J::from(*tz));
            }
            json!({ "date": inner })
        }
        ValueKind::Xml(s) => json!({ "xml": amfstr_to_json(s) }),
        ValueKind::ByteArray(span) => json!({"bytearray": {"length": span.len()}}),
        ValueKind::Vector {
            kind,
            fixed,
            class,
            items,
        } => {
            let mut inner = Map::new();
            inner.insert("kind".into(), serde_json::to_value(kind).unwrap_or(J::Null));
            inner.insert("fixed".into(), J::Bool(*fixed));
            if let Some(c) = class {
                inner.insert("class".into(), amfstr_to_json(c));
            }
            inner.insert(
                "items".into(),
                J::Array(items.iter().map(|i| amf_depth(i, depth + 1)).collect()),
            );
            json!({ "vector": inner })
        }
        ValueKind::Dictionary { weak_keys, entries } => {
            let e: Vec<J> = entries
                .iter()
                .map(|(k, val)| J::Array(vec![amf_depth(k, depth + 1), amf_depth(val, depth + 1)]))
                .collect();
            json!({"dictionary": {"weak_keys": weak_keys, "entries": e}})
        }
        ValueKind::Externalizable { class, opaque } => {
            json!({"externalizable": {"class": amfstr_to_json(class), "length": opaque.len()}})
        }
        ValueKind::Reference { index, resolved } => {
            let mut inner = Map::new();
            inner.insert("index".into(), J::from(*index));
            if let Some(r) = resolved {
                inner.insert("value".into(), amf_depth(r, depth + 1));
            }
            json!({ "reference": inner })
        }
        ValueKind::MovieClip => json!({ "movieclip": null }),
        ValueKind::Unsupported => json!({ "unsupported": null }),
        ValueKind::RecordSet => json!({ "recordset": null }),
        ValueKind::Invalid { marker } => json!({"invalid": {"marker": marker}}),
    }
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
    m.insert("codec".into(), J::String(v.codec.clone()));
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
    m.insert("codec".into(), J::String(a.codec.clone()));
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

/// Streaming NDJSON writer. See the module documentation for the format.
pub struct JsonWriter<W: Write> {
    w: W,
    opts: JsonOptions,
    /// Open flows: identity plus the address strings (formatted once).
    flows: BTreeMap<FlowId, (FlowInfo, String, String)>,
    redactor: Redactor,
    sessions: Option<SessionTracker>,
    /// Open flows that are TLS (a `tls` event was seen): their RTMP events
    /// carry `"transport": "rtmps"`.
    tls_flows: std::collections::BTreeSet<FlowId>,
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
            tls_flows: std::collections::BTreeSet::new(),
        }
    }

    fn line(&mut self, v: &J) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v).map_err(io::Error::from)?;
        self.w.write_all(b"\n")
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
        let redacted;
        let ev = if self.opts.redact && Redactor::may_change(ev) {
            redacted = self.redactor.redact_event(ev);
            &redacted
        } else {
            ev
        };
        if let EventKind::FlowStart(info) = &ev.kind {
            let (c, s) = (info.client_ip.to_string(), info.server_ip.to_string());
            self.flows.insert(info.flow_id, (info.clone(), c, s));
        }
        let (etype, data) = match &ev.kind {
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
                ("flow_start", J::Object(m))
            }
            EventKind::Handshake(h) => ("handshake", serde_json::to_value(h).unwrap_or(J::Null)),
            EventKind::Message(msg) => ("rtmp", message_to_json(msg, self.opts.chunk_ranges)),
            EventKind::Gap(g) => ("gap", json!({"offset": g.offset, "len": g.len})),
            EventKind::Anomaly(a) => ("anomaly", serde_json::to_value(a).unwrap_or(J::Null)),
            EventKind::FlowEnd(end) => {
                let info = ev.flow_id.and_then(|f| self.flows.get(&f)).map(|x| &x.0);
                let mut v = flow_to_json(info, end);
                if let (Some(t), J::Object(m)) = (&end.tls, &mut v) {
                    let r = self.opts.redact.then_some(&self.redactor);
                    m.insert("tls".into(), tls_to_json(t, r));
                }
                ("flow", v)
            }
            EventKind::Tls(t) => {
                if let Some(f) = ev.flow_id {
                    self.tls_flows.insert(f);
                }
                let r = self.opts.redact.then_some(&self.redactor);
                ("tls", tls_to_json(t, r))
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
                ("stats", v)
            }
        };
        let mut m = self.envelope(ev, etype);
        let rtmp_layer = match &ev.kind {
            EventKind::Handshake(_) | EventKind::Message(_) => true,
            EventKind::Anomaly(a) => !a.name.starts_with("tls.") && !a.name.starts_with("tcp."),
            _ => false,
        };
        if rtmp_layer && ev.flow_id.is_some_and(|f| self.tls_flows.contains(&f)) {
            m.insert("transport".into(), J::from("rtmps"));
        }
        m.insert(etype.into(), data);
        if let EventKind::FlowEnd(_) = &ev.kind {
            if let Some(f) = ev.flow_id {
                self.flows.remove(&f);
                self.tls_flows.remove(&f);
            }
        }
        Some(J::Object(m))
    }

    fn envelope(&self, ev: &Event, etype: &str) -> Map<String, J> {
        let mut m = Map::new();
        m.insert("timestamp".into(), J::from(ev.time.rfc3339_micros()));
        if let Some(f) = ev.flow_id {
            m.insert("flow_id".into(), J::from(f));
        }
        if ev.pcap_cnt > 0 {
            m.insert("pcap_cnt".into(), J::from(ev.pcap_cnt));
        }
        m.insert("event_type".into(), J::from(etype));
        if let Some((info, cip, sip)) = ev.flow_id.and_then(|f| self.flows.get(&f)) {
            let client = (cip.as_str(), info.client_port);
            let server = (sip.as_str(), info.server_port);
            let (src, dst) = match ev.direction {
                Some(Direction::ToClient) => (server, client),
                _ => (client, server),
            };
            m.insert("src_ip".into(), J::from(src.0));
            m.insert("src_port".into(), J::from(src.1));
            m.insert("dest_ip".into(), J::from(dst.0));
            m.insert("dest_port".into(), J::from(dst.1));
            if let Some(t) = &info.tunnel {
                m.insert("transport".into(), J::from(t.transport.as_str()));
                m.insert("tunnel_sid".into(), J::from(t.sid.clone()));
            }
        }
        if let Some(d) = ev.direction {
            m.insert("direction".into(), J::from(d.as_str()));
        }
        m
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
        if let Some(v) = self.event_to_json(ev) {
            self.line(&v)?;
        }
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
        let s = if self.opts.redact {
            s.redacted(&mut self.redactor)
        } else {
            s.clone()
        };
        let v = session_line(&s);
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
        self.w.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
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
