//! Video tags (type 9): legacy FLV video and the Enhanced RTMP
//! ExVideoTagHeader. Contract as in the parent module: never panics, no
//! payload copies, every length checked against the bytes present.

use super::*;
use crate::vocab::anomalies;

/// Decodes a video (type 9) body.
pub fn decode_video(body: &[u8], out: &mut Vec<Anomaly>) -> Body {
    let mut r = Reader::new(body);
    let Some(b0) = r.u8() else {
        return Body::Raw;
    };
    if b0 & 0x80 != 0 {
        return decode_ex_video(body, b0, r, out);
    }
    let frame_type = b0 >> 4;
    let codec_id = b0 & 0x0f;
    check_frame_type(frame_type, out);
    let codec = match video_codec_name(codec_id) {
        Some(n) => Name::Borrowed(n),
        None => {
            out.push(anomaly(
                anomalies::RTMP_VIDEO_UNKNOWN_CODEC,
                0,
                1,
                format!("video codec id {codec_id}"),
            ));
            Name::Owned(format!("unknown_{codec_id}"))
        }
    };
    let mut v = Video {
        frame_type,
        keyframe: frame_type == 1,
        enhanced: false,
        codec_id: Some(codec_id),
        codec,
        packet_type: None,
        packet: None,
        composition_time: None,
        multitrack: None,
        tracks: Tracks::new(),
        timestamp_offset_nanos: None,
        command: None,
        metadata: Vec::new(),
    };
    let mut config = None;
    if codec_id == 7 || codec_id == 12 {
        let (Some(pt), Some(ct)) = (r.u8(), r.i24()) else {
            out.push(anomaly(
                anomalies::RTMP_VIDEO_TRUNCATED,
                0,
                body.len(),
                format!(
                    "{} video header needs 5 bytes, {} present",
                    v.codec,
                    body.len()
                ),
            ));
            if body.len() >= 2 {
                v.packet_type = body.get(1).copied();
                v.packet = v.packet_type.map(avc_packet_name);
            }
            return Body::Video(v);
        };
        v.packet_type = Some(pt);
        v.packet = Some(avc_packet_name(pt));
        v.composition_time = Some(ct);
        if pt > 2 {
            out.push(anomaly(
                anomalies::RTMP_VIDEO_UNKNOWN_PACKET_TYPE,
                1,
                2,
                format!("{} packet type {pt}", v.codec),
            ));
        }
        if pt == 0 && frame_type != 5 {
            let start = r.pos();
            config = Some(if codec_id == 7 {
                parse_avc_config(r.rest(), start, out)
            } else {
                parse_hevc_config(r.rest(), start, out)
            });
        }
    }
    if frame_type == 5 {
        v.command = r.u8();
        if v.command.is_none() {
            out.push(anomaly(
                anomalies::RTMP_VIDEO_TRUNCATED,
                0,
                body.len(),
                "video command frame without its command byte",
            ));
        }
    }
    v.tracks.push(MediaTrack {
        track_id: 0,
        fourcc: None,
        composition_time: v.composition_time,
        payload: Span::new(r.pos(), body.len()),
        config,
    });
    Body::Video(v)
}

pub(super) fn check_frame_type(ft: u8, out: &mut Vec<Anomaly>) {
    if !(1..=5).contains(&ft) {
        out.push(anomaly(
            anomalies::RTMP_VIDEO_BAD_FRAME_TYPE,
            0,
            1,
            format!("video frame type {ft}"),
        ));
    }
}

pub(super) fn decode_ex_video<'a>(
    body: &'a [u8],
    b0: u8,
    mut r: Reader<'a>,
    out: &mut Vec<Anomaly>,
) -> Body {
    let frame_type = (b0 >> 4) & 0x07;
    check_frame_type(frame_type, out);
    let mut v = Video {
        frame_type,
        keyframe: frame_type == 1,
        enhanced: true,
        codec_id: None,
        codec: Name::Borrowed("none"),
        packet_type: Some(b0 & 0x0f),
        packet: Some(video_packet_name(b0 & 0x0f)),
        composition_time: None,
        multitrack: None,
        tracks: Tracks::new(),
        timestamp_offset_nanos: None,
        command: None,
        metadata: Vec::new(),
    };
    let Some(h) = ex_header(&mut r, b0 & 0x0f, "video", video_packet::MULTITRACK, out) else {
        return Body::Video(v);
    };
    v.timestamp_offset_nanos = h.nanos;
    v.packet_type = Some(h.packet_type);
    v.packet = Some(video_packet_name(h.packet_type));
    v.multitrack = h.multitrack.map(multitrack_name);
    let pt = h.packet_type;
    if pt > 7 {
        out.push(anomaly(
            anomalies::RTMP_VIDEO_UNKNOWN_PACKET_TYPE,
            0,
            r.pos(),
            format!("E-RTMP video packet type {pt}"),
        ));
    }
    if pt != video_packet::METADATA && frame_type == 5 {
        v.command = r.u8();
        if v.command.is_none() {
            out.push(anomaly(
                anomalies::RTMP_VIDEO_TRUNCATED,
                0,
                body.len(),
                "video command frame without its command byte",
            ));
        }
        return Body::Video(v);
    }
    let Some(slots) = ex_slots(
        body,
        &mut r,
        h.multitrack,
        anomalies::RTMP_VIDEO_TRUNCATED,
        out,
    ) else {
        return Body::Video(v);
    };
    for s in slots {
        let bytes = s.bytes(body);
        let mut t = s.track();
        let is_avc_hevc = matches!(s.fourcc, Some(b"avc1") | Some(b"hvc1"));
        match pt {
            video_packet::SEQUENCE_START => {
                t.config = Some(match s.fourcc {
                    Some(b"avc1") => parse_avc_config(bytes, s.start, out),
                    Some(b"hvc1") => parse_hevc_config(bytes, s.start, out),
                    Some(b"av01") => parse_av1_config(bytes, s.start, out),
                    Some(b"vp09") | Some(b"vp08") => parse_vp_config(bytes, s.start, out),
                    _ => CodecConfig::Opaque { span: t.payload },
                });
            }
            video_packet::CODED_FRAMES if is_avc_hevc => {
                let mut tr = Reader::at(body, s.start);
                if s.end - s.start >= 3 {
                    t.composition_time = tr.i24();
                    t.payload = Span::new(s.start + 3, s.end);
                } else {
                    out.push(anomaly(
                        anomalies::RTMP_VIDEO_TRUNCATED,
                        s.start,
                        s.end,
                        "CodedFrames without its composition time",
                    ));
                }
            }
            video_packet::METADATA => {
                let (vals, an) = crate::amf::amf0::decode_all(bytes, s.start);
                out.extend(an);
                v.metadata.extend(vals);
            }
            video_packet::MPEG2TS_SEQUENCE_START => {
                t.config = Some(CodecConfig::Opaque { span: t.payload });
            }
            _ => {}
        }
        v.tracks.push(t);
    }
    v.codec = tracks_codec(&v.tracks);
    if h.multitrack.is_none() {
        v.composition_time = v.tracks.first().and_then(|t| t.composition_time);
    }
    Body::Video(v)
}
