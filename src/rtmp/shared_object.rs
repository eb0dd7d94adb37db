//! Shared object messages (types 16 AMF3, 19 AMF0).
//!
//! Layout: name (u16 length + bytes), version u32, flags 8 bytes (the first
//! u32 is the persistence flag: 2 = persistent; the second is reserved),
//! then events: type u8, length u32, data. Type 16 starts with a 0x00
//! byte before the name. Event types 1-11 are named (use, release,
//! request_change, change, success, send_message, status, clear, remove,
//! request_remove, use_success). Event data:
//! - request_change / change: pairs of an untyped name (u16 length) and an
//!   AMF value; `name` is the first key, `values` the first value followed,
//!   for further pairs, by each key (as a string value) and its value;
//! - success / remove / request_remove: an untyped name;
//! - send_message: AMF values, the first (a string) is the handler name;
//! - status: two untyped strings, message then level (`name`, `values[0]`);
//! - use / release / clear / use_success: no data.
//!
//! Contract: never panics. Each event is bounded by its own length and by
//! the bytes left (`rtmp.shared_object.event_truncated`, error); a short
//! header is `rtmp.shared_object.truncated` (error); unknown event types are
//! `rtmp.shared_object.unknown_event` (warning); names running past their
//! event are `rtmp.shared_object.bad_event_data` (error). Work decoding
//! change pairs is bounded by [`MAX_PAIRS`] per event and a scan budget
//! (`rtmp.shared_object.decode_limit`, warning).

use super::body::{anomaly, Reader};
use super::message::{Body, SharedObject, SharedObjectEvent};
use crate::amf::{AmfStr, Span, Value, ValueKind};
use crate::event::{Anomaly, Severity};

/// Most name/value pairs decoded from one change event.
pub const MAX_PAIRS: usize = 256;
/// Bytes change-pair decoding may scan beyond 4x the event length.
pub const MAX_PAIR_SCAN: usize = 1 << 20;
/// Most events decoded from one message.
pub const MAX_EVENTS: usize = 65536;

/// snake_case name of a shared object event type.
pub fn event_name(t: u8) -> &'static str {
    match t {
        1 => "use",
        2 => "release",
        3 => "request_change",
        4 => "change",
        5 => "success",
        6 => "send_message",
        7 => "status",
        8 => "clear",
        9 => "remove",
        10 => "request_remove",
        11 => "use_success",
        _ => "unknown",
    }
}

/// Decodes a shared object body.
pub fn decode(body: &[u8], amf3: bool, out: &mut Vec<Anomaly>) -> Body {
    let mut r = Reader::new(body);
    if amf3 && body.first() == Some(&0) {
        r.skip(1);
    }
    let hdr = (|| {
        let n = r.u16()? as usize;
        let name = r.take(n)?;
        let version = r.u32()?;
        let flags = r.u32()?;
        r.u32()?;
        Some((name, version, flags))
    })();
    let Some((name, version, flags)) = hdr else {
        out.push(anomaly(
            "rtmp.shared_object.truncated",
            Severity::Error,
            0,
            body.len(),
            "shared object header runs past the end of the body",
        ));
        return Body::Raw;
    };
    let mut so = SharedObject {
        name: AmfStr::from_bytes(name),
        version,
        flags,
        persistent: flags & 2 != 0,
        events: Vec::new(),
    };
    while r.remaining() > 0 {
        if so.events.len() >= MAX_EVENTS {
            break;
        }
        let start = r.pos();
        let (Some(t), Some(len)) = (r.u8(), r.u32()) else {
            out.push(anomaly(
                "rtmp.shared_object.event_truncated",
                Severity::Error,
                start,
                body.len(),
                "shared object event header runs past the end of the body",
            ));
            break;
        };
        let data_start = r.pos();
        let want = data_start.saturating_add(len as usize);
        let end = want.min(body.len());
        if want > body.len() {
            out.push(anomaly(
                "rtmp.shared_object.event_truncated",
                Severity::Error,
                start,
                body.len(),
                format!(
                    "{} event length {len} exceeds the {} bytes left",
                    event_name(t),
                    end - data_start
                ),
            ));
        }
        let mut ev = SharedObjectEvent {
            event_type: t,
            event: event_name(t),
            span: Span::new(start, end),
            name: None,
            values: Vec::new(),
        };
        decode_event(body, t, data_start, end, &mut ev, out);
        so.events.push(ev);
        r = Reader::at(body, end);
    }
    Body::SharedObject(so)
}

/// An untyped u16-length string at `pos`, bounded by `end`.
fn untyped_str(body: &[u8], pos: usize, end: usize) -> Option<(AmfStr, Span, usize)> {
    let b = body.get(..end)?;
    let mut r = Reader::at(b, pos);
    let n = r.u16()? as usize;
    let s = r.take(n)?;
    Some((AmfStr::from_bytes(s), Span::new(pos, r.pos()), r.pos()))
}

fn decode_event(
    body: &[u8],
    t: u8,
    start: usize,
    end: usize,
    ev: &mut SharedObjectEvent,
    out: &mut Vec<Anomaly>,
) {
    let bad = |out: &mut Vec<Anomaly>, what: &str| {
        out.push(anomaly(
            "rtmp.shared_object.bad_event_data",
            Severity::Error,
            start,
            end,
            format!("{} event: {what}", event_name(t)),
        ));
    };
    let data = body.get(start..end).unwrap_or(&[]);
    match t {
        1 | 2 | 8 | 11 => {}
        3 | 4 => {
            let mut pos = start;
            let mut pairs = 0;
            // Each pair re-decodes the rest of the event: bound the work.
            let mut budget = data.len().saturating_mul(4).max(MAX_PAIR_SCAN);
            while pos < end && pairs < MAX_PAIRS {
                let Some((key, kspan, vpos)) = untyped_str(body, pos, end) else {
                    bad(out, "property name runs past the event");
                    return;
                };
                let slice = body.get(vpos..end).unwrap_or(&[]);
                if slice.len() > budget {
                    out.push(anomaly(
                        "rtmp.shared_object.decode_limit",
                        Severity::Warning,
                        pos,
                        end,
                        "too many property pairs to decode in one change event",
                    ));
                    return;
                }
                budget -= slice.len();
                let (vals, an) = crate::amf::amf0::decode_all(slice, vpos);
                let Some(v) = vals.into_iter().next() else {
                    if ev.name.is_none() {
                        ev.name = Some(key);
                    }
                    if vpos < end {
                        out.extend(an);
                    }
                    return;
                };
                // Keep the diagnostics that concern the first value only.
                out.extend(an.into_iter().filter(|a| {
                    a.range
                        .map(|rg| rg.start < v.span.end as u64)
                        .unwrap_or(false)
                }));
                let next = (v.span.end as usize).max(vpos + 1);
                if ev.name.is_none() {
                    ev.name = Some(key);
                } else {
                    ev.values.push(Value::new(kspan, ValueKind::String(key)));
                }
                ev.values.push(v);
                pos = next;
                pairs += 1;
            }
        }
        5 | 9 | 10 => {
            if data.is_empty() {
                return;
            }
            match untyped_str(body, start, end) {
                Some((s, _, _)) => ev.name = Some(s),
                None => bad(out, "name runs past the event"),
            }
        }
        6 => {
            let (vals, an) = crate::amf::amf0::decode_all(data, start);
            out.extend(an);
            let mut it = vals.into_iter().peekable();
            if let Some(s) = it.peek().and_then(|v| v.as_str()).cloned() {
                ev.name = Some(s);
                it.next();
            }
            ev.values = it.collect();
        }
        7 => match untyped_str(body, start, end) {
            Some((msg, _, next)) => {
                ev.name = Some(msg);
                if next < end {
                    match untyped_str(body, next, end) {
                        Some((lvl, span, _)) => {
                            ev.values.push(Value::new(span, ValueKind::String(lvl)))
                        }
                        None => bad(out, "level runs past the event"),
                    }
                }
            }
            None => {
                if !data.is_empty() {
                    bad(out, "message runs past the event")
                }
            }
        },
        _ => out.push(anomaly(
            "rtmp.shared_object.unknown_event",
            Severity::Warning,
            start.saturating_sub(5),
            end,
            format!("shared object event type {t}"),
        )),
    }
}
