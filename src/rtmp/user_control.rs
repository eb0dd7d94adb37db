//! User control messages (type 4): a u16 event type and its parameters.
//!
//! Contract: never panics. Every event type 0-46 has a snake_case name:
//! 0-7 from the RTMP spec (5 is unassigned there), 8-46 from the seed list
//! (`/work/shared/seeds/`, a reverse-engineered list) except 31/32, which
//! are named after what servers actually send there (librtmp, Wowza, FMS:
//! `buffer_empty`/`buffer_ready` with a stream id; the seed list calls them
//! "Throttle Begin/End"). Numbers no list assigns (5, 42-45) are
//! `unassigned_N`. Parameters are decoded into fields: a stream id for 0, 1,
//! 2, 4, 31, 32; stream id and buffer length (ms) for 3; a timestamp for 6
//! and 7. Parameters of other types and extra bytes after decoded ones are
//! kept as the `raw` span. Missing parameter bytes are
//! `rtmp.user_control.bad_length` (error); extra bytes after known
//! parameters are `rtmp.user_control.extra_bytes` (warning); types above 46
//! are `rtmp.user_control.unknown_event` (warning).

use super::message::{Body, UserControl};
use super::reader::{anomaly, Reader};
use crate::amf::Span;
use crate::vocab::anomalies;
use crate::vocab::Anomaly;

/// Highest named event type.
pub const MAX_NAMED_EVENT: u16 = 46;

/// snake_case name of a user control event type (`unknown` above 46).
pub fn event_name(t: u16) -> &'static str {
    match t {
        0 => "stream_begin",
        1 => "stream_eof",
        2 => "stream_dry",
        3 => "set_buffer_length",
        4 => "stream_is_recorded",
        5 => "unassigned_5",
        6 => "ping_request",
        7 => "ping_response",
        8 => "udp_request",
        9 => "udp_response",
        10 => "bandwidth_limit",
        11 => "bandwidth",
        12 => "throttle_bandwidth",
        13 => "stream_created",
        14 => "stream_deleted",
        15 => "set_read_access",
        16 => "set_write_access",
        17 => "stream_meta_request",
        18 => "stream_meta_response",
        19 => "get_segment_boundary",
        20 => "set_segment_boundary",
        21 => "on_disconnect",
        22 => "set_critical_link",
        23 => "disconnect",
        24 => "hash_update",
        25 => "hash_timeout",
        26 => "hash_request",
        27 => "hash_response",
        28 => "check_bandwidth",
        29 => "set_audio_sample_access",
        30 => "set_video_sample_access",
        31 => "buffer_empty",
        32 => "buffer_ready",
        33 => "drm_notify",
        34 => "rtmfp_sync",
        35 => "query_ihello",
        36 => "forward_ihello",
        37 => "redirect_ihello",
        38 => "notify_eof",
        39 => "proxy_continue",
        40 => "proxy_remove_upstream",
        41 => "rtmfp_set_keepalives",
        42 => "unassigned_42",
        43 => "unassigned_43",
        44 => "unassigned_44",
        45 => "unassigned_45",
        46 => "segment_not_found",
        _ => "unknown",
    }
}

/// Parameter layout of an event type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Params {
    StreamId,
    StreamIdBufferLength,
    Timestamp,
    Opaque,
}

fn params_of(t: u16) -> Params {
    match t {
        0 | 1 | 2 | 4 | 31 | 32 => Params::StreamId,
        3 => Params::StreamIdBufferLength,
        6 | 7 => Params::Timestamp,
        _ => Params::Opaque,
    }
}

/// Decodes a user control body.
pub fn decode(body: &[u8], out: &mut Vec<Anomaly>) -> Body {
    let mut r = Reader::new(body);
    let Some(event_type) = r.u16() else {
        out.push(anomaly(
            anomalies::RTMP_USER_CONTROL_BAD_LENGTH,
            0,
            body.len(),
            format!(
                "user control body is {} bytes, shorter than the event type",
                body.len()
            ),
        ));
        return Body::Raw;
    };
    let event = event_name(event_type);
    let mut uc = UserControl {
        event_type,
        event,
        stream_id: None,
        buffer_length_ms: None,
        timestamp: None,
        rtt_us: None,
        raw: None,
    };
    if event_type > MAX_NAMED_EVENT {
        out.push(anomaly(
            anomalies::RTMP_USER_CONTROL_UNKNOWN_EVENT,
            0,
            2,
            format!("user control event type {event_type}"),
        ));
    }
    let p = params_of(event_type);
    let need = match p {
        Params::StreamId | Params::Timestamp => 4,
        Params::StreamIdBufferLength => 8,
        Params::Opaque => 0,
    };
    if r.remaining() < need {
        out.push(anomaly(
            anomalies::RTMP_USER_CONTROL_BAD_LENGTH,
            2,
            body.len(),
            format!(
                "{event} needs {need} parameter bytes, {} present",
                r.remaining()
            ),
        ));
        if r.remaining() > 0 {
            uc.raw = Some(Span::new(2, body.len()));
        }
        return Body::UserControl(uc);
    }
    match p {
        Params::StreamId => uc.stream_id = r.u32(),
        Params::StreamIdBufferLength => {
            uc.stream_id = r.u32();
            uc.buffer_length_ms = r.u32();
        }
        Params::Timestamp => uc.timestamp = r.u32(),
        Params::Opaque => {}
    }
    if r.remaining() > 0 {
        uc.raw = Some(Span::new(r.pos(), body.len()));
        if p != Params::Opaque {
            out.push(anomaly(
                anomalies::RTMP_USER_CONTROL_EXTRA_BYTES,
                r.pos(),
                body.len(),
                format!("{} bytes after the {event} parameters", r.remaining()),
            ));
        }
    }
    Body::UserControl(uc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(b: &[u8]) -> (Option<UserControl>, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode(b, &mut out) {
            Body::UserControl(u) => (Some(u), out),
            _ => (None, out),
        }
    }

    fn body(t: u16, params: &[u8]) -> Vec<u8> {
        let mut v = t.to_be_bytes().to_vec();
        v.extend_from_slice(params);
        v
    }

    #[test]
    fn every_type_is_named_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for t in 0..=MAX_NAMED_EVENT {
            let n = event_name(t);
            assert_ne!(n, "unknown", "type {t}");
            assert!(seen.insert(n), "duplicate name {n}");
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
        assert_eq!(event_name(47), "unknown");
        assert_eq!(event_name(0), "stream_begin");
        assert_eq!(event_name(7), "ping_response");
        assert_eq!(event_name(26), "hash_request");
        assert_eq!(event_name(31), "buffer_empty");
        assert_eq!(event_name(32), "buffer_ready");
        assert_eq!(event_name(46), "segment_not_found");
    }

    #[test]
    fn every_type_decodes() {
        for t in 0..=MAX_NAMED_EVENT {
            // Stream id 1, then 3000 (buffer length or extra).
            let b = body(t, &[0, 0, 0, 1, 0, 0, 0x0b, 0xb8]);
            let (u, a) = dec(&b);
            let u = u.expect("decoded");
            assert_eq!(u.event_type, t);
            assert_eq!(u.event, event_name(t));
            match t {
                0 | 1 | 2 | 4 | 31 | 32 => {
                    assert_eq!(u.stream_id, Some(1), "type {t}");
                    assert_eq!(u.raw, Some(Span::new(6, 10)));
                    assert_eq!(a[0].name, "rtmp.user_control.extra_bytes");
                    // exact length: no anomaly, no raw
                    let (u, a) = dec(&body(t, &[0, 0, 0, 9]));
                    assert_eq!(u.unwrap().stream_id, Some(9));
                    assert!(a.is_empty());
                }
                3 => {
                    assert_eq!(u.stream_id, Some(1));
                    assert_eq!(u.buffer_length_ms, Some(3000));
                    assert_eq!(u.raw, None);
                    assert!(a.is_empty());
                }
                6 | 7 => {
                    assert_eq!(u.timestamp, Some(1));
                    assert_eq!(u.stream_id, None);
                    assert_eq!(a[0].name, "rtmp.user_control.extra_bytes");
                }
                _ => {
                    assert_eq!(u.stream_id, None);
                    assert_eq!(u.timestamp, None);
                    assert_eq!(u.raw, Some(Span::new(2, 10)), "type {t}");
                    assert!(a.is_empty(), "type {t}: {a:?}");
                    let (u, a) = dec(&body(t, &[]));
                    assert_eq!(u.unwrap().raw, None);
                    assert!(a.is_empty());
                }
            }
        }
    }

    #[test]
    fn short_params() {
        let (u, a) = dec(&body(3, &[0, 0, 0, 1]));
        let u = u.unwrap();
        assert_eq!(u.stream_id, None);
        assert_eq!(u.raw, Some(Span::new(2, 6)));
        assert_eq!(a[0].name, "rtmp.user_control.bad_length");
        let (u, a) = dec(&body(6, &[]));
        assert_eq!(u.unwrap().timestamp, None);
        assert_eq!(a[0].name, "rtmp.user_control.bad_length");
        let (u, a) = dec(&[0]);
        assert!(u.is_none());
        assert_eq!(a[0].name, "rtmp.user_control.bad_length");
    }

    #[test]
    fn unknown_type_kept_raw() {
        let (u, a) = dec(&body(0x1234, &[1, 2]));
        let u = u.unwrap();
        assert_eq!(u.event, "unknown");
        assert_eq!(u.raw, Some(Span::new(2, 4)));
        assert_eq!(a[0].name, "rtmp.user_control.unknown_event");
    }
}
