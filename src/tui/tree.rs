//! The detail tree of one message: headers, chunks, every decoded field, AMF
//! values as an expandable tree. Each node knows the bytes it came from
//! (stream range for headers, body span for body fields) so the hex view can
//! highlight them.
//!
//! Contract: built from a decoded [`Message`]; every label is sanitised and,
//! with redaction on (events arrive already redacted by the model), strings
//! carrying a `redacted:` placeholder have their byte spans listed in [`Tree::secret_spans`] so the hex view masks them too.
//! Node count is bounded by [`MAX_TREE_NODES`].

use super::sanitize::{clean, clean_amf, truncate};
use super::summary::{camel, fmt_num};
use crate::amf::{AmfStr, Span, Value, ValueKind};
use crate::event::ByteRange;
use crate::rtmp::message::{Body, CodecConfig, CommandInfo, Control, MediaTrack, Message};

/// Nodes built per message tree (larger AMF bodies are cut with a note).
pub const MAX_TREE_NODES: usize = 20_000;
/// Characters of a string value shown in a label.
pub const MAX_LABEL_STR: usize = 200;

/// Bytes a node describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hl {
    None,
    /// Stream offsets (headers, whole message).
    Stream(ByteRange),
    /// Body-relative span.
    Body(Span),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub depth: u16,
    pub label: String,
    pub hl: Hl,
    pub has_children: bool,
}

/// A flattened (pre-order) tree with collapse state.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub collapsed: Vec<bool>,
    pub secret_spans: Vec<Span>,
    redact: bool,
}

impl Tree {
    fn push(&mut self, depth: usize, label: impl Into<String>, hl: Hl) -> bool {
        if self.nodes.len() >= MAX_TREE_NODES {
            return false;
        }
        if self.nodes.len() == MAX_TREE_NODES - 1 {
            self.nodes.push(Node {
                depth: depth as u16,
                label: format!("… (tree cut at {MAX_TREE_NODES} nodes)"),
                hl: Hl::None,
                has_children: false,
            });
            self.collapsed.push(false);
            return false;
        }
        let d = depth.min(u16::MAX as usize) as u16;
        if let Some(prev) = self.nodes.last_mut() {
            if prev.depth < d {
                prev.has_children = true;
            }
        }
        self.nodes.push(Node {
            depth: d,
            label: label.into(),
            hl,
            has_children: false,
        });
        self.collapsed.push(false);
        true
    }

    /// Indices of the visible nodes (ancestors expanded).
    pub fn visible(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut hide_below: Option<u16> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(d) = hide_below {
                if n.depth > d {
                    continue;
                }
                hide_below = None;
            }
            out.push(i);
            if n.has_children && self.collapsed.get(i).copied().unwrap_or(false) {
                hide_below = Some(n.depth);
            }
        }
        out
    }

    /// Toggles a node's collapse state.
    pub fn toggle(&mut self, i: usize) {
        if let (Some(c), Some(n)) = (self.collapsed.get_mut(i), self.nodes.get(i)) {
            if n.has_children {
                *c = !*c;
            }
        }
    }

    pub fn set_collapsed(&mut self, i: usize, v: bool) {
        if let (Some(c), Some(n)) = (self.collapsed.get_mut(i), self.nodes.get(i)) {
            if n.has_children {
                *c = v;
            }
        }
    }

    /// Collapses big lists and deep levels so the first view is readable.
    fn default_collapse(&mut self) {
        for i in 0..self.nodes.len() {
            let d = self.nodes[i].depth;
            let kids = self.nodes[i + 1..]
                .iter()
                .take_while(|n| n.depth > d)
                .filter(|n| n.depth == d + 1)
                .count();
            let hdr = d == 1
                && (self.nodes[i].label == "Header" || self.nodes[i].label.starts_with("Chunks ("));
            if self.nodes[i].has_children && (d >= 4 || kids > 16 || hdr) {
                self.collapsed[i] = true;
            }
        }
    }

    /// Detail tree of a message (`title` is the first line).
    pub fn build(title: &str, m: &Message, redact_on: bool) -> Tree {
        let mut t = Tree {
            redact: redact_on,
            ..Tree::default()
        };
        t.push(0, clean(title), Hl::None);
        t.message(1, m);
        t.default_collapse();
        t
    }

    fn message(&mut self, d: usize, m: &Message) {
        let hdr = m
            .chunks
            .first()
            .map(|c| Hl::Stream(c.header))
            .unwrap_or(Hl::None);
        self.push(d, "Header", hdr);
        self.push(d + 1, format!("fmt: {}", m.fmt), hdr);
        self.push(d + 1, format!("csid: {}", m.csid), hdr);
        self.push(
            d + 1,
            format!("type: {} ({})", m.type_id, m.type_name()),
            hdr,
        );
        if m.msid_unknown {
            self.push(
                d + 1,
                "msid: unknown (no fmt 0 header seen)".to_string(),
                hdr,
            );
        } else {
            self.push(d + 1, format!("msid: {}", m.msid), hdr);
        }
        self.push(
            d + 1,
            format!(
                "timestamp: {}{} (delta {}){}",
                m.timestamp,
                match m.timestamp_estimate {
                    Some(e) => format!(
                        " ~estimated, true value {}..{}",
                        e.low,
                        e.high.map_or("?".to_string(), |h| h.to_string())
                    ),
                    None => String::new(),
                },
                m.timestamp_delta,
                if m.extended_timestamp {
                    " extended"
                } else {
                    ""
                }
            ),
            hdr,
        );
        self.push(d + 1, format!("length: {}", m.length), hdr);
        self.push(
            d + 1,
            format!("stream bytes: {}..={}", m.first_byte, m.last_byte),
            Hl::Stream(ByteRange::new(m.first_byte, m.last_byte.saturating_add(1))),
        );
        if let Some(tr) = &m.truncated {
            self.push(
                d,
                format!(
                    "TRUNCATED: {:?}, received {}, lost {}",
                    tr.cause, tr.received, tr.lost
                ),
                Hl::None,
            );
        }
        self.push(d, format!("Chunks ({})", m.chunks.len()), Hl::None);
        for (i, c) in m.chunks.iter().enumerate() {
            self.push(
                d + 1,
                format!(
                    "#{i} fmt {} header {}..{} ({} B) payload {}..{} ({} B)",
                    c.fmt,
                    c.header.start,
                    c.header.end,
                    c.header.len(),
                    c.payload.start,
                    c.payload.end,
                    c.payload.len()
                ),
                Hl::Stream(c.header),
            );
        }
        let whole = Hl::Body(Span::new(0, m.length as usize));
        match &m.body {
            Body::Control(c) => {
                self.push(d, "Control", whole);
                let s = match c {
                    Control::SetChunkSize { size, .. } => format!("set_chunk_size: {size}"),
                    Control::Abort { csid } => format!("abort csid: {csid}"),
                    Control::Acknowledgement { sequence } => format!("acknowledgement: {sequence}"),
                    Control::WindowAckSize { size } => format!("window_ack_size: {size}"),
                    Control::SetPeerBandwidth { size, limit_type } => {
                        format!("set_peer_bandwidth: {size} limit {limit_type:?}")
                    }
                };
                self.push(d + 1, s, whole);
            }
            Body::UserControl(u) => {
                self.push(d, format!("UserControl {}", camel(u.event)), whole);
                self.push(
                    d + 1,
                    format!("event_type: {} ({})", u.event_type, u.event),
                    Hl::Body(Span::new(0, 2)),
                );
                if let Some(v) = u.stream_id {
                    self.push(d + 1, format!("stream_id: {v}"), Hl::Body(Span::new(2, 6)));
                }
                if let Some(v) = u.buffer_length_ms {
                    self.push(
                        d + 1,
                        format!("buffer_length_ms: {v}"),
                        Hl::Body(Span::new(6, 10)),
                    );
                }
                if let Some(v) = u.timestamp {
                    self.push(d + 1, format!("timestamp: {v}"), Hl::Body(Span::new(2, 6)));
                }
                if let Some(v) = u.rtt_us {
                    self.push(d + 1, format!("rtt: {:.3} ms", v as f64 / 1000.0), Hl::None);
                }
                if let Some(sp) = u.raw {
                    self.push(d + 1, format!("raw: {} bytes", sp.len()), Hl::Body(sp));
                }
            }
            Body::Command(c) => {
                self.push(
                    d,
                    format!("Command {}", truncate(&clean_amf(&c.name), MAX_LABEL_STR)),
                    whole,
                );
                if let Some(tx) = c.transaction_id {
                    let hl = c.transaction_id_span.map_or(Hl::None, Hl::Body);
                    self.push(d + 1, format!("transaction_id: {}", fmt_num(tx)), hl);
                }
                if let Some(o) = &c.object {
                    self.value(d + 1, "object", o);
                }
                for (i, a) in c.args.iter().enumerate() {
                    self.value(d + 1, &format!("arg[{i}]"), a);
                }
                if let Some(info) = &c.info {
                    self.info(d + 1, info);
                }
            }
            Body::Data(dt) => {
                let n = dt
                    .name
                    .as_ref()
                    .map(|n| truncate(&clean_amf(n), MAX_LABEL_STR))
                    .unwrap_or_default();
                self.push(d, format!("Data {n}"), whole);
                for (i, a) in dt.args.iter().enumerate() {
                    self.value(d + 1, &format!("arg[{i}]"), a);
                }
            }
            Body::SharedObject(so) => {
                self.push(
                    d,
                    format!(
                        "SharedObject '{}' version {} flags 0x{:08x}{}",
                        truncate(&clean_amf(&so.name), MAX_LABEL_STR),
                        so.version,
                        so.flags,
                        if so.persistent { " persistent" } else { "" }
                    ),
                    whole,
                );
                for e in &so.events {
                    let n = e
                        .name
                        .as_ref()
                        .map(|n| format!(" '{}'", truncate(&clean_amf(n), MAX_LABEL_STR)))
                        .unwrap_or_default();
                    self.push(
                        d + 1,
                        format!("event {} ({}){n}", e.event, e.event_type),
                        Hl::Body(e.span),
                    );
                    for (i, v) in e.values.iter().enumerate() {
                        self.value(d + 2, &format!("value[{i}]"), v);
                    }
                }
            }
            Body::Video(v) => {
                self.push(d, format!("Video {}", clean(&v.codec)), whole);
                self.push(
                    d + 1,
                    format!(
                        "frame_type: {}{}",
                        v.frame_type,
                        if v.keyframe { " (keyframe)" } else { "" }
                    ),
                    Hl::Body(Span::new(0, 1)),
                );
                self.push(
                    d + 1,
                    format!("enhanced: {}", v.enhanced),
                    Hl::Body(Span::new(0, 1)),
                );
                if let Some(c) = v.codec_id {
                    self.push(d + 1, format!("codec_id: {c}"), Hl::Body(Span::new(0, 1)));
                }
                // Legacy AVC/HEVC: byte 1 packet type, bytes 2-4 composition
                // time; E-RTMP packs the packet type into byte 0.
                let (pt_hl, ct_hl) = if v.enhanced {
                    (Hl::Body(Span::new(0, 1)), Hl::None)
                } else {
                    (Hl::Body(Span::new(1, 2)), Hl::Body(Span::new(2, 5)))
                };
                if let Some(p) = v.packet_type {
                    self.push(
                        d + 1,
                        format!("packet_type: {p} ({})", v.packet.unwrap_or("?")),
                        pt_hl,
                    );
                }
                if let Some(ct) = v.composition_time {
                    self.push(d + 1, format!("composition_time: {ct}"), ct_hl);
                }
                if let Some(mt) = v.multitrack {
                    self.push(d + 1, format!("multitrack: {mt}"), Hl::None);
                }
                if let Some(n) = v.timestamp_offset_nanos {
                    self.push(d + 1, format!("timestamp_offset_nanos: {n}"), Hl::None);
                }
                if let Some(c) = v.command {
                    self.push(d + 1, format!("command: {c}"), Hl::None);
                }
                self.tracks(d + 1, &v.tracks);
            }
            Body::Audio(a) => {
                self.push(d, format!("Audio {}", clean(&a.codec)), whole);
                self.push(
                    d + 1,
                    format!("sound_format: {}", a.sound_format),
                    Hl::Body(Span::new(0, 1)),
                );
                self.push(
                    d + 1,
                    format!("enhanced: {}", a.enhanced),
                    Hl::Body(Span::new(0, 1)),
                );
                if let Some(r) = a.sample_rate {
                    self.push(
                        d + 1,
                        format!("sample_rate: {r}"),
                        Hl::Body(Span::new(0, 1)),
                    );
                }
                if let Some(b) = a.sample_bits {
                    self.push(
                        d + 1,
                        format!("sample_bits: {b}"),
                        Hl::Body(Span::new(0, 1)),
                    );
                }
                if let Some(c) = a.channels {
                    self.push(d + 1, format!("channels: {c}"), Hl::Body(Span::new(0, 1)));
                }
                if let Some(p) = a.packet_type {
                    let hl = if a.enhanced {
                        Hl::Body(Span::new(0, 1))
                    } else {
                        Hl::Body(Span::new(1, 2))
                    };
                    self.push(
                        d + 1,
                        format!("packet_type: {p} ({})", a.packet.unwrap_or("?")),
                        hl,
                    );
                }
                if let Some(mt) = a.multitrack {
                    self.push(d + 1, format!("multitrack: {mt}"), Hl::None);
                }
                self.tracks(d + 1, &a.tracks);
            }
            Body::Aggregate(subs) => {
                self.push(d, format!("Aggregate ({} sub-messages)", subs.len()), whole);
                for (i, s) in subs.iter().enumerate() {
                    if !self.push(
                        d + 1,
                        format!(
                            "sub[{i}] {} ts={} len={}",
                            s.type_name(),
                            s.timestamp,
                            s.length
                        ),
                        Hl::Stream(ByteRange::new(s.first_byte, s.last_byte.saturating_add(1))),
                    ) {
                        break;
                    }
                    self.message(d + 2, s);
                }
            }
            Body::Raw => {
                self.push(
                    d,
                    format!("Raw body ({} bytes, not decoded)", m.length),
                    whole,
                );
            }
        }
    }

    fn tracks(&mut self, d: usize, tracks: &[MediaTrack]) {
        for t in tracks {
            let fc = t.fourcc.as_deref().map(clean).unwrap_or_default();
            self.push(
                d,
                format!("track {} {fc} payload {} B", t.track_id, t.payload.len()),
                Hl::Body(t.payload),
            );
            if let Some(ct) = t.composition_time {
                self.push(d + 1, format!("composition_time: {ct}"), Hl::None);
            }
            if let Some(c) = &t.config {
                let s = match c {
                    CodecConfig::Avc { profile, level, nalu_length_size, sps, pps, width, height, .. } => format!(
                        "AVC config profile {profile} level {level} nalu_len {nalu_length_size} sps {} pps {}{}",
                        sps.len(),
                        pps.len(),
                        match (width, height) {
                            (Some(w), Some(h)) => format!(" {w}x{h}"),
                            _ => String::new(),
                        }
                    ),
                    CodecConfig::Hevc { profile, tier, level, nalu_length_size, arrays } => format!(
                        "HEVC config profile {profile} tier {tier} level {level} nalu_len {nalu_length_size} arrays {}",
                        arrays.len()
                    ),
                    CodecConfig::Av1 { profile, level, tier, bit_depth, monochrome } => format!(
                        "AV1 config profile {profile} level {level} tier {tier} depth {bit_depth}{}",
                        if *monochrome { " mono" } else { "" }
                    ),
                    CodecConfig::Vp { profile, level, bit_depth } => {
                        format!("VP config profile {profile} level {level} depth {bit_depth}")
                    }
                    CodecConfig::Aac { object_type, sample_rate, channels } => {
                        format!("AAC config object_type {object_type} {sample_rate} Hz {channels} ch")
                    }
                    CodecConfig::Opaque { span } => format!("config {} bytes", span.len()),
                };
                self.push(d + 1, s, Hl::None);
            }
        }
    }

    fn info(&mut self, d: usize, info: &CommandInfo) {
        let s = |v: &Option<AmfStr>| {
            v.as_ref()
                .map(|x| truncate(&clean_amf(x), MAX_LABEL_STR))
                .unwrap_or_else(|| "-".into())
        };
        match info {
            CommandInfo::Connect {
                app,
                tc_url,
                flash_ver,
                swf_url,
                page_url,
                object_encoding,
                four_cc_list,
            } => {
                self.push(d, "connect", Hl::None);
                self.push(d + 1, format!("app: {}", s(app)), Hl::None);
                self.push(d + 1, format!("tcUrl: {}", s(tc_url)), Hl::None);
                self.push(d + 1, format!("flashVer: {}", s(flash_ver)), Hl::None);
                self.push(d + 1, format!("swfUrl: {}", s(swf_url)), Hl::None);
                self.push(d + 1, format!("pageUrl: {}", s(page_url)), Hl::None);
                if let Some(o) = object_encoding {
                    self.push(d + 1, format!("objectEncoding: {}", fmt_num(*o)), Hl::None);
                }
                if !four_cc_list.is_empty() {
                    let l: Vec<String> = four_cc_list.iter().map(clean_amf).collect();
                    self.push(d + 1, format!("fourCcList: {}", l.join(", ")), Hl::None);
                }
            }
            CommandInfo::Status {
                level,
                code,
                description,
            } => {
                self.push(d, "status", Hl::None);
                self.push(d + 1, format!("level: {}", s(level)), Hl::None);
                self.push(d + 1, format!("code: {}", s(code)), Hl::None);
                self.push(d + 1, format!("description: {}", s(description)), Hl::None);
            }
            CommandInfo::StreamCreated { stream_id } => {
                self.push(
                    d,
                    format!("stream created: {}", fmt_num(*stream_id)),
                    Hl::None,
                );
            }
            CommandInfo::Publish { name, publish_type } => {
                self.push(d, "publish", Hl::None);
                self.push(d + 1, format!("name: {}", s(name)), Hl::None);
                self.push(d + 1, format!("type: {}", s(publish_type)), Hl::None);
            }
            CommandInfo::Play {
                name,
                start,
                duration,
                reset,
            } => {
                self.push(d, "play", Hl::None);
                self.push(d + 1, format!("name: {}", s(name)), Hl::None);
                self.push(
                    d + 1,
                    format!(
                        "start {} duration {} reset {}",
                        start.map(fmt_num).unwrap_or_else(|| "-".into()),
                        duration.map(fmt_num).unwrap_or_else(|| "-".into()),
                        reset.map(|b| b.to_string()).unwrap_or_else(|| "-".into())
                    ),
                    Hl::None,
                );
            }
            CommandInfo::DeleteStream { stream_id } => {
                self.push(
                    d,
                    format!(
                        "delete stream: {}",
                        stream_id.map(fmt_num).unwrap_or_else(|| "-".into())
                    ),
                    Hl::None,
                );
            }
            CommandInfo::StreamName { name } => {
                self.push(d, format!("stream name: {}", s(name)), Hl::None);
            }
            CommandInfo::Pause { pause, position_ms } => {
                self.push(
                    d,
                    format!(
                        "pause: {:?} at {}",
                        pause,
                        position_ms.map(fmt_num).unwrap_or_else(|| "-".into())
                    ),
                    Hl::None,
                );
            }
            CommandInfo::Seek { position_ms } => {
                self.push(
                    d,
                    format!(
                        "seek: {}",
                        position_ms.map(fmt_num).unwrap_or_else(|| "-".into())
                    ),
                    Hl::None,
                );
            }
            CommandInfo::Receive { enabled } => {
                self.push(d, format!("receive: {enabled:?}"), Hl::None);
            }
        }
    }

    fn value(&mut self, d: usize, key: &str, v: &Value) {
        let hl = Hl::Body(v.span);
        let tag = if v.amf3 { " [amf3]" } else { "" };
        let props = |this: &mut Tree, ps: &[crate::amf::Property]| {
            for p in ps {
                let k = truncate(&clean_amf(&p.key), MAX_LABEL_STR);
                this.value(d + 1, &k, &p.value);
            }
        };
        match &v.kind {
            ValueKind::String(s) => {
                // The model redacted the event: a string carrying a
                // placeholder had a secret, so its wire bytes are masked.
                if self.redact && s.to_lossy().contains(crate::redact::PLACEHOLDER_PREFIX) {
                    self.secret_spans.push(v.span);
                }
                let shown = format!("'{}'", truncate(&clean_amf(s), MAX_LABEL_STR));
                self.push(d, format!("{key}: {shown}{tag}"), hl);
            }
            ValueKind::Object { class, properties } => {
                let c = class
                    .as_ref()
                    .map(|c| format!(" {}", truncate(&clean_amf(c), 64)))
                    .unwrap_or_default();
                if self.push(
                    d,
                    format!("{key}: Object{c} ({} props){tag}", properties.len()),
                    hl,
                ) {
                    props(self, properties);
                }
            }
            ValueKind::EcmaArray { count, properties } => {
                if self.push(
                    d,
                    format!(
                        "{key}: ECMA array (count {count}, {} props){tag}",
                        properties.len()
                    ),
                    hl,
                ) {
                    props(self, properties);
                }
            }
            ValueKind::Array { associative, dense } => {
                if self.push(
                    d,
                    format!(
                        "{key}: Array ({} assoc, {} dense){tag}",
                        associative.len(),
                        dense.len()
                    ),
                    hl,
                ) {
                    props(self, associative);
                    for (i, x) in dense.iter().enumerate() {
                        self.value(d + 1, &format!("[{i}]"), x);
                    }
                }
            }
            ValueKind::StrictArray(items) => {
                if self.push(
                    d,
                    format!("{key}: Strict array ({} items){tag}", items.len()),
                    hl,
                ) {
                    for (i, x) in items.iter().enumerate() {
                        self.value(d + 1, &format!("[{i}]"), x);
                    }
                }
            }
            ValueKind::Vector {
                kind, fixed, items, ..
            } => {
                if self.push(
                    d,
                    format!(
                        "{key}: Vector<{kind:?}> ({} items{}){tag}",
                        items.len(),
                        if *fixed { ", fixed" } else { "" }
                    ),
                    hl,
                ) {
                    for (i, x) in items.iter().enumerate() {
                        self.value(d + 1, &format!("[{i}]"), x);
                    }
                }
            }
            ValueKind::Dictionary { entries, .. } => {
                if self.push(
                    d,
                    format!("{key}: Dictionary ({} entries){tag}", entries.len()),
                    hl,
                ) {
                    for (k, x) in entries {
                        let kl = super::summary::short_value(k, 1);
                        self.value(d + 1, &kl, x);
                    }
                }
            }
            ValueKind::Reference { index, resolved } => {
                if self.push(d, format!("{key}: reference #{index}{tag}"), hl) {
                    if let Some(r) = resolved {
                        self.value(d + 1, "resolved", r);
                    }
                }
            }
            ValueKind::Xml(s) => {
                self.push(
                    d,
                    format!(
                        "{key}: xml '{}'{tag}",
                        truncate(&clean_amf(s), MAX_LABEL_STR)
                    ),
                    hl,
                );
            }
            _ => {
                self.push(
                    d,
                    format!("{key}: {}{tag}", super::summary::short_value(v, 1)),
                    hl,
                );
            }
        }
    }
}

/// Body offset of stream offset `off` within a message (None in headers or
/// outside the message).
pub fn body_offset_at(m: &Message, off: u64) -> Option<u32> {
    if m.chunks.is_empty() {
        let rel = off.checked_sub(m.first_byte)?;
        return (rel < m.length as u64).then_some(rel as u32);
    }
    let mut acc: u64 = 0;
    for c in &m.chunks {
        if off >= c.payload.start && off < c.payload.end {
            return u32::try_from(acc + (off - c.payload.start)).ok();
        }
        acc += c.payload.len();
    }
    None
}

/// Whether stream offset `off` is inside one of the message's chunk headers.
pub fn in_chunk_header(m: &Message, off: u64) -> bool {
    m.chunks
        .iter()
        .any(|c| off >= c.header.start && off < c.header.end)
}

/// Stream offset -> body offset map of one message's chunk layout, with
/// binary search (the hex view asks for every visible byte).
#[derive(Clone, Debug, Default)]
pub struct WireMap {
    /// (payload start, payload end, body offset of payload start), sorted.
    payloads: Vec<(u64, u64, u64)>,
    /// Header ranges, sorted.
    headers: Vec<(u64, u64)>,
    /// No chunk list: body offset = stream offset - first_byte.
    flat: Option<(u64, u64)>,
}

impl WireMap {
    pub fn new(m: &Message) -> Self {
        if m.chunks.is_empty() {
            return WireMap {
                flat: Some((m.first_byte, m.length as u64)),
                ..WireMap::default()
            };
        }
        let mut acc = 0u64;
        let mut payloads = Vec::with_capacity(m.chunks.len());
        let mut headers = Vec::with_capacity(m.chunks.len());
        for c in &m.chunks {
            payloads.push((c.payload.start, c.payload.end, acc));
            acc += c.payload.len();
            if !c.header.is_empty() {
                headers.push((c.header.start, c.header.end));
            }
        }
        payloads.sort_unstable();
        headers.sort_unstable();
        WireMap {
            payloads,
            headers,
            flat: None,
        }
    }

    /// Body offset of a stream offset (None in headers / outside).
    pub fn body_offset(&self, off: u64) -> Option<u32> {
        if let Some((first, len)) = self.flat {
            let rel = off.checked_sub(first)?;
            return if rel < len {
                u32::try_from(rel).ok()
            } else {
                None
            };
        }
        let i = self
            .payloads
            .partition_point(|p| p.0 <= off)
            .checked_sub(1)?;
        let (s, e, base) = self.payloads[i];
        if off < e {
            u32::try_from(base + (off - s)).ok()
        } else {
            None
        }
    }

    /// Whether a stream offset is inside a chunk header.
    pub fn in_header(&self, off: u64) -> bool {
        match self.headers.partition_point(|h| h.0 <= off).checked_sub(1) {
            Some(i) => off < self.headers[i].1,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::message::ChunkRef;

    fn msg(chunks: Vec<ChunkRef>, len: u32) -> Message {
        Message {
            fmt: 0,
            csid: 3,
            type_id: 20,
            msid: 0,
            msid_unknown: false,
            timestamp: 0,
            timestamp_delta: 0,
            timestamp_estimate: None,
            extended_timestamp: false,
            length: len,
            first_byte: 100,
            last_byte: 100 + len as u64 + 13,
            chunks: chunks.into(),
            time: Default::default(),
            truncated: None,
            body: Body::Raw,
        }
    }

    #[test]
    fn wire_map_matches_linear_scan() {
        // 12-byte header, 4 payload bytes, 1-byte fmt-3 header, 4 bytes.
        let m = msg(
            vec![
                ChunkRef {
                    fmt: 0,
                    header: ByteRange::new(100, 112),
                    payload: ByteRange::new(112, 116),
                },
                ChunkRef {
                    fmt: 3,
                    header: ByteRange::new(116, 117),
                    payload: ByteRange::new(117, 121),
                },
            ],
            8,
        );
        let w = WireMap::new(&m);
        for off in 95..125 {
            assert_eq!(w.body_offset(off), body_offset_at(&m, off), "off {off}");
            assert_eq!(w.in_header(off), in_chunk_header(&m, off), "off {off}");
        }
        assert_eq!(w.body_offset(117), Some(4));
        assert!(w.in_header(116));
        // Stream offset of body offset 5 maps back.
        assert_eq!(m.stream_offset_of(5), Some(118));
        assert_eq!(w.body_offset(118), Some(5));
    }

    #[test]
    fn tree_collapse_and_visibility() {
        let m = msg(vec![], 0);
        let mut t = Tree::build("title", &m, false);
        let all = t.nodes.len();
        let vis = t.visible().len();
        // Header and Chunks start collapsed.
        assert!(vis < all);
        let hdr = t.nodes.iter().position(|n| n.label == "Header").unwrap();
        t.toggle(hdr);
        assert_eq!(t.visible().len(), vis + 7);
        t.set_collapsed(0, true);
        assert_eq!(t.visible(), vec![0]);
    }
}
