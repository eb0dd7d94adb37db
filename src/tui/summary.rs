//! One-line summaries and kinds of RTMP messages for the message table.
//!
//! Contract: pure functions over a decoded [`Message`]; every wire string is
//! sanitised ([`super::sanitize`]); redaction is applied to events
//! before (see `model`). Never panics.

use super::sanitize::{clean_amf, truncate};
use crate::amf::{Value, ValueKind};
use crate::rtmp::message::{Body, CommandInfo, Control, LimitType, Message};

/// Longest wire string kept in a summary, in characters.
pub const MAX_SUMMARY_STR: usize = 80;

/// Broad class of a message, used for colour and filtering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Command,
    Data,
    Control,
    UserControl,
    Audio,
    Video,
    SharedObject,
    Aggregate,
    Other,
}

impl Kind {
    /// Kind of a message type id.
    pub fn of_type(type_id: u8) -> Kind {
        match type_id {
            1 | 2 | 3 | 5 | 6 => Kind::Control,
            4 => Kind::UserControl,
            8 => Kind::Audio,
            9 => Kind::Video,
            15 | 18 => Kind::Data,
            16 | 19 => Kind::SharedObject,
            17 | 20 => Kind::Command,
            22 => Kind::Aggregate,
            _ => Kind::Other,
        }
    }
    pub fn is_media(self) -> bool {
        matches!(self, Kind::Audio | Kind::Video | Kind::Aggregate)
    }
}

/// `ping_request` -> `PingRequest`.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut up = true;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Human size: `372 B`, `42 KB`, `1.5 MB`.
pub fn human_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{} KB", (n + 512) / 1024)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// Short display of an AMF value (one line, bounded).
pub fn short_value(v: &Value, depth: usize) -> String {
    let s = match &v.kind {
        ValueKind::Number(n) => fmt_num(*n),
        ValueKind::Integer(i) => i.to_string(),
        ValueKind::Boolean(b) => b.to_string(),
        ValueKind::String(s) => format!("'{}'", truncate(&clean_amf(s), MAX_SUMMARY_STR)),
        ValueKind::Null => "null".into(),
        ValueKind::Undefined => "undefined".into(),
        ValueKind::Object { properties, .. }
        | ValueKind::EcmaArray { properties, .. }
        | ValueKind::Array {
            associative: properties,
            ..
        } => {
            if depth > 0 {
                format!("{{{} props}}", properties.len())
            } else {
                let mut parts = Vec::new();
                for p in properties.iter().take(4) {
                    parts.push(format!(
                        "{}={}",
                        truncate(&clean_amf(&p.key), 24),
                        short_value(&p.value, depth + 1)
                    ));
                }
                if properties.len() > 4 {
                    parts.push("…".into());
                }
                format!("{{{}}}", parts.join(", "))
            }
        }
        ValueKind::StrictArray(items) => format!("[{} items]", items.len()),
        ValueKind::Date { ms, .. } => format!("date({})", fmt_num(*ms)),
        ValueKind::Xml(_) => "<xml>".into(),
        ValueKind::ByteArray(sp) => format!("bytes[{}]", sp.len()),
        ValueKind::Vector { items, .. } => format!("vector[{}]", items.len()),
        ValueKind::Dictionary { entries, .. } => format!("dict[{}]", entries.len()),
        ValueKind::Externalizable { class, .. } => {
            format!("externalizable {}", truncate(&clean_amf(class), 24))
        }
        ValueKind::Reference { index, .. } => format!("ref#{index}"),
        ValueKind::MovieClip => "movieclip".into(),
        ValueKind::Unsupported => "unsupported".into(),
        ValueKind::RecordSet => "recordset".into(),
        ValueKind::Invalid { marker } => format!("invalid(0x{marker:02x})"),
    };
    s
}

/// Number display: integers without a fraction, NaN/inf spelled out.
pub fn fmt_num(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn opt_str(s: &Option<crate::amf::AmfStr>) -> String {
    s.as_ref()
        .map(|s| truncate(&clean_amf(s), MAX_SUMMARY_STR))
        .unwrap_or_default()
}

/// Summary of a media message (also used for compact rows whose full
/// message was evicted).
pub fn media_summary(
    video: bool,
    codec: &str,
    keyframe: bool,
    packet: Option<&str>,
    len: u32,
) -> String {
    let mut s = String::with_capacity(32);
    write_media_summary(&mut s, video, codec, keyframe, packet, len);
    s
}

/// Appends a media summary to `out` (no allocation beyond `out`'s growth).
pub fn write_media_summary(
    out: &mut String,
    video: bool,
    codec: &str,
    keyframe: bool,
    packet: Option<&str>,
    len: u32,
) {
    use std::fmt::Write;
    out.push_str(if video { "Video " } else { "Audio " });
    for c in codec.chars() {
        out.extend(c.to_uppercase());
    }
    match packet {
        Some(p) if p.contains("end") => out.push_str(" end"),
        Some(p) if p.starts_with("seq") || p.contains("config") => out.push_str(" config"),
        _ => {}
    }
    if keyframe {
        out.push_str(" keyframe");
    }
    let n = len as u64;
    let _ = if n < 1024 {
        write!(out, " {n} B")
    } else if n < 1024 * 1024 {
        write!(out, " {} KB", (n + 512) / 1024)
    } else {
        write!(out, " {:.1} MB", n as f64 / (1024.0 * 1024.0))
    };
}

/// One-line summary of a message (sanitised; the model redacts events
/// before they get here).
pub fn summarize(m: &Message) -> String {
    let mut s = match &m.body {
        Body::Control(c) => match c {
            Control::SetChunkSize { size, .. } => format!("SetChunkSize {size}"),
            Control::Abort { csid } => format!("Abort csid={csid}"),
            Control::Acknowledgement { sequence } => format!("Acknowledgement seq={sequence}"),
            Control::WindowAckSize { size } => format!("WindowAckSize {size}"),
            Control::SetPeerBandwidth { size, limit_type } => {
                let lt = match limit_type {
                    LimitType::Hard => "hard".to_string(),
                    LimitType::Soft => "soft".to_string(),
                    LimitType::Dynamic => "dynamic".to_string(),
                    LimitType::Unknown(x) => format!("limit={x}"),
                };
                format!("SetPeerBandwidth {size} {lt}")
            }
        },
        Body::UserControl(u) => {
            let mut s = format!("UserControl {}", camel(u.event));
            if u.event == "unknown" {
                s.push_str(&format!("({})", u.event_type));
            }
            if let Some(id) = u.stream_id {
                s.push_str(&format!(" stream={id}"));
            }
            if let Some(b) = u.buffer_length_ms {
                s.push_str(&format!(" buffer={b}ms"));
            }
            if let Some(t) = u.timestamp {
                s.push_str(&format!(" ts={t}"));
            }
            if let Some(r) = u.rtt_us {
                s.push_str(&format!(" rtt={:.1}ms", r as f64 / 1000.0));
            }
            s
        }
        Body::Command(c) => {
            let name = truncate(&clean_amf(&c.name), MAX_SUMMARY_STR);
            match &c.info {
                Some(CommandInfo::Connect { app, tc_url, .. }) => {
                    let url = tc_url
                        .as_ref()
                        .map(|u| truncate(&clean_amf(u), MAX_SUMMARY_STR));
                    match url {
                        Some(u) => format!("{name}('{}') tcUrl={u}", opt_str(app)),
                        None => format!("{name}('{}')", opt_str(app)),
                    }
                }
                Some(CommandInfo::Status { code, level, .. }) => {
                    let code = opt_str(code);
                    if code.is_empty() {
                        format!("{name} {}", opt_str(level))
                    } else {
                        format!("{name} {code}")
                    }
                }
                Some(CommandInfo::StreamCreated { stream_id }) => {
                    format!("{name} stream_id={}", fmt_num(*stream_id))
                }
                Some(CommandInfo::Publish {
                    name: n,
                    publish_type,
                }) => format!("{name}('{}', {})", opt_str(n), opt_str(publish_type)),
                Some(CommandInfo::Play { name: n, .. }) => {
                    format!("{name}('{}')", opt_str(n))
                }
                Some(CommandInfo::StreamName { name: n }) => {
                    format!("{name}('{}')", opt_str(n))
                }
                Some(CommandInfo::DeleteStream { stream_id }) => {
                    format!("{name}({})", stream_id.map(fmt_num).unwrap_or_default())
                }
                Some(CommandInfo::Pause { pause, position_ms }) => format!(
                    "{name}({}, {})",
                    pause.map(|b| b.to_string()).unwrap_or_default(),
                    position_ms.map(fmt_num).unwrap_or_default()
                ),
                Some(CommandInfo::Seek { position_ms }) => {
                    format!("{name}({})", position_ms.map(fmt_num).unwrap_or_default())
                }
                Some(CommandInfo::Receive { enabled }) => format!(
                    "{name}({})",
                    enabled.map(|b| b.to_string()).unwrap_or_default()
                ),
                None => {
                    let args: Vec<String> =
                        c.args.iter().take(3).map(|a| short_value(a, 1)).collect();
                    let mut s = format!("{name}({})", args.join(", "));
                    if let Some(tx) = c.transaction_id {
                        s.push_str(&format!(" tx={}", fmt_num(tx)));
                    }
                    s
                }
            }
        }
        Body::Data(d) => {
            let mut s = String::from("Data");
            if let Some(n) = &d.name {
                s.push(' ');
                s.push_str(&truncate(&clean_amf(n), MAX_SUMMARY_STR));
            }
            for a in d.args.iter().take(2) {
                s.push(' ');
                s.push_str(&short_value(a, 0));
            }
            s
        }
        Body::SharedObject(so) => {
            let evs: Vec<&str> = so.events.iter().take(4).map(|e| e.event).collect();
            format!(
                "SharedObject '{}' v{} [{}]",
                truncate(&clean_amf(&so.name), MAX_SUMMARY_STR),
                so.version,
                evs.join(", ")
            )
        }
        Body::Video(v) => media_summary(true, &v.codec, v.keyframe, v.packet, m.length),
        Body::Audio(a) => media_summary(false, &a.codec, false, a.packet, m.length),
        Body::Aggregate(subs) => {
            format!(
                "Aggregate {} sub-messages {}",
                subs.len(),
                human_bytes(m.length as u64)
            )
        }
        Body::Raw => format!("{} {}", m.type_name(), human_bytes(m.length as u64)),
    };
    if let Some(t) = &m.truncated {
        s.push_str(&format!(
            " [truncated: {:?}, lost {}]",
            t.cause,
            human_bytes(t.lost as u64)
        ));
    }
    super::sanitize::clean(&s)
}

/// Name of a command message (for `cmd:` filters), sanitised.
pub fn command_name(m: &Message) -> Option<String> {
    match &m.body {
        Body::Command(c) => Some(clean_amf(&c.name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_summaries() {
        assert_eq!(
            media_summary(true, "avc", true, Some("nalu"), 43008),
            "Video AVC keyframe 42 KB"
        );
        assert_eq!(
            media_summary(true, "hevc", true, Some("sequence_start"), 40),
            "Video HEVC config keyframe 40 B"
        );
        assert_eq!(
            media_summary(true, "avc", false, Some("sequence_end"), 5),
            "Video AVC end 5 B"
        );
        assert_eq!(
            media_summary(false, "aac", false, Some("sequence_header"), 4),
            "Audio AAC config 4 B"
        );
        assert_eq!(human_bytes(1536 * 1024), "1.5 MB");
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(camel("ping_request"), "PingRequest");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(Kind::of_type(20), Kind::Command);
        assert!(Kind::of_type(9).is_media());
    }
}
