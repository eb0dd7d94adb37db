//! Message body decoding by type id: protocol control, user control, AMF
//! commands and data, shared objects, audio/video tag headers (legacy and
//! Enhanced RTMP) and aggregates.
//!
//! Contract: `decode_body` never panics; anomalies it returns carry ranges in
//! body-relative offsets (the caller maps them to stream offsets with
//! `Message::stream_offset_of`). No allocation is sized from a wire length
//! before the bytes it announces are known to exist. When the message is
//! truncated (`msg.truncated` is set), whatever was received is decoded and
//! every diagnostic about missing bytes says the message was truncated.
//!
//! Dispatch:
//! - 1, 2, 3, 5, 6: [`super::control`]
//! - 4: [`super::user_control`]
//! - 8, 9: [`super::media`]
//! - 15, 18: [`super::data`]; 17, 20: [`super::command`]
//! - 16, 19: [`super::shared_object`]
//! - 22: [`super::aggregate`]
//! - 7, 21, 23: kept raw (known but not decoded)
//! - others: raw with `rtmp.message.unknown_type`

use super::message::{type_id, Body, Message};
use crate::vocab::anomalies;
use crate::vocab::{Anomaly, ByteRange, Severity};

/// Every anomaly name body decoding can emit (besides the `amf.*` names
/// of the AMF decoders), sorted.
pub const ANOMALY_NAMES: &[&str] = &[
    "rtmp.aggregate.bad_back_pointer",
    "rtmp.aggregate.limit",
    "rtmp.aggregate.missing_back_pointer",
    "rtmp.aggregate.nested",
    "rtmp.aggregate.truncated",
    "rtmp.audio.truncated",
    "rtmp.audio.unknown_packet_type",
    "rtmp.body.empty",
    "rtmp.body.missing_format_byte",
    "rtmp.codec.bad_config",
    "rtmp.command.bad_name",
    "rtmp.control.bad_length",
    "rtmp.control.bad_limit_type",
    "rtmp.control.chunk_size_top_bit",
    "rtmp.control.chunk_size_zero",
    "rtmp.data.no_name",
    "rtmp.media.bad_modex",
    "rtmp.media.bad_multitrack_type",
    "rtmp.media.nested_multitrack",
    "rtmp.media.track_limit",
    "rtmp.media.track_truncated",
    "rtmp.media.unknown_fourcc",
    "rtmp.media.unknown_modex_type",
    "rtmp.message.unknown_type",
    "rtmp.shared_object.bad_event_data",
    "rtmp.shared_object.event_truncated",
    "rtmp.shared_object.limit",
    "rtmp.shared_object.truncated",
    "rtmp.shared_object.unknown_event",
    "rtmp.user_control.bad_length",
    "rtmp.user_control.extra_bytes",
    "rtmp.user_control.unknown_event",
    "rtmp.video.bad_frame_type",
    "rtmp.video.truncated",
    "rtmp.video.unknown_codec",
    "rtmp.video.unknown_packet_type",
];

/// Decodes `body` (the message's received body bytes) into `msg.body`,
/// using the header fields already set on `msg`.
///
/// A message whose body the chunk layer already decoded (Set Chunk Size and
/// Abort, which it acts on) is left as it is: control messages are decoded
/// once.
pub fn decode_body(msg: &mut Message, body: &[u8]) -> Vec<Anomaly> {
    if matches!(msg.body, Body::Control(_)) {
        return Vec::new();
    }
    let out = decode_body_at_depth(msg, body, 0);
    // The chunk layer may have kept only the header of a media body
    // (super::media::header_prefix): its payload spans run to the end.
    let len = msg.truncated.map_or(msg.length, |t| t.received) as usize;
    if body.len() < len {
        super::media::extend_payload(&mut msg.body, body.len(), len);
    }
    out
}

/// Like [`decode_body`] with the aggregate nesting depth (0 = top level).
pub(crate) fn decode_body_at_depth(msg: &mut Message, body: &[u8], depth: u32) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let t = msg.type_id;
    if body.is_empty() {
        msg.body = Body::Raw;
        if msg.truncated.is_none() {
            let kind = match t {
                type_id::SET_CHUNK_SIZE
                | type_id::ABORT
                | type_id::ACKNOWLEDGEMENT
                | type_id::WINDOW_ACK_SIZE
                | type_id::SET_PEER_BANDWIDTH => anomalies::RTMP_CONTROL_BAD_LENGTH,
                type_id::USER_CONTROL => anomalies::RTMP_USER_CONTROL_BAD_LENGTH,
                type_id::AUDIO | type_id::VIDEO => anomalies::RTMP_BODY_EMPTY.at(Severity::Info),
                _ => anomalies::RTMP_BODY_EMPTY,
            };
            out.push(Anomaly::new(
                kind,
                Some(ByteRange::new(0, 0)),
                format!("{} message with an empty body", msg.type_name()),
            ));
        }
        return out;
    }
    msg.body = match t {
        type_id::SET_CHUNK_SIZE
        | type_id::ABORT
        | type_id::ACKNOWLEDGEMENT
        | type_id::WINDOW_ACK_SIZE
        | type_id::SET_PEER_BANDWIDTH => super::control::decode(t, body, &mut out),
        type_id::USER_CONTROL => super::user_control::decode(body, &mut out),
        type_id::AUDIO => super::media::decode_audio(body, &mut out),
        type_id::VIDEO => super::media::decode_video(body, &mut out),
        type_id::DATA_AMF0 => super::data::decode(body, false, &mut out),
        type_id::DATA_AMF3 => super::data::decode(body, true, &mut out),
        type_id::COMMAND_AMF0 => super::command::decode(body, false, &mut out),
        type_id::COMMAND_AMF3 => super::command::decode(body, true, &mut out),
        type_id::SHARED_OBJECT_AMF0 => super::shared_object::decode(body, false, &mut out),
        type_id::SHARED_OBJECT_AMF3 => super::shared_object::decode(body, true, &mut out),
        type_id::AGGREGATE => super::aggregate::decode(msg, body, depth, &mut out),
        type_id::VIRTUAL_CONTROL | type_id::UDP | type_id::PRESENT => Body::Raw,
        _ => {
            out.push(Anomaly::new(
                anomalies::RTMP_MESSAGE_UNKNOWN_TYPE,
                Some(ByteRange::new(0, body.len() as u64)),
                format!("unknown message type id {t}"),
            ));
            Body::Raw
        }
    };
    if let Some(tr) = msg.truncated {
        for a in out.iter_mut() {
            a.detail.push_str(&format!(
                " (message truncated: {} of {} bytes received)",
                tr.received, msg.length
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::message::{Control, Truncation, TruncationCause};
    use crate::rtmp::testutil::msg;

    #[test]
    fn anomaly_names_listed() {
        // body.rs without the list itself.
        let body_rs = include_str!("body.rs");
        let list_start = body_rs.find("pub const ANOMALY_NAMES").unwrap();
        let list_end = list_start + body_rs[list_start..].find("];").unwrap();
        let body_src = format!("{}{}", &body_rs[..list_start], &body_rs[list_end..]);
        let sources = [
            body_src.as_str(),
            include_str!("control.rs"),
            include_str!("user_control.rs"),
            include_str!("command.rs"),
            include_str!("data.rs"),
            include_str!("shared_object.rs"),
            include_str!("media/mod.rs"),
            include_str!("media/video.rs"),
            include_str!("media/audio.rs"),
            include_str!("media/exheader.rs"),
            include_str!("media/config.rs"),
            include_str!("media/sps.rs"),
            include_str!("aggregate.rs"),
            include_str!("reader.rs"),
        ];
        // Emitters name registry constants (the vocab::anomalies module).
        let mut found = std::collections::BTreeSet::new();
        for src in sources {
            for part in src.split("anomalies::").skip(1) {
                let id: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if !id.starts_with("RTMP_") {
                    continue;
                }
                let kind = crate::vocab::anomalies::ALL
                    .iter()
                    .find(|k| k.name.to_uppercase().replace('.', "_") == id)
                    .unwrap_or_else(|| panic!("anomalies::{id} is not registered"));
                found.insert(kind.name);
            }
        }
        let listed: std::collections::BTreeSet<&str> = ANOMALY_NAMES.iter().copied().collect();
        assert_eq!(found, listed);
        assert!(ANOMALY_NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn unknown_type_is_raw_with_warning() {
        let mut m = msg(42, 3);
        let a = decode_body(&mut m, &[1, 2, 3]);
        assert_eq!(m.body, Body::Raw);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "rtmp.message.unknown_type");
        assert_eq!(a[0].range, Some(ByteRange::new(0, 3)));
    }

    #[test]
    fn empty_bodies() {
        let mut m = msg(type_id::SET_CHUNK_SIZE, 0);
        let a = decode_body(&mut m, &[]);
        assert_eq!(a[0].name, "rtmp.control.bad_length");
        let mut m = msg(type_id::VIDEO, 0);
        let a = decode_body(&mut m, &[]);
        assert_eq!(a[0].name, "rtmp.body.empty");
        assert_eq!(a[0].severity, Severity::Info);
        let mut m = msg(type_id::COMMAND_AMF0, 0);
        let a = decode_body(&mut m, &[]);
        assert_eq!(a[0].name, "rtmp.body.empty");
        assert_eq!(m.body, Body::Raw);
    }

    #[test]
    fn truncated_messages_say_so() {
        let mut m = msg(type_id::WINDOW_ACK_SIZE, 4);
        m.truncated = Some(Truncation {
            cause: TruncationCause::Gap,
            received: 2,
            lost: 2,
        });
        let a = decode_body(&mut m, &[0, 1]);
        assert_eq!(a[0].name, "rtmp.control.bad_length");
        assert!(a[0].detail.contains("truncated"), "{}", a[0].detail);
        // A truncated but complete-enough body still decodes.
        let mut m = msg(type_id::WINDOW_ACK_SIZE, 5);
        m.truncated = Some(Truncation {
            cause: TruncationCause::Gap,
            received: 4,
            lost: 1,
        });
        decode_body(&mut m, &[0, 0, 1, 0]);
        assert_eq!(m.body, Body::Control(Control::WindowAckSize { size: 256 }));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::rtmp::message::{ChunkRef, Truncation, TruncationCause};
    use crate::rtmp::testutil::msg;
    use proptest::prelude::*;

    fn chunked(t: u8, body: &[u8], split: usize, truncated: bool) -> Message {
        let mut m = msg(t, body.len() + if truncated { 7 } else { 0 });
        if truncated {
            m.truncated = Some(Truncation {
                cause: TruncationCause::Gap,
                received: body.len() as u32,
                lost: 7,
            });
        }
        let mut off = 0u64;
        let mut pos = 50u64;
        while (off as usize) < body.len() {
            let n = ((body.len() - off as usize).min(split.max(1))) as u64;
            m.chunks.push(ChunkRef {
                fmt: 3,
                header: ByteRange::new(pos, pos + 1),
                payload: ByteRange::new(pos + 1, pos + 1 + n),
            });
            pos += 1 + n;
            off += n;
        }
        m
    }

    fn check(m: &Message, body: &[u8], a: &[Anomaly]) {
        for x in a {
            if let Some(r) = x.range {
                assert!(r.end <= body.len() as u64, "{x:?} beyond {}", body.len());
            }
        }
        if let Body::Aggregate(subs) = &m.body {
            for s in subs {
                let got: u64 = s.chunks.iter().map(|c| c.payload.len()).sum();
                let want = s.truncated.map(|t| t.received).unwrap_or(s.length);
                assert_eq!(got, want as u64);
            }
        }
    }

    /// An aggregate sub-message with a random type and body.
    fn sub_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            0u8..=30,
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(t, ts, b)| {
                let mut v = vec![t];
                v.extend_from_slice(&(b.len() as u32).to_be_bytes()[1..]);
                v.extend_from_slice(&ts.to_be_bytes()[1..]);
                v.push((ts >> 24) as u8);
                v.extend_from_slice(&[0, 0, 0]);
                v.extend_from_slice(&b);
                v.extend_from_slice(&(11 + b.len() as u32).to_be_bytes());
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bodies_never_panic(
            t in any::<u8>(),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            split in 1usize..64,
            truncated in any::<bool>(),
        ) {
            let mut m = chunked(t, &body, split, truncated);
            let a = decode_body(&mut m, &body);
            check(&m, &body, &a);
        }

        #[test]
        fn random_bodies_with_likely_prefixes(
            t in prop::sample::select(vec![4u8, 8, 9, 16, 19, 22]),
            head in prop::sample::select(vec![
                vec![], vec![0x90], vec![0x96, 0x13], vec![0x97, 0x02], vec![0x96, 0x20],
                vec![0x95, 0x21], vec![0x17, 0x00, 0, 0, 0], vec![0x1c, 0, 0, 0, 0],
                vec![0xaf, 0], vec![0x97, 0xff], vec![0, 4, b'a', b'b', b'c', b'd'],
            ]),
            fourcc in prop::sample::select(vec![
                *b"avc1", *b"hvc1", *b"av01", *b"vp09", *b"Opus", *b"mp4a", *b"fLaC",
            ]),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
            split in 1usize..32,
        ) {
            let mut body = head.clone();
            if !head.is_empty() && head[0] & 0x80 != 0 {
                body.extend_from_slice(&fourcc);
            }
            body.extend_from_slice(&tail);
            let mut m = chunked(t, &body, split, false);
            let a = decode_body(&mut m, &body);
            check(&m, &body, &a);
        }

        #[test]
        fn well_formed_aggregates_split_exactly(
            subs in proptest::collection::vec(sub_strategy(), 1..8),
            split in 1usize..50,
        ) {
            let body = subs.concat();
            let mut m = chunked(22, &body, split, false);
            let a = decode_body(&mut m, &body);
            check(&m, &body, &a);
            prop_assert!(a.iter().all(|x| !x.name.starts_with("rtmp.aggregate.") || x.name == "rtmp.aggregate.nested"), "{:?}", a);
            match &m.body {
                Body::Aggregate(v) => {
                    prop_assert_eq!(v.len(), subs.len());
                    let mut prev_last = None;
                    for s in v {
                        prop_assert!(s.last_byte >= s.first_byte);
                        prop_assert!(prev_last.is_none_or(|p| s.first_byte > p));
                        prev_last = Some(s.last_byte);
                        if s.length > 0 {
                            let first = s.stream_offset_of(0).unwrap();
                            let last = s.stream_offset_of(s.length - 1).unwrap();
                            prop_assert!(first > s.first_byte && last < s.last_byte);
                        }
                    }
                }
                b => prop_assert!(false, "{:?}", b),
            }
        }
    }
}
