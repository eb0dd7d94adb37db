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
//! event are `rtmp.shared_object.bad_event_data` (error). At most
//! [`MAX_EVENTS`] events and [`MAX_PAIRS`] change pairs per event are
//! decoded (`rtmp.shared_object.limit`, warning).

use super::message::{Body, SharedObject, SharedObjectEvent};
use super::reader::{anomaly, Reader};
use crate::amf::{AmfStr, Span, Value, ValueKind};
use crate::vocab::anomalies;
use crate::vocab::Anomaly;

/// Most name/value pairs decoded from one change event.
pub const MAX_PAIRS: usize = 256;
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
            anomalies::RTMP_SHARED_OBJECT_TRUNCATED,
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
            out.push(anomaly(
                anomalies::RTMP_SHARED_OBJECT_LIMIT,
                r.pos(),
                body.len(),
                format!("more than {MAX_EVENTS} events; the rest is not decoded"),
            ));
            break;
        }
        let start = r.pos();
        let (Some(t), Some(len)) = (r.u8(), r.u32()) else {
            out.push(anomaly(
                anomalies::RTMP_SHARED_OBJECT_EVENT_TRUNCATED,
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
                anomalies::RTMP_SHARED_OBJECT_EVENT_TRUNCATED,
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
            anomalies::RTMP_SHARED_OBJECT_BAD_EVENT_DATA,
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
            let window = body.get(..end).unwrap_or(&[]);
            while pos < end {
                if pairs >= MAX_PAIRS {
                    out.push(anomaly(
                        anomalies::RTMP_SHARED_OBJECT_LIMIT,
                        pos,
                        end,
                        format!(
                            "more than {MAX_PAIRS} pairs in one event; the rest is not decoded"
                        ),
                    ));
                    return;
                }
                let Some((key, kspan, vpos)) = untyped_str(body, pos, end) else {
                    bad(out, "property name runs past the event");
                    return;
                };
                let (v, next, an) = crate::amf::amf0::decode_one(window, vpos, 0);
                out.extend(an);
                if ev.name.is_none() {
                    ev.name = Some(key);
                } else {
                    ev.values.push(Value::new(kspan, ValueKind::String(key)));
                }
                let Some(v) = v else { return };
                let stalled = matches!(v.kind, ValueKind::Invalid { .. }) || next <= vpos;
                ev.values.push(v);
                if stalled {
                    return;
                }
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
            anomalies::RTMP_SHARED_OBJECT_UNKNOWN_EVENT,
            start.saturating_sub(5),
            end,
            format!("shared object event type {t}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::testutil::amf0w::*;

    fn header(name: &str, version: u32, flags: u32) -> Vec<u8> {
        let mut v = key(name);
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(&flags.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    fn event(t: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![t];
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    fn dec(b: &[u8], amf3: bool) -> (Option<SharedObject>, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode(b, amf3, &mut out) {
            Body::SharedObject(s) => (Some(s), out),
            _ => (None, out),
        }
    }

    #[test]
    fn all_event_kinds() {
        let mut body = header("chat", 3, 2);
        let hdr_len = body.len();
        body.extend(event(1, &[]));
        body.extend(event(4, &cat(&[key("msg"), s("hi"), key("n"), n(2.0)])));
        body.extend(event(6, &cat(&[s("onMsg"), n(1.0), s("x")])));
        body.extend(event(
            7,
            &cat(&[key("SharedObject.BadPersistence"), key("error")]),
        ));
        body.extend(event(9, &key("msg")));
        body.extend(event(5, &key("msg")));
        body.extend(event(3, &cat(&[key("k"), b(true)])));
        body.extend(event(10, &key("k")));
        body.extend(event(2, &[]));
        body.extend(event(8, &[]));
        body.extend(event(11, &[]));
        let (so, a) = dec(&body, false);
        assert!(a.is_empty(), "{a:?}");
        let so = so.unwrap();
        assert_eq!(so.name, AmfStr::from("chat"));
        assert_eq!(so.version, 3);
        assert_eq!(so.flags, 2);
        assert!(so.persistent);
        let names: Vec<_> = so.events.iter().map(|e| e.event).collect();
        assert_eq!(
            names,
            [
                "use",
                "change",
                "send_message",
                "status",
                "remove",
                "success",
                "request_change",
                "request_remove",
                "release",
                "clear",
                "use_success"
            ]
        );
        assert_eq!(so.events[0].span, Span::new(hdr_len, hdr_len + 5));
        let ch = &so.events[1];
        assert_eq!(ch.name, Some(AmfStr::from("msg")));
        assert_eq!(ch.values.len(), 3);
        assert_eq!(ch.values[0].as_str(), Some(&AmfStr::from("hi")));
        assert_eq!(ch.values[1].as_str(), Some(&AmfStr::from("n")));
        assert_eq!(ch.values[2].as_f64(), Some(2.0));
        let sm = &so.events[2];
        assert_eq!(sm.name, Some(AmfStr::from("onMsg")));
        assert_eq!(sm.values.len(), 2);
        let st = &so.events[3];
        assert_eq!(st.name, Some(AmfStr::from("SharedObject.BadPersistence")));
        assert_eq!(st.values[0].as_str(), Some(&AmfStr::from("error")));
        assert_eq!(so.events[4].name, Some(AmfStr::from("msg")));
        assert_eq!(so.events[6].values[0].kind, ValueKind::Boolean(true));
        assert_eq!(so.events[7].name, Some(AmfStr::from("k")));
    }

    #[test]
    fn amf3_variant_and_not_persistent() {
        let mut body = vec![0];
        body.extend(header("so", 1, 0));
        body.extend(event(4, &cat(&[key("a"), n(1.0)])));
        let (so, a) = dec(&body, true);
        assert!(a.is_empty(), "{a:?}");
        let so = so.unwrap();
        assert!(!so.persistent);
        assert_eq!(so.name, AmfStr::from("so"));
        assert_eq!(so.events[0].values[0].as_f64(), Some(1.0));
        // AMF0 variant of the same bytes (no leading 0) decodes identically.
        let (so0, _) = dec(&body[1..], false);
        assert_eq!(so0.unwrap().events[0].name, Some(AmfStr::from("a")));
    }

    #[test]
    fn limits() {
        let mut body = header("x", 0, 0);
        let pair = cat(&[key("k"), n(1.0)]);
        body.extend(event(4, &pair.repeat(MAX_PAIRS + 1)));
        let (so, a) = dec(&body, false);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "rtmp.shared_object.limit");
        // First value, then key + value for every further pair.
        assert_eq!(so.unwrap().events[0].values.len(), 1 + 2 * (MAX_PAIRS - 1));
        let mut body = header("x", 0, 0);
        body.extend(event(8, &[]).repeat(MAX_EVENTS + 3));
        let (so, a) = dec(&body, false);
        assert_eq!(so.unwrap().events.len(), MAX_EVENTS);
        assert_eq!(a[0].name, "rtmp.shared_object.limit");
        assert_eq!(a[0].range.unwrap().len(), 15);
    }

    #[test]
    fn malformed() {
        let (so, a) = dec(&[0, 5, b'a'], false);
        assert!(so.is_none());
        assert_eq!(a[0].name, "rtmp.shared_object.truncated");
        // Event length larger than what is left.
        let mut body = header("x", 0, 0);
        body.extend_from_slice(&[9, 0, 0, 0x10, 0]);
        body.extend(key("k"));
        let (so, a) = dec(&body, false);
        let so = so.unwrap();
        assert_eq!(a[0].name, "rtmp.shared_object.event_truncated");
        assert_eq!(so.events.len(), 1);
        assert_eq!(so.events[0].name, Some(AmfStr::from("k")));
        // Unknown event type, then a half event header.
        let mut body = header("x", 0, 0);
        body.extend(event(42, &[1, 2]));
        body.extend_from_slice(&[4, 0]);
        let (so, a) = dec(&body, false);
        assert_eq!(so.unwrap().events[0].event, "unknown");
        let names: Vec<_> = a.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "rtmp.shared_object.unknown_event",
                "rtmp.shared_object.event_truncated"
            ]
        );
        // A name longer than its event.
        let mut body = header("x", 0, 0);
        body.extend(event(9, &[0, 9, b'a']));
        let (_, a) = dec(&body, false);
        assert_eq!(a[0].name, "rtmp.shared_object.bad_event_data");
    }
}
