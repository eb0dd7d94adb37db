//! Audio (type 8) and video (type 9) tag headers, legacy FLV and Enhanced
//! RTMP (v1 and v2), and the codec configuration records they carry.
//!
//! Contract: never panics; payload bytes are never copied (tracks carry
//! body-relative [`Span`]s); every length (ModEx size, multitrack track
//! size, parameter-set lengths) is checked against the bytes present before
//! it is used. What is decoded:
//! - legacy video: frame type, codec id (2 h263, 3 screen, 4 vp6, 5 vp6a,
//!   6 screen2, 7 avc, 12 hevc), AVC/HEVC packet type and signed 24-bit
//!   composition time, command frames (frame type 5);
//! - E-RTMP video (IsExHeader bit 0x80): packet types 0-7, ModEx
//!   (TimestampOffsetNano), Multitrack (one_track, many_tracks,
//!   many_tracks_many_codecs) with per-track UI24 sizes, FourCC (avc1, hvc1,
//!   av01, vp09, vp08), composition time for avc1/hvc1 CodedFrames only,
//!   Metadata (AMF0 values), command frames;
//! - legacy audio: sound format 0-15, rate/size/channel bits, AAC packet
//!   type (for AAC the fixed header bits are ignored: rate and channels
//!   come from the AudioSpecificConfig of a sequence header, else unset);
//! - E-RTMP audio (sound format 9): packet types 0, 1, 2, 4
//!   (MultichannelConfig), 5 (Multitrack), 7 (ModEx), FourCC (Opus, fLaC,
//!   ac-3, ec-3, mp4a, .mp3);
//! - configs: AVCDecoderConfigurationRecord (with width/height from the
//!   first SPS), HEVCDecoderConfigurationRecord, AV1CodecConfigurationRecord,
//!   VPCodecConfigurationRecord (vpcC, with its version/flags), AAC
//!   AudioSpecificConfig; others are kept as `Opaque` spans.
//!
//! Anomalies: `rtmp.video.truncated`, `rtmp.audio.truncated`,
//! `rtmp.video.bad_frame_type`, `rtmp.video.unknown_codec`,
//! `rtmp.video.unknown_packet_type`, `rtmp.audio.unknown_packet_type`,
//! `rtmp.media.unknown_fourcc`, `rtmp.media.bad_modex`,
//! `rtmp.media.unknown_modex_type`, `rtmp.media.bad_multitrack_type`,
//! `rtmp.media.nested_multitrack`, `rtmp.media.track_truncated`,
//! `rtmp.media.track_limit`, `rtmp.codec.bad_config`, plus AMF anomalies of
//! Metadata bodies.

use super::body::{anomaly, Reader};
use super::message::{Audio, Body, CodecConfig, MediaTrack, Video};
use crate::amf::Span;
use crate::event::{Anomaly, Severity};

/// Most tracks decoded from one multitrack message (the rest is one span).
pub const MAX_TRACKS: usize = 256;
/// Largest SPS (after emulation-prevention removal) parsed for dimensions.
pub const MAX_SPS_BYTES: usize = 4096;

/// E-RTMP video packet types.
pub mod video_packet {
    pub const SEQUENCE_START: u8 = 0;
    pub const CODED_FRAMES: u8 = 1;
    pub const SEQUENCE_END: u8 = 2;
    pub const CODED_FRAMES_X: u8 = 3;
    pub const METADATA: u8 = 4;
    pub const MPEG2TS_SEQUENCE_START: u8 = 5;
    pub const MULTITRACK: u8 = 6;
    pub const MOD_EX: u8 = 7;
}

/// E-RTMP audio packet types.
pub mod audio_packet {
    pub const SEQUENCE_START: u8 = 0;
    pub const CODED_FRAMES: u8 = 1;
    pub const SEQUENCE_END: u8 = 2;
    pub const MULTICHANNEL_CONFIG: u8 = 4;
    pub const MULTITRACK: u8 = 5;
    pub const MOD_EX: u8 = 7;
}

/// Legacy FLV video codec id name.
pub fn video_codec_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 => "jpeg",
        2 => "h263",
        3 => "screen",
        4 => "vp6",
        5 => "vp6a",
        6 => "screen2",
        7 => "avc",
        12 => "hevc",
        _ => return None,
    })
}

/// Legacy FLV sound format name.
pub fn sound_format_name(f: u8) -> &'static str {
    match f {
        0 => "pcm",
        1 => "adpcm",
        2 => "mp3",
        3 => "pcm_le",
        4 => "nellymoser_16k_mono",
        5 => "nellymoser_8k_mono",
        6 => "nellymoser",
        7 => "g711_alaw",
        8 => "g711_mulaw",
        9 => "ex_header",
        10 => "aac",
        11 => "speex",
        12 => "reserved_12",
        13 => "reserved_13",
        14 => "mp3_8k",
        _ => "device_specific",
    }
}

/// Codec name of a FourCC (`None` when not one E-RTMP defines).
pub fn fourcc_codec(fcc: &[u8]) -> Option<&'static str> {
    Some(match fcc {
        b"avc1" => "avc",
        b"hvc1" => "hevc",
        b"av01" => "av1",
        b"vp09" => "vp9",
        b"vp08" => "vp8",
        b"Opus" => "opus",
        b"fLaC" => "flac",
        b"ac-3" => "ac3",
        b"ec-3" => "eac3",
        b"mp4a" => "aac",
        b".mp3" => "mp3",
        _ => return None,
    })
}

/// snake_case name of an E-RTMP video packet type.
pub fn video_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_start",
        1 => "coded_frames",
        2 => "sequence_end",
        3 => "coded_frames_x",
        4 => "metadata",
        5 => "mpeg2ts_sequence_start",
        6 => "multitrack",
        7 => "mod_ex",
        _ => "unknown",
    }
}

/// snake_case name of an E-RTMP audio packet type.
pub fn audio_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_start",
        1 => "coded_frames",
        2 => "sequence_end",
        4 => "multichannel_config",
        5 => "multitrack",
        7 => "mod_ex",
        _ => "unknown",
    }
}

/// snake_case name of a legacy AVC/HEVC packet type.
pub fn avc_packet_name(t: u8) -> &'static str {
    match t {
        0 => "sequence_header",
        1 => "nalu",
        2 => "end_of_sequence",
        _ => "unknown",
    }
}

fn multitrack_name(t: u8) -> &'static str {
    match t {
        0 => "one_track",
        1 => "many_tracks",
        2 => "many_tracks_many_codecs",
        _ => "unknown",
    }
}

fn fourcc_string(f: &[u8]) -> String {
    String::from_utf8_lossy(f).into_owned()
}

// ---------------------------------------------------------------- video

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
        Some(n) => n.to_string(),
        None => {
            out.push(anomaly(
                "rtmp.video.unknown_codec",
                Severity::Warning,
                0,
                1,
                format!("video codec id {codec_id}"),
            ));
            format!("unknown_{codec_id}")
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
        tracks: Vec::new(),
        timestamp_offset_nanos: None,
        command: None,
        metadata: Vec::new(),
    };
    let mut config = None;
    if codec_id == 7 || codec_id == 12 {
        let (Some(pt), Some(ct)) = (r.u8(), r.i24()) else {
            out.push(anomaly(
                "rtmp.video.truncated",
                Severity::Error,
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
                "rtmp.video.unknown_packet_type",
                Severity::Warning,
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
                "rtmp.video.truncated",
                Severity::Error,
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

fn check_frame_type(ft: u8, out: &mut Vec<Anomaly>) {
    if !(1..=5).contains(&ft) {
        out.push(anomaly(
            "rtmp.video.bad_frame_type",
            Severity::Warning,
            0,
            1,
            format!("video frame type {ft}"),
        ));
    }
}

/// Result of the shared E-RTMP header walk (ModEx loop and multitrack).
struct ExHeader {
    packet_type: u8,
    nanos: Option<u32>,
    /// Multitrack type when multitrack.
    multitrack: Option<u8>,
}

/// Runs the ModEx loop starting from packet type `pt` (already read).
/// Returns `None` when the body ended inside it.
fn modex_loop(
    r: &mut Reader,
    mut pt: u8,
    kind: &str,
    out: &mut Vec<Anomaly>,
) -> Option<(u8, Option<u32>)> {
    let mut nanos = None;
    while pt == 7 {
        let start = r.pos();
        let short = |out: &mut Vec<Anomaly>, r: &Reader| {
            out.push(anomaly(
                "rtmp.media.bad_modex",
                Severity::Error,
                start,
                r.len(),
                format!("{kind} ModEx runs past the end of the body"),
            ));
        };
        let Some(s) = r.u8() else {
            short(out, r);
            return None;
        };
        let mut size = s as usize + 1;
        if size == 256 {
            let Some(s16) = r.u16() else {
                short(out, r);
                return None;
            };
            size = s16 as usize + 1;
        }
        let Some(data) = r.take(size) else {
            short(out, r);
            return None;
        };
        let Some(b) = r.u8() else {
            short(out, r);
            return None;
        };
        let modex_type = b >> 4;
        pt = b & 0x0f;
        if modex_type == 0 {
            // TimestampOffsetNano: UI24 from the ModEx data.
            if data.len() >= 3 {
                nanos = Some(u32::from_be_bytes([0, data[0], data[1], data[2]]));
            } else {
                out.push(anomaly(
                    "rtmp.media.bad_modex",
                    Severity::Warning,
                    start,
                    r.pos(),
                    format!(
                        "{kind} TimestampOffsetNano ModEx data is {} bytes, needs 3",
                        data.len()
                    ),
                ));
            }
        } else {
            out.push(anomaly(
                "rtmp.media.unknown_modex_type",
                Severity::Warning,
                start,
                r.pos(),
                format!("{kind} ModEx type {modex_type}"),
            ));
        }
    }
    Some((pt, nanos))
}

/// Reads the multitrack byte (after packet type Multitrack). Returns the
/// inner packet type and the multitrack type.
fn multitrack_byte(
    r: &mut Reader,
    kind: &str,
    multitrack_pt: u8,
    out: &mut Vec<Anomaly>,
) -> Option<(u8, u8)> {
    let start = r.pos();
    let Some(b) = r.u8() else {
        out.push(anomaly(
            "rtmp.media.track_truncated",
            Severity::Error,
            start,
            start,
            format!("{kind} multitrack header missing"),
        ));
        return None;
    };
    let mt = b >> 4;
    let pt = b & 0x0f;
    if mt > 2 {
        out.push(anomaly(
            "rtmp.media.bad_multitrack_type",
            Severity::Warning,
            start,
            start + 1,
            format!("{kind} multitrack type {mt}"),
        ));
    }
    if pt == multitrack_pt {
        out.push(anomaly(
            "rtmp.media.nested_multitrack",
            Severity::Error,
            start,
            start + 1,
            format!("{kind} multitrack packet type inside a multitrack message"),
        ));
        return None;
    }
    Some((pt, mt))
}

/// Reads a FourCC, reporting a truncated header.
fn read_fourcc<'a>(
    r: &mut Reader<'a>,
    trunc_name: &'static str,
    out: &mut Vec<Anomaly>,
) -> Option<&'a [u8]> {
    let start = r.pos();
    match r.take(4) {
        Some(f) => {
            if fourcc_codec(f).is_none() {
                out.push(anomaly(
                    "rtmp.media.unknown_fourcc",
                    Severity::Warning,
                    start,
                    start + 4,
                    format!("FourCC {:?}", fourcc_string(f)),
                ));
            }
            Some(f)
        }
        None => {
            out.push(anomaly(
                trunc_name,
                Severity::Error,
                start,
                r.len(),
                "FourCC runs past the end of the body",
            ));
            r.skip_to_end();
            None
        }
    }
}

/// One track's bytes within the body.
struct TrackSlot<'a> {
    track_id: u8,
    fourcc: Option<&'a [u8]>,
    start: usize,
    end: usize,
}

impl<'a> TrackSlot<'a> {
    /// The slot's bytes (empty if the range falls outside the body).
    fn bytes(&self, body: &'a [u8]) -> &'a [u8] {
        body.get(self.start..self.end).unwrap_or(&[])
    }

    /// A track for this slot, its payload the whole slot, no config yet.
    fn track(&self) -> MediaTrack {
        MediaTrack {
            track_id: self.track_id,
            fourcc: self.fourcc.map(fourcc_string),
            composition_time: None,
            payload: Span::new(self.start, self.end),
            config: None,
        }
    }
}

/// After the E-RTMP header: the FourCC (unless each track carries its
/// own), then the track slots. `None` when the FourCC is truncated.
fn ex_slots<'a>(
    body: &'a [u8],
    r: &mut Reader<'a>,
    multitrack: Option<u8>,
    trunc_name: &'static str,
    out: &mut Vec<Anomaly>,
) -> Option<Vec<TrackSlot<'a>>> {
    let fourcc = if multitrack == Some(2) {
        None
    } else {
        Some(read_fourcc(r, trunc_name, out)?)
    };
    Some(track_slots(body, r, multitrack, fourcc, trunc_name, out))
}

/// Walks the tracks of an E-RTMP body: returns the slots. For
/// non-multitrack messages there is one slot from the reader position to
/// the end.
fn track_slots<'a>(
    body: &'a [u8],
    r: &mut Reader<'a>,
    multitrack: Option<u8>,
    mut fourcc: Option<&'a [u8]>,
    trunc_name: &'static str,
    out: &mut Vec<Anomaly>,
) -> Vec<TrackSlot<'a>> {
    let mut slots = Vec::new();
    let Some(mt) = multitrack else {
        slots.push(TrackSlot {
            track_id: 0,
            fourcc,
            start: r.pos(),
            end: body.len(),
        });
        return slots;
    };
    while r.remaining() > 0 {
        if slots.len() >= MAX_TRACKS {
            out.push(anomaly(
                "rtmp.media.track_limit",
                Severity::Warning,
                r.pos(),
                body.len(),
                format!("more than {MAX_TRACKS} tracks; the rest is not decoded"),
            ));
            break;
        }
        let hdr_start = r.pos();
        if mt == 2 {
            fourcc = read_fourcc(r, trunc_name, out);
            if fourcc.is_none() {
                break;
            }
        }
        let Some(track_id) = r.u8() else {
            out.push(anomaly(
                "rtmp.media.track_truncated",
                Severity::Error,
                hdr_start,
                body.len(),
                "track header runs past the end of the body",
            ));
            break;
        };
        if mt == 0 {
            slots.push(TrackSlot {
                track_id,
                fourcc,
                start: r.pos(),
                end: body.len(),
            });
            break;
        }
        let Some(size) = r.u24() else {
            out.push(anomaly(
                "rtmp.media.track_truncated",
                Severity::Error,
                hdr_start,
                body.len(),
                "track size runs past the end of the body",
            ));
            break;
        };
        let start = r.pos();
        let want_end = start.saturating_add(size as usize);
        let end = want_end.min(body.len());
        if want_end > body.len() {
            out.push(anomaly(
                "rtmp.media.track_truncated",
                Severity::Error,
                hdr_start,
                body.len(),
                format!(
                    "track {track_id} size {size} exceeds the {} bytes left",
                    body.len() - start
                ),
            ));
        }
        slots.push(TrackSlot {
            track_id,
            fourcc,
            start,
            end,
        });
        *r = Reader::at(body, end);
    }
    slots
}

fn decode_ex_video<'a>(body: &'a [u8], b0: u8, mut r: Reader<'a>, out: &mut Vec<Anomaly>) -> Body {
    let frame_type = (b0 >> 4) & 0x07;
    check_frame_type(frame_type, out);
    let mut v = Video {
        frame_type,
        keyframe: frame_type == 1,
        enhanced: true,
        codec_id: None,
        codec: "none".to_string(),
        packet_type: Some(b0 & 0x0f),
        packet: Some(video_packet_name(b0 & 0x0f)),
        composition_time: None,
        multitrack: None,
        tracks: Vec::new(),
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
            "rtmp.video.unknown_packet_type",
            Severity::Warning,
            0,
            r.pos(),
            format!("E-RTMP video packet type {pt}"),
        ));
    }
    if pt != video_packet::METADATA && frame_type == 5 {
        v.command = r.u8();
        if v.command.is_none() {
            out.push(anomaly(
                "rtmp.video.truncated",
                Severity::Error,
                0,
                body.len(),
                "video command frame without its command byte",
            ));
        }
        return Body::Video(v);
    }
    let Some(slots) = ex_slots(body, &mut r, h.multitrack, "rtmp.video.truncated", out) else {
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
                        "rtmp.video.truncated",
                        Severity::Error,
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

/// Shared E-RTMP header: ModEx loop, then the multitrack byte.
fn ex_header(
    r: &mut Reader,
    pt: u8,
    kind: &str,
    multitrack_pt: u8,
    out: &mut Vec<Anomaly>,
) -> Option<ExHeader> {
    let (pt, nanos) = modex_loop(r, pt, kind, out)?;
    if pt == multitrack_pt {
        let (inner, mt) = multitrack_byte(r, kind, multitrack_pt, out)?;
        return Some(ExHeader {
            packet_type: inner,
            nanos,
            multitrack: Some(mt),
        });
    }
    Some(ExHeader {
        packet_type: pt,
        nanos,
        multitrack: None,
    })
}

/// The codec name of a set of tracks: the common one, or `mixed`.
fn tracks_codec(tracks: &[MediaTrack]) -> String {
    let mut name: Option<String> = None;
    for t in tracks {
        let n = match &t.fourcc {
            Some(f) => fourcc_codec(f.as_bytes())
                .map(str::to_string)
                .unwrap_or_else(|| f.clone()),
            None => continue,
        };
        match &name {
            None => name = Some(n),
            Some(prev) if *prev != n => return "mixed".to_string(),
            _ => {}
        }
    }
    name.unwrap_or_else(|| "none".to_string())
}

// ---------------------------------------------------------------- audio

const FLV_RATES: [u32; 4] = [5512, 11025, 22050, 44100];

/// Decodes an audio (type 8) body.
pub fn decode_audio(body: &[u8], out: &mut Vec<Anomaly>) -> Body {
    let mut r = Reader::new(body);
    let Some(b0) = r.u8() else {
        return Body::Raw;
    };
    let sound_format = b0 >> 4;
    if sound_format == 9 {
        return decode_ex_audio(body, b0, r, out);
    }
    let sample_rate = match sound_format {
        4 | 11 => 16000,
        5 | 14 => 8000,
        _ => FLV_RATES[((b0 >> 2) & 3) as usize],
    };
    let mut a = Audio {
        sound_format,
        enhanced: false,
        codec: sound_format_name(sound_format).to_string(),
        sample_rate: Some(sample_rate),
        sample_bits: Some(if b0 & 0x02 != 0 { 16 } else { 8 }),
        channels: Some(if b0 & 0x01 != 0 { 2 } else { 1 }),
        packet_type: None,
        packet: None,
        multitrack: None,
        tracks: Vec::new(),
        timestamp_offset_nanos: None,
    };
    let mut config = None;
    if sound_format == 10 {
        // FLV: for AAC the rate/size/type bits are fixed (44 kHz, 16-bit,
        // stereo) and meaningless; the real values come from the
        // AudioSpecificConfig only.
        a.sample_rate = None;
        a.sample_bits = None;
        a.channels = None;
        let Some(pt) = r.u8() else {
            out.push(anomaly(
                "rtmp.audio.truncated",
                Severity::Error,
                0,
                body.len(),
                "AAC audio without its packet type",
            ));
            return Body::Audio(a);
        };
        a.packet_type = Some(pt);
        a.packet = Some(match pt {
            0 => "sequence_header",
            1 => "raw",
            _ => "unknown",
        });
        if pt > 1 {
            out.push(anomaly(
                "rtmp.audio.unknown_packet_type",
                Severity::Warning,
                1,
                2,
                format!("AAC packet type {pt}"),
            ));
        }
        if pt == 0 {
            let c = parse_aac_config(r.rest(), r.pos(), out);
            if let CodecConfig::Aac {
                sample_rate,
                channels,
                ..
            } = &c
            {
                a.sample_rate = Some(*sample_rate).filter(|&x| x != 0);
                a.channels = Some(*channels).filter(|&x| x != 0);
            }
            config = Some(c);
        }
    }
    a.tracks.push(MediaTrack {
        track_id: 0,
        fourcc: None,
        composition_time: None,
        payload: Span::new(r.pos(), body.len()),
        config,
    });
    Body::Audio(a)
}

fn decode_ex_audio<'a>(body: &'a [u8], b0: u8, mut r: Reader<'a>, out: &mut Vec<Anomaly>) -> Body {
    let mut a = Audio {
        sound_format: 9,
        enhanced: true,
        codec: "none".to_string(),
        sample_rate: None,
        sample_bits: None,
        channels: None,
        packet_type: Some(b0 & 0x0f),
        packet: Some(audio_packet_name(b0 & 0x0f)),
        multitrack: None,
        tracks: Vec::new(),
        timestamp_offset_nanos: None,
    };
    let Some(h) = ex_header(&mut r, b0 & 0x0f, "audio", audio_packet::MULTITRACK, out) else {
        return Body::Audio(a);
    };
    let pt = h.packet_type;
    a.packet_type = Some(pt);
    a.packet = Some(audio_packet_name(pt));
    a.timestamp_offset_nanos = h.nanos;
    a.multitrack = h.multitrack.map(multitrack_name);
    if audio_packet_name(pt) == "unknown" {
        out.push(anomaly(
            "rtmp.audio.unknown_packet_type",
            Severity::Warning,
            0,
            r.pos(),
            format!("E-RTMP audio packet type {pt}"),
        ));
    }
    let Some(slots) = ex_slots(body, &mut r, h.multitrack, "rtmp.audio.truncated", out) else {
        return Body::Audio(a);
    };
    for s in slots {
        let bytes = s.bytes(body);
        let mut t = s.track();
        match pt {
            audio_packet::SEQUENCE_START => {
                let c = match s.fourcc {
                    Some(b"mp4a") => parse_aac_config(bytes, s.start, out),
                    _ => CodecConfig::Opaque { span: t.payload },
                };
                if let CodecConfig::Aac {
                    sample_rate,
                    channels,
                    ..
                } = &c
                {
                    if a.sample_rate.is_none() && *sample_rate != 0 {
                        a.sample_rate = Some(*sample_rate);
                    }
                    if a.channels.is_none() && *channels != 0 {
                        a.channels = Some(*channels);
                    }
                }
                t.config = Some(c);
            }
            audio_packet::MULTICHANNEL_CONFIG => {
                // audioChannelOrder UI8, channelCount UI8, then a mapping
                // (custom) or a UI32 mask (native).
                if let (Some(_order), Some(count)) = (bytes.first(), bytes.get(1)) {
                    if a.channels.is_none() {
                        a.channels = Some(*count);
                    }
                } else {
                    out.push(anomaly(
                        "rtmp.audio.truncated",
                        Severity::Error,
                        s.start,
                        s.end,
                        "multichannel config shorter than 2 bytes",
                    ));
                }
            }
            _ => {}
        }
        a.tracks.push(t);
    }
    a.codec = tracks_codec(&a.tracks);
    Body::Audio(a)
}

// ---------------------------------------------------------------- configs

fn bad_config(out: &mut Vec<Anomaly>, sev: Severity, start: usize, end: usize, d: String) {
    out.push(anomaly("rtmp.codec.bad_config", sev, start, end, d));
}

/// Reports an unreadable codec config (an error) and keeps its bytes opaque.
fn bad_config_opaque(out: &mut Vec<Anomaly>, base: usize, end: usize, d: String) -> CodecConfig {
    bad_config(out, Severity::Error, base, end, d);
    CodecConfig::Opaque {
        span: Span::new(base, end),
    }
}

/// AVCDecoderConfigurationRecord at body offset `base`.
pub fn parse_avc_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let mut r = Reader::new(b);
    let (Some(version), Some(profile), Some(compatibility), Some(level), Some(ls), Some(ns)) =
        (r.u8(), r.u8(), r.u8(), r.u8(), r.u8(), r.u8())
    else {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("AVC config is {} bytes, shorter than 6", b.len()),
        );
    };
    if version != 1 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!("AVC config version {version}"),
        );
    }
    let mut sps = Vec::new();
    let mut pps = Vec::new();
    let mut ok = read_param_sets(&mut r, (ns & 0x1f) as usize, base, &mut sps);
    if ok {
        match r.u8() {
            Some(np) => ok = read_param_sets(&mut r, np as usize, base, &mut pps),
            None => ok = false,
        }
    }
    if !ok {
        bad_config(
            out,
            Severity::Error,
            base,
            end,
            "AVC config parameter sets run past the end".to_string(),
        );
    }
    let dims = sps
        .first()
        .and_then(|s| b.get(s.start as usize - base..s.end as usize - base))
        .and_then(sps_dimensions);
    CodecConfig::Avc {
        profile,
        compatibility,
        level,
        nalu_length_size: (ls & 3) + 1,
        sps,
        pps,
        width: dims.map(|d| d.0),
        height: dims.map(|d| d.1),
    }
}

fn read_param_sets(r: &mut Reader, n: usize, base: usize, v: &mut Vec<Span>) -> bool {
    for _ in 0..n {
        let Some(len) = r.u16() else { return false };
        let start = r.pos();
        if r.take(len as usize).is_none() {
            return false;
        }
        v.push(Span::new(base + start, base + r.pos()));
    }
    true
}

/// HEVCDecoderConfigurationRecord at body offset `base`.
pub fn parse_hevc_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    if b.len() < 23 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("HEVC config is {} bytes, shorter than 23", b.len()),
        );
    }
    let version = b[0];
    if version != 1 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!("HEVC config version {version}"),
        );
    }
    let mut r = Reader::at(b, 22);
    let n = r.u8().unwrap_or(0);
    let mut arrays = Vec::new();
    let mut ok = true;
    'arrays: for _ in 0..n {
        let (Some(t), Some(count)) = (r.u8(), r.u16()) else {
            ok = false;
            break;
        };
        for _ in 0..count {
            let Some(len) = r.u16() else {
                ok = false;
                break 'arrays;
            };
            if !r.skip(len as usize) {
                ok = false;
                break 'arrays;
            }
        }
        arrays.push((t & 0x3f, count));
    }
    if !ok {
        bad_config(
            out,
            Severity::Error,
            base,
            end,
            "HEVC config NAL arrays run past the end".to_string(),
        );
    }
    CodecConfig::Hevc {
        profile: b[1] & 0x1f,
        tier: (b[1] >> 5) & 1,
        level: b[12],
        nalu_length_size: (b[21] & 3) + 1,
        arrays,
    }
}

/// AV1CodecConfigurationRecord at body offset `base`.
pub fn parse_av1_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    if b.len() < 4 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("AV1 config is {} bytes, shorter than 4", b.len()),
        );
    }
    if b[0] != 0x81 {
        bad_config(
            out,
            Severity::Warning,
            base,
            base + 1,
            format!(
                "AV1 config marker/version byte 0x{:02x}, expected 0x81",
                b[0]
            ),
        );
    }
    let high = b[2] & 0x40 != 0;
    let twelve = b[2] & 0x20 != 0;
    CodecConfig::Av1 {
        profile: b[1] >> 5,
        level: b[1] & 0x1f,
        tier: b[2] >> 7,
        bit_depth: match (high, twelve) {
            (false, _) => 8,
            (true, false) => 10,
            (true, true) => 12,
        },
        monochrome: b[2] & 0x10 != 0,
    }
}

/// VPCodecConfigurationRecord at body offset `base`: the vpcC box content
/// (version 1, 24-bit flags 0, then the record) as ffmpeg writes it; a bare
/// record (no version/flags) is recognised by non-zero bytes where the flags
/// would be.
pub fn parse_vp_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let full_box = b.len() >= 4 && b[1..4] == [0, 0, 0];
    let rec = if full_box { &b[4..] } else { b };
    if rec.len() < 3 {
        return bad_config_opaque(
            out,
            base,
            end,
            format!("VP config is {} bytes, too short", b.len()),
        );
    }
    CodecConfig::Vp {
        profile: rec[0],
        level: rec[1],
        bit_depth: rec[2] >> 4,
    }
}

/// AAC sampling frequency table (ISO/IEC 14496-3), index 0-12.
pub const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// AudioSpecificConfig at body offset `base`.
pub fn parse_aac_config(b: &[u8], base: usize, out: &mut Vec<Anomaly>) -> CodecConfig {
    let end = base + b.len();
    let mut bits = Bits::new(b);
    let parsed = (|| {
        let mut ot = bits.read(5)?;
        if ot == 31 {
            ot = 32 + bits.read(6)?;
        }
        let fi = bits.read(4)?;
        let rate = if fi == 15 {
            bits.read(24)?
        } else {
            AAC_RATES.get(fi as usize).copied().unwrap_or(0)
        };
        let ch = bits.read(4)?;
        Some((ot as u8, fi, rate, ch as u8))
    })();
    match parsed {
        Some((object_type, fi, sample_rate, channels)) => {
            if sample_rate == 0 {
                bad_config(
                    out,
                    Severity::Warning,
                    base,
                    end,
                    format!("AAC sampling frequency index {fi} is reserved"),
                );
            }
            CodecConfig::Aac {
                object_type,
                sample_rate,
                channels,
            }
        }
        None => bad_config_opaque(
            out,
            base,
            end,
            format!("AAC AudioSpecificConfig truncated ({} bytes)", b.len()),
        ),
    }
}

/// MSB-first bit reader.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(b as u32)
    }
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n.min(32) {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }
    /// Unsigned exp-Golomb (at most 31 leading zeros).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.read(zeros)?;
        Some(((1u64 << zeros) - 1 + rest as u64).min(u32::MAX as u64) as u32)
    }
    fn se(&mut self) -> Option<i64> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Width and height from an H.264 SPS NAL unit (with its 1-byte header).
pub fn sps_dimensions(nal: &[u8]) -> Option<(u32, u32)> {
    // Remove emulation prevention bytes (00 00 03).
    let mut rbsp = Vec::with_capacity(nal.len().min(MAX_SPS_BYTES));
    let mut zeros = 0;
    for &b in nal.iter().skip(1).take(MAX_SPS_BYTES) {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = Bits::new(&rbsp);
    let profile = r.read(8)?;
    r.read(16)?; // constraint flags, level
    r.ue()?; // sps id
    let mut chroma = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma = r.ue()?;
        if chroma == 3 && r.bit()? == 1 {
            chroma = 0; // separate colour planes: no chroma subsampling
        }
        r.ue()?;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            let n = if chroma == 3 { 12 } else { 8 };
            for i in 0..n {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?;
    let w_mbs = r.ue()? as u64 + 1;
    let h_units = r.ue()? as u64 + 1;
    let frame_mbs_only = r.bit()? as u64;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?;
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? == 1 {
        cl = r.ue()? as u64;
        cr = r.ue()? as u64;
        ct = r.ue()? as u64;
        cb = r.ue()? as u64;
    }
    let (sub_w, sub_h) = match chroma {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_x = sub_w;
    let crop_y = sub_h * (2 - frame_mbs_only);
    let w = (w_mbs * 16).checked_sub(crop_x * (cl + cr))?;
    let h = ((2 - frame_mbs_only) * h_units * 16).checked_sub(crop_y * (ct + cb))?;
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amf::{AmfStr, ValueKind};
    use crate::rtmp::body::tests::amf0w;

    /// MSB-first bit writer with exp-Golomb, for building SPS/ASC vectors.
    struct W {
        bytes: Vec<u8>,
        n: usize,
    }
    impl W {
        fn new() -> Self {
            W {
                bytes: Vec::new(),
                n: 0,
            }
        }
        fn put(&mut self, v: u64, bits: u32) -> &mut Self {
            for i in (0..bits).rev() {
                if self.n.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                let bit = ((v >> i) & 1) as u8;
                let last = self.bytes.len() - 1;
                self.bytes[last] |= bit << (7 - self.n % 8);
                self.n += 1;
            }
            self
        }
        fn ue(&mut self, v: u32) -> &mut Self {
            let x = v as u64 + 1;
            let len = 64 - x.leading_zeros();
            self.put(0, len - 1);
            self.put(x, len)
        }
        fn se(&mut self, v: i32) -> &mut Self {
            let k = if v > 0 { 2 * v - 1 } else { -2 * v };
            self.ue(k as u32)
        }
        fn done(&mut self) -> Vec<u8> {
            self.bytes.clone()
        }
    }

    /// RBSP -> NAL payload with emulation prevention bytes.
    fn add_ep(rbsp: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let mut zeros = 0;
        for &b in rbsp {
            if zeros >= 2 && b <= 3 {
                v.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            v.push(b);
        }
        v
    }

    /// Baseline 1280x720 SPS NAL (header 0x67).
    fn sps_720p() -> Vec<u8> {
        let mut w = W::new();
        w.put(66, 8).put(0, 8).put(31, 8).ue(0);
        w.ue(0).ue(2).ue(1).put(0, 1).ue(79).ue(44);
        w.put(1, 1).put(1, 1).put(0, 1).put(0, 1).put(1, 1);
        let mut v = vec![0x67];
        v.extend(add_ep(&w.done()));
        v
    }

    /// High profile 1920x1080 SPS (1088 coded, 8 rows cropped), with a
    /// scaling matrix and POC type 1 to exercise those paths.
    fn sps_1080p() -> Vec<u8> {
        let mut w = W::new();
        w.put(100, 8).put(0, 8).put(40, 8).ue(0);
        w.ue(1).ue(0).ue(0).put(0, 1);
        w.put(1, 1); // seq_scaling_matrix_present
        w.put(1, 1); // list 0 present
        for _ in 0..16 {
            w.se(1);
        }
        for _ in 1..8 {
            w.put(0, 1);
        }
        w.ue(0).ue(1); // log2_max_frame_num, poc type 1
        w.put(0, 1).se(-3).se(2).ue(2).se(1).se(-1);
        w.ue(4).put(0, 1).ue(119).ue(67);
        w.put(1, 1).put(1, 1).put(1, 1).ue(0).ue(0).ue(0).ue(4);
        w.put(0, 1).put(1, 1);
        let mut v = vec![0x67];
        v.extend(add_ep(&w.done()));
        v
    }

    fn avcc(sps: &[u8], pps: &[u8]) -> Vec<u8> {
        let mut v = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
        v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        v.extend_from_slice(sps);
        v.push(1);
        v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        v.extend_from_slice(pps);
        v
    }

    fn hvcc() -> Vec<u8> {
        let mut v = vec![
            1, 0x21, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xf0, 0, 0xfc,
        ];
        v.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0, 0, 0x0f]);
        v.push(2); // arrays
        v.extend_from_slice(&[0x20, 0, 1, 0, 2, 0x40, 0x01]); // VPS, 1 nalu
        v.extend_from_slice(&[0x21, 0, 2, 0, 1, 0x42, 0, 1, 0x42]); // SPS x2
        v
    }

    fn av1c() -> Vec<u8> {
        // profile 0, level 8, tier 0, high bitdepth (10-bit), 4:2:0
        vec![0x81, 0x08, 0x4c, 0x00]
    }

    fn vpcc() -> Vec<u8> {
        // version 1, flags 0, profile 2, level 31, bit depth 10, ...
        vec![1, 0, 0, 0, 2, 31, 0xa2, 1, 1, 1, 0, 0]
    }

    fn video(b: &[u8]) -> (Video, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode_video(b, &mut out) {
            Body::Video(v) => (v, out),
            other => panic!("{other:?}"),
        }
    }

    fn audio(b: &[u8]) -> (Audio, Vec<Anomaly>) {
        let mut out = Vec::new();
        match decode_audio(b, &mut out) {
            Body::Audio(a) => (a, out),
            other => panic!("{other:?}"),
        }
    }

    fn names(a: &[Anomaly]) -> Vec<&'static str> {
        a.iter().map(|a| a.name).collect()
    }

    #[test]
    fn sps_dimension_parser() {
        assert_eq!(sps_dimensions(&sps_720p()), Some((1280, 720)));
        assert_eq!(sps_dimensions(&sps_1080p()), Some((1920, 1080)));
        assert_eq!(sps_dimensions(&[0x67, 66]), None);
        // Emulation prevention bytes are removed before parsing.
        let mut w = W::new();
        // level 0, then sps id 63 starts with 0b0000_0010: 00 00 02 -> EP.
        w.put(66, 8).put(0, 8).put(0, 8).ue(63);
        w.ue(0).ue(2).ue(0).put(0, 1).ue(0).ue(0);
        w.put(1, 1).put(1, 1).put(0, 1).put(0, 1).put(1, 1);
        let rbsp = w.done();
        let mut nal = vec![0x67];
        nal.extend(add_ep(&rbsp));
        assert!(nal.len() > rbsp.len() + 1, "vector must contain EP bytes");
        assert_eq!(sps_dimensions(&nal), Some((16, 16)));
    }

    #[test]
    fn sps_extreme_scaling_delta_does_not_overflow() {
        let mut w = W::new();
        w.put(100, 8).put(0, 8).put(40, 8).ue(0);
        w.ue(1).ue(0).ue(0).put(0, 1).put(1, 1).put(1, 1);
        w.ue(u32::MAX - 2); // delta_scale = 2^31 - 1
        w.put(0, 64);
        let mut nal = vec![0x67];
        nal.extend(add_ep(&w.done()));
        // Parses on (or gives up) without arithmetic overflow.
        let _ = sps_dimensions(&nal);
        let mut r = Bits::new(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(r.ue(), Some((1 << 31) - 1 + 0x7fff_ffff));
    }

    #[test]
    fn legacy_avc_sequence_header() {
        let sps = sps_720p();
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let mut b = vec![0x17, 0, 0, 0, 0];
        b.extend(avcc(&sps, &pps));
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert!(v.keyframe && !v.enhanced);
        assert_eq!(v.codec, "avc");
        assert_eq!(v.codec_id, Some(7));
        assert_eq!(v.packet, Some("sequence_header"));
        assert_eq!(v.composition_time, Some(0));
        let t = &v.tracks[0];
        assert_eq!(t.payload, Span::new(5, b.len()));
        match t.config.as_ref().unwrap() {
            CodecConfig::Avc {
                profile,
                level,
                nalu_length_size,
                sps: s,
                pps: p,
                width,
                height,
                ..
            } => {
                assert_eq!((*profile, *level, *nalu_length_size), (66, 31, 4));
                assert_eq!(s, &vec![Span::new(13, 13 + sps.len())]);
                assert_eq!(p.len(), 1);
                assert_eq!(p[0].len(), 4);
                assert_eq!(&b[p[0].start as usize..p[0].end as usize], &pps);
                assert_eq!((*width, *height), (Some(1280), Some(720)));
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn legacy_avc_nalu_and_negative_cts() {
        let b = [0x27, 1, 0xff, 0xff, 0xfe, 0, 0, 0, 2, 0x41, 0x9a];
        let (v, a) = video(&b);
        assert!(a.is_empty());
        assert_eq!(v.frame_type, 2);
        assert!(!v.keyframe);
        assert_eq!(v.packet, Some("nalu"));
        assert_eq!(v.composition_time, Some(-2));
        assert_eq!(v.tracks[0].payload, Span::new(5, 11));
        assert!(v.tracks[0].config.is_none());
        let (v, _) = video(&[0x17, 2, 0, 0, 0]);
        assert_eq!(v.packet, Some("end_of_sequence"));
        let (_, a) = video(&[0x17, 1, 0]);
        assert_eq!(names(&a), ["rtmp.video.truncated"]);
    }

    #[test]
    fn legacy_hevc_codec_12() {
        let mut b = vec![0x1c, 0, 0, 0, 0];
        b.extend(hvcc());
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.codec, "hevc");
        match v.tracks[0].config.as_ref().unwrap() {
            CodecConfig::Hevc {
                profile,
                tier,
                level,
                nalu_length_size,
                arrays,
            } => {
                assert_eq!((*profile, *tier, *level, *nalu_length_size), (1, 1, 93, 4));
                assert_eq!(arrays, &vec![(32, 1), (33, 2)]);
            }
            c => panic!("{c:?}"),
        }
        let (v, _) = video(&[0x2c, 1, 0, 0, 0x21, 0xaa]);
        assert_eq!(v.composition_time, Some(0x21));
        // Truncated HVCC arrays.
        let mut b = vec![0x1c, 0, 0, 0, 0];
        let h = hvcc();
        b.extend_from_slice(&h[..h.len() - 2]);
        let (_, a) = video(&b);
        assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
    }

    #[test]
    fn legacy_other_codecs() {
        for (b0, ft, codec) in [
            (0x12u8, 1u8, "h263"),
            (0x23, 2, "screen"),
            (0x34, 3, "vp6"),
            (0x15, 1, "vp6a"),
            (0x26, 2, "screen2"),
            (0x41, 4, "jpeg"),
        ] {
            let (v, a) = video(&[b0, 9, 9]);
            assert!(a.is_empty(), "{codec}");
            assert_eq!(v.codec, codec);
            assert_eq!(v.frame_type, ft);
            assert_eq!(v.packet_type, None);
            assert_eq!(v.tracks[0].payload, Span::new(1, 3));
        }
        let (v, a) = video(&[0x52, 1]);
        assert_eq!(v.frame_type, 5);
        assert_eq!(v.command, Some(1));
        assert!(a.is_empty());
        let (v, a) = video(&[0x1f, 0]);
        assert_eq!(v.codec, "unknown_15");
        assert_eq!(names(&a), ["rtmp.video.unknown_codec"]);
        let (_, a) = video(&[0x02]);
        assert_eq!(names(&a), ["rtmp.video.bad_frame_type"]);
    }

    fn ex(b0: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
        let mut v = vec![b0];
        v.extend_from_slice(fourcc);
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn erwtmp_sequence_starts() {
        let (v, a) = video(&ex(0x90, b"hvc1", &hvcc()));
        assert!(a.is_empty(), "{a:?}");
        assert!(v.enhanced && v.keyframe);
        assert_eq!(v.codec, "hevc");
        assert_eq!(v.codec_id, None);
        assert_eq!(v.packet, Some("sequence_start"));
        assert_eq!(v.tracks[0].fourcc.as_deref(), Some("hvc1"));
        assert!(matches!(
            v.tracks[0].config,
            Some(CodecConfig::Hevc { level: 93, .. })
        ));
        let (v, _) = video(&ex(0x90, b"avc1", &avcc(&sps_1080p(), &[0x68, 1])));
        assert!(matches!(
            v.tracks[0].config,
            Some(CodecConfig::Avc {
                width: Some(1920),
                height: Some(1080),
                ..
            })
        ));
        let (v, a) = video(&ex(0x90, b"av01", &av1c()));
        assert!(a.is_empty());
        assert_eq!(v.codec, "av1");
        assert_eq!(
            v.tracks[0].config,
            Some(CodecConfig::Av1 {
                profile: 0,
                level: 8,
                tier: 0,
                bit_depth: 10,
                monochrome: false
            })
        );
        let (v, _) = video(&ex(0x90, b"vp09", &vpcc()));
        assert_eq!(v.codec, "vp9");
        assert_eq!(
            v.tracks[0].config,
            Some(CodecConfig::Vp {
                profile: 2,
                level: 31,
                bit_depth: 10
            })
        );
        let (v, _) = video(&ex(0x90, b"vp08", &vpcc()));
        assert_eq!(v.codec, "vp8");
        // Bare record without version/flags.
        let (v, a) = video(&ex(0x90, b"vp09", &vpcc()[4..]));
        assert!(a.is_empty());
        assert_eq!(
            v.tracks[0].config,
            Some(CodecConfig::Vp {
                profile: 2,
                level: 31,
                bit_depth: 10
            })
        );
        let (_, a) = video(&ex(0x90, b"vp09", &[1, 0, 0, 0, 2]));
        assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
        let (v, a) = video(&ex(0x90, b"av01", &[0x81]));
        assert_eq!(names(&a), ["rtmp.codec.bad_config"]);
        assert!(matches!(
            v.tracks[0].config,
            Some(CodecConfig::Opaque { .. })
        ));
    }

    #[test]
    fn ertmp_coded_frames_cts_only_for_avc_hevc() {
        for f in [b"avc1", b"hvc1"] {
            let (v, a) = video(&ex(0xa1, f, &[0, 0, 0x28, 7, 7]));
            assert!(a.is_empty());
            assert_eq!(v.frame_type, 2);
            assert_eq!(v.packet, Some("coded_frames"));
            assert_eq!(v.composition_time, Some(40));
            assert_eq!(v.tracks[0].composition_time, Some(40));
            assert_eq!(v.tracks[0].payload, Span::new(8, 10));
        }
        for f in [b"av01", b"vp09", b"vp08"] {
            let (v, _) = video(&ex(0xa1, f, &[0, 0, 0x28, 7, 7]));
            assert_eq!(v.composition_time, None);
            assert_eq!(v.tracks[0].payload, Span::new(5, 10));
        }
        let (v, _) = video(&ex(0xa3, b"hvc1", &[7, 7]));
        assert_eq!(v.packet, Some("coded_frames_x"));
        assert_eq!(v.composition_time, None);
        assert_eq!(v.tracks[0].payload, Span::new(5, 7));
        let (v, _) = video(&ex(0x92, b"av01", &[]));
        assert_eq!(v.packet, Some("sequence_end"));
        assert!(v.tracks[0].payload.is_empty());
        let (v, _) = video(&ex(0x95, b"av01", &[1, 2, 3]));
        assert_eq!(v.packet, Some("mpeg2ts_sequence_start"));
        assert_eq!(
            v.tracks[0].config,
            Some(CodecConfig::Opaque {
                span: Span::new(5, 8)
            })
        );
        let (_, a) = video(&[0x91, b'h', b'v']);
        assert_eq!(names(&a), ["rtmp.video.truncated"]);
        let (_, a) = video(&ex(0x91, b"xyz1", &[]));
        assert_eq!(names(&a), ["rtmp.media.unknown_fourcc"]);
    }

    #[test]
    fn ertmp_metadata() {
        let amf = amf0w::cat(&[
            amf0w::s("colorInfo"),
            amf0w::obj(&[("colorConfig", amf0w::obj(&[("bitDepth", amf0w::n(10.0))]))]),
        ]);
        let (v, a) = video(&ex(0x94, b"hvc1", &amf));
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.packet, Some("metadata"));
        assert_eq!(v.metadata.len(), 2);
        assert_eq!(v.metadata[0].as_str(), Some(&AmfStr::from("colorInfo")));
        assert_eq!(v.metadata[0].span.start, 5);
        let depth = v.metadata[1]
            .get("colorConfig")
            .and_then(|c| c.get("bitDepth"))
            .and_then(|d| d.as_f64());
        assert_eq!(depth, Some(10.0));
    }

    #[test]
    fn ertmp_command_frame() {
        let (v, a) = video(&[0xd1, 0x01]);
        assert!(a.is_empty());
        assert_eq!(v.frame_type, 5);
        assert_eq!(v.command, Some(1));
        assert!(v.tracks.is_empty());
        let (_, a) = video(&[0xd1]);
        assert_eq!(names(&a), ["rtmp.video.truncated"]);
    }

    #[test]
    fn ertmp_modex_timestamp_offset_nano() {
        // ModEx: size-1 = 2 (3 bytes of data), type 0 / next packet type 1.
        let b = [
            0x97, 0x02, 0x0f, 0x42, 0x3f, 0x01, b'a', b'v', b'c', b'1', 0, 0, 0x21, 0xee,
        ];
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.timestamp_offset_nanos, Some(999_999));
        assert_eq!(v.packet, Some("coded_frames"));
        assert_eq!(v.composition_time, Some(0x21));
        assert_eq!(v.tracks[0].payload, Span::new(13, 14));
        // 16-bit ModEx size: 0xff then UI16 (size 257), unknown ModEx type 3.
        let mut b = vec![0x97, 0xff, 0x01, 0x00];
        b.extend(std::iter::repeat_n(0u8, 257));
        b.push(0x33);
        b.extend_from_slice(b"hvc1");
        b.push(9);
        let (v, a) = video(&b);
        assert_eq!(names(&a), ["rtmp.media.unknown_modex_type"]);
        assert_eq!(v.packet, Some("coded_frames_x"));
        assert_eq!(v.tracks[0].payload, Span::new(b.len() - 1, b.len()));
        // Chained ModEx then truncated.
        let (_, a) = video(&[0x97, 0x02, 1, 2, 3, 0x07, 0x05]);
        assert_eq!(names(&a), ["rtmp.media.bad_modex"]);
        // Nano offset too short (1 byte of data).
        let (v, a) = video(&[0x97, 0x00, 5, 0x03, b'a', b'v', b'0', b'1']);
        assert_eq!(names(&a), ["rtmp.media.bad_modex"]);
        assert_eq!(v.timestamp_offset_nanos, None);
    }

    #[test]
    fn ertmp_multitrack() {
        // OneTrack: multitrack byte 0x01 (one_track, coded frames).
        let b = [0x96, 0x01, b'h', b'v', b'c', b'1', 3, 0, 0, 5, 0xaa];
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.packet, Some("coded_frames"));
        assert_eq!(v.multitrack, Some("one_track"));
        assert_eq!(v.tracks.len(), 1);
        assert_eq!(v.tracks[0].track_id, 3);
        assert_eq!(v.tracks[0].composition_time, Some(5));
        assert_eq!(v.tracks[0].payload, Span::new(10, 11));
        // ManyTracks, CodedFramesX, sizes UI24.
        let b = [
            0x96, 0x13, b'a', b'v', b'c', b'1', 0, 0, 0, 3, 1, 2, 3, 1, 0, 0, 2, 4, 5,
        ];
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.multitrack, Some("many_tracks"));
        assert_eq!(v.codec, "avc");
        let p: Vec<_> = v.tracks.iter().map(|t| (t.track_id, t.payload)).collect();
        assert_eq!(p, [(0, Span::new(10, 13)), (1, Span::new(17, 19))]);
        // ManyTracksManyCodecs, SequenceStart: per-track FourCC and config.
        let mut b = vec![0x96, 0x20];
        b.extend_from_slice(b"av01");
        b.extend_from_slice(&[0, 0, 0, 4]);
        b.extend(av1c());
        b.extend_from_slice(b"vp09");
        b.extend_from_slice(&[1, 0, 0, 12]);
        b.extend(vpcc());
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.multitrack, Some("many_tracks_many_codecs"));
        assert_eq!(v.codec, "mixed");
        assert!(matches!(v.tracks[0].config, Some(CodecConfig::Av1 { .. })));
        assert!(matches!(v.tracks[1].config, Some(CodecConfig::Vp { .. })));
        assert_eq!(v.tracks[1].fourcc.as_deref(), Some("vp09"));
        // Track size past the end.
        let b = [0x96, 0x13, b'a', b'v', b'c', b'1', 0, 0, 0, 9, 1, 2];
        let (v, a) = video(&b);
        assert_eq!(names(&a), ["rtmp.media.track_truncated"]);
        assert_eq!(v.tracks[0].payload, Span::new(10, 12));
        // Multitrack inside multitrack.
        let (_, a) = video(&[0x96, 0x16, b'a']);
        assert_eq!(names(&a), ["rtmp.media.nested_multitrack"]);
        // ModEx before multitrack.
        let b = [
            0x97, 0x02, 0, 0, 9, 0x06, 0x03, b'a', b'v', b'c', b'1', 2, 0xee,
        ];
        let (v, a) = video(&b);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(v.timestamp_offset_nanos, Some(9));
        assert_eq!(v.multitrack, Some("one_track"));
        assert_eq!(v.tracks[0].track_id, 2);
    }

    #[test]
    fn legacy_audio_formats() {
        for f in 0u8..16 {
            if f == 9 {
                continue;
            }
            let (a, _) = audio(&[f << 4 | 0x0f, 0, 0]);
            assert_eq!(a.codec, sound_format_name(f));
            assert_eq!(a.sound_format, f);
            assert!(!a.enhanced);
        }
        let (a, an) = audio(&[0x2e, 0xff, 0xfb]);
        assert!(an.is_empty());
        assert_eq!(a.codec, "mp3");
        assert_eq!(
            (a.sample_rate, a.sample_bits, a.channels),
            (Some(44100), Some(16), Some(1))
        );
        assert_eq!(a.tracks[0].payload, Span::new(1, 3));
        let (a, _) = audio(&[0x61]);
        assert_eq!(
            (a.sample_rate, a.sample_bits, a.channels),
            (Some(5512), Some(8), Some(2))
        );
        let (a, _) = audio(&[0x52]);
        assert_eq!(a.sample_rate, Some(8000));
        let (a, _) = audio(&[0xb6]);
        assert_eq!((a.codec.as_str(), a.sample_rate), ("speex", Some(16000)));
    }

    #[test]
    fn legacy_aac() {
        let (a, an) = audio(&[0xaf, 0x00, 0x12, 0x10]);
        assert!(an.is_empty());
        assert_eq!(a.codec, "aac");
        assert_eq!(a.packet, Some("sequence_header"));
        assert_eq!(
            a.tracks[0].config,
            Some(CodecConfig::Aac {
                object_type: 2,
                sample_rate: 44100,
                channels: 2
            })
        );
        // Explicit frequency (index 15) and mono: rate/channels come from ASC.
        let mut w = W::new();
        w.put(2, 5).put(15, 4).put(48000, 24).put(1, 4).put(0, 3);
        let mut b = vec![0xaf, 0x00];
        b.extend(w.done());
        let (a, _) = audio(&b);
        assert_eq!((a.sample_rate, a.channels), (Some(48000), Some(1)));
        // Escaped object type 31 -> 32 + 6 bits (here 42 - 32 = 10).
        let mut w = W::new();
        w.put(31, 5).put(10, 6).put(3, 4).put(6, 4).put(0, 5);
        let mut b = vec![0xaf, 0x00];
        b.extend(w.done());
        let (a, _) = audio(&b);
        assert_eq!(
            a.tracks[0].config,
            Some(CodecConfig::Aac {
                object_type: 42,
                sample_rate: 48000,
                channels: 6
            })
        );
        let (a, an) = audio(&[0xaf, 0x01, 0x21, 0x1b]);
        assert!(an.is_empty());
        assert_eq!(a.packet, Some("raw"));
        assert_eq!((a.sample_rate, a.channels), (None, None));
        assert_eq!(a.tracks[0].payload, Span::new(2, 4));
        let (_, an) = audio(&[0xaf, 0x00, 0x12]);
        assert_eq!(names(&an), ["rtmp.codec.bad_config"]);
        let (_, an) = audio(&[0xaf]);
        assert_eq!(names(&an), ["rtmp.audio.truncated"]);
        let (_, an) = audio(&[0xaf, 0x00, 0x16, 0x90]);
        assert_eq!(names(&an), ["rtmp.codec.bad_config"]);
    }

    #[test]
    fn ertmp_audio() {
        let (a, an) = audio(&ex(0x90, b"mp4a", &[0x11, 0x90]));
        assert!(an.is_empty(), "{an:?}");
        assert!(a.enhanced);
        assert_eq!(a.codec, "aac");
        assert_eq!(a.packet, Some("sequence_start"));
        assert_eq!((a.sample_rate, a.channels), (Some(48000), Some(2)));
        for (f, name) in [
            (b"Opus", "opus"),
            (b"fLaC", "flac"),
            (b"ac-3", "ac3"),
            (b"ec-3", "eac3"),
            (b".mp3", "mp3"),
        ] {
            let (a, an) = audio(&ex(0x91, f, &[1, 2]));
            assert!(an.is_empty());
            assert_eq!(a.codec, name);
            assert_eq!(a.packet, Some("coded_frames"));
            assert_eq!(a.tracks[0].payload, Span::new(5, 7));
        }
        let (a, _) = audio(&ex(0x90, b"fLaC", &[0, 0, 0, 0x22]));
        assert_eq!(
            a.tracks[0].config,
            Some(CodecConfig::Opaque {
                span: Span::new(5, 9)
            })
        );
        let (a, _) = audio(&ex(0x92, b"Opus", &[]));
        assert_eq!(a.packet, Some("sequence_end"));
        // MultichannelConfig: native order, 6 channels, mask.
        let (a, an) = audio(&ex(0x94, b"Opus", &[1, 6, 0, 0, 0, 0x3f]));
        assert!(an.is_empty());
        assert_eq!(a.packet, Some("multichannel_config"));
        assert_eq!(a.channels, Some(6));
        // Multitrack ManyTracks CodedFrames.
        let mut b = vec![0x95, 0x11];
        b.extend_from_slice(b"Opus");
        b.extend_from_slice(&[0, 0, 0, 2, 9, 9, 1, 0, 0, 1, 8]);
        let (a, an) = audio(&b);
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(a.multitrack, Some("many_tracks"));
        let p: Vec<_> = a.tracks.iter().map(|t| (t.track_id, t.payload)).collect();
        assert_eq!(p, [(0, Span::new(10, 12)), (1, Span::new(16, 17))]);
        // Multitrack ManyTracksManyCodecs.
        let mut b = vec![0x95, 0x21];
        b.extend_from_slice(b"Opus");
        b.extend_from_slice(&[0, 0, 0, 1, 9]);
        b.extend_from_slice(b"ac-3");
        b.extend_from_slice(&[1, 0, 0, 1, 8]);
        let (a, an) = audio(&b);
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(a.codec, "mixed");
        assert_eq!(a.tracks[1].fourcc.as_deref(), Some("ac-3"));
        // ModEx then CodedFrames.
        let b = [0x97, 0x02, 0, 1, 0, 0x01, b'O', b'p', b'u', b's', 7];
        let (a, an) = audio(&b);
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(a.timestamp_offset_nanos, Some(256));
        assert_eq!(a.packet, Some("coded_frames"));
        assert_eq!(a.tracks[0].payload, Span::new(10, 11));
        // Nested multitrack, unknown packet type.
        let (_, an) = audio(&[0x95, 0x05]);
        assert_eq!(names(&an), ["rtmp.media.nested_multitrack"]);
        let (_, an) = audio(&ex(0x9c, b"Opus", &[]));
        assert_eq!(names(&an), ["rtmp.audio.unknown_packet_type"]);
        let (v, _) = audio(&[0x9c]);
        assert!(v.tracks.is_empty());
        let _ = ValueKind::Null;
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn sps_and_configs_never_panic(
                head in prop::sample::select(vec![66u8, 77, 100, 110, 122, 244]),
                bytes in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                let mut nal = vec![0x67, head];
                nal.extend_from_slice(&bytes);
                let _ = sps_dimensions(&nal);
                let mut out = Vec::new();
                let _ = parse_avc_config(&bytes, 7, &mut out);
                let _ = parse_hevc_config(&bytes, 7, &mut out);
                let _ = parse_av1_config(&bytes, 7, &mut out);
                let _ = parse_vp_config(&bytes, 7, &mut out);
                let _ = parse_aac_config(&bytes, 7, &mut out);
                for a in &out {
                    let r = a.range.unwrap();
                    prop_assert!(r.start >= 7 && r.end <= 7 + bytes.len() as u64);
                }
            }
        }
    }
}
